// Byte strings and their 0x-hex form, the currency of the Ethereum layer.
//
// Bytes is a plain std::vector<uint8_t>; FixedBytes<N> an N-byte array (Hash = 32 bytes).
// All functions are pure and thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::eth {

using Bytes = std::vector<uint8_t>;
using BytesView = std::span<const uint8_t>;

// "0x" followed by two lowercase hex digits per byte ("0x" for no bytes). `prefix` false omits
// the "0x".
std::string ToHex(BytesView b, bool prefix = true);

// Parses hex with or without "0x"/"0X". An odd number of digits is accepted only when
// `allow_odd` (a leading 0 is implied, as for quantities). INVALID_ARGUMENT on any non-hex digit.
Result<Bytes> FromHex(std::string_view s, bool allow_odd = false);

// Bytes of a string, and back (no encoding checks).
inline Bytes ToBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
inline std::string ToString(BytesView b) {
  return std::string(b.begin(), b.end());
}

template <size_t N>
struct FixedBytes {
  std::array<uint8_t, N> bytes{};

  static constexpr size_t size() { return N; }
  const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  BytesView view() const { return BytesView(bytes.data(), N); }
  Bytes ToBytes() const { return Bytes(bytes.begin(), bytes.end()); }
  std::string ToHex() const { return eth::ToHex(view()); }
  bool IsZero() const {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
  }

  // Exactly N bytes, else INVALID_ARGUMENT.
  static Result<FixedBytes> FromView(BytesView b) {
    if (b.size() != N) {
      return InvalidArgumentError("expected " + std::to_string(N) + " bytes, got " +
                                  std::to_string(b.size()));
    }
    FixedBytes f;
    std::copy(b.begin(), b.end(), f.bytes.begin());
    return f;
  }
  // Exactly 2N hex digits (with or without 0x), else INVALID_ARGUMENT.
  static Result<FixedBytes> FromHex(std::string_view s) {
    BR2K_ASSIGN_OR_RETURN(Bytes b, eth::FromHex(s));
    return FromView(b);
  }

  friend bool operator==(const FixedBytes&, const FixedBytes&) = default;
  friend auto operator<=>(const FixedBytes&, const FixedBytes&) = default;
};

using Hash = FixedBytes<32>;

}  // namespace br2k::eth
