#include "dashboard_state.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "br2k/eth/bytes.h"
#include "br2k/eth/keccak.h"

namespace br2k::apps::dashboard {
namespace {

using nlohmann::json;

const std::set<std::string>& Kinds() {
  static const std::set<std::string> k = {"Registered", "NewLocation", "StateChanged", "Claim"};
  return k;
}

const std::set<std::string>& States() {
  static const std::set<std::string> s = {"Active", "Failed", "Recovering", "Retired"};
  return s;
}

const std::set<std::string>& Functions() {
  static const std::set<std::string> f = {"register",           "updateLocation", "updateState",
                                          "updateRecoveryInfo", "addManager",     "removeManager",
                                          "addOperator",        "removeOperator", "sendClaim"};
  return f;
}

bool IsHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// "0x" + `digits` hex digits, lower-cased.
Result<std::string> HexField(std::string_view text, size_t digits, std::string_view what) {
  if (text.size() != digits + 2 || (text.substr(0, 2) != "0x" && text.substr(0, 2) != "0X") ||
      !IsHex(text.substr(2))) {
    return InvalidArgumentError(std::string(what) + ": 0x and " + std::to_string(digits) +
                                " hex digits expected");
  }
  std::string out = "0x";
  for (char c : text.substr(2)) out += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return out;
}

Result<json> Object(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) return InvalidArgumentError("body is not valid JSON");
  if (!j.is_object()) return InvalidArgumentError("body must be a JSON object");
  return j;
}

// A string field: required unless `optional`; at most `max` bytes; non-empty when `nonempty`.
Result<std::string> Str(const json& j, const char* name, size_t max, bool optional = false,
                        bool nonempty = false) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (optional) return std::string();
    return InvalidArgumentError(std::string("field '") + name + "' is missing");
  }
  if (!it->is_string()) return InvalidArgumentError(std::string("'") + name + "' must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) {
    return InvalidArgumentError(std::string("'") + name + "' is longer than " +
                                std::to_string(max) + " bytes");
  }
  if (nonempty && s.empty()) return InvalidArgumentError(std::string("'") + name + "' is empty");
  return s;
}

Result<uint64_t> U64(const json& j, const char* name, bool optional = false) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (optional) return uint64_t{0};
    return InvalidArgumentError(std::string("field '") + name + "' is missing");
  }
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return static_cast<uint64_t>(it->get<int64_t>());
  }
  if (it->is_string()) {  // uint64 values beyond 2^53 travel as strings from JavaScript
    const auto& s = it->get_ref<const std::string&>();
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && p == s.data() + s.size()) return v;
  }
  return InvalidArgumentError(std::string("'") + name + "' must be a non-negative integer");
}

json EventJson(const ChainEvent& e) {
  json j = {{"kind", e.kind},
            {"service", e.service},
            {"tx", e.tx},
            {"log_index", e.log_index},
            {"block", e.block}};
  if (!e.location.empty()) j["location"] = e.location;
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (!e.account.empty()) j["account"] = e.account;
  if (e.epoch) j["epoch"] = e.epoch;
  if (e.version) j["version"] = e.version;
  if (!e.state.empty()) j["state"] = e.state;
  return j;
}

Result<ChainEvent> EventFrom(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("an event must be a JSON object");
  ChainEvent e;
  BR2K_ASSIGN_OR_RETURN(e.kind, Str(j, "kind", 32));
  if (!Kinds().count(e.kind)) return InvalidArgumentError("unknown event kind '" + e.kind + "'");
  BR2K_ASSIGN_OR_RETURN(auto service, Str(j, "service", 66));
  BR2K_ASSIGN_OR_RETURN(e.service, HexField(service, 64, "service"));
  BR2K_ASSIGN_OR_RETURN(auto tx, Str(j, "tx", 66));
  BR2K_ASSIGN_OR_RETURN(e.tx, HexField(tx, 64, "tx"));
  BR2K_ASSIGN_OR_RETURN(e.log_index, U64(j, "log_index"));
  BR2K_ASSIGN_OR_RETURN(e.block, U64(j, "block"));
  BR2K_ASSIGN_OR_RETURN(e.location, Str(j, "location", kMaxTextBytes, true));
  BR2K_ASSIGN_OR_RETURN(e.reason, Str(j, "reason", kMaxTextBytes, true));
  BR2K_ASSIGN_OR_RETURN(auto account, Str(j, "account", 42, true));
  if (!account.empty()) {
    BR2K_ASSIGN_OR_RETURN(e.account, HexField(account, 40, "account"));
  }
  BR2K_ASSIGN_OR_RETURN(e.epoch, U64(j, "epoch", true));
  BR2K_ASSIGN_OR_RETURN(e.version, U64(j, "version", true));
  BR2K_ASSIGN_OR_RETURN(e.state, Str(j, "state", 16, true));
  if (e.kind == "StateChanged" && !States().count(e.state)) {
    return InvalidArgumentError("StateChanged: unknown state '" + e.state + "'");
  }
  if (e.kind != "StateChanged" && !e.state.empty()) {
    return InvalidArgumentError("'state' belongs to StateChanged events only");
  }
  return e;
}

