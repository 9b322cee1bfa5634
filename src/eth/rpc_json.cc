#include "br2k/eth/rpc_json.h"

#include <map>
#include <set>

namespace br2k::eth {
namespace {

Status Bad(const std::string& what) {
  return InvalidArgumentError("json-rpc: " + what);
}

Result<RpcResponse> FromObject(const nlohmann::json& j) {
  if (!j.is_object()) return Bad("response is not an object");
  auto v = j.find("jsonrpc");
  if (v == j.end() || *v != "2.0") return Bad("response is not JSON-RPC 2.0");
  RpcResponse r;
  auto id = j.find("id");
  if (id != j.end() && id->is_number_integer()) {
    r.id = id->get<int64_t>();
  } else if (id != j.end() && id->is_null()) {
    r.id = -1;
  } else {
    return Bad("response without an integer id");
  }
  auto err = j.find("error");
  if (err != j.end() && !err->is_null()) {
    if (!err->is_object()) return Bad("error member is not an object");
    RpcError e;
    auto code = err->find("code");
    if (code == err->end() || !code->is_number_integer())
      return Bad("error without an integer code");
    e.code = code->get<int64_t>();
    auto msg = err->find("message");
    if (msg != err->end() && msg->is_string()) e.message = msg->get<std::string>();
    auto data = err->find("data");
    if (data != err->end()) e.data = *data;
    r.error = std::move(e);
    return r;
  }
  auto res = j.find("result");
  if (res == j.end()) return Bad("response has neither result nor error");
  r.result = *res;
  return r;
}

}  // namespace

std::optional<Bytes> RpcError::RevertData() const {
  const nlohmann::json* d = &data;
  if (d->is_object() && d->contains("data")) d = &(*d)["data"];
  if (!d->is_string()) return std::nullopt;
  const std::string& s = d->get_ref<const std::string&>();
  if (!s.starts_with("0x")) return std::nullopt;
  auto b = FromHex(s);
  if (!b.ok()) return std::nullopt;
  return *b;
}

std::string RpcRequestBody(int64_t id, std::string_view method, const nlohmann::json& params) {
  nlohmann::json j = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  return j.dump();
}

Result<RpcResponse> ParseRpcResponse(std::string_view body, int64_t expected_id) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("response is not JSON");
  BR2K_ASSIGN_OR_RETURN(RpcResponse r, FromObject(j));
  if (r.id != expected_id && !(r.id == -1 && r.error)) {
    return DataLossError("json-rpc: response id " + std::to_string(r.id) + ", expected " +
                         std::to_string(expected_id));
  }
  r.id = expected_id;
  return r;
}

Result<std::vector<RpcResponse>> ParseRpcBatchResponse(std::string_view body,
                                                       const std::vector<int64_t>& ids) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("response is not JSON");
  if (j.is_object()) {
    // A whole-batch failure (e.g. batch too large): the node answers with one error object.
    BR2K_ASSIGN_OR_RETURN(RpcResponse r, FromObject(j));
    if (!r.error) return Bad("batch answered with a single non-error response");
    std::vector<RpcResponse> out;
    for (int64_t id : ids) {
      RpcResponse copy = r;
      copy.id = id;
      out.push_back(std::move(copy));
    }
    return out;
  }
  if (!j.is_array()) return Bad("batch response is not an array");
  std::map<int64_t, RpcResponse> by_id;
  std::set<int64_t> wanted(ids.begin(), ids.end());
  for (const auto& item : j) {
    BR2K_ASSIGN_OR_RETURN(RpcResponse r, FromObject(item));
    if (!wanted.count(r.id))
      return DataLossError("json-rpc: unexpected id " + std::to_string(r.id) + " in batch");
    if (!by_id.emplace(r.id, std::move(r)).second)
      return DataLossError("json-rpc: repeated id in batch");
  }
  std::vector<RpcResponse> out;
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end())
      return DataLossError("json-rpc: no answer for id " + std::to_string(id) + " in batch");
    out.push_back(it->second);
  }
  return out;
}

Result<U256> ParseQuantity(const nlohmann::json& j) {
  if (!j.is_string()) return Bad("quantity is not a string");
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() < 3 || s[0] != '0' || s[1] != 'x') return Bad("invalid quantity '" + s + "'");
  if (s.size() > 3 && s[2] == '0') return Bad("quantity with leading zeros '" + s + "'");
  auto v = U256::FromHex(s);
  if (!v.ok()) return Bad("invalid quantity '" + s + "'");
  return v;
}

