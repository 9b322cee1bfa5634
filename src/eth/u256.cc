#include "br2k/eth/u256.h"

#include <algorithm>

namespace br2k::eth {
namespace {
__extension__ typedef unsigned __int128 u128;
}

U256 U256::Max() {
  return ~U256(0);
}

U256 U256::operator+(const U256& o) const {
  U256 r;
  u128 carry = 0;
  for (int i = 0; i < 4; ++i) {
    u128 t = static_cast<u128>(limbs_[i]) + o.limbs_[i] + carry;
    r.limbs_[i] = static_cast<uint64_t>(t);
    carry = t >> 64;
  }
  return r;
}

U256 U256::operator~() const {
  U256 r;
  for (int i = 0; i < 4; ++i) r.limbs_[i] = ~limbs_[i];
  return r;
}

U256 U256::operator-(const U256& o) const {
  return *this + o.Negate();
}

U256 U256::operator*(const U256& o) const {
  U256 r;
  for (int i = 0; i < 4; ++i) {
    u128 carry = 0;
    for (int j = 0; i + j < 4; ++j) {
      u128 t = static_cast<u128>(limbs_[i]) * o.limbs_[j] + r.limbs_[i + j] + carry;
      r.limbs_[i + j] = static_cast<uint64_t>(t);
      carry = t >> 64;
    }
  }
  return r;
}

U256 U256::DivU64(uint64_t d, uint64_t* rem) const {
  U256 q;
  u128 r = 0;
  for (int i = 3; i >= 0; --i) {
    u128 cur = (r << 64) | limbs_[i];
    q.limbs_[i] = static_cast<uint64_t>(cur / d);
    r = cur % d;
  }
  if (rem != nullptr) *rem = static_cast<uint64_t>(r);
  return q;
}

Result<U256> U256::CheckedAdd(const U256& o) const {
  U256 r = *this + o;
  if (r < *this) return OutOfRangeError("uint256 overflow");
  return r;
}

Result<U256> U256::CheckedMul(const U256& o) const {
  std::array<uint64_t, 8> wide{};
  for (int i = 0; i < 4; ++i) {
    u128 carry = 0;
    for (int j = 0; j < 4; ++j) {
      u128 t = static_cast<u128>(limbs_[i]) * o.limbs_[j] + wide[i + j] + carry;
      wide[i + j] = static_cast<uint64_t>(t);
      carry = t >> 64;
    }
    wide[i + 4] = static_cast<uint64_t>(carry);
  }
  if ((wide[4] | wide[5] | wide[6] | wide[7]) != 0) return OutOfRangeError("uint256 overflow");
  U256 r;
  for (int i = 0; i < 4; ++i) r.limbs_[i] = wide[i];
  return r;
}

int U256::BitLength() const {
  for (int i = 3; i >= 0; --i) {
    if (limbs_[i] != 0) return i * 64 + (64 - __builtin_clzll(limbs_[i]));
  }
  return 0;
}

Result<U256> U256::FromDecimal(std::string_view s) {
  if (s.empty()) return InvalidArgumentError("empty number");
  U256 r;
  for (char c : s) {
    if (c < '0' || c > '9')
      return InvalidArgumentError("invalid decimal digit in '" + std::string(s) + "'");
    BR2K_ASSIGN_OR_RETURN(U256 t, r.CheckedMul(U256(10)));
    BR2K_ASSIGN_OR_RETURN(r, t.CheckedAdd(U256(static_cast<uint64_t>(c - '0'))));
  }
  return r;
}

Result<U256> U256::FromHex(std::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  if (s.empty()) return InvalidArgumentError("empty hex number");
  while (s.size() > 1 && s[0] == '0') s.remove_prefix(1);
  if (s.size() > 64) return OutOfRangeError("hex number exceeds 256 bits");
  BR2K_ASSIGN_OR_RETURN(Bytes b, eth::FromHex(s, /*allow_odd=*/true));
  return FromBigEndian(b);
}

Result<U256> U256::FromString(std::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return FromHex(s);
  return FromDecimal(s);
}

Result<U256> U256::FromSignedString(std::string_view s) {
  if (!s.empty() && s[0] == '-') {
    BR2K_ASSIGN_OR_RETURN(U256 v, FromString(s.substr(1)));
    return v.Negate();
  }
  return FromString(s);
}

Result<U256> U256::FromBigEndian(BytesView b) {
  if (b.size() > 32) return OutOfRangeError("more than 32 bytes for a uint256");
  U256 r;
  for (size_t i = 0; i < b.size(); ++i) {
    size_t bit = (b.size() - 1 - i) * 8;
    r.limbs_[bit / 64] |= static_cast<uint64_t>(b[i]) << (bit % 64);
  }
  return r;
}

std::array<uint8_t, 32> U256::ToBigEndian() const {
  std::array<uint8_t, 32> out{};
  for (int i = 0; i < 32; ++i) {
    int bit = (31 - i) * 8;
    out[i] = static_cast<uint8_t>(limbs_[bit / 64] >> (bit % 64));
  }
  return out;
}

Bytes U256::ToMinimalBytes() const {
  auto be = ToBigEndian();
  auto it = std::find_if(be.begin(), be.end(), [](uint8_t c) { return c != 0; });
  return Bytes(it, be.end());
}

std::string U256::ToDecimal() const {
  if (IsZero()) return "0";
  std::string out;
  U256 v = *this;
  while (!v.IsZero()) {
    uint64_t rem = 0;
    v = v.DivU64(10, &rem);
    out.push_back(static_cast<char>('0' + rem));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string U256::ToSignedDecimal() const {
  if (IsNegative()) return "-" + Negate().ToDecimal();
  return ToDecimal();
}

std::string U256::ToQuantity() const {
  Bytes b = ToMinimalBytes();
  if (b.empty()) return "0x0";
  std::string h = ToHex(b, false);
  if (h[0] == '0') h.erase(0, 1);
  return "0x" + h;
}

}  // namespace br2k::eth
