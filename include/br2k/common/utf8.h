// Strict UTF-8 validation: the well-formed byte sequences of the Unicode Standard (chapter 3,
// D92 and Table 3-7), nothing else.
#pragma once

#include <cstddef>
#include <string_view>

namespace br2k {

// The offset of the first byte of `s` that does not begin a well-formed UTF-8 sequence (or of the
// sequence that is cut short), or std::string_view::npos when all of `s` is well-formed. Refused:
// stray continuation bytes, C0, C1 and F5..FF, overlong forms (E0 80..9F, F0 80..8F), surrogates
// (ED A0..BF: U+D800..U+DFFF), code points above U+10FFFF (F4 90..BF), truncated sequences. NUL
// and the other control characters are well-formed. Pure function; thread-safe.
size_t FirstInvalidUtf8(std::string_view s);

// True when all of `s` is well-formed UTF-8 (see FirstInvalidUtf8).
inline bool IsValidUtf8(std::string_view s) {
  return FirstInvalidUtf8(s) == std::string_view::npos;
}

}  // namespace br2k
