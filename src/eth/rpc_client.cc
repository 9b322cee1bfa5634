#include "br2k/eth/rpc_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "br2k/eth/keccak.h"

namespace br2k::eth {
namespace {

Status FromRpcError(const std::string& method, const RpcError& e) {
  return InternalError(method + ": " + e.message + " (code " + std::to_string(e.code) + ")");
}

bool LooksLikeRevert(const RpcError& e) {
  return e.code == 3 || e.message.find("revert") != std::string::npos || e.RevertData().has_value();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

nlohmann::json CallRequest::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (from) j["from"] = ToHex(from->view());
  if (to) j["to"] = ToHex(to->view());
  j["input"] = ToHex(data);
  if (!value.IsZero()) j["value"] = value.ToQuantity();
  if (gas) j["gas"] = U256(*gas).ToQuantity();
  return j;
}

nlohmann::json LogFilter::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (addresses.size() == 1) {
    j["address"] = ToHex(addresses[0].view());
  } else if (!addresses.empty()) {
    j["address"] = nlohmann::json::array();
    for (const auto& a : addresses) j["address"].push_back(ToHex(a.view()));
  }
  nlohmann::json topics_json = nlohmann::json::array();
  for (const auto& alts : topics) {
    if (alts.empty()) {
      topics_json.push_back(nullptr);
    } else if (alts.size() == 1) {
      topics_json.push_back(alts[0].ToHex());
    } else {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& h : alts) a.push_back(h.ToHex());
      topics_json.push_back(a);
    }
  }
  if (!topics.empty()) j["topics"] = topics_json;
  j["fromBlock"] = U256(from_block).ToQuantity();
  j["toBlock"] = to_block ? U256(*to_block).ToQuantity() : "latest";
  return j;
}

RpcClient::RpcClient(std::shared_ptr<RpcTransport> transport) : transport_(std::move(transport)) {}

Result<RpcResponse> RpcClient::CallRaw(const std::string& method, const nlohmann::json& params,
                                       Deadline deadline) {
  int64_t id = next_id_.fetch_add(1);
  BR2K_ASSIGN_OR_RETURN(std::string body,
                        transport_->RoundTrip(RpcRequestBody(id, method, params), deadline));
  auto r = ParseRpcResponse(body, id);
  if (!r.ok()) return r.status().WithContext(transport_->Endpoint() + " " + method);
  return r;
}

Result<nlohmann::json> RpcClient::Call(const std::string& method, const nlohmann::json& params,
                                       Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(RpcResponse r, CallRaw(method, params, deadline));
  if (r.error) return FromRpcError(method, *r.error);
  return std::move(r.result);
}

// GCC 12 reports a false -Wmaybe-uninitialized inside nlohmann::json's move constructor when it
// is moved into a std::variant (Result); the value is always initialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
Result<std::vector<Result<nlohmann::json>>> RpcClient::Batch(
    const std::vector<std::pair<std::string, nlohmann::json>>& calls, Deadline deadline) {
  if (calls.empty()) return std::vector<Result<nlohmann::json>>{};
  nlohmann::json body = nlohmann::json::array();
  std::vector<int64_t> ids;
  for (const auto& [method, params] : calls) {
    int64_t id = next_id_.fetch_add(1);
    ids.push_back(id);
    body.push_back(nlohmann::json::parse(RpcRequestBody(id, method, params)));
  }
  BR2K_ASSIGN_OR_RETURN(std::string text, transport_->RoundTrip(body.dump(), deadline));
  BR2K_ASSIGN_OR_RETURN(auto responses, ParseRpcBatchResponse(text, ids));
  std::vector<Result<nlohmann::json>> out;
  for (size_t i = 0; i < responses.size(); ++i) {
    if (responses[i].error)
      out.push_back(FromRpcError(calls[i].first, *responses[i].error));
    else
      out.push_back(std::move(responses[i].result));
  }
  return out;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Result<uint64_t> RpcClient::ChainId(Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto j, Call("eth_chainId", nlohmann::json::array(), deadline));
  return ParseQuantityU64(j);
}

