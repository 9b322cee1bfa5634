#include "br2k/chaos/checker.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>

namespace br2k::chaos {
namespace {

using client::HistoryRecord;
using client::RecordType;
using nlohmann::json;
using replication::EntryState;
using replication::RequestType;

// One write operation of one client, folded from its records.
struct Op {
  std::string client;
  uint64_t op = 0;
  uint64_t seq = 0;
  std::string value;
  bool has_value = false;
  int64_t invoke_ns = 0;
  RecordType outcome = RecordType::kUnknown;  // kOk, kFail or kUnknown (also: no final record)
  bool final_seen = false;
  int64_t final_ns = 0;
  int status = 0;
  std::optional<uint64_t> index;
  std::string response;
  bool duplicate = false;
};

std::string Seconds(int64_t ns, int64_t origin) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns - origin) / 1e9);
  return buf;
}

std::string Quote(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

class Collector {
 public:
  explicit Collector(size_t max_per_kind) : max_(max_per_kind) {}
  void Add(ViolationKind k, std::string message, std::map<std::string, std::string> evidence) {
    if (counts_[k]++ >= max_) return;
    out_.push_back({k, std::move(message), std::move(evidence)});
  }
  std::vector<Violation> Take() {
    for (auto& [k, n] : counts_) {
      if (n > max_) {
        out_.push_back(
            {k,
             std::to_string(n - max_) + " more " + ViolationKindName(k) + " violations not listed",
             {{"not_listed", std::to_string(n - max_)}}});
      }
    }
    return std::move(out_);
  }

 private:
  size_t max_;
  std::map<ViolationKind, size_t> counts_;
  std::vector<Violation> out_;
};

bool IsLogWrite(const std::string& method, const std::string& path) {
  return method == "POST" && path == "/logs";
}

}  // namespace

const char* ViolationKindName(ViolationKind k) {
  switch (k) {
    case ViolationKind::kReplicaDead:
      return "replica_dead";
    case ViolationKind::kReplicaDiverged:
      return "replica_diverged";
    case ViolationKind::kLostAck:
      return "lost_ack";
    case ViolationKind::kDuplicate:
      return "duplicate";
    case ViolationKind::kFailedApplied:
      return "failed_applied";
    case ViolationKind::kPhantom:
      return "phantom";
    case ViolationKind::kOrder:
      return "order";
    case ViolationKind::kIndexMismatch:
      return "index_mismatch";
    case ViolationKind::kDoubleSuccess:
      return "double_success";
    case ViolationKind::kUnfinished:
      return "unfinished";
    case ViolationKind::kEtcdMismatch:
      return "etcd_mismatch";
    case ViolationKind::kBadInput:
      return "bad_input";
  }
  return "?";
}

std::optional<std::string> LogServerValue(std::string_view body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto it = j.find("user");
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (!it->is_string()) return std::nullopt;
  auto u = it->get<std::string>();
  if (u.empty() || u.size() > 256) return std::nullopt;
  return u;
}

Result<ReplicaState> ParseReplicaState(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgumentError("replica state: not a JSON object");
  ReplicaState r;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string())
    return InvalidArgumentError("replica state: no string 'id'");
  r.id = id->get<std::string>();
  auto lpi = j.find("lpi");
  if (lpi == j.end() || !lpi->is_number_unsigned()) {
    return InvalidArgumentError("replica state: no unsigned 'lpi'");
  }
  r.lpi = lpi->get<uint64_t>();
  auto st = j.find("state");
  if (st == j.end() || !st->is_array())
    return InvalidArgumentError("replica state: 'state' is not an array");
  r.values.reserve(st->size());
  for (const auto& v : *st) {
    if (!v.is_string()) return InvalidArgumentError("replica state: non-string entry in 'state'");
    r.values.push_back(v.get<std::string>());
  }
  return r;
}

Result<EtcdEntry> DecodeEtcdEntry(uint64_t index, std::string_view rle, std::string_view rs) {
  auto e = replication::DecodeLogEntry(rle);
  if (!e.ok()) return e.status().WithContext("index " + std::to_string(index));
  EtcdEntry out;
  out.index = index;
  out.type = e->type;
  out.method = e->request.method;
  out.path = e->request.path;
  out.body = e->request.body;
  out.client = e->request.client_id;
  out.seq = e->request.seq;
  if (rs.empty()) {
    out.has_rs = false;
    return out;
  }
  auto s = replication::DecodeEntryStatus(rs);
  if (!s.ok()) return s.status().WithContext("index " + std::to_string(index));
  out.state = s->state;
  if (s->response) {
    out.status = s->response->status;
    out.response = s->response->body;
  }
  return out;
}

