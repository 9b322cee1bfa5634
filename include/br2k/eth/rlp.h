// Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B).
//
// Decoding is strict: it rejects every non-canonical form (a single byte < 0x80 wrapped in a
// string header, long forms for short payloads, lengths with leading zeros, lengths running past
// the input, trailing bytes) so that one value has exactly one encoding, as transaction hashes
// require. Pure and thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/eth/bytes.h"
#include "br2k/eth/u256.h"

namespace br2k::eth {

struct RlpItem {
  bool is_list = false;
  Bytes bytes;                 // when !is_list
  std::vector<RlpItem> items;  // when is_list

  static RlpItem String(Bytes b) { return RlpItem{false, std::move(b), {}}; }
  static RlpItem Uint(const U256& v) { return String(v.ToMinimalBytes()); }
  static RlpItem List(std::vector<RlpItem> items) { return RlpItem{true, {}, std::move(items)}; }

  friend bool operator==(const RlpItem&, const RlpItem&) = default;
};

Bytes RlpEncode(const RlpItem& item);

// Decodes exactly one item that spans all of `in`. INVALID_ARGUMENT (with the offset) for a
// malformed or non-canonical input; nesting deeper than 256 lists is refused as well.
Result<RlpItem> RlpDecode(BytesView in);

// An RLP string as a canonical integer (no leading zero bytes, at most 32 bytes).
Result<U256> RlpToU256(const RlpItem& item);
Result<uint64_t> RlpToU64(const RlpItem& item);

}  // namespace br2k::eth
