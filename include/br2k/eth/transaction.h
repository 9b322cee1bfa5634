// Ethereum transactions: legacy (with EIP-155 replay protection) and EIP-1559 dynamic-fee
// (type 2); signing payloads, signing, raw encoding, decoding, transaction hashes and sender
// recovery. Pure and thread-safe.
#pragma once

#include <optional>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/eth/address.h"
#include "br2k/eth/bytes.h"
#include "br2k/eth/key.h"
#include "br2k/eth/u256.h"

namespace br2k::eth {

struct AccessListEntry {
  Address address;
  std::vector<Hash> storage_keys;
  friend bool operator==(const AccessListEntry&, const AccessListEntry&) = default;
};

struct Transaction {
  enum class Type : uint8_t { kLegacy = 0, kEip1559 = 2 };
  Type type = Type::kEip1559;
  uint64_t chain_id = 1;  // legacy: 0 means pre-EIP-155 (v = 27/28)
  uint64_t nonce = 0;
  U256 gas_price;                 // legacy only
  U256 max_priority_fee_per_gas;  // EIP-1559 only
  U256 max_fee_per_gas;           // EIP-1559 only
  uint64_t gas_limit = 21000;
  std::optional<Address> to;  // nullopt: contract creation
  U256 value;
  Bytes data;
  std::vector<AccessListEntry> access_list;  // EIP-1559 only

  // The bytes whose Keccak-256 is signed (legacy EIP-155: the nine-field list; type 2:
  // 0x02 || rlp([...])).
  Bytes SigningPayload() const;
  Hash SigningHash() const;

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

struct SignedTransaction {
  Transaction tx;
  Signature signature;
  Bytes raw;  // what eth_sendRawTransaction takes
  Hash hash;  // the transaction hash: Keccak-256 of raw

  // legacy: v = recovery_id + 35 + 2 * chain_id (or 27 + recovery_id without chain id);
  // type 2: the y parity (0 or 1).
  uint64_t V() const;
  // The sender, recovered from the signature. INVALID_ARGUMENT for an invalid signature.
  Result<Address> Sender() const;
};

// Signs `tx` with `key`.
SignedTransaction SignTransaction(const Transaction& tx, const PrivateKey& key);

// Decodes a raw signed transaction (legacy or type 2; strict RLP; typed transactions other than 2
// are UNIMPLEMENTED). The result's raw and hash are the input and its hash.
Result<SignedTransaction> DecodeSignedTransaction(BytesView raw);

}  // namespace br2k::eth
