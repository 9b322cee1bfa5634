#include "br2k/replication/log_entry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "br2k/replication/chain_effects.h"
#include "br2k/replication/keys.h"

namespace br2k::replication {
namespace {

using nlohmann::json;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> ParseObject(std::string_view bytes, const char* what, StatusCode code) {
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(code, std::string(what) + ": not a JSON object");
  }
  return j;
}

// Field readers: a missing or mistyped field is an error naming the field.
Status GetString(const json& j, const char* key, std::string& out, const char* what,
                 StatusCode code) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return Status(code, std::string(what) + ": field '" + key + "' missing or not a string");
  }
  out = it->get<std::string>();
  return Status::Ok();
}

Status GetUint(const json& j, const char* key, uint64_t& out, const char* what, StatusCode code) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    return Status(code, std::string(what) + ": field '" + key + "' missing or not unsigned");
  }
  out = it->get<uint64_t>();
  return Status::Ok();
}

Status GetInt(const json& j, const char* key, int64_t& out, const char* what, StatusCode code) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return Status(code, std::string(what) + ": field '" + key + "' missing or not an integer");
  }
  out = it->get<int64_t>();
  return Status::Ok();
}

constexpr auto kBad = StatusCode::kInvalidArgument;
constexpr auto kLoss = StatusCode::kDataLoss;

}  // namespace

const char* EntryStateName(EntryState s) {
  switch (s) {
    case EntryState::kNull:
      return "Null";
    case EntryState::kInProcess:
      return "InProcess";
    case EntryState::kSuccess:
      return "Success";
    case EntryState::kFail:
      return "Fail";
    case EntryState::kIgnore:
      return "Ignore";
  }
  return "?";
}

Result<EntryState> ParseEntryState(std::string_view name) {
  for (auto s : {EntryState::kNull, EntryState::kInProcess, EntryState::kSuccess, EntryState::kFail,
                 EntryState::kIgnore}) {
    if (name == EntryStateName(s)) return s;
  }
  return InvalidArgumentError("unknown entry state '" + std::string(name) + "'");
}

std::string EncodeLogEntry(const LogEntry& e) {
  json j = {{"t", RequestTypeName(e.type)},
            {"m", e.request.method},
            {"p", e.request.path},
            {"q", e.request.query},
            {"b", e.request.body},
            {"c", e.request.client_id},
            {"s", e.request.seq}};
  if (!e.request.params.empty()) j["a"] = e.request.params;
  return Dump(j);
}

Result<LogEntry> DecodeLogEntry(std::string_view bytes) {
  const char* what = "RLE";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kBad));
  LogEntry e;
  std::string type;
  BR2K_RETURN_IF_ERROR(GetString(j, "t", type, what, kBad));
  BR2K_ASSIGN_OR_RETURN(e.type, ParseRequestType(type));
  if (e.type == RequestType::kReadOnly) return InvalidArgumentError("RLE: read-only entry");
  BR2K_RETURN_IF_ERROR(GetString(j, "m", e.request.method, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "p", e.request.path, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "q", e.request.query, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "b", e.request.body, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "c", e.request.client_id, what, kBad));
  BR2K_RETURN_IF_ERROR(GetUint(j, "s", e.request.seq, what, kBad));
  if (auto it = j.find("a"); it != j.end()) {
    if (!it->is_object()) return InvalidArgumentError("RLE: field 'a' not an object");
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) return InvalidArgumentError("RLE: parameter '" + k + "' not a string");
      e.request.params[k] = v.get<std::string>();
    }
  }
  return e;
}

std::string EncodeEntryStatus(const EntryStatus& s) {
  json j = {{"t", RequestTypeName(s.type)}, {"s", EntryStateName(s.state)}};
  if (s.response) {
    j["r"] = {{"c", s.response->status}, {"ct", s.response->content_type}, {"b", s.response->body}};
  }
  return Dump(j);
}

