#include "br2k/replication/eth_chain_effects.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "br2k/eth/bytes.h"
#include "br2k/eth/transaction.h"
#include "br2k/eth/u256.h"

namespace br2k::replication {

EthChainEffects::EthChainEffects(std::shared_ptr<eth::RpcClient> client, eth::PrivateKey key,
                                 std::optional<uint64_t> expected_chain_id,
                                 std::chrono::milliseconds fees_ttl)
    : client_(std::move(client)),
      key_(std::move(key)),
      expected_chain_id_(expected_chain_id),
      fees_ttl_(fees_ttl) {}

Result<eth::TxSender*> EthChainEffects::Sender(Deadline deadline) {
  if (!sender_) {
    BR2K_ASSIGN_OR_RETURN(sender_,
                          eth::TxSender::Create(client_, key_, expected_chain_id_, deadline));
  }
  return sender_.get();
}

void EthChainEffects::ResetNonce(uint64_t floor) {
  std::lock_guard lock(mu_);
  next_nonce_.reset();
  floor_ = floor;
}

Result<SignedTx> EthChainEffects::Sign(const ChainCall& call, Deadline deadline) {
  std::optional<eth::Address> to;
  if (!call.to.empty()) {
    auto a = eth::Address::Parse(call.to);
    if (!a.ok()) return InvalidArgumentError("chain call: bad 'to': " + a.status().message());
    to = *a;
  }
  eth::Bytes data;
  if (!call.data.empty() && call.data != "0x") {
    auto d = eth::FromHex(call.data);
    if (!d.ok()) return InvalidArgumentError("chain call: bad data: " + d.status().message());
    data = std::move(*d);
  }
  auto value = eth::U256::FromDecimal(call.value.empty() ? "0" : call.value);
  if (!value.ok())
    return InvalidArgumentError("chain call: bad value: " + value.status().message());

  std::lock_guard lock(mu_);
  BR2K_ASSIGN_OR_RETURN(eth::TxSender * sender, Sender(deadline));
  if (!to) to = sender->address();
  if (!next_nonce_) {
    BR2K_ASSIGN_OR_RETURN(uint64_t pending,
                          client_->GetTransactionCount(sender->address(), "pending", deadline));
    next_nonce_ = std::max(pending, floor_);
  }
  const auto now = std::chrono::steady_clock::now();
  if (!fees_ || now - fees_at_ >= fees_ttl_) {
    BR2K_ASSIGN_OR_RETURN(fees_, client_->EstimateFees(deadline));
    fees_at_ = now;
  }
  eth::SendOptions opts;
  opts.value = *value;
  opts.max_fee_per_gas = fees_->max_fee_per_gas;
  opts.max_priority_fee_per_gas = fees_->max_priority_fee_per_gas;
  if (call.gas_limit > 0) opts.gas_limit = call.gas_limit;
  opts.nonce = *next_nonce_;
  BR2K_ASSIGN_OR_RETURN(eth::SignedTransaction tx, sender->Prepare(to, data, opts, deadline));
  ++*next_nonce_;
  return SignedTx{.raw = eth::ToHex(tx.raw),
                  .hash = tx.hash.ToHex(),
                  .nonce = tx.tx.nonce,
                  .from = sender->address().ToChecksum()};
}

Status EthChainEffects::Broadcast(const SignedTx& tx, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(eth::Bytes raw, eth::FromHex(tx.raw));
  BR2K_ASSIGN_OR_RETURN(eth::Hash hash, eth::Hash::FromHex(tx.hash));
  auto sent = client_->SendRawTransaction(raw, deadline);
  if (sent.ok()) {
    if (*sent != hash) {
      return DataLossError("node reported hash " + sent->ToHex() + " for " + tx.hash);
    }
    return Status::Ok();
  }
  if (sent.status().code() == StatusCode::kUnavailable ||
      sent.status().code() == StatusCode::kDeadlineExceeded) {
    return sent.status();
  }
  // Refused: fine if the node already has it (pending or mined), an error otherwise.
  auto known =
      client_->Call("eth_getTransactionByHash", nlohmann::json::array({tx.hash}), deadline);
  if (!known.ok()) return known.status();
  if (!known->is_null()) return Status::Ok();
  if (sent.status().message().find("nonce") != std::string::npos) {
    return FailedPreconditionError("transaction " + tx.hash + " (nonce " +
                                   std::to_string(tx.nonce) +
                                   ") can never be mined: its nonce was used by another "
                                   "transaction of " +
                                   tx.from + " (" + sent.status().message() + ")");
  }
  return sent.status();
}

Result<std::optional<TxReceiptInfo>> EthChainEffects::Receipt(const std::string& hash,
                                                              Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(eth::Hash h, eth::Hash::FromHex(hash));
  BR2K_ASSIGN_OR_RETURN(auto r, client_->GetTransactionReceipt(h, deadline));
  if (!r) return std::optional<TxReceiptInfo>();
  return std::optional<TxReceiptInfo>(
      TxReceiptInfo{.success = r->success, .block = r->block_number, .gas_used = r->gas_used});
}

}  // namespace br2k::replication
