#include "br2k/eth/tx_sender.h"

#include <spdlog/spdlog.h>

namespace br2k::eth {

Result<uint64_t> NonceManager::Reserve(RpcClient& client, const Address& a, Deadline deadline) {
  // Holding the lock across the first fetch makes concurrent first users wait for one answer
  // instead of each reading the same pending count.
  std::lock_guard<std::mutex> l(mu_);
  State& s = state_[a];
  if (!s.synced) {
    BR2K_ASSIGN_OR_RETURN(s.next, client.GetTransactionCount(a, "pending", deadline));
    s.synced = true;
  }
  return s.next++;
}

void NonceManager::Release(const Address& a, uint64_t nonce) {
  std::lock_guard<std::mutex> l(mu_);
  State& s = state_[a];
  if (s.synced && s.next == nonce + 1) {
    s.next = nonce;
  } else {
    s.synced = false;
  }
}

void NonceManager::Invalidate(const Address& a) {
  std::lock_guard<std::mutex> l(mu_);
  state_[a].synced = false;
}

Result<std::unique_ptr<TxSender>> TxSender::Create(std::shared_ptr<RpcClient> client,
                                                   PrivateKey key,
                                                   std::optional<uint64_t> expected_chain_id,
                                                   Deadline deadline,
                                                   std::shared_ptr<NonceManager> nonces) {
  BR2K_ASSIGN_OR_RETURN(uint64_t id, client->ChainId(deadline));
  if (expected_chain_id && *expected_chain_id != id) {
    return FailedPreconditionError("wrong chain id: " + client->transport().Endpoint() +
                                   " is chain " + std::to_string(id) + ", expected " +
                                   std::to_string(*expected_chain_id));
  }
  if (!nonces) nonces = std::make_shared<NonceManager>();
  return std::unique_ptr<TxSender>(
      new TxSender(std::move(client), std::move(key), id, std::move(nonces)));
}

Result<SignedTransaction> TxSender::Prepare(std::optional<Address> to, const Bytes& data,
                                            const SendOptions& opts, Deadline deadline) {
  Transaction tx;
  tx.type = opts.legacy ? Transaction::Type::kLegacy : Transaction::Type::kEip1559;
  tx.chain_id = chain_id_;
  tx.to = to;
  tx.data = data;
  tx.value = opts.value;
  if (opts.gas_limit) {
    tx.gas_limit = *opts.gas_limit;
  } else {
    CallRequest req{key_.address(), to, data, opts.value, std::nullopt};
    BR2K_ASSIGN_OR_RETURN(uint64_t gas, client_->EstimateGas(req, deadline, opts.errors));
    tx.gas_limit = gas + gas / 4;
  }
  FeeEstimate fees;
  if (!opts.max_fee_per_gas || (!opts.legacy && !opts.max_priority_fee_per_gas)) {
    BR2K_ASSIGN_OR_RETURN(fees, client_->EstimateFees(deadline));
  }
  tx.gas_price = opts.max_fee_per_gas.value_or(fees.gas_price);
  tx.max_priority_fee_per_gas =
      opts.max_priority_fee_per_gas.value_or(fees.max_priority_fee_per_gas);
  tx.max_fee_per_gas =
      opts.max_fee_per_gas.value_or(fees.base_fee * U256(2) + tx.max_priority_fee_per_gas);
  if (opts.nonce) {
    tx.nonce = *opts.nonce;
  } else {
    BR2K_ASSIGN_OR_RETURN(tx.nonce, nonces_->Reserve(*client_, key_.address(), deadline));
  }
  return SignTransaction(tx, key_);
}

void TxSender::Discard(const SignedTransaction& tx) {
  nonces_->Release(key_.address(), tx.tx.nonce);
}

Result<Hash> TxSender::Broadcast(const SignedTransaction& tx, Deadline deadline) {
  auto h = client_->SendRawTransaction(tx.raw, deadline);
  if (!h.ok()) {
    if (h.status().code() == StatusCode::kFailedPrecondition ||
        h.status().message().find("nonce") != std::string::npos) {
      nonces_->Invalidate(key_.address());
    } else if (h.status().code() == StatusCode::kInternal) {
      // The node refused it outright (underpriced, insufficient funds...): the nonce is unused.
      nonces_->Release(key_.address(), tx.tx.nonce);
    }
    // UNAVAILABLE / DEADLINE_EXCEEDED: it may have reached the node; keep the nonce taken.
    return h.status();
  }
  if (*h != tx.hash) {
    return DataLossError("node reported hash " + h->ToHex() + " for transaction " +
                         tx.hash.ToHex());
  }
  return h;
}

Result<Receipt> TxSender::SendAndWait(std::optional<Address> to, const Bytes& data,
                                      const SendOptions& opts, Deadline deadline,
                                      uint64_t confirmations) {
  BR2K_ASSIGN_OR_RETURN(SignedTransaction tx, Prepare(to, data, opts, deadline));
  BR2K_ASSIGN_OR_RETURN(Hash h, Broadcast(tx, deadline));
  BR2K_ASSIGN_OR_RETURN(Receipt r, client_->WaitForReceipt(h, deadline, confirmations));
  if (!r.success) {
    // Find out why: replay the call at the block it was mined in.
    CallRequest req{key_.address(), to, data, opts.value, tx.tx.gas_limit};
    auto replay = client_->EthCall(req, deadline, opts.errors, U256(r.block_number).ToQuantity());
    std::string why = replay.ok() && replay->reverted ? replay->revert.ToString() : "reverted";
    return AbortedError("transaction " + h.ToHex() + " failed: " + why);
  }
  return r;
}

Result<SignedTransaction> TxSender::Replace(const SignedTransaction& stuck, Deadline deadline) {
  Transaction tx = stuck.tx;
  BR2K_ASSIGN_OR_RETURN(FeeEstimate fees, client_->EstimateFees(deadline));
  auto bump = [](const U256& v) { return v + v.DivU64(8, nullptr) + U256(1); };  // +12.5%
  if (tx.type == Transaction::Type::kLegacy) {
    tx.gas_price = std::max(bump(tx.gas_price), fees.gas_price);
  } else {
    tx.max_priority_fee_per_gas =
        std::max(bump(tx.max_priority_fee_per_gas), fees.max_priority_fee_per_gas);
    tx.max_fee_per_gas =
        std::max(bump(tx.max_fee_per_gas), fees.base_fee * U256(2) + tx.max_priority_fee_per_gas);
  }
  SignedTransaction st = SignTransaction(tx, key_);
  BR2K_ASSIGN_OR_RETURN(Hash h, client_->SendRawTransaction(st.raw, deadline));
  (void)h;
  spdlog::info("replaced transaction {} (nonce {}) with {}", stuck.hash.ToHex(), tx.nonce,
               st.hash.ToHex());
  return st;
}

Result<Address> TxSender::Deploy(const Bytes& bytecode, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(Receipt r, SendAndWait(std::nullopt, bytecode, SendOptions{}, deadline));
  if (!r.contract_address) return DataLossError("deployment receipt has no contract address");
  return *r.contract_address;
}

}  // namespace br2k::eth
