// RLP decoding and signed-transaction decoding. Properties: no crash; a decoded item re-encodes
// to exactly the input (strict decoding admits only canonical encodings).
#include <cstddef>
#include <cstdint>

#include "br2k/eth/rlp.h"
#include "br2k/eth/transaction.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  br2k::eth::BytesView in(data, size);
  auto item = br2k::eth::RlpDecode(in);
  if (item.ok()) {
    br2k::eth::Bytes again = br2k::eth::RlpEncode(*item);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) __builtin_trap();
  }
  auto tx = br2k::eth::DecodeSignedTransaction(in);
  if (tx.ok()) (void)tx->Sender();
  return 0;
}