Status RpcClient::CheckChainId(uint64_t expected, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(uint64_t id, ChainId(deadline));
  if (id != expected) {
    return FailedPreconditionError("wrong chain id: " + transport_->Endpoint() + " is chain " +
                                   std::to_string(id) + ", expected " + std::to_string(expected));
  }
  return Status::Ok();
}

Result<uint64_t> RpcClient::BlockNumber(Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto j, Call("eth_blockNumber", nlohmann::json::array(), deadline));
  return ParseQuantityU64(j);
}

Result<U256> RpcClient::GetBalance(const Address& a, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto j, Call("eth_getBalance", {ToHex(a.view()), "latest"}, deadline));
  return ParseQuantity(j);
}

Result<uint64_t> RpcClient::GetTransactionCount(const Address& a, const std::string& tag,
                                                Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto j, Call("eth_getTransactionCount", {ToHex(a.view()), tag}, deadline));
  return ParseQuantityU64(j);
}

Result<Bytes> RpcClient::GetCode(const Address& a, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto j, Call("eth_getCode", {ToHex(a.view()), "latest"}, deadline));
  return ParseData(j);
}

Status RpcClient::RequireCode(const Address& a, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(Bytes code, GetCode(a, deadline));
  if (code.empty()) {
    return FailedPreconditionError("no contract code at " + a.ToChecksum() + " on " +
                                   transport_->Endpoint() + " (wrong address or wrong chain?)");
  }
  return Status::Ok();
}

Result<FeeEstimate> RpcClient::EstimateFees(Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto results, Batch({{"eth_getBlockByNumber", {"latest", false}},
                                             {"eth_maxPriorityFeePerGas", nlohmann::json::array()},
                                             {"eth_gasPrice", nlohmann::json::array()}},
                                            deadline));
  FeeEstimate f;
  if (!results[0].ok()) return results[0].status();
  const auto& block = *results[0];
  if (block.is_object() && block.contains("baseFeePerGas") && !block["baseFeePerGas"].is_null()) {
    BR2K_ASSIGN_OR_RETURN(f.base_fee, ParseQuantity(block["baseFeePerGas"]));
  }
  f.max_priority_fee_per_gas = U256(1'000'000'000);
  if (results[1].ok()) {
    if (auto tip = ParseQuantity(*results[1]); tip.ok()) f.max_priority_fee_per_gas = *tip;
  }
  if (!results[2].ok()) return results[2].status();
  BR2K_ASSIGN_OR_RETURN(f.gas_price, ParseQuantity(*results[2]));
  f.max_fee_per_gas = f.base_fee * U256(2) + f.max_priority_fee_per_gas;
  return f;
}

Result<uint64_t> RpcClient::EstimateGas(const CallRequest& req, Deadline deadline,
                                        const std::vector<AbiFunction>& errors) {
  BR2K_ASSIGN_OR_RETURN(
      RpcResponse r, CallRaw("eth_estimateGas", nlohmann::json::array({req.ToJson()}), deadline));
  if (r.error) {
    if (LooksLikeRevert(*r.error)) {
      RevertReason reason = DecodeRevert(r.error->RevertData().value_or(Bytes{}), errors);
      if (reason.kind == RevertReason::Kind::kEmpty && !r.error->message.empty()) {
        return AbortedError(r.error->message);
      }
      return AbortedError(reason.ToString());
    }
    return FromRpcError("eth_estimateGas", *r.error);
  }
  return ParseQuantityU64(r.result);
}

Result<CallOutcome> RpcClient::EthCall(const CallRequest& req, Deadline deadline,
                                       const std::vector<AbiFunction>& errors,
                                       const std::string& block) {
  BR2K_ASSIGN_OR_RETURN(RpcResponse r, CallRaw("eth_call", {req.ToJson(), block}, deadline));
  CallOutcome out;
  if (r.error) {
    if (!LooksLikeRevert(*r.error)) return FromRpcError("eth_call", *r.error);
    out.reverted = true;
    out.data = r.error->RevertData().value_or(Bytes{});
    out.revert = DecodeRevert(out.data, errors);
    return out;
  }
  BR2K_ASSIGN_OR_RETURN(out.data, ParseData(r.result));
  return out;
}