bool Before(const ChainEvent& a, const ChainEvent& b) {
  return std::tie(a.block, a.log_index) < std::tie(b.block, b.log_index);
}

json NoteJson(const Note& n) {
  json j = {{"id", n.id}, {"author", n.author}, {"text", n.text}, {"updated", n.updated}};
  if (!n.claim.empty()) j["claim"] = n.claim;
  return j;
}

// "<0x64 hex>:<decimal>"
bool ValidEventKey(std::string_view k) {
  auto colon = k.find(':');
  if (colon != 66 || !HexField(k.substr(0, 66), 64, "claim").ok()) return false;
  auto n = k.substr(67);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
  return !n.empty() && ec == std::errc() && p == n.data() + n.size();
}

}  // namespace

std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n != 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    }
    if (ok && n > 1) {  // no overlong forms, surrogates or code points above U+10FFFF
      uint32_t cp = c & (0x7F >> n);
      for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[n] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (!ok) {
      out += '?';
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string EventKey(const ChainEvent& e) {
  return e.tx + ":" + std::to_string(e.log_index);
}

bool DashboardState::Seen(const ChainEvent& e) const {
  if (e.block < next_block) return true;
  auto it = services.find(e.service);
  if (it == services.end()) return false;
  const auto& ev = it->second.events;
  // Events are sorted by (block, log index); a log index is unique within a block.
  auto pos = std::lower_bound(ev.begin(), ev.end(), e, Before);
  return pos != ev.end() && pos->block == e.block && pos->log_index == e.log_index;
}

size_t DashboardState::Record(const EventBatch& batch) {
  size_t added = 0;
  for (const auto& e : batch.events) {
    if (Seen(e)) continue;
    auto& h = services[e.service];
    auto pos = std::upper_bound(h.events.begin(), h.events.end(), e, Before);
    h.events.insert(pos, e);
    if (h.events.size() > kMaxEventsPerService) {
      h.events.erase(h.events.begin());
      ++h.dropped;
    }
    ++added;
  }
  next_block = std::max(next_block, batch.next_block);
  return added;
}

bool DashboardState::RecordOutcome(const manager::ClaimReport& report, uint64_t index) {
  auto& outcomes = services[report.service].outcomes;
  if (auto it = outcomes.find(report.claim);
      it != outcomes.end() && it->second.report.handled_at_ms >= report.handled_at_ms)
    return false;
  outcomes[report.claim] = ClaimOutcome{report, index};
  if (outcomes.size() <= kMaxEventsPerService) return true;
  auto oldest = std::min_element(
      outcomes.begin(), outcomes.end(),
      [](const auto& a, const auto& b) { return a.second.index < b.second.index; });
  outcomes.erase(oldest);
  return true;
}

std::string EncodeState(const DashboardState& s) {
  json services = json::object();
  for (const auto& [id, h] : s.services) {
    json events = json::array();
    for (const auto& e : h.events) events.push_back(EventJson(e));
    json notes = json::array();
    for (const auto& [_, n] : h.notes) notes.push_back(NoteJson(n));
    json outcomes = json::array();
    for (const auto& [_, o] : h.outcomes) {
      outcomes.push_back(
          {{"index", o.index}, {"report", json::parse(manager::EncodeClaimReport(o.report))}});
    }
    services[id] = {{"label", h.label},
                    {"events", events},
                    {"notes", notes},
                    {"outcomes", outcomes},
                    {"dropped", h.dropped}};
  }
  json j = {{"version", 1}, {"next_block", s.next_block}, {"services", services}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<DashboardState> DecodeState(std::string_view text) {
  auto fail = [](const std::string& why) { return DataLossError("dashboard snapshot: " + why); };
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object");
  auto v = U64(j, "version");
  if (!v.ok() || *v != 1) return fail("unknown version");
  DashboardState s;
  auto nb = U64(j, "next_block");
  if (!nb.ok()) return fail(nb.status().message());
  s.next_block = *nb;
  auto sv = j.find("services");
  if (sv == j.end() || !sv->is_object()) return fail("'services' must be an object");
  for (const auto& [id, hj] : sv->items()) {
    auto sid = ParseServiceId(id);
    if (!sid.ok() || *sid != id) return fail("bad service id '" + id + "'");
    if (!hj.is_object()) return fail("service " + id + " is not an object");
    ServiceHistory h;
    auto label = Str(hj, "label", kMaxShortBytes, true);
    if (!label.ok()) return fail(label.status().message());
    h.label = *label;
    auto dropped = U64(hj, "dropped", true);
    if (!dropped.ok()) return fail(dropped.status().message());
    h.dropped = *dropped;
    auto ev = hj.find("events");
    if (ev == hj.end() || !ev->is_array() || ev->size() > kMaxEventsPerService) {
      return fail("service " + id + ": bad 'events'");
    }
    for (const auto& ej : *ev) {
      auto e = EventFrom(ej);
      if (!e.ok()) return fail(e.status().message());
      if (e->service != id) return fail("an event of another service under " + id);
      if (!h.events.empty() && !Before(h.events.back(), *e)) return fail("events out of order");
      h.events.push_back(std::move(*e));
    }
    auto nv = hj.find("notes");
    if (nv == hj.end() || !nv->is_array() || nv->size() > kMaxNotesPerService) {
      return fail("service " + id + ": bad 'notes'");
    }
    for (const auto& nj : *nv) {
      if (!nj.is_object()) return fail("a note is not an object");
      Note n;
      auto nid = U64(nj, "id");
      auto upd = U64(nj, "updated");
      auto author = Str(nj, "author", kMaxShortBytes);
      auto note_text = Str(nj, "text", kMaxTextBytes, false, true);
      auto claim = Str(nj, "claim", 80, true);
      if (!nid.ok() || !upd.ok() || !author.ok() || !note_text.ok() || !claim.ok() || *nid == 0) {
        return fail("bad note");
      }
      if (!claim->empty() && !ValidEventKey(*claim)) return fail("bad note claim");
      n = {*nid, *author, *note_text, *claim, *upd};
      if (!h.notes.emplace(n.id, n).second) return fail("duplicate note id");
    }
    // "outcomes" came with the claim reports; a snapshot without it has none.
    if (auto ov = hj.find("outcomes"); ov != hj.end()) {
      if (!ov->is_array() || ov->size() > kMaxEventsPerService) {
        return fail("service " + id + ": bad 'outcomes'");
      }
      for (const auto& oj : *ov) {
        if (!oj.is_object() || !oj.contains("report")) return fail("bad outcome");
        auto index = U64(oj, "index");
        auto report = manager::ParseClaimReport(oj["report"].dump());
        if (!index.ok() || !report.ok()) {
          return fail("bad outcome: " + (report.ok() ? index.status() : report.status()).message());
        }
        if (report->service != id) return fail("an outcome of another service under " + id);
        if (!h.outcomes.emplace(report->claim, ClaimOutcome{*report, *index}).second) {
          return fail("two outcomes of one claim");
        }
      }
    }
    s.services.emplace(id, std::move(h));
  }
  return s;
}

Result<std::string> ParseServiceId(std::string_view text) {
  return HexField(text, 64, "service id");
}

Result<std::string> ServiceIdOf(std::string_view name_or_id) {
  if (name_or_id.empty() || name_or_id.size() > kMaxShortBytes) {
    return InvalidArgumentError("'service': a name of 1-128 bytes or a 0x id expected");
  }
  if (auto id = ParseServiceId(name_or_id); id.ok()) return id;
  return eth::Keccak256(name_or_id).ToHex();
}

Result<EventBatch> ParseEventBatch(std::string_view body) {
  BR2K_ASSIGN_OR_RETURN(json j, Object(body));
  EventBatch b;
  BR2K_ASSIGN_OR_RETURN(b.next_block, U64(j, "next_block"));
  auto ev = j.find("events");
  if (ev == j.end() || !ev->is_array()) return InvalidArgumentError("'events' must be an array");
  if (ev->size() > kMaxEventsPerBatch) {
    return InvalidArgumentError("more than " + std::to_string(kMaxEventsPerBatch) + " events");
  }
  for (const auto& ej : *ev) {
    BR2K_ASSIGN_OR_RETURN(auto e, EventFrom(ej));
    b.events.push_back(std::move(e));
  }
  return b;
}

std::string EncodeEventBatch(const EventBatch& b) {
  json events = json::array();
  for (const auto& e : b.events) events.push_back(EventJson(e));
  return json{{"next_block", b.next_block}, {"events", events}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

Result<NoteEdit> ParseNoteAdd(std::string_view body) {
  BR2K_ASSIGN_OR_RETURN(json j, Object(body));
  NoteEdit n;
  BR2K_ASSIGN_OR_RETURN(n.author, Str(j, "author", kMaxShortBytes, false, true));
  BR2K_ASSIGN_OR_RETURN(n.text, Str(j, "text", kMaxTextBytes, false, true));
  BR2K_ASSIGN_OR_RETURN(auto claim, Str(j, "claim", 80, true));
  if (!claim.empty()) {
    if (!ValidEventKey(claim)) return InvalidArgumentError("'claim': <tx hash>:<log index>");
    n.claim = claim.substr(0, 2) + std::string(claim.substr(2, 64));
    for (auto& c : n.claim) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    n.claim += claim.substr(66);
  }
  return n;
}

Result<NoteEdit> ParseNoteUpdate(std::string_view body) {
  BR2K_ASSIGN_OR_RETURN(json j, Object(body));
  NoteEdit n;
  BR2K_ASSIGN_OR_RETURN(n.text, Str(j, "text", kMaxTextBytes, false, true));
  return n;
}

Result<std::string> ParseLabel(std::string_view body) {
  BR2K_ASSIGN_OR_RETURN(json j, Object(body));
  return Str(j, "label", kMaxShortBytes);
}

Result<uint64_t> ParseNoteId(std::string_view text) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v == 0) {
    return InvalidArgumentError("a note id is a decimal integer >= 1");
  }
  return v;
}

Result<TxRequest> ParseTxRequest(std::string_view body) {
  BR2K_ASSIGN_OR_RETURN(json j, Object(body));
  TxRequest t;
  BR2K_ASSIGN_OR_RETURN(t.function, Str(j, "function", 32));
  if (!Functions().count(t.function)) {
    return InvalidArgumentError("'function': unknown registry function '" + t.function + "'");
  }
  BR2K_ASSIGN_OR_RETURN(auto service, Str(j, "service", kMaxShortBytes, false, true));
  BR2K_ASSIGN_OR_RETURN(t.service, ServiceIdOf(service));
  const std::string& f = t.function;
  if (f == "register" || f == "updateLocation" || f == "sendClaim") {
    const bool claim = f == "sendClaim";  // a claim's failed location may be left empty
    BR2K_ASSIGN_OR_RETURN(t.location, Str(j, "location", kMaxTextBytes, claim, !claim));
  }
  if (f == "updateLocation") {
    BR2K_ASSIGN_OR_RETURN(t.epoch, U64(j, "epoch"));
  }
  if (f == "sendClaim") {
    BR2K_ASSIGN_OR_RETURN(t.reason, Str(j, "reason", kMaxTextBytes, true));
  }
  if (f == "updateState") {
    BR2K_ASSIGN_OR_RETURN(t.state, Str(j, "state", 16));
    if (!States().count(t.state)) return InvalidArgumentError("'state': unknown '" + t.state + "'");
  }
  if (f == "register" || f == "updateRecoveryInfo") {
    BR2K_ASSIGN_OR_RETURN(t.deploy_context, Str(j, "deploy_context", kMaxTextBytes, true));
    BR2K_ASSIGN_OR_RETURN(uint64_t replicas, U64(j, "replicas", true));
    if (replicas > 1000) return InvalidArgumentError("'replicas' must be at most 1000");
    t.replicas = static_cast<uint32_t>(replicas);
    BR2K_ASSIGN_OR_RETURN(t.container_registry, Str(j, "container_registry", kMaxTextBytes, true));
    auto im = j.find("images");
    if (im != j.end() && !im->is_null()) {
      if (!im->is_array() || im->size() > kMaxImages) {
        return InvalidArgumentError("'images' must be an array of at most 16 strings");
      }
      for (const auto& i : *im) {
        if (!i.is_string() || i.get_ref<const std::string&>().size() > kMaxTextBytes) {
          return InvalidArgumentError("'images' must hold strings");
        }
        t.images.push_back(i.get<std::string>());
      }
    }
  }
  if (f == "addManager" || f == "removeManager" || f == "addOperator" || f == "removeOperator") {
    BR2K_ASSIGN_OR_RETURN(auto account, Str(j, "account", 42));
    BR2K_ASSIGN_OR_RETURN(t.account, HexField(account, 40, "account"));
  }
  return t;
}

Result<UserTx> ParseUserTx(std::string_view body) {
  BR2K_ASSIGN_OR_RETURN(json j, Object(body));
  UserTx u;
  BR2K_ASSIGN_OR_RETURN(auto tx, Str(j, "tx", 66));
  BR2K_ASSIGN_OR_RETURN(u.tx, HexField(tx, 64, "tx"));
  BR2K_ASSIGN_OR_RETURN(auto from, Str(j, "from", 42));
  BR2K_ASSIGN_OR_RETURN(u.from, HexField(from, 40, "from"));
  BR2K_ASSIGN_OR_RETURN(u.function, Str(j, "function", 32, true));
  if (!u.function.empty() && !Functions().count(u.function)) {
    return InvalidArgumentError("'function': unknown registry function '" + u.function + "'");
  }
  BR2K_ASSIGN_OR_RETURN(auto service, Str(j, "service", 66, true));
  if (!service.empty()) {
    BR2K_ASSIGN_OR_RETURN(u.service, ParseServiceId(service));
  }
  return u;
}

}  // namespace br2k::apps::dashboard
