#include "br2k/eth/bytes.h"

namespace br2k::eth {
namespace {
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string ToHex(BytesView b, bool prefix) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = prefix ? "0x" : "";
  out.reserve(out.size() + 2 * b.size());
  for (uint8_t c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

Result<Bytes> FromHex(std::string_view s, bool allow_odd) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.size() % 2 != 0 && !allow_odd) {
    return InvalidArgumentError("hex string has an odd number of digits");
  }
  Bytes out;
  out.reserve((s.size() + 1) / 2);
  size_t i = 0;
  if (s.size() % 2 != 0) {
    int d = HexDigit(s[0]);
    if (d < 0) return InvalidArgumentError("invalid hex digit");
    out.push_back(static_cast<uint8_t>(d));
    i = 1;
  }
  for (; i < s.size(); i += 2) {
    int hi = HexDigit(s[i]);
    int lo = HexDigit(s[i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgumentError("invalid hex digit");
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

}  // namespace br2k::eth
