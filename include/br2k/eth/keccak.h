// Keccak-256 with the original Keccak padding (0x01), which is what Ethereum calls keccak256 and
// what differs from the final SHA3-256 (0x06). Backed by Crypto++'s Keccak_256.
// Pure and thread-safe.
#pragma once

#include <string_view>

#include "br2k/eth/bytes.h"

namespace br2k::eth {

Hash Keccak256(BytesView data);
Hash Keccak256(std::string_view text);

}  // namespace br2k::eth
