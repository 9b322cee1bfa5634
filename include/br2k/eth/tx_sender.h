// Sending transactions from one key: nonces safe for concurrent senders, gas and EIP-1559 fee
// estimation, signing, broadcasting, waiting for receipts, and replacing a stuck transaction.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/transaction.h"

namespace br2k::eth {

// Hands out consecutive nonces per address. The first use of an address (and the first after
// Invalidate) reads the node's pending transaction count. Thread-safe: concurrent Reserve calls
// for one address never return the same nonce.
class NonceManager {
 public:
  // The next nonce for `a`. Fails only when the node cannot be asked.
  Result<uint64_t> Reserve(RpcClient& client, const Address& a, Deadline deadline);
  // A reserved nonce that was never broadcast: handed out again when it was the last one,
  // otherwise the address resynchronises from the node on its next Reserve.
  void Release(const Address& a, uint64_t nonce);
  // Forget what we know about `a` (e.g. after "nonce too low").
  void Invalidate(const Address& a);

 private:
  struct State {
    bool synced = false;
    uint64_t next = 0;
  };
  std::mutex mu_;
  std::map<Address, State> state_;
};

struct SendOptions {
  U256 value;
  std::optional<uint64_t> gas_limit;             // default: estimate * 1.25
  bool legacy = false;                           // a type-0 (EIP-155) transaction instead of type 2
  std::optional<U256> max_fee_per_gas;           // default: 2 * base fee + tip
  std::optional<U256> max_priority_fee_per_gas;  // default: the node's suggestion
  std::optional<uint64_t> nonce;                 // default: from the NonceManager
  std::vector<AbiFunction> errors;               // to decode custom-error reverts
};

// Thread-safe.
class TxSender {
 public:
  // Checks the node's chain id against `expected_chain_id` when given (FAILED_PRECONDITION on
  // a mismatch), else adopts the node's. `nonces` may be shared by several senders of one key.
  static Result<std::unique_ptr<TxSender>> Create(std::shared_ptr<RpcClient> client, PrivateKey key,
                                                  std::optional<uint64_t> expected_chain_id,
                                                  Deadline deadline,
                                                  std::shared_ptr<NonceManager> nonces = nullptr);

  const Address& address() const { return key_.address(); }
  uint64_t chain_id() const { return chain_id_; }
  RpcClient& client() { return *client_; }

  // Fills in gas, fees and nonce, and signs. Nothing is sent. ABORTED (decoded reason) when the
  // call would revert. The node is asked for fees only when `opts` does not give them all
  // (max_fee_per_gas, and max_priority_fee_per_gas unless legacy). The nonce is reserved: broadcast
  // it, or Release it through Discard.
  Result<SignedTransaction> Prepare(std::optional<Address> to, const Bytes& data,
                                    const SendOptions& opts, Deadline deadline);
  // Gives back the nonce of a prepared transaction that will never be sent.
  void Discard(const SignedTransaction& tx);
  // Broadcasts; on a nonce error the nonce manager resynchronises and the error is returned.
  Result<Hash> Broadcast(const SignedTransaction& tx, Deadline deadline);
  // Prepare + Broadcast + WaitForReceipt. A mined but failed transaction is ABORTED.
  Result<Receipt> SendAndWait(std::optional<Address> to, const Bytes& data, const SendOptions& opts,
                              Deadline deadline, uint64_t confirmations = 1);
  // The same nonce with fees raised by at least 12.5% (the node's replacement rule is 10%),
  // signed and broadcast: for a transaction stuck in the pool.
  Result<SignedTransaction> Replace(const SignedTransaction& stuck, Deadline deadline);
  // Deploys `bytecode` (constructor arguments already appended); returns the new address.
  Result<Address> Deploy(const Bytes& bytecode, Deadline deadline);

 private:
  TxSender(std::shared_ptr<RpcClient> client, PrivateKey key, uint64_t chain_id,
           std::shared_ptr<NonceManager> nonces)
      : client_(std::move(client)),
        key_(std::move(key)),
        chain_id_(chain_id),
        nonces_(std::move(nonces)) {}

  std::shared_ptr<RpcClient> client_;
  PrivateKey key_;
  uint64_t chain_id_;
  std::shared_ptr<NonceManager> nonces_;
};

}  // namespace br2k::eth