Result<EntryStatus> DecodeEntryStatus(std::string_view bytes) {
  const char* what = "RS";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kBad));
  EntryStatus s;
  std::string type, state;
  BR2K_RETURN_IF_ERROR(GetString(j, "t", type, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "s", state, what, kBad));
  BR2K_ASSIGN_OR_RETURN(s.type, ParseRequestType(type));
  BR2K_ASSIGN_OR_RETURN(s.state, ParseEntryState(state));
  if (auto it = j.find("r"); it != j.end()) {
    if (!it->is_object()) return InvalidArgumentError("RS: field 'r' not an object");
    Response r;
    int64_t code = 0;
    BR2K_RETURN_IF_ERROR(GetInt(*it, "c", code, what, kBad));
    if (code < 100 || code > 599) return InvalidArgumentError("RS: bad status code");
    r.status = static_cast<int>(code);
    BR2K_RETURN_IF_ERROR(GetString(*it, "ct", r.content_type, what, kBad));
    BR2K_RETURN_IF_ERROR(GetString(*it, "b", r.body, what, kBad));
    s.response = std::move(r);
  }
  return s;
}

std::string EncodeSessionRecord(const SessionRecord& r) {
  return Dump(json{{"i", r.index}, {"ts", r.unix_ts}});
}

Result<SessionRecord> DecodeSessionRecord(std::string_view bytes) {
  const char* what = "Session";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kBad));
  SessionRecord r;
  BR2K_RETURN_IF_ERROR(GetUint(j, "i", r.index, what, kBad));
  BR2K_RETURN_IF_ERROR(GetInt(j, "ts", r.unix_ts, what, kBad));
  return r;
}

std::string EncodeSessionFloor(const SessionFloor& f) {
  return Dump(json{{"s", f.seq}, {"ts", f.unix_ts}});
}

Result<SessionFloor> DecodeSessionFloor(std::string_view bytes) {
  const char* what = "SessionFloor";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kBad));
  SessionFloor f;
  BR2K_RETURN_IF_ERROR(GetUint(j, "s", f.seq, what, kBad));
  BR2K_RETURN_IF_ERROR(GetInt(j, "ts", f.unix_ts, what, kBad));
  return f;
}

std::string EncodeSnapshotHeader(const SnapshotHeader& h) {
  return Dump(json{{"i", h.index}, {"n", h.chunks}, {"size", h.size}, {"crc32", h.crc32}});
}

Result<SnapshotHeader> DecodeSnapshotHeader(std::string_view bytes) {
  const char* what = "Snapshot";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kBad));
  SnapshotHeader h;
  uint64_t crc = 0;
  BR2K_RETURN_IF_ERROR(GetUint(j, "i", h.index, what, kBad));
  BR2K_RETURN_IF_ERROR(GetUint(j, "n", h.chunks, what, kBad));
  BR2K_RETURN_IF_ERROR(GetUint(j, "size", h.size, what, kBad));
  BR2K_RETURN_IF_ERROR(GetUint(j, "crc32", crc, what, kBad));
  if (crc > 0xFFFFFFFFu) return InvalidArgumentError("Snapshot: crc32 out of range");
  h.crc32 = static_cast<uint32_t>(crc);
  if (h.chunks < 1 || h.chunks > 999999 || h.chunks > std::max<uint64_t>(h.size, 1)) {
    return InvalidArgumentError("Snapshot: chunk count " + std::to_string(h.chunks) +
                                " does not fit a size of " + std::to_string(h.size));
  }
  return h;
}

uint32_t Crc32(std::string_view data) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : data) c = table[(c ^ ch) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string EncodeSignedTx(const SignedTx& tx) {
  return Dump(json{{"raw", tx.raw}, {"hash", tx.hash}, {"nonce", tx.nonce}, {"from", tx.from}});
}

Result<SignedTx> DecodeSignedTx(std::string_view bytes) {
  const char* what = "TX";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kBad));
  SignedTx tx;
  BR2K_RETURN_IF_ERROR(GetString(j, "raw", tx.raw, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "hash", tx.hash, what, kBad));
  BR2K_RETURN_IF_ERROR(GetUint(j, "nonce", tx.nonce, what, kBad));
  BR2K_RETURN_IF_ERROR(GetString(j, "from", tx.from, what, kBad));
  auto hex = [](const std::string& v, size_t min_len) {
    if (v.size() < 2 + min_len || v[0] != '0' || v[1] != 'x') return false;
    for (size_t i = 2; i < v.size(); ++i) {
      if (!std::isxdigit(static_cast<unsigned char>(v[i]))) return false;
    }
    return true;
  };
  if (!hex(tx.raw, 2) || !hex(tx.hash, 64) || tx.hash.size() != 66 || !hex(tx.from, 40) ||
      tx.from.size() != 42) {
    return InvalidArgumentError("TX: raw, hash and from must be 0x-hex of the right length");
  }
  return tx;
}

