// A 256-bit unsigned integer: EVM words, wei amounts, gas prices, ABI uint/int values.
//
// Arithmetic wraps modulo 2^256 (like the EVM); use the checked variants where overflow is an
// error. Signed values (ABI intN) are held in two's complement. Value type; thread-compatible.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "br2k/common/status.h"
#include "br2k/eth/bytes.h"

namespace br2k::eth {

class U256 {
 public:
  constexpr U256() = default;
  constexpr U256(uint64_t v) : limbs_{v, 0, 0, 0} {}  // NOLINT(google-explicit-constructor)

  // Decimal digits only; OUT_OF_RANGE above 2^256-1; INVALID_ARGUMENT otherwise.
  static Result<U256> FromDecimal(std::string_view s);
  // Hex digits with or without 0x (odd lengths allowed); OUT_OF_RANGE above 2^256-1.
  static Result<U256> FromHex(std::string_view s);
  // "0x..." as hex, else decimal. A leading '-' is rejected (see FromSignedString).
  static Result<U256> FromString(std::string_view s);
  // Like FromString but accepts a leading '-' and returns the two's complement.
  static Result<U256> FromSignedString(std::string_view s);
  // Big-endian bytes, at most 32 (shorter is zero-extended on the left).
  static Result<U256> FromBigEndian(BytesView b);
  static U256 Max();

  std::array<uint8_t, 32> ToBigEndian() const;
  // Big-endian without leading zero bytes (empty for zero): the RLP form of an integer.
  Bytes ToMinimalBytes() const;
  std::string ToDecimal() const;
  // Decimal of the two's-complement value ("-5").
  std::string ToSignedDecimal() const;
  // "0x0", "0x1a": the JSON-RPC quantity form.
  std::string ToQuantity() const;

  bool IsZero() const { return (limbs_[0] | limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
  bool IsNegative() const { return (limbs_[3] >> 63) != 0; }
  // Number of significant bits (0 for zero).
  int BitLength() const;
  bool FitsU64() const { return (limbs_[1] | limbs_[2] | limbs_[3]) == 0; }
  uint64_t low64() const { return limbs_[0]; }

  U256 operator+(const U256& o) const;
  U256 operator-(const U256& o) const;
  U256 operator*(const U256& o) const;
  U256 operator~() const;
  U256 Negate() const { return ~*this + U256(1); }
  // Quotient and remainder by a non-zero 64-bit divisor.
  U256 DivU64(uint64_t d, uint64_t* rem) const;
  // OUT_OF_RANGE instead of wrapping.
  Result<U256> CheckedAdd(const U256& o) const;
  Result<U256> CheckedMul(const U256& o) const;

  friend bool operator==(const U256&, const U256&) = default;
  friend std::strong_ordering operator<=>(const U256& a, const U256& b) {
    for (int i = 3; i >= 0; --i) {
      if (a.limbs_[i] != b.limbs_[i]) return a.limbs_[i] <=> b.limbs_[i];
    }
    return std::strong_ordering::equal;
  }

 private:
  std::array<uint64_t, 4> limbs_{};  // little-endian limbs
};

}  // namespace br2k::eth
