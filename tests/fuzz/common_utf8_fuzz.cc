// Fuzz target: strict UTF-8 validation (br2k/common/utf8.h), checked against an independent
// decoder that computes each code point and applies the rules of the Unicode Standard (shortest
// form, no surrogates, at most U+10FFFF) instead of Table 3-7's byte ranges.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/common/utf8.h"

namespace {

size_t ReferenceFirstInvalid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80           ? 1
                 : (b >> 5) == 0x6  ? 2
                 : (b >> 4) == 0xE  ? 3
                 : (b >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || s.size() - i < len) return i;
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3F);
    }
    uint32_t min = len == 1 ? 0 : len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (br2k::FirstInvalidUtf8(s) != ReferenceFirstInvalid(s)) __builtin_trap();
  return 0;
}
