#include "br2k/client/history.h"

#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>

#include "br2k/common/atomic_file.h"

namespace br2k::client {
namespace {

using nlohmann::json;

constexpr std::pair<RecordType, const char*> kTypeNames[] = {
    {RecordType::kInvoke, "invoke"},
    {RecordType::kOk, "ok"},
    {RecordType::kFail, "fail"},
    {RecordType::kUnknown, "unknown"},
    {RecordType::kAttempt, "attempt"},
    {RecordType::kRedirect, "redirect"},
    {RecordType::kLocation, "location"},
    {RecordType::kClaim, "claim"},
    {RecordType::kClaimFailed, "claim_failed"},
    {RecordType::kWatchError, "watch_error"},
};

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c >> 5) == 0x6) {
      n = 2;
      cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      n = 3;
      cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 0x2) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are what nlohmann's dump rejects.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string Hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out += d[u >> 4];
    out += d[u & 0xf];
  }
  return out;
}

Result<std::string> Unhex(std::string_view h, const std::string& field) {
  if (h.size() % 2 != 0) return InvalidArgumentError(field + "_hex: odd length");
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(h.size() / 2);
  for (size_t i = 0; i < h.size(); i += 2) {
    int a = nib(h[i]), b = nib(h[i + 1]);
    if (a < 0 || b < 0) return InvalidArgumentError(field + "_hex: not hex");
    out += static_cast<char>((a << 4) | b);
  }
  return out;
}

void PutString(json& j, const char* key, const std::string& v) {
  if (v.empty()) return;
  if (ValidUtf8(v)) {
    j[key] = v;
  } else {
    j[std::string(key) + "_hex"] = Hex(v);
  }
}

Status GetString(const json& j, const char* key, std::string& out) {
  std::string k(key);
  if (auto it = j.find(k); it != j.end()) {
    if (!it->is_string()) return InvalidArgumentError("field " + k + " is not a string");
    out = it->get<std::string>();
  }
  if (auto it = j.find(k + "_hex"); it != j.end()) {
    if (!it->is_string()) return InvalidArgumentError("field " + k + "_hex is not a string");
    BR2K_ASSIGN_OR_RETURN(out, Unhex(it->get<std::string>(), k));
  }
  return Status::Ok();
}

template <typename T>
Status GetUnsigned(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_number_unsigned()) {
    return InvalidArgumentError(std::string("field ") + key + " is not an unsigned integer");
  }
  uint64_t v = it->get<uint64_t>();
  if (v > std::numeric_limits<T>::max()) {
    return InvalidArgumentError(std::string("field ") + key + " is out of range");
  }
  out = static_cast<T>(v);
  return Status::Ok();
}

Status GetSigned(const json& j, const char* key, int64_t& out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return InvalidArgumentError(std::string("field ") + key + " is out of range");
    }
    out = static_cast<int64_t>(v);
  } else if (it->is_number_integer()) {
    out = it->get<int64_t>();
  } else {
    return InvalidArgumentError(std::string("field ") + key + " is not an integer");
  }
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, bool& out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Ok();
  if (!it->is_boolean())
    return InvalidArgumentError(std::string("field ") + key + " is not a bool");
  out = it->get<bool>();
  return Status::Ok();
}

Result<HistoryRecord> FromJson(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("a history record is a JSON object");
  HistoryRecord r;
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) return InvalidArgumentError("field type is missing");
  BR2K_ASSIGN_OR_RETURN(r.type, ParseRecordType(t->get<std::string>()));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "i", r.i));
  BR2K_RETURN_IF_ERROR(GetString(j, "client", r.client));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "op", r.op));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "seq", r.seq));
  BR2K_RETURN_IF_ERROR(GetSigned(j, "mono_ns", r.mono_ns));
  BR2K_RETURN_IF_ERROR(GetSigned(j, "unix_ns", r.unix_ns));
  BR2K_RETURN_IF_ERROR(GetString(j, "method", r.method));
  BR2K_RETURN_IF_ERROR(GetString(j, "path", r.path));
  BR2K_RETURN_IF_ERROR(GetString(j, "body", r.body));
  int64_t status = 0;
  BR2K_RETURN_IF_ERROR(GetSigned(j, "status", status));
  if (status < 0 || status > 999) return InvalidArgumentError("field status is out of range");
  r.status = static_cast<int>(status);
  BR2K_RETURN_IF_ERROR(GetString(j, "response", r.response));
  if (j.contains("index")) {
    uint64_t index = 0;
    BR2K_RETURN_IF_ERROR(GetUnsigned(j, "index", index));
    r.index = index;
  }
  BR2K_RETURN_IF_ERROR(GetString(j, "state", r.state));
  BR2K_RETURN_IF_ERROR(GetBool(j, "duplicate", r.duplicate));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "attempts", r.attempts));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "attempt", r.attempt));
  BR2K_RETURN_IF_ERROR(GetString(j, "target", r.target));
  BR2K_RETURN_IF_ERROR(GetString(j, "outcome", r.outcome));
  BR2K_RETURN_IF_ERROR(GetBool(j, "retry", r.retry));
  BR2K_RETURN_IF_ERROR(GetSigned(j, "latency_ns", r.latency_ns));
  BR2K_RETURN_IF_ERROR(GetString(j, "url", r.url));
  BR2K_RETURN_IF_ERROR(GetString(j, "from", r.from));
  BR2K_RETURN_IF_ERROR(GetString(j, "leader", r.leader));
  BR2K_RETURN_IF_ERROR(GetString(j, "error", r.error));
  BR2K_RETURN_IF_ERROR(GetString(j, "source", r.source));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "epoch", r.epoch));
  BR2K_RETURN_IF_ERROR(GetUnsigned(j, "block", r.block));
  BR2K_RETURN_IF_ERROR(GetString(j, "tx", r.tx));
  BR2K_RETURN_IF_ERROR(GetString(j, "reason", r.reason));
  return r;
}

