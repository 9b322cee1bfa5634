// Fuzz target: EscapeForLog (br2k/common/log_escape.h) on arbitrary bytes: the result is one line
// of well-formed UTF-8 without control characters, within the cap.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "br2k/common/log_escape.h"
#include "br2k/common/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t cap = data[0];  // the first byte chooses the cap
  std::string_view s(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string out = br2k::EscapeForLog(s, cap);
  if (!br2k::IsValidUtf8(out)) __builtin_trap();
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) __builtin_trap();
  }
  if (out.size() > cap + 32) __builtin_trap();
  return 0;
}