Result<Hash> RpcClient::SendRawTransaction(BytesView raw, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(RpcResponse r, CallRaw("eth_sendRawTransaction",
                                               nlohmann::json::array({ToHex(raw)}), deadline));
  if (r.error) {
    std::string m = Lower(r.error->message);
    if (m.find("already known") != std::string::npos ||
        m.find("already imported") != std::string::npos) {
      return Keccak256(raw);
    }
    if (m.find("nonce too low") != std::string::npos) {
      return FailedPreconditionError("eth_sendRawTransaction: " + r.error->message);
    }
    return FromRpcError("eth_sendRawTransaction", *r.error);
  }
  return ParseHash(r.result);
}

Result<std::optional<Receipt>> RpcClient::GetTransactionReceipt(const Hash& tx, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(
      auto j, Call("eth_getTransactionReceipt", nlohmann::json::array({tx.ToHex()}), deadline));
  if (j.is_null()) return std::optional<Receipt>();
  BR2K_ASSIGN_OR_RETURN(Receipt r, ParseReceipt(j));
  return std::optional<Receipt>(std::move(r));
}

Result<Receipt> RpcClient::WaitForReceipt(const Hash& tx, Deadline deadline, uint64_t confirmations,
                                          std::chrono::milliseconds poll) {
  while (true) {
    auto r = GetTransactionReceipt(tx, deadline);
    if (r.ok() && r->has_value()) {
      const Receipt& rec = **r;
      if (confirmations <= 1) return rec;
      auto head = BlockNumber(deadline);
      if (head.ok() && *head + 1 >= rec.block_number + confirmations) return rec;
    } else if (!r.ok() && r.status().code() != StatusCode::kUnavailable) {
      return r.status();
    }
    if (deadline.remaining() <= poll) {
      return DeadlineExceededError("no receipt for " + tx.ToHex() + " with " +
                                   std::to_string(confirmations) + " confirmation(s) in time");
    }
    std::this_thread::sleep_for(poll);
  }
}

Result<std::vector<Log>> RpcClient::GetLogs(const LogFilter& filter, Deadline deadline,
                                            uint64_t chunk) {
  uint64_t to = 0;
  if (filter.to_block) {
    to = *filter.to_block;
  } else {
    BR2K_ASSIGN_OR_RETURN(to, BlockNumber(deadline));
  }
  std::vector<Log> out;
  uint64_t from = filter.from_block;
  chunk = std::max<uint64_t>(chunk, 1);
  while (from <= to) {
    uint64_t end = std::min(to, from + chunk - 1);
    LogFilter f = filter;
    f.from_block = from;
    f.to_block = end;
    BR2K_ASSIGN_OR_RETURN(RpcResponse r,
                          CallRaw("eth_getLogs", nlohmann::json::array({f.ToJson()}), deadline));
    if (r.error) {
      std::string m = Lower(r.error->message);
      bool too_big =
          m.find("range") != std::string::npos || m.find("too many") != std::string::npos ||
          m.find("limit") != std::string::npos || m.find("more than") != std::string::npos;
      if (too_big && chunk > 1) {
        chunk /= 2;
        spdlog::debug("eth_getLogs: range refused ({}), retrying with {} blocks", r.error->message,
                      chunk);
        continue;
      }
      return FromRpcError("eth_getLogs", *r.error);
    }
    if (!r.result.is_array()) return InvalidArgumentError("eth_getLogs: result is not an array");
    for (const auto& j : r.result) {
      BR2K_ASSIGN_OR_RETURN(Log l, ParseLog(j));
      out.push_back(std::move(l));
    }
    if (end == to) break;
    from = end + 1;
  }
  return out;
}

}  // namespace br2k::eth
