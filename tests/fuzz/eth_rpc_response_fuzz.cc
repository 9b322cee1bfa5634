// JSON-RPC response parsing (single, batch) and the node's receipt/log shapes.
// Property: no crash or exception on any input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/eth/rpc_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = br2k::eth::ParseRpcResponse(text, 1);
  if (r.ok()) {
    if (r->error) (void)r->error->RevertData();
    (void)br2k::eth::ParseReceipt(r->result);
    (void)br2k::eth::ParseLog(r->result);
    (void)br2k::eth::ParseQuantity(r->result);
    (void)br2k::eth::ParseData(r->result);
  }
  (void)br2k::eth::ParseRpcBatchResponse(text, {1, 2});
  return 0;
}
