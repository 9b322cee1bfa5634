// Where the client finds a service and asks for its recovery: the on-chain ServiceRegistry
// (getServiceLocation, NewLocation events, sendClaim), behind a small interface so that unit
// tests can use an in-memory directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/service_registry.h"
#include "br2k/eth/tx_sender.h"

namespace br2k::client {

// A NewLocation event, or a LocationRepaired event (`repaired`): a manager replaced the location
// and epoch, possibly with a lower epoch, which the client then takes over the one it holds.
struct LocationEvent {
  std::string location;  // as stored in the registry
  uint64_t epoch = 0;
  uint64_t block = 0;
  std::string tx;  // 0x hash of the transaction that emitted it
  bool repaired = false;
};

// A mined Claim.
struct ClaimReceipt {
  std::string tx;  // 0x hash
  uint64_t block = 0;
};

// Implementations are thread-safe: Lookup, Claim and one Watch may run concurrently.
class ServiceDirectory {
 public:
  virtual ~ServiceDirectory() = default;
  // For messages: "registry 0x.. service 0x..".
  virtual std::string Describe() const = 0;
  // The service's current location and epoch. NOT_FOUND when the service is not registered,
  // UNAVAILABLE / DEADLINE_EXCEEDED when the directory cannot be asked.
  virtual Result<eth::ServiceLocation> Lookup(Deadline deadline) = 0;
  // The first block a Watch must start from to see every change made after a Lookup that
  // starts now (the current head + 1).
  virtual Result<uint64_t> NextBlock(Deadline deadline) = 0;
  // Calls `on_event` (on the calling thread) for each NewLocation and LocationRepaired event of
  // the service from
  // `from_block` on, in chain order, until `stop` is requested (then OK). Transient errors are
  // retried inside; a non-OK return means the watch ended and may be restarted.
  virtual Status Watch(uint64_t from_block,
                       const std::function<void(const LocationEvent&)>& on_event,
                       std::stop_token stop) = 0;
  // True when Claim can sign (a claim key was given).
  virtual bool can_claim() const = 0;
  // Sends sendClaim(service, failed_location, reason) and waits until it is mined.
  // FAILED_PRECONDITION when !can_claim(); otherwise the registry's errors
  // (eth/service_registry.h).
  virtual Result<ClaimReceipt> Claim(const std::string& failed_location, const std::string& reason,
                                     Deadline deadline) = 0;
};

// The on-chain registry at `registry` for `service`. Claims are signed by `claimer` when it is
// not null. Events are polled every `poll_interval` (pushed when the RPC transport is a
// WebSocket); each poll is bounded by `step_timeout`, so a Watch asked to stop returns within
// about that long even when the node hangs. FAILED_PRECONDITION when there is no contract at
// `registry`; UNAVAILABLE when the node cannot be reached.
Result<std::shared_ptr<ServiceDirectory>> ConnectRegistryDirectory(
    std::shared_ptr<eth::RpcClient> rpc, const eth::Address& registry,
    const eth::ServiceId& service, std::shared_ptr<eth::TxSender> claimer, Deadline deadline,
    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250),
    std::chrono::milliseconds step_timeout = std::chrono::seconds(30));

}  // namespace br2k::client