void Count(HistoryCounters& c, const HistoryRecord& r) {
  switch (r.type) {
    case RecordType::kInvoke:
      ++c.ops;
      break;
    case RecordType::kOk:
      ++c.ok;
      if (r.duplicate) ++c.duplicates;
      break;
    case RecordType::kFail:
      ++c.fail;
      if (r.duplicate) ++c.duplicates;
      break;
    case RecordType::kUnknown:
      ++c.unknown;
      break;
    case RecordType::kAttempt:
      ++c.attempts;
      if (r.retry) ++c.retries;
      break;
    case RecordType::kRedirect:
      ++c.redirects;
      break;
    case RecordType::kLocation:
      ++c.location_changes;
      break;
    case RecordType::kClaim:
      ++c.claims;
      break;
    case RecordType::kClaimFailed:
      ++c.claim_failures;
      break;
    case RecordType::kWatchError:
      ++c.watch_errors;
      break;
  }
}

}  // namespace

const char* RecordTypeName(RecordType t) {
  for (const auto& [type, name] : kTypeNames) {
    if (type == t) return name;
  }
  return "?";
}

Result<RecordType> ParseRecordType(std::string_view name) {
  for (const auto& [type, n] : kTypeNames) {
    if (name == n) return type;
  }
  std::string shown(name.substr(0, 40));
  if (!ValidUtf8(shown)) shown = Hex(shown);
  return InvalidArgumentError("unknown history record type '" + shown + "'");
}

std::string RecordToJson(const HistoryRecord& r) {
  json j = json::object();
  j["i"] = r.i;
  j["type"] = RecordTypeName(r.type);
  PutString(j, "client", r.client);
  if (r.op) j["op"] = r.op;
  if (r.seq) j["seq"] = r.seq;
  j["mono_ns"] = r.mono_ns;
  j["unix_ns"] = r.unix_ns;
  PutString(j, "method", r.method);
  PutString(j, "path", r.path);
  PutString(j, "body", r.body);
  if (r.status) j["status"] = r.status;
  PutString(j, "response", r.response);
  if (r.index) j["index"] = *r.index;
  PutString(j, "state", r.state);
  if (r.duplicate) j["duplicate"] = true;
  if (r.attempts) j["attempts"] = r.attempts;
  if (r.attempt) j["attempt"] = r.attempt;
  PutString(j, "target", r.target);
  PutString(j, "outcome", r.outcome);
  if (r.retry) j["retry"] = true;
  if (r.latency_ns) j["latency_ns"] = r.latency_ns;
  PutString(j, "url", r.url);
  PutString(j, "from", r.from);
  PutString(j, "leader", r.leader);
  PutString(j, "error", r.error);
  PutString(j, "source", r.source);
  if (r.epoch) j["epoch"] = r.epoch;
  if (r.block) j["block"] = r.block;
  PutString(j, "tx", r.tx);
  PutString(j, "reason", r.reason);
  return j.dump();
}

Result<HistoryRecord> ParseRecord(std::string_view line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("history record is not JSON");
  return FromJson(j);
}

Result<std::vector<HistoryRecord>> ParseJsonLines(std::string_view text) {
  std::vector<HistoryRecord> out;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto r = ParseRecord(line);
    if (!r.ok()) {
      return InvalidArgumentError("history line " + std::to_string(line_no) + ": " +
                                  r.status().message());
    }
    out.push_back(std::move(*r));
  }
  return out;
}

HistoryRecord History::Append(HistoryRecord r) {
  std::lock_guard<std::mutex> l(mu_);
  // Stamped under the lock, so the order of `i` is also the order of both clocks.
  if (r.mono_ns == 0) {
    r.mono_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  }
  if (r.unix_ns == 0) {
    r.unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  }
  r.i = next_i_++;
  Count(counters_, r);
  records_.push_back(r);
  if (limit_ > 0 && records_.size() > limit_) {
    records_.pop_front();
    ++counters_.dropped;
  }
  return r;
}

std::vector<HistoryRecord> History::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return {records_.begin(), records_.end()};
}

std::vector<HistoryRecord> History::OpRecords(uint64_t op) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<HistoryRecord> out;
  for (const auto& r : records_) {
    if (r.op == op) out.push_back(r);
  }
  return out;
}

HistoryCounters History::counters() const {
  std::lock_guard<std::mutex> l(mu_);
  return counters_;
}

std::string History::ToJsonLines() const {
  std::string out;
  for (const auto& r : Snapshot()) {
    out += RecordToJson(r);
    out += '\n';
  }
  return out;
}

Status History::WriteJsonLines(const std::filesystem::path& file) const {
  return WriteFileAtomically(file, ToJsonLines());
}

}  // namespace br2k::client
