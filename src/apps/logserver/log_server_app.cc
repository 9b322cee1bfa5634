#include "log_server_app.h"

#include <nlohmann/json.hpp>

#include "br2k/eth/bytes.h"
#include "br2k/eth/keccak.h"

namespace br2k::apps {
using namespace br2k::replication;
using nlohmann::json;

namespace {
// The user id in a POST /logs body, or an error naming what is wrong.
Result<std::string> UserOf(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return InvalidArgumentError("body is not valid JSON");
  if (!j.is_object()) return InvalidArgumentError("body must be a JSON object");
  auto it = j.find("user");
  if (it == j.end()) return InvalidArgumentError("field 'user' is missing");
  // Unsigned first: 18446744073709551615 read as int64_t was stored as "-1". Numbers beyond 64
  // bits parse as floating point and are refused below.
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (!it->is_string()) return InvalidArgumentError("field 'user' must be a string or integer");
  auto u = it->get<std::string>();
  if (u.empty() || u.size() > 256) return InvalidArgumentError("'user' must be 1-256 chars");
  return u;
}
}  // namespace

std::vector<Route> LogServerApp::Routes() const {
  return {{"POST", "/logs", RequestType::kReplication},
          {"GET", "/logs", RequestType::kReadOnly},
          {"POST", "/anchor", RequestType::kNormal}};
}

Status LogServerApp::Validate(const Request& r, RequestType t) const {
  if (t != RequestType::kReplication) return Status::Ok();
  auto u = UserOf(r.body);
  return u.ok() ? Status::Ok() : u.status();
}

ApplyResult LogServerApp::Apply(const Request& r, const ApplyContext& ctx) {
  if (ctx.type == RequestType::kNormal) {  // POST /anchor, on the leader only
    eth::Bytes data;
    auto digest = eth::Keccak256(Snapshot());
    data.insert(data.end(), digest.bytes.begin(), digest.bytes.end());
    eth::Bytes size(32, 0);
    uint64_t n = logs_.size();
    for (int i = 0; i < 8; ++i) size[31 - i] = static_cast<uint8_t>(n >> (8 * i));
    data.insert(data.end(), size.begin(), size.end());
    ApplyResult out{Outcome::kSuccess, {.status = 200, .body = "{}"}};
    out.chain_call = ChainCall{.to = "", .data = eth::ToHex(data), .gas_limit = 60000};
    return out;
  }
  auto u = UserOf(r.body);
  if (!u.ok()) {  // rejected: the state is unchanged
    return {Outcome::kFail, {.status = 400, .body = json{{"error", u.status().message()}}.dump()}};
  }
  logs_.push_back(*u);
  return {
      Outcome::kSuccess,
      {.status = 200, .body = json{{"index", logs_.size() - 1}, {"size", logs_.size()}}.dump()}};
}

Response LogServerApp::Read(const Request&) const {
  return {.status = 200, .body = json{{"logs", logs_}}.dump()};
}

std::string LogServerApp::Snapshot() const {
  return json(logs_).dump();
}

Status LogServerApp::Restore(std::string_view snapshot) {
  json j = json::parse(snapshot.begin(), snapshot.end(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return DataLossError("log server snapshot: not an array");
  std::vector<std::string> logs;
  for (const auto& v : j) {
    if (!v.is_string()) return DataLossError("log server snapshot: non-string entry");
    logs.push_back(v.get<std::string>());
  }
  logs_ = std::move(logs);
  return Status::Ok();
}

}  // namespace br2k::apps