Result<uint64_t> ParseQuantityU64(const nlohmann::json& j) {
  BR2K_ASSIGN_OR_RETURN(U256 v, ParseQuantity(j));
  if (!v.FitsU64()) return Bad("quantity exceeds 64 bits");
  return v.low64();
}

Result<Bytes> ParseData(const nlohmann::json& j) {
  if (!j.is_string()) return Bad("data is not a string");
  const std::string& s = j.get_ref<const std::string&>();
  if (!s.starts_with("0x")) return Bad("data without 0x");
  auto b = FromHex(s);
  if (!b.ok()) return Bad("invalid data");
  return b;
}

Result<Hash> ParseHash(const nlohmann::json& j) {
  BR2K_ASSIGN_OR_RETURN(Bytes b, ParseData(j));
  auto h = Hash::FromView(b);
  if (!h.ok()) return Bad("hash is not 32 bytes");
  return h;
}

Result<Address> ParseAddressJson(const nlohmann::json& j) {
  BR2K_ASSIGN_OR_RETURN(Bytes b, ParseData(j));
  auto a = Address::FromView(b);
  if (!a.ok()) return Bad("address is not 20 bytes");
  return a;
}

namespace {
const nlohmann::json& Field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}
}  // namespace

Result<Log> ParseLog(const nlohmann::json& j) {
  if (!j.is_object()) return Bad("log is not an object");
  Log l;
  BR2K_ASSIGN_OR_RETURN(l.address, ParseAddressJson(Field(j, "address")));
  const auto& topics = Field(j, "topics");
  if (!topics.is_array() || topics.size() > 4) return Bad("log topics is not an array of <= 4");
  for (const auto& t : topics) {
    BR2K_ASSIGN_OR_RETURN(Hash h, ParseHash(t));
    l.topics.push_back(h);
  }
  BR2K_ASSIGN_OR_RETURN(l.data, ParseData(Field(j, "data")));
  // Pending logs carry nulls for the block fields.
  if (!Field(j, "blockNumber").is_null()) {
    BR2K_ASSIGN_OR_RETURN(l.block_number, ParseQuantityU64(Field(j, "blockNumber")));
  }
  if (!Field(j, "blockHash").is_null()) {
    BR2K_ASSIGN_OR_RETURN(l.block_hash, ParseHash(Field(j, "blockHash")));
  }
  if (!Field(j, "transactionHash").is_null()) {
    BR2K_ASSIGN_OR_RETURN(l.transaction_hash, ParseHash(Field(j, "transactionHash")));
  }
  if (!Field(j, "logIndex").is_null()) {
    BR2K_ASSIGN_OR_RETURN(l.log_index, ParseQuantityU64(Field(j, "logIndex")));
  }
  const auto& removed = Field(j, "removed");
  if (removed.is_boolean()) l.removed = removed.get<bool>();
  return l;
}

Result<Receipt> ParseReceipt(const nlohmann::json& j) {
  if (!j.is_object()) return Bad("receipt is not an object");
  Receipt r;
  BR2K_ASSIGN_OR_RETURN(r.transaction_hash, ParseHash(Field(j, "transactionHash")));
  BR2K_ASSIGN_OR_RETURN(r.block_number, ParseQuantityU64(Field(j, "blockNumber")));
  BR2K_ASSIGN_OR_RETURN(r.block_hash, ParseHash(Field(j, "blockHash")));
  BR2K_ASSIGN_OR_RETURN(uint64_t status, ParseQuantityU64(Field(j, "status")));
  r.success = status == 1;
  BR2K_ASSIGN_OR_RETURN(r.gas_used, ParseQuantityU64(Field(j, "gasUsed")));
  if (!Field(j, "effectiveGasPrice").is_null()) {
    BR2K_ASSIGN_OR_RETURN(r.effective_gas_price, ParseQuantity(Field(j, "effectiveGasPrice")));
  }
  BR2K_ASSIGN_OR_RETURN(r.from, ParseAddressJson(Field(j, "from")));
  if (!Field(j, "to").is_null()) {
    BR2K_ASSIGN_OR_RETURN(Address to, ParseAddressJson(Field(j, "to")));
    r.to = to;
  }
  if (!Field(j, "contractAddress").is_null()) {
    BR2K_ASSIGN_OR_RETURN(Address c, ParseAddressJson(Field(j, "contractAddress")));
    r.contract_address = c;
  }
  const auto& logs = Field(j, "logs");
  if (!logs.is_array()) return Bad("receipt logs is not an array");
  for (const auto& l : logs) {
    BR2K_ASSIGN_OR_RETURN(Log log, ParseLog(l));
    r.logs.push_back(std::move(log));
  }
  return r;
}

}  // namespace br2k::eth