size_t CheckResult::Count(ViolationKind k) const {
  return static_cast<size_t>(std::count_if(violations.begin(), violations.end(),
                                           [k](const Violation& v) { return v.kind == k; }));
}

std::string CheckResult::ToText() const {
  std::ostringstream o;
  if (ok()) {
    o << "PASS: ";
  } else {
    o << "FAIL: " << violations.size() << " violation(s); ";
  }
  o << stats.writes << " writes (" << stats.ok << " ok, " << stats.fail << " fail, "
    << stats.unknown << " unknown of which " << stats.unknown_applied << " applied), "
    << stats.applied << " values on " << stats.replicas_checked << " replica(s) (reference "
    << stats.reference << "), " << stats.etcd_entries << " etcd entries\n";
  for (const auto& v : violations)
    o << "  " << ViolationKindName(v.kind) << ": " << v.message << "\n";
  return o.str();
}

std::string CheckResult::ToJson() const {
  json j;
  j["ok"] = ok();
  j["stats"] = {{"writes", stats.writes},
                {"ok", stats.ok},
                {"fail", stats.fail},
                {"unknown", stats.unknown},
                {"unknown_applied", stats.unknown_applied},
                {"applied", stats.applied},
                {"replicas_checked", stats.replicas_checked},
                {"etcd_entries", stats.etcd_entries},
                {"reference", stats.reference}};
  j["violations"] = json::array();
  for (const auto& v : violations) {
    j["violations"].push_back(
        {{"kind", ViolationKindName(v.kind)}, {"message", v.message}, {"evidence", v.evidence}});
  }
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

CheckResult Check(const CheckInput& in, size_t max_per_kind) {
  CheckResult result;
  Collector bad(max_per_kind);
  auto& stats = result.stats;

  // ---- fold the history into write operations
  int64_t origin = std::numeric_limits<int64_t>::max();
  for (const auto& r : in.history) origin = std::min(origin, r.mono_ns);
  if (in.history.empty()) origin = 0;
  std::map<std::pair<std::string, uint64_t>, Op> ops;  // (client, op)
  for (const auto& r : in.history) {
    if (r.op == 0) continue;
    auto key = std::make_pair(r.client, r.op);
    if (r.type == RecordType::kInvoke) {
      if (r.seq == 0 || !IsLogWrite(r.method, r.path)) continue;  // reads, other routes
      Op& o = ops[key];
      o.client = r.client;
      o.op = r.op;
      o.seq = r.seq;
      o.invoke_ns = r.mono_ns;
      if (auto v = LogServerValue(r.body)) {
        o.value = *v;
        o.has_value = true;
      }
      continue;
    }
    if (r.type != RecordType::kOk && r.type != RecordType::kFail && r.type != RecordType::kUnknown)
      continue;
    auto it = ops.find(key);
    if (it == ops.end()) continue;  // a read or another route
    Op& o = it->second;
    o.final_seen = true;
    o.outcome = r.type;
    o.final_ns = r.mono_ns;
    o.status = r.status;
    o.index = r.index;
    o.response = r.response;
    o.duplicate = r.duplicate;
  }
  std::unordered_map<std::string, const Op*> by_value;
  for (const auto& [key, o] : ops) {
    ++stats.writes;
    if (o.outcome == RecordType::kOk) {
      ++stats.ok;
    } else if (o.outcome == RecordType::kFail) {
      ++stats.fail;
    } else {
      ++stats.unknown;
    }
    if (!o.has_value) continue;  // a body the application rejects appends nothing
    auto [it, fresh] = by_value.emplace(o.value, &o);
    if (!fresh) {
      bad.Add(ViolationKind::kBadInput,
              "value " + Quote(o.value) + " sent by two writes: " + it->second->client + " seq " +
                  std::to_string(it->second->seq) + " and " + o.client + " seq " +
                  std::to_string(o.seq),
              {{"value", o.value}});
    }
  }

  // ---- replicas: alive, and all holding one list
  const ReplicaState* ref = nullptr;
  for (const auto& r : in.replicas) {
    if (!r.expected_alive) continue;
    if (!r.alive || !r.reachable) {
      bad.Add(ViolationKind::kReplicaDead,
              "replica " + r.id + (r.alive ? " does not answer" : " is not running") +
                  " although the scenario did not kill it" +
                  (r.error.empty() ? "" : ": " + r.error),
              {{"replica", r.id}, {"alive", r.alive ? "true" : "false"}});
      continue;
    }
    ++stats.replicas_checked;
    if (!ref || r.values.size() > ref->values.size()) ref = &r;
  }
  if (!ref) {
    bad.Add(ViolationKind::kBadInput, "no live replica to check", {});
    result.violations = bad.Take();
    return result;
  }
  stats.reference = ref->id;
  stats.applied = ref->values.size();
  for (const auto& r : in.replicas) {
    if (&r == ref || !r.expected_alive || !r.alive || !r.reachable) continue;
    if (r.values == ref->values) continue;
    size_t p = 0;
    while (p < r.values.size() && p < ref->values.size() && r.values[p] == ref->values[p]) ++p;
    auto at = [p](const std::vector<std::string>& v) {
      return p < v.size() ? Quote(v[p]) : "(end)";
    };
    bad.Add(ViolationKind::kReplicaDiverged,
            "replica " + r.id + " (" + std::to_string(r.values.size()) + " values, lpi " +
                std::to_string(r.lpi) + ") differs from " + ref->id + " (" +
                std::to_string(ref->values.size()) + " values, lpi " + std::to_string(ref->lpi) +
                ") first at position " + std::to_string(p) + ": " + at(r.values) + " vs " +
                at(ref->values),
            {{"replica", r.id},
             {"reference", ref->id},
             {"position", std::to_string(p)},
             {"size", std::to_string(r.values.size())},
             {"reference_size", std::to_string(ref->values.size())}});
  }

  // ---- every value in the reference list: who sent it, how often, where
  std::unordered_map<std::string, std::vector<size_t>> positions;
  for (size_t p = 0; p < ref->values.size(); ++p) positions[ref->values[p]].push_back(p);
  for (const auto& [value, ps] : positions) {
    if (!by_value.count(value)) {
      bad.Add(ViolationKind::kPhantom,
              "value " + Quote(value) + " at position " + std::to_string(ps[0]) + " of " + ref->id +
                  " was never sent by any client",
              {{"value", value}, {"position", std::to_string(ps[0])}});
    }
    if (ps.size() > 1) {
      std::string list;
      for (size_t p : ps) list += (list.empty() ? "" : ",") + std::to_string(p);
      auto it = by_value.find(value);
      std::string who = it == by_value.end()
                            ? std::string("nobody")
                            : it->second->client + " seq " + std::to_string(it->second->seq) +
                                  " (" + client::RecordTypeName(it->second->outcome) + ")";
      bad.Add(ViolationKind::kDuplicate,
              "value " + Quote(value) + " sent by " + who + " applied " +
                  std::to_string(ps.size()) + " times, at positions " + list,
              {{"value", value}, {"positions", list}});
    }
  }

  // ---- per operation: acknowledged exactly once, failures never, answers match the log
  std::unordered_map<uint64_t, const EtcdEntry*> etcd_at;
  for (const auto& e : in.etcd.entries) etcd_at[e.index] = &e;
  for (const auto& [key, o] : ops) {
    if (!o.has_value) continue;
    auto pit = positions.find(o.value);
    size_t n = pit == positions.end() ? 0 : pit->second.size();
    std::map<std::string, std::string> ev = {{"client", o.client},
                                             {"seq", std::to_string(o.seq)},
                                             {"value", o.value},
                                             {"invoked_s", Seconds(o.invoke_ns, origin)}};
    std::string who = "write " + o.client + " seq " + std::to_string(o.seq) + " value " +
                      Quote(o.value) + " (invoked t=" + Seconds(o.invoke_ns, origin) + "s";
    if (o.final_seen) {
      who += ", " + std::string(client::RecordTypeName(o.outcome)) +
             " t=" + Seconds(o.final_ns, origin) + "s";
      ev["final_s"] = Seconds(o.final_ns, origin);
    }
    if (o.index) {
      who += ", index " + std::to_string(*o.index);
      ev["index"] = std::to_string(*o.index);
    }
    if (o.status) who += ", HTTP " + std::to_string(o.status);
    who += ")";
    if (o.outcome == RecordType::kOk) {
      if (n == 0)
        bad.Add(ViolationKind::kLostAck, who + " was acknowledged but is not in " + ref->id, ev);
    } else if (o.outcome == RecordType::kFail) {
      if (n > 0) {
        ev["position"] = std::to_string(pit->second[0]);
        bad.Add(ViolationKind::kFailedApplied,
                who + " failed definitely but is at position " + std::to_string(pit->second[0]) +
                    " of " + ref->id,
                ev);
      }
    } else if (n > 0) {
      ++stats.unknown_applied;
    }
    if (o.outcome != RecordType::kOk) continue;
    // The answer's body says the 0-based position in the list; X-Br2k-Index the log index.
    if (n == 1) {
      json body = json::parse(o.response, nullptr, false);
      if (body.is_object() && body.contains("index") && body["index"].is_number_unsigned()) {
        auto answered = body["index"].get<uint64_t>();
        if (answered != pit->second[0]) {
          ev["answered_position"] = std::to_string(answered);
          ev["position"] = std::to_string(pit->second[0]);
          bad.Add(ViolationKind::kIndexMismatch,
                  who + " was answered position " + std::to_string(answered) +
                      " but is at position " + std::to_string(pit->second[0]) + " of " + ref->id,
                  ev);
        }
      }
    }
    if (o.index && in.etcd.read && *o.index >= in.etcd.log_start) {
      auto eit = etcd_at.find(*o.index);
      if (eit == etcd_at.end()) {
        bad.Add(ViolationKind::kIndexMismatch, who + ": etcd has no entry at the answered index",
                ev);
      } else {
        const EtcdEntry& e = *eit->second;
        if (e.client != o.client || e.seq != o.seq || e.state != EntryState::kSuccess) {
          ev["etcd_client"] = e.client;
          ev["etcd_seq"] = std::to_string(e.seq);
          ev["etcd_state"] = replication::EntryStateName(e.state);
          bad.Add(ViolationKind::kIndexMismatch,
                  who + ": etcd entry " + std::to_string(e.index) + " is " + e.client + " seq " +
                      std::to_string(e.seq) + " in state " + replication::EntryStateName(e.state),
                  ev);
        }
      }
    }
  }

  // ---- real-time order: an op acknowledged before another was invoked comes first in the list.
  // Acked ops sorted by ack time with a running maximum of their positions; each applied op is
  // compared with the latest-positioned op acknowledged before its invocation.
  struct Acked {
    int64_t ack_ns;
    size_t pos;
    const Op* op;
  };
  std::vector<Acked> acked;
  std::vector<std::pair<size_t, const Op*>> applied;
  for (const auto& [key, o] : ops) {
    if (!o.has_value) continue;
    auto pit = positions.find(o.value);
    if (pit == positions.end()) continue;
    size_t pos = pit->second[0];
    applied.emplace_back(pos, &o);
    if (o.outcome == RecordType::kOk) acked.push_back({o.final_ns, pos, &o});
  }
  std::sort(acked.begin(), acked.end(),
            [](const Acked& a, const Acked& b) { return a.ack_ns < b.ack_ns; });
  std::vector<size_t> best(acked.size());  // index into acked of the max position so far
  for (size_t i = 0; i < acked.size(); ++i) {
    best[i] = (i > 0 && acked[best[i - 1]].pos > acked[i].pos) ? best[i - 1] : i;
  }
  for (const auto& [pos, b] : applied) {
    auto it = std::lower_bound(acked.begin(), acked.end(), b->invoke_ns,
                               [](const Acked& a, int64_t t) { return a.ack_ns < t; });
    if (it == acked.begin()) continue;
    const Acked& a = acked[best[static_cast<size_t>(it - acked.begin()) - 1]];
    if (a.pos > pos) {
      bad.Add(ViolationKind::kOrder,
              "write " + a.op->client + " seq " + std::to_string(a.op->seq) + " value " +
                  Quote(a.op->value) + " was acknowledged at t=" + Seconds(a.ack_ns, origin) +
                  "s, before write " + b->client + " seq " + std::to_string(b->seq) + " value " +
                  Quote(b->value) + " was invoked at t=" + Seconds(b->invoke_ns, origin) +
                  "s, yet comes later: position " + std::to_string(a.pos) + " > " +
                  std::to_string(pos),
              {{"first_value", a.op->value},
               {"first_acked_s", Seconds(a.ack_ns, origin)},
               {"first_position", std::to_string(a.pos)},
               {"second_value", b->value},
               {"second_invoked_s", Seconds(b->invoke_ns, origin)},
               {"second_position", std::to_string(pos)}});
    }
  }

  // ---- etcd's log
  if (in.etcd.read) {
    stats.etcd_entries = in.etcd.entries.size();
    std::map<std::pair<std::string, uint64_t>, uint64_t> success_at;
    std::vector<std::string> success_values;
    uint64_t expect = in.etcd.log_start;
    for (const auto& e : in.etcd.entries) {
      if (e.index != expect) {
        bad.Add(ViolationKind::kEtcdMismatch,
                "etcd log has a gap: index " + std::to_string(expect) + " missing (next is " +
                    std::to_string(e.index) + ")",
                {{"index", std::to_string(expect)}});
      }
      expect = e.index + 1;
      std::string what = "etcd entry " + std::to_string(e.index) + " (" + e.client + " seq " +
                         std::to_string(e.seq) + ", " + e.method + " " + e.path + " " + e.body +
                         ")";
      if (!e.has_rs || e.state == EntryState::kNull || e.state == EntryState::kInProcess) {
        bad.Add(ViolationKind::kUnfinished,
                what + " left " + (e.has_rs ? replication::EntryStateName(e.state) : "without RS") +
                    " after convergence",
                {{"index", std::to_string(e.index)},
                 {"state", e.has_rs ? replication::EntryStateName(e.state) : "missing"}});
      }
      if (e.state != EntryState::kSuccess) continue;
      if (!e.client.empty()) {
        auto [it, fresh] = success_at.emplace(std::make_pair(e.client, e.seq), e.index);
        if (!fresh) {
          bad.Add(ViolationKind::kDoubleSuccess,
                  e.client + " seq " + std::to_string(e.seq) + " is Success at indexes " +
                      std::to_string(it->second) + " and " + std::to_string(e.index),
                  {{"client", e.client},
                   {"seq", std::to_string(e.seq)},
                   {"indexes", std::to_string(it->second) + "," + std::to_string(e.index)}});
        }
      }
      if (e.type == RequestType::kReplication && IsLogWrite(e.method, e.path)) {
        if (auto v = LogServerValue(e.body)) success_values.push_back(*v);
      }
    }
    if (expect != in.etcd.log_size + 1 && !in.etcd.entries.empty()) {
      bad.Add(ViolationKind::kEtcdMismatch,
              "etcd entries end at " + std::to_string(expect - 1) + " but Log_Size is " +
                  std::to_string(in.etcd.log_size),
              {{"log_size", std::to_string(in.etcd.log_size)}});
    }
    // The Success entries retained in etcd are the tail of the replicas' list (all of it when
    // nothing was trimmed).
    const auto& list = ref->values;
    bool whole = in.etcd.log_start <= 1;
    bool match =
        whole ? success_values == list
              : success_values.size() <= list.size() &&
                    std::equal(success_values.begin(), success_values.end(),
                               list.end() - static_cast<std::ptrdiff_t>(success_values.size()));
    if (!match) {
      size_t off =
          whole || success_values.size() > list.size() ? 0 : list.size() - success_values.size();
      size_t p = 0;
      while (p < success_values.size() && off + p < list.size() &&
             success_values[p] == list[off + p])
        ++p;
      bad.Add(ViolationKind::kEtcdMismatch,
              "etcd's Success entries (" + std::to_string(success_values.size()) +
                  " values from index " + std::to_string(in.etcd.log_start) + ") disagree with " +
                  ref->id + " (" + std::to_string(list.size()) + " values) at its position " +
                  std::to_string(off + p) + ": " +
                  (p < success_values.size() ? Quote(success_values[p]) : "(end)") + " vs " +
                  (off + p < list.size() ? Quote(list[off + p]) : "(end)"),
              {{"position", std::to_string(off + p)},
               {"etcd_values", std::to_string(success_values.size())},
               {"replica_values", std::to_string(list.size())}});
    }
  }
  result.violations = bad.Take();
  return result;
}

}  // namespace br2k::chaos
