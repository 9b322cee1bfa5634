// 20-byte Ethereum account addresses and their EIP-55 checksummed text form.
// Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "br2k/common/status.h"
#include "br2k/eth/bytes.h"

namespace br2k::eth {

struct Address : FixedBytes<20> {
  // Parses "0x" + 40 hex digits. All-lowercase and all-uppercase forms are accepted as they are;
  // a mixed-case form must carry a valid EIP-55 checksum (else INVALID_ARGUMENT, so that a
  // mistyped address is caught).
  static Result<Address> Parse(std::string_view text);
  static Result<Address> FromView(BytesView b);
  // The EIP-55 form, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".
  std::string ToChecksum() const;
};

// The address of an uncompressed secp256k1 public key (64 bytes X||Y, without the 0x04 prefix):
// the last 20 bytes of its Keccak-256.
Address AddressFromPublicKey(BytesView xy);

// The address of a contract created by `sender` with account nonce `nonce` (CREATE).
Address CreateAddress(const Address& sender, uint64_t nonce);

}  // namespace br2k::eth
