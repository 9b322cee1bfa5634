// ABI decoding. Input: "<type list>\n<data>". Properties: no crash, no unbounded allocation;
// a decoded value re-encodes, and that encoding decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/eth/abi.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto nl = text.find('\n');
  if (nl == std::string_view::npos || nl > 256) return 0;
  auto types = br2k::eth::ParseAbiTypeList(text.substr(0, nl));
  if (!types.ok()) return 0;
  br2k::eth::BytesView body(data + nl + 1, size - nl - 1);
  auto values = br2k::eth::AbiDecode(*types, body);
  if (!values.ok()) return 0;
  auto enc = br2k::eth::AbiEncode(*types, *values);
  if (!enc.ok()) __builtin_trap();
  auto back = br2k::eth::AbiDecode(*types, *enc);
  if (!back.ok() || *back != *values) __builtin_trap();
  for (size_t i = 0; i < types->size(); ++i)
    (void)br2k::eth::FormatAbiValue((*types)[i], (*values)[i]);
  (void)br2k::eth::DecodeRevert(body);
  return 0;
}
