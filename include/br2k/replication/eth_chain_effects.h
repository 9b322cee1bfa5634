// ChainEffects over a real Ethereum node: the service's key signs Normal requests'
// transactions (EIP-1559), at nonces it hands out itself in log order, and the raw transactions
// are broadcast and their receipts read through JSON-RPC. See chain_effects.h for the protocol.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>

#include "br2k/eth/key.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/tx_sender.h"
#include "br2k/replication/chain_effects.h"

namespace br2k::replication {

// Thread-safe. The chain need not be reachable when it is created: the chain id is checked and
// the nonce read on first use (UNAVAILABLE until then).
//
// Sign runs on the leader's pipeline, so it asks the node as little as it can: the nonce once
// per leadership, the fees at most once per `fees_ttl` (max fee = 2 x base fee + tip, which
// covers several blocks of base-fee increases), the gas only when the call gives no limit.
class EthChainEffects final : public ChainEffects {
 public:
  // `expected_chain_id`: refuse a node of another chain (FAILED_PRECONDITION on first use).
  EthChainEffects(std::shared_ptr<eth::RpcClient> client, eth::PrivateKey key,
                  std::optional<uint64_t> expected_chain_id,
                  std::chrono::milliseconds fees_ttl = std::chrono::seconds(3));

  const eth::Address& address() const { return key_.address(); }

  void ResetNonce(uint64_t floor) override;
  // ChainCall::to "" means the service's own address. gas_limit 0 is estimated (ABORTED with
  // the decoded reason when the call would revert: nothing is signed then).
  Result<SignedTx> Sign(const ChainCall& call, Deadline deadline) override;
  // Already known to the node, or already mined: OK. A nonce taken by a different transaction
  // of this key: FAILED_PRECONDITION (it can never be mined).
  Status Broadcast(const SignedTx& tx, Deadline deadline) override;
  Result<std::optional<TxReceiptInfo>> Receipt(const std::string& hash, Deadline deadline) override;

 private:
  Result<eth::TxSender*> Sender(Deadline deadline);  // mu_ held

  std::shared_ptr<eth::RpcClient> client_;
  eth::PrivateKey key_;
  std::optional<uint64_t> expected_chain_id_;
  std::mutex mu_;
  std::unique_ptr<eth::TxSender> sender_;
  std::optional<uint64_t> next_nonce_;
  uint64_t floor_ = 0;
  std::chrono::milliseconds fees_ttl_;
  std::optional<eth::FeeEstimate> fees_;
  std::chrono::steady_clock::time_point fees_at_;
};

}  // namespace br2k::replication
