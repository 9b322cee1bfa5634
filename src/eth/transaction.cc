#include "br2k/eth/transaction.h"

#include "br2k/eth/keccak.h"
#include "br2k/eth/rlp.h"

namespace br2k::eth {
namespace {

RlpItem ToItem(const std::optional<Address>& to) {
  return RlpItem::String(to ? to->ToBytes() : Bytes{});
}

RlpItem AccessListItem(const std::vector<AccessListEntry>& list) {
  RlpItem out = RlpItem::List({});
  for (const auto& e : list) {
    RlpItem keys = RlpItem::List({});
    for (const auto& k : e.storage_keys) keys.items.push_back(RlpItem::String(k.ToBytes()));
    out.items.push_back(RlpItem::List({RlpItem::String(e.address.ToBytes()), std::move(keys)}));
  }
  return out;
}

// The unsigned fields of a type-2 transaction, in order.
std::vector<RlpItem> Eip1559Fields(const Transaction& tx) {
  return {RlpItem::Uint(tx.chain_id),
          RlpItem::Uint(tx.nonce),
          RlpItem::Uint(tx.max_priority_fee_per_gas),
          RlpItem::Uint(tx.max_fee_per_gas),
          RlpItem::Uint(tx.gas_limit),
          ToItem(tx.to),
          RlpItem::Uint(tx.value),
          RlpItem::String(tx.data),
          AccessListItem(tx.access_list)};
}

std::vector<RlpItem> LegacyFields(const Transaction& tx) {
  return {RlpItem::Uint(tx.nonce), RlpItem::Uint(tx.gas_price), RlpItem::Uint(tx.gas_limit),
          ToItem(tx.to),           RlpItem::Uint(tx.value),     RlpItem::String(tx.data)};
}

Bytes Typed(uint8_t type, const RlpItem& list) {
  Bytes out{type};
  Bytes body = RlpEncode(list);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<std::optional<Address>> ToFromItem(const RlpItem& item) {
  if (item.is_list) return InvalidArgumentError("tx: 'to' is a list");
  if (item.bytes.empty()) return std::optional<Address>();
  BR2K_ASSIGN_OR_RETURN(Address a, Address::FromView(item.bytes));
  return std::optional<Address>(a);
}

Result<Bytes> BytesFromItem(const RlpItem& item) {
  if (item.is_list) return InvalidArgumentError("tx: expected bytes, got a list");
  return item.bytes;
}

Result<std::vector<AccessListEntry>> AccessListFromItem(const RlpItem& item) {
  if (!item.is_list) return InvalidArgumentError("tx: access list is not a list");
  std::vector<AccessListEntry> out;
  for (const auto& e : item.items) {
    if (!e.is_list || e.items.size() != 2 || !e.items[1].is_list) {
      return InvalidArgumentError("tx: malformed access list entry");
    }
    AccessListEntry entry;
    BR2K_ASSIGN_OR_RETURN(entry.address, Address::FromView(e.items[0].bytes));
    if (e.items[0].is_list) return InvalidArgumentError("tx: malformed access list address");
    for (const auto& k : e.items[1].items) {
      if (k.is_list) return InvalidArgumentError("tx: malformed storage key");
      BR2K_ASSIGN_OR_RETURN(Hash h, Hash::FromView(k.bytes));
      entry.storage_keys.push_back(h);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

Bytes Transaction::SigningPayload() const {
  if (type == Type::kEip1559) return Typed(0x02, RlpItem::List(Eip1559Fields(*this)));
  std::vector<RlpItem> fields = LegacyFields(*this);
  if (chain_id != 0) {
    fields.push_back(RlpItem::Uint(chain_id));
    fields.push_back(RlpItem::Uint(0));
    fields.push_back(RlpItem::Uint(0));
  }
  return RlpEncode(RlpItem::List(std::move(fields)));
}

Hash Transaction::SigningHash() const {
  return Keccak256(SigningPayload());
}

uint64_t SignedTransaction::V() const {
  if (tx.type == Transaction::Type::kEip1559) return signature.recovery_id;
  if (tx.chain_id == 0) return 27 + signature.recovery_id;
  return signature.recovery_id + 35 + 2 * tx.chain_id;
}

Result<Address> SignedTransaction::Sender() const {
  return RecoverAddress(tx.SigningHash(), signature);
}

SignedTransaction SignTransaction(const Transaction& tx, const PrivateKey& key) {
  SignedTransaction st;
  st.tx = tx;
  st.signature = key.Sign(tx.SigningHash());
  if (tx.type == Transaction::Type::kEip1559) {
    std::vector<RlpItem> fields = Eip1559Fields(tx);
    fields.push_back(RlpItem::Uint(st.signature.recovery_id));
    fields.push_back(RlpItem::Uint(st.signature.r));
    fields.push_back(RlpItem::Uint(st.signature.s));
    st.raw = Typed(0x02, RlpItem::List(std::move(fields)));
  } else {
    std::vector<RlpItem> fields = LegacyFields(tx);
    fields.push_back(RlpItem::Uint(st.V()));
    fields.push_back(RlpItem::Uint(st.signature.r));
    fields.push_back(RlpItem::Uint(st.signature.s));
    st.raw = RlpEncode(RlpItem::List(std::move(fields)));
  }
  st.hash = Keccak256(st.raw);
  return st;
}

Result<SignedTransaction> DecodeSignedTransaction(BytesView raw) {
  if (raw.empty()) return InvalidArgumentError("tx: empty input");
  SignedTransaction st;
  Transaction& tx = st.tx;
  if (raw[0] >= 0xc0) {
    BR2K_ASSIGN_OR_RETURN(RlpItem list, RlpDecode(raw));
    if (list.items.size() != 9)
      return InvalidArgumentError("tx: legacy transaction needs 9 fields");
    const auto& f = list.items;
    tx.type = Transaction::Type::kLegacy;
    BR2K_ASSIGN_OR_RETURN(tx.nonce, RlpToU64(f[0]));
    BR2K_ASSIGN_OR_RETURN(tx.gas_price, RlpToU256(f[1]));
    BR2K_ASSIGN_OR_RETURN(tx.gas_limit, RlpToU64(f[2]));
    BR2K_ASSIGN_OR_RETURN(tx.to, ToFromItem(f[3]));
    BR2K_ASSIGN_OR_RETURN(tx.value, RlpToU256(f[4]));
    BR2K_ASSIGN_OR_RETURN(tx.data, BytesFromItem(f[5]));
    BR2K_ASSIGN_OR_RETURN(uint64_t v, RlpToU64(f[6]));
    BR2K_ASSIGN_OR_RETURN(st.signature.r, RlpToU256(f[7]));
    BR2K_ASSIGN_OR_RETURN(st.signature.s, RlpToU256(f[8]));
    if (v == 27 || v == 28) {
      tx.chain_id = 0;
      st.signature.recovery_id = static_cast<uint8_t>(v - 27);
    } else if (v >= 37) {
      tx.chain_id = (v - 35) / 2;
      st.signature.recovery_id = static_cast<uint8_t>((v - 35) % 2);
    } else {
      return InvalidArgumentError("tx: invalid v " + std::to_string(v));
    }
  } else if (raw[0] == 0x02) {
    BR2K_ASSIGN_OR_RETURN(RlpItem list, RlpDecode(raw.subspan(1)));
    if (!list.is_list || list.items.size() != 12) {
      return InvalidArgumentError("tx: type-2 transaction needs 12 fields");
    }
    const auto& f = list.items;
    tx.type = Transaction::Type::kEip1559;
    BR2K_ASSIGN_OR_RETURN(tx.chain_id, RlpToU64(f[0]));
    BR2K_ASSIGN_OR_RETURN(tx.nonce, RlpToU64(f[1]));
    BR2K_ASSIGN_OR_RETURN(tx.max_priority_fee_per_gas, RlpToU256(f[2]));
    BR2K_ASSIGN_OR_RETURN(tx.max_fee_per_gas, RlpToU256(f[3]));
    BR2K_ASSIGN_OR_RETURN(tx.gas_limit, RlpToU64(f[4]));
    BR2K_ASSIGN_OR_RETURN(tx.to, ToFromItem(f[5]));
    BR2K_ASSIGN_OR_RETURN(tx.value, RlpToU256(f[6]));
    BR2K_ASSIGN_OR_RETURN(tx.data, BytesFromItem(f[7]));
    BR2K_ASSIGN_OR_RETURN(tx.access_list, AccessListFromItem(f[8]));
    BR2K_ASSIGN_OR_RETURN(uint64_t y, RlpToU64(f[9]));
    if (y > 1) return InvalidArgumentError("tx: y parity must be 0 or 1");
    st.signature.recovery_id = static_cast<uint8_t>(y);
    BR2K_ASSIGN_OR_RETURN(st.signature.r, RlpToU256(f[10]));
    BR2K_ASSIGN_OR_RETURN(st.signature.s, RlpToU256(f[11]));
  } else if (raw[0] < 0x80) {
    return UnimplementedError("tx: transaction type " + std::to_string(raw[0]) +
                              " is not supported");
  } else {
    return InvalidArgumentError("tx: not a transaction");
  }
  st.raw.assign(raw.begin(), raw.end());
  st.hash = Keccak256(raw);
  return st;
}

}  // namespace br2k::eth
