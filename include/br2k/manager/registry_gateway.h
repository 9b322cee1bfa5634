// What the manager daemon needs from the on-chain ServiceRegistry, as a small interface: read a
// service, change its state with the manager's key, and follow Claim events. The real one wraps
// eth::ServiceRegistry and the manager's eth::TxSender; unit tests use a scripted fake.
//
// Implementations must be thread-safe (the manager's watcher and worker threads share one).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/log_watcher.h"
#include "br2k/eth/service_registry.h"
#include "br2k/eth/tx_sender.h"

namespace br2k::manager {

class RegistryGateway {
 public:
  virtual ~RegistryGateway() = default;

  // The latest block number. UNAVAILABLE / DEADLINE_EXCEEDED when the chain cannot be asked.
  virtual Result<uint64_t> HeadBlock(Deadline deadline) = 0;

  // The service's record (state and recovery information). NOT_FOUND for an unknown service;
  // chain errors as eth::RpcClient reports them.
  virtual Result<eth::ServiceRecord> GetService(const eth::ServiceId& service,
                                                Deadline deadline) = 0;

  // Sets the service's state, sent from the manager's account and waited for (mined).
  // PERMISSION_DENIED when the account is not a manager of the service; chain errors otherwise.
  virtual Status UpdateState(const eth::ServiceId& service, eth::ServiceState state,
                             Deadline deadline) = 0;

  // Claim events of `services` (all services when empty) in blocks [from_block, to_block].
  virtual Result<std::vector<eth::RegistryEvent>> PastClaims(
      const std::vector<eth::ServiceId>& services, uint64_t from_block, uint64_t to_block,
      Deadline deadline) = 0;

  // Follows Claim events of `services` (all when empty) from `from_block`, in chain order, each
  // once, calling `on_claim` on the calling thread, until `stop` (OK). Transient chain errors
  // are retried inside; an error that ends the watch is returned (the caller resumes from the
  // block after the last claim it handled). `on_claim` returning non-OK ends the watch with it.
  virtual Status WatchClaims(const std::vector<eth::ServiceId>& services, uint64_t from_block,
                             const std::function<Status(const eth::RegistryEvent&)>& on_claim,
                             std::stop_token stop) = 0;
};

// The real gateway. `registry` and `manager` (whose account must be a manager of the services)
// are shared with the caller; `watch` configures polling (WebSocket subscriptions are used when
// the registry's client runs over ws://).
std::shared_ptr<RegistryGateway> MakeOnChainRegistryGateway(
    std::shared_ptr<eth::ServiceRegistry> registry, std::shared_ptr<eth::TxSender> manager,
    eth::LogWatcher::Options watch = eth::LogWatcher::Options());

}  // namespace br2k::manager
