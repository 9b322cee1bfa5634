// Exactly-once blockchain side effects of Normal requests (protocol.md section 9).
//
// A Normal request's Apply() may ask for one Ethereum transaction (ApplyResult::chain_call). The
// leader then:
//   1. signs it with the service's key at the next nonce (ChainEffects::Sign; nothing is sent),
//   2. records the raw transaction, its hash and nonce in etcd (`TX/<index>`, plus the pending
//      marker `TXQ/<index>`) in the same fenced transaction that records its batch's results;
//      RS stays InProcess,
//   3. only then broadcasts the raw transaction, waits for its receipt, and settles RS to
//      Success (receipt status 1) or Fail (reverted) with one fenced transaction that also
//      deletes the marker; the client is answered then.
// A new leader settles every marker it finds by re-broadcasting the *same* raw transaction (the
// same hash can be mined at most once; a second copy is refused as known or as a used nonce)
// and reading its receipt. A transaction is never signed twice for one entry, so a request is
// never executed twice on chain, whoever crashes when.
//
// This interface keeps the runtime free of Ethereum code; br2k_replication_registry implements
// it with the eth library (EthChainEffects).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/replication/application.h"

namespace br2k::replication {

// A signed transaction as recorded in etcd before it is broadcast.
struct SignedTx {
  std::string raw;   // 0x-hex of the signed, RLP-encoded transaction
  std::string hash;  // 0x-hex, 32 bytes
  uint64_t nonce = 0;
  std::string from;  // 0x-address of the signing key
  friend bool operator==(const SignedTx&, const SignedTx&) = default;
};

// What the chain says about a mined transaction.
struct TxReceiptInfo {
  bool success = false;  // receipt status 1
  uint64_t block = 0;
  uint64_t gas_used = 0;
};

// Thread-safe. All calls honour their deadline.
class ChainEffects {
 public:
  virtual ~ChainEffects() = default;
  // Called when a replica becomes leader: forget the local nonce; the next Sign uses the larger
  // of the account's pending nonce on the chain and `floor` (one above every nonce recorded in
  // etcd, some of which may not have reached any node yet).
  virtual void ResetNonce(uint64_t floor) = 0;
  // Signs `call` at the next nonce (and advances it locally). Sends nothing. UNAVAILABLE when
  // the chain cannot be reached (for the nonce or the fees); INVALID_ARGUMENT for a bad call.
  virtual Result<SignedTx> Sign(const ChainCall& call, Deadline deadline) = 0;
  // Broadcasts a signed transaction. Idempotent: a node that already knows it, or has mined it,
  // is success. UNAVAILABLE when the node cannot be reached.
  virtual Status Broadcast(const SignedTx& tx, Deadline deadline) = 0;
  // The receipt of `hash`, or nullopt while it is not mined.
  virtual Result<std::optional<TxReceiptInfo>> Receipt(const std::string& hash,
                                                       Deadline deadline) = 0;
};

// The etcd record of a signed transaction: JSON {"raw","hash","nonce","from"}.
std::string EncodeSignedTx(const SignedTx& tx);
// INVALID_ARGUMENT (never throws) for anything EncodeSignedTx did not produce.
Result<SignedTx> DecodeSignedTx(std::string_view text);

}  // namespace br2k::replication
