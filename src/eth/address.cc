#include "br2k/eth/address.h"

#include <cctype>

#include "br2k/eth/keccak.h"
#include "br2k/eth/rlp.h"

namespace br2k::eth {

Result<Address> Address::FromView(BytesView b) {
  BR2K_ASSIGN_OR_RETURN(auto f, FixedBytes<20>::FromView(b));
  Address a;
  a.bytes = f.bytes;
  return a;
}

Result<Address> Address::Parse(std::string_view text) {
  std::string_view digits = text;
  if (digits.size() >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    digits.remove_prefix(2);
  }
  if (digits.size() != 40) {
    return InvalidArgumentError("invalid address '" + std::string(text) + "': want 40 hex digits");
  }
  auto bytes = eth::FromHex(digits);
  if (!bytes.ok()) return InvalidArgumentError("invalid address '" + std::string(text) + "'");
  BR2K_ASSIGN_OR_RETURN(Address a, FromView(*bytes));
  bool has_lower = false, has_upper = false;
  for (char c : digits) {
    has_lower |= (c >= 'a' && c <= 'f');
    has_upper |= (c >= 'A' && c <= 'F');
  }
  if (has_lower && has_upper && a.ToChecksum().substr(2) != digits) {
    return InvalidArgumentError("address '" + std::string(text) +
                                "' has an invalid EIP-55 checksum");
  }
  return a;
}

std::string Address::ToChecksum() const {
  std::string hex = eth::ToHex(view(), false);
  Hash h = Keccak256(hex);
  for (size_t i = 0; i < hex.size(); ++i) {
    uint8_t nibble = (i % 2 == 0) ? (h.bytes[i / 2] >> 4) : (h.bytes[i / 2] & 15);
    if (hex[i] >= 'a' && nibble >= 8) hex[i] = static_cast<char>(std::toupper(hex[i]));
  }
  return "0x" + hex;
}

Address AddressFromPublicKey(BytesView xy) {
  Hash h = Keccak256(xy);
  Address a;
  std::copy(h.bytes.begin() + 12, h.bytes.end(), a.bytes.begin());
  return a;
}

Address CreateAddress(const Address& sender, uint64_t nonce) {
  Bytes enc = RlpEncode(RlpItem::List({RlpItem::String(sender.ToBytes()), RlpItem::Uint(nonce)}));
  Hash h = Keccak256(enc);
  Address a;
  std::copy(h.bytes.begin() + 12, h.bytes.end(), a.bytes.begin());
  return a;
}

}  // namespace br2k::eth
