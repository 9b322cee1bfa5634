// A typed JSON-RPC client for Ethereum nodes on top of an RpcTransport.
//
// Errors: UNAVAILABLE (node unreachable, connection lost), DEADLINE_EXCEEDED, INTERNAL (the node
// answered with a JSON-RPC error, message "<method>: <node message> (code N)"), DATA_LOSS /
// INVALID_ARGUMENT (a malformed answer), ABORTED (execution reverted; the message is the decoded
// reason), FAILED_PRECONDITION (wrong chain id, no code at an address). Every call is bounded by
// its Deadline. Thread-safe: one client may be shared by many threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/abi.h"
#include "br2k/eth/address.h"
#include "br2k/eth/rpc_json.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/u256.h"

namespace br2k::eth {

// The fields of eth_call / eth_estimateGas.
struct CallRequest {
  std::optional<Address> from;
  std::optional<Address> to;  // nullopt: contract creation
  Bytes data;
  U256 value;
  std::optional<uint64_t> gas;
  nlohmann::json ToJson() const;
};

// The outcome of eth_call: return data, or a decoded revert.
struct CallOutcome {
  bool reverted = false;
  Bytes data;           // return data (or revert data)
  RevertReason revert;  // when reverted
};

struct LogFilter {
  std::vector<Address> addresses;  // empty: any
  // topics[i]: accepted values at position i (empty vector: any).
  std::vector<std::vector<Hash>> topics;
  uint64_t from_block = 0;
  std::optional<uint64_t> to_block;  // nullopt: latest
  nlohmann::json ToJson() const;     // with from/to as quantities
};

struct FeeEstimate {
  U256 base_fee;                  // of the latest block (0 before London)
  U256 max_priority_fee_per_gas;  // the node's suggestion (1 gwei when it has none)
  U256 max_fee_per_gas;           // 2 * base_fee + priority fee
  U256 gas_price;                 // eth_gasPrice, for legacy transactions
};

class RpcClient {
 public:
  explicit RpcClient(std::shared_ptr<RpcTransport> transport);

  // One raw call. A JSON-RPC error becomes INTERNAL (see above); use CallRaw to inspect it.
  Result<nlohmann::json> Call(const std::string& method, const nlohmann::json& params,
                              Deadline deadline);
  // One raw call, returning the error object instead of converting it.
  Result<RpcResponse> CallRaw(const std::string& method, const nlohmann::json& params,
                              Deadline deadline);
  // Several calls in one batch; the outer Result fails only when the batch as a whole failed.
  Result<std::vector<Result<nlohmann::json>>> Batch(
      const std::vector<std::pair<std::string, nlohmann::json>>& calls, Deadline deadline);

  Result<uint64_t> ChainId(Deadline deadline);
  // FAILED_PRECONDITION "wrong chain id: <endpoint> is chain N, expected M".
  Status CheckChainId(uint64_t expected, Deadline deadline);
  Result<uint64_t> BlockNumber(Deadline deadline);
  Result<U256> GetBalance(const Address& a, Deadline deadline);
  // `tag` is "latest" or "pending".
  Result<uint64_t> GetTransactionCount(const Address& a, const std::string& tag, Deadline deadline);
  Result<Bytes> GetCode(const Address& a, Deadline deadline);
  // FAILED_PRECONDITION when there is no code at `a` (wrong address, wrong chain, not deployed).
  Status RequireCode(const Address& a, Deadline deadline);
  Result<FeeEstimate> EstimateFees(Deadline deadline);
  // ABORTED with the decoded reason when the call would revert (custom errors from `errors`).
  Result<uint64_t> EstimateGas(const CallRequest& req, Deadline deadline,
                               const std::vector<AbiFunction>& errors = {});
  // eth_call at `block` ("latest" by default). Reverts come back as CallOutcome, not as errors.
  Result<CallOutcome> EthCall(const CallRequest& req, Deadline deadline,
                              const std::vector<AbiFunction>& errors = {},
                              const std::string& block = "latest");
  // The hash the node reports. A node that already knows the transaction ("already known")
  // yields the transaction's own hash (re-broadcasting is idempotent).
  Result<Hash> SendRawTransaction(BytesView raw, Deadline deadline);
  // nullopt while pending or unknown.
  Result<std::optional<Receipt>> GetTransactionReceipt(const Hash& tx, Deadline deadline);
  // Polls until the receipt exists and has `confirmations` blocks on top (1 = mined).
  // DEADLINE_EXCEEDED when it does not in time.
  Result<Receipt> WaitForReceipt(const Hash& tx, Deadline deadline, uint64_t confirmations = 1,
                                 std::chrono::milliseconds poll = std::chrono::milliseconds(100));
  // eth_getLogs over [from, to] in chunks of at most `chunk` blocks, halving the chunk when
  // the node refuses a range as too large.
  Result<std::vector<Log>> GetLogs(const LogFilter& filter, Deadline deadline,
                                   uint64_t chunk = 5000);

  RpcTransport& transport() { return *transport_; }
  const std::shared_ptr<RpcTransport>& transport_ptr() const { return transport_; }

 private:
  std::shared_ptr<RpcTransport> transport_;
  std::atomic<int64_t> next_id_{1};
};

}  // namespace br2k::eth