uint32_t LocalStateChecksum(const LocalState& s) {
  return Crc32("br2k-state-2\n" + std::to_string(s.lpi) + "\n" + s.snapshot);
}

std::string EncodeLocalState(const LocalState& s) {
  return Dump(json{{"format", "br2k-state-2"},
                   {"lpi", s.lpi},
                   {"snapshot", s.snapshot},
                   {"crc32", LocalStateChecksum(s)}});
}

Result<LocalState> DecodeLocalState(std::string_view bytes) {
  const char* what = "state file";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kLoss));
  std::string format;
  BR2K_RETURN_IF_ERROR(GetString(j, "format", format, what, kLoss));
  if (format != "br2k-state-2") {
    return DataLossError("state file: unknown format " + format +
                         (format == "br2k-state-1" ? " (written without a checksum)" : ""));
  }
  LocalState s;
  uint64_t crc = 0;
  BR2K_RETURN_IF_ERROR(GetUint(j, "lpi", s.lpi, what, kLoss));
  BR2K_RETURN_IF_ERROR(GetString(j, "snapshot", s.snapshot, what, kLoss));
  BR2K_RETURN_IF_ERROR(GetUint(j, "crc32", crc, what, kLoss));
  if (crc != LocalStateChecksum(s)) {
    return DataLossError("state file: checksum mismatch (stored " + std::to_string(crc) +
                         ", computed " + std::to_string(LocalStateChecksum(s)) +
                         "): the LPI or the snapshot was changed");
  }
  return s;
}

const char* JournalStepName(JournalStep s) {
  switch (s) {
    case JournalStep::kIdle:
      return "idle";
    case JournalStep::kAppend:
      return "append";
    case JournalStep::kInProcess:
      return "inprocess";
    case JournalStep::kApply:
      return "apply";
    case JournalStep::kResult:
      return "result";
  }
  return "?";
}

std::string EncodeJournal(const Journal& j) {
  json out = {
      {"step", JournalStepName(j.step)}, {"first", j.first}, {"last", j.last}, {"epoch", j.epoch}};
  json results = json::object();
  for (const auto& [i, v] : j.results) results[std::to_string(i)] = v;
  out["results"] = results;
  return Dump(out);
}

Result<Journal> DecodeJournal(std::string_view bytes) {
  const char* what = "journal";
  BR2K_ASSIGN_OR_RETURN(json j, ParseObject(bytes, what, kLoss));
  Journal out;
  std::string step;
  BR2K_RETURN_IF_ERROR(GetString(j, "step", step, what, kLoss));
  bool found = false;
  for (auto s : {JournalStep::kIdle, JournalStep::kAppend, JournalStep::kInProcess,
                 JournalStep::kApply, JournalStep::kResult}) {
    if (step == JournalStepName(s)) {
      out.step = s;
      found = true;
    }
  }
  if (!found) return DataLossError("journal: unknown step '" + step + "'");
  BR2K_RETURN_IF_ERROR(GetUint(j, "first", out.first, what, kLoss));
  BR2K_RETURN_IF_ERROR(GetUint(j, "last", out.last, what, kLoss));
  BR2K_RETURN_IF_ERROR(GetInt(j, "epoch", out.epoch, what, kLoss));
  if (out.first > out.last) return DataLossError("journal: first > last");
  if (auto it = j.find("results"); it != j.end()) {
    if (!it->is_object()) return DataLossError("journal: 'results' not an object");
    for (auto& [k, v] : it->items()) {
      auto idx = ParseIndex(k);
      if (!idx || !v.is_string()) return DataLossError("journal: bad result entry '" + k + "'");
      if (!DecodeEntryStatus(v.get<std::string>()).ok()) {
        return DataLossError("journal: result " + k + " is not a valid RS value");
      }
      out.results[*idx] = v.get<std::string>();
    }
  }
  return out;
}

}  // namespace br2k::replication
