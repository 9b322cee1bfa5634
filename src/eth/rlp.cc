#include "br2k/eth/rlp.h"

#include <string>

namespace br2k::eth {
namespace {

void AppendLength(Bytes& out, size_t len, uint8_t short_base, uint8_t long_base) {
  if (len <= 55) {
    out.push_back(static_cast<uint8_t>(short_base + len));
    return;
  }
  Bytes be = U256(static_cast<uint64_t>(len)).ToMinimalBytes();
  out.push_back(static_cast<uint8_t>(long_base + be.size()));
  out.insert(out.end(), be.begin(), be.end());
}

void Encode(const RlpItem& item, Bytes& out) {
  if (!item.is_list) {
    if (item.bytes.size() == 1 && item.bytes[0] < 0x80) {
      out.push_back(item.bytes[0]);
      return;
    }
    AppendLength(out, item.bytes.size(), 0x80, 0xb7);
    out.insert(out.end(), item.bytes.begin(), item.bytes.end());
    return;
  }
  Bytes payload;
  for (const auto& i : item.items) Encode(i, payload);
  AppendLength(out, payload.size(), 0xc0, 0xf7);
  out.insert(out.end(), payload.begin(), payload.end());
}

Status Bad(size_t pos, const std::string& what) {
  return InvalidArgumentError("rlp: " + what + " at offset " + std::to_string(pos));
}

constexpr int kMaxDepth = 256;

// Decodes the item at in[pos..end), advancing pos.
Result<RlpItem> DecodeAt(BytesView in, size_t& pos, size_t end, int depth) {
  if (depth > kMaxDepth) return Bad(pos, "nesting too deep");
  if (pos >= end) return Bad(pos, "unexpected end of input");
  const size_t start = pos;
  uint8_t prefix = in[pos++];
  if (prefix < 0x80) return RlpItem::String(Bytes{prefix});

  bool is_list = prefix >= 0xc0;
  uint8_t base = is_list ? 0xc0 : 0x80;
  size_t len = 0;
  if (prefix - base <= 55) {
    len = prefix - base;
  } else {
    size_t len_of_len = prefix - base - 55;
    if (len_of_len > 8 || end - pos < len_of_len) return Bad(start, "length runs past the input");
    if (in[pos] == 0) return Bad(start, "length with leading zero bytes");
    uint64_t l = 0;
    for (size_t i = 0; i < len_of_len; ++i) l = (l << 8) | in[pos++];
    if (l <= 55) return Bad(start, "long form used for a short payload");
    len = static_cast<size_t>(l);
    if (len != l) return Bad(start, "length too large");
  }
  if (end - pos < len) return Bad(start, "payload runs past the input");
  if (!is_list) {
    if (len == 1 && in[pos] < 0x80)
      return Bad(start, "single byte below 0x80 must be its own encoding");
    RlpItem item = RlpItem::String(Bytes(in.begin() + pos, in.begin() + pos + len));
    pos += len;
    return item;
  }
  RlpItem list = RlpItem::List({});
  const size_t list_end = pos + len;
  while (pos < list_end) {
    BR2K_ASSIGN_OR_RETURN(RlpItem child, DecodeAt(in, pos, list_end, depth + 1));
    list.items.push_back(std::move(child));
  }
  return list;
}

}  // namespace

Bytes RlpEncode(const RlpItem& item) {
  Bytes out;
  Encode(item, out);
  return out;
}

Result<RlpItem> RlpDecode(BytesView in) {
  size_t pos = 0;
  BR2K_ASSIGN_OR_RETURN(RlpItem item, DecodeAt(in, pos, in.size(), 0));
  if (pos != in.size()) return Bad(pos, "trailing bytes after the item");
  return item;
}

Result<U256> RlpToU256(const RlpItem& item) {
  if (item.is_list) return InvalidArgumentError("rlp: expected an integer, got a list");
  if (!item.bytes.empty() && item.bytes[0] == 0) {
    return InvalidArgumentError("rlp: integer with leading zero bytes");
  }
  if (item.bytes.size() > 32) return InvalidArgumentError("rlp: integer exceeds 256 bits");
  return U256::FromBigEndian(item.bytes);
}

Result<uint64_t> RlpToU64(const RlpItem& item) {
  BR2K_ASSIGN_OR_RETURN(U256 v, RlpToU256(item));
  if (!v.FitsU64()) return InvalidArgumentError("rlp: integer exceeds 64 bits");
  return v.low64();
}

}  // namespace br2k::eth
