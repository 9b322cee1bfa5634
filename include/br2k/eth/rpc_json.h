// JSON-RPC 2.0 wire format for Ethereum nodes: request bodies, response parsing (single and
// batch), and the node's JSON shapes (quantities, data, logs, receipts).
//
// Parsing is defensive (it is fuzzed): any malformed input yields INVALID_ARGUMENT or
// DATA_LOSS, never an exception or a crash. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/eth/address.h"
#include "br2k/eth/bytes.h"
#include "br2k/eth/u256.h"

namespace br2k::eth {

// The "error" member of a response.
struct RpcError {
  int64_t code = 0;
  std::string message;
  nlohmann::json data;  // null when absent; for reverts usually a 0x-hex string

  // Revert data when the node attached any (error.data as hex, or error.data.data).
  std::optional<Bytes> RevertData() const;
};

// One response: exactly one of result / error is meaningful.
struct RpcResponse {
  int64_t id = 0;
  nlohmann::json result;
  std::optional<RpcError> error;
};

// {"jsonrpc":"2.0","id":id,"method":method,"params":params}
std::string RpcRequestBody(int64_t id, std::string_view method, const nlohmann::json& params);

// Parses a single response and checks its id. INVALID_ARGUMENT (DATA_LOSS for an id mismatch)
// when the body is not a JSON-RPC 2.0 response.
Result<RpcResponse> ParseRpcResponse(std::string_view body, int64_t expected_id);
// Parses a batch response and orders it like `ids` (nodes may answer in any order). Fails when
// an id is missing, repeated or unexpected. A node that answers a whole batch with one error
// object yields that error for every entry.
Result<std::vector<RpcResponse>> ParseRpcBatchResponse(std::string_view body,
                                                       const std::vector<int64_t>& ids);

// "0x1a" -> 26. Rejects missing 0x, empty digits, leading zeros ("0x01"), and > 256 bits.
Result<U256> ParseQuantity(const nlohmann::json& j);
Result<uint64_t> ParseQuantityU64(const nlohmann::json& j);
// "0x..." with an even number of hex digits.
Result<Bytes> ParseData(const nlohmann::json& j);
Result<Hash> ParseHash(const nlohmann::json& j);
Result<Address> ParseAddressJson(const nlohmann::json& j);

struct Log {
  Address address;
  std::vector<Hash> topics;
  Bytes data;
  uint64_t block_number = 0;
  Hash block_hash;
  Hash transaction_hash;
  uint64_t log_index = 0;
  bool removed = false;  // true when a reorg dropped it (subscriptions)
};

struct Receipt {
  Hash transaction_hash;
  uint64_t block_number = 0;
  Hash block_hash;
  bool success = false;  // status == 1
  uint64_t gas_used = 0;
  U256 effective_gas_price;
  Address from;
  std::optional<Address> to;
  std::optional<Address> contract_address;
  std::vector<Log> logs;
};

Result<Log> ParseLog(const nlohmann::json& j);
Result<Receipt> ParseReceipt(const nlohmann::json& j);

}  // namespace br2k::eth
