#include "br2k/common/log_escape.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "br2k/common/utf8.h"

namespace br2k {
namespace {

// Characters that are well-formed but rewrite the line for a reader: C1 controls (a terminal may
// take U+009B as CSI), U+2028/U+2029 (line breaks to some viewers), bidi overrides and isolates
// (reorder the text around them).
bool Disruptive(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
         cp == 0x200F || cp == 0x061C || cp == 0xFEFF;
}

size_t SequenceLength(unsigned char b) {
  return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

uint32_t Decode(std::string_view seq) {
  auto b0 = static_cast<unsigned char>(seq[0]);
  uint32_t cp = seq.size() == 2 ? (b0 & 0x1F) : seq.size() == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < seq.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(seq[k]) & 0x3F);
  return cp;
}

}  // namespace

std::string EscapeForLog(std::string_view s, size_t max_chars) {
  std::string out;
  out.reserve(std::min(s.size(), max_chars) + 16);
  size_t i = 0;
  while (i < s.size()) {
    std::string piece;
    size_t used = 1;
    auto b = static_cast<unsigned char>(s[i]);
    char hex[16];
    if (b == '\n') {
      piece = "\\n";
    } else if (b == '\r') {
      piece = "\\r";
    } else if (b == '\t') {
      piece = "\\t";
    } else if (b == '\\') {
      piece = "\\\\";
    } else if (b < 0x20 || b == 0x7F) {
      std::snprintf(hex, sizeof hex, "\\x%02x", b);
      piece = hex;
    } else if (b < 0x80) {
      piece = std::string(1, static_cast<char>(b));
    } else {
      size_t len = SequenceLength(b);
      std::string_view seq = s.substr(i, len);
      if (seq.size() == len && IsValidUtf8(seq)) {
        used = len;
        uint32_t cp = Decode(seq);
        if (Disruptive(cp)) {
          std::snprintf(hex, sizeof hex, "\\u{%04x}", static_cast<unsigned>(cp));
          piece = hex;
        } else {
          piece = std::string(seq);
        }
      } else {
        std::snprintf(hex, sizeof hex, "\\x%02x", b);
        piece = hex;
      }
    }
    if (out.size() + piece.size() > max_chars) {
      return out + "...(" + std::to_string(s.size()) + " bytes)";
    }
    out += piece;
    i += used;
  }
  return out;
}

}  // namespace br2k
