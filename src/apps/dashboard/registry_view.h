// What the dashboard reads live from the chain (never replicated: the chain is the truth) and
// the calldata of the registry transactions it sends or has the browser's wallet send.
//
// Thread-safe: every method may be called from any server thread; the services list is cached
// for `cache_for` so that many open pages cost one round of chain reads.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/service_registry.h"
#include "br2k/replication/application.h"
#include "dashboard_state.h"

namespace br2k::apps::dashboard {

// The registry call of `tx`: to = `registry`, data = the ABI-encoded call. INVALID_ARGUMENT
// when the arguments do not fit the ABI. Pure; thread-safe.
Result<replication::ChainCall> EncodeTx(const eth::Address& registry, const TxRequest& tx);

// A registry event as the dashboard records it; nullopt for kinds it does not record.
std::optional<ChainEvent> ToChainEvent(const eth::RegistryEvent& e);

class RegistryView {
 public:
  RegistryView(std::shared_ptr<eth::RpcClient> client, eth::Address registry,
               std::chrono::milliseconds cache_for = std::chrono::milliseconds(1000))
      : client_(std::move(client)), registry_(client_, registry), cache_for_(cache_for) {}

  const eth::Address& address() const { return registry_.address(); }

  // {"registry", "chain_id", "block", "services": [record...]} for every service a Registered
  // event names, each record {"id", "location", "owner", "state", "version", "epoch",
  // "managers", "operators", "deployer", "recovery": {...}, "registered_block"}; deregistered
  // services show "state": "None". UNAVAILABLE / DEADLINE_EXCEEDED when the node does not answer.
  Result<std::string> ServicesJson(Deadline deadline);
  // One record as above. NOT_FOUND for an unknown service.
  Result<std::string> ServiceJson(const std::string& id, Deadline deadline);
  // Runs `call` with eth_call from `from`: OK when it would succeed, the decoded refusal of the
  // registry otherwise (e.g. PERMISSION_DENIED "NotManager(0x.., 0x..)", see service_registry.h),
  // UNAVAILABLE / DEADLINE_EXCEEDED when the node does not answer.
  Status DryRun(const replication::ChainCall& call, const eth::Address& from, Deadline deadline);
  // {"tx", "pending": true} or {"tx", "block", "status": "success"|"reverted", "from", "to",
  // "gas_used", "logs": n, "events": [kind...]}.
  Result<std::string> ReceiptJson(const std::string& tx, Deadline deadline);

 private:
  std::shared_ptr<eth::RpcClient> client_;
  eth::ServiceRegistry registry_;
  std::chrono::milliseconds cache_for_;
  std::mutex mu_;
  std::string cached_;                               // guarded by mu_
  std::chrono::steady_clock::time_point cached_at_;  // guarded by mu_
};

}  // namespace br2k::apps::dashboard
