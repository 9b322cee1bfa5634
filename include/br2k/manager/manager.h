// The manager daemon's logic (`br2k manager` runs it): it follows the registry's Claim events
// for the services it manages and, when a claimed service is really down, redeploys it from the
// on-chain recovery information through a DeploymentBackend.
//
// For each Claim of a managed service, in chain order:
//   1. rate limit: a claimant gets at most `claims_per_window` claims acted on per
//      `claim_window` (ClaimRateLimiter); the excess is logged and ignored;
//   2. coalesce: while a claim of the same service is being handled, further claims are
//      merged into it (logged, nothing else done);
//   3. probe every endpoint the backend lists (GET /health, GET /leader, `health_timeout`
//      each), up to `confirm_probes` rounds `confirm_interval` apart so that an ordinary leader
//      fail-over is not taken for an outage; a healthy leader serving -> ignore ("service
//      healthy"); if the chain still says Recovering or Failed, mark it Active;
//   4. at most one redeploy attempt per service per `min_redeploy_interval` (else ignored);
//   5. read the service (GetService); a Retired service is ignored; the backend must accept
//      its recovery information (else: failure, nothing changed);
//   6. UpdateState(Recovering) -> backend.Deploy(recovery info) -> wait until an endpoint
//      answers /leader 200 (`leader_timeout`) -> UpdateState(Active). If the deploy or the wait
//      fails the service is marked Failed.
// Each outcome is one ManagerAction (kept for tests, logged) and bumps a counter.
//
// Threads: Run's thread follows the chain and admits claims (steps 1-2); each admitted claim is
// handled on a worker thread of its own service (steps 3-6), so a slow recovery of one service
// never delays claims of another. Submit, WaitIdle, counters() and actions() are thread-safe;
// Run/RunOnce are called at most once per Manager, from one thread. The destructor stops and
// joins the workers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/service_registry.h"
#include "br2k/manager/claim_rate_limiter.h"
#include "br2k/manager/deployment_backend.h"
#include "br2k/manager/health_prober.h"
#include "br2k/manager/registry_gateway.h"

namespace br2k::manager {

using Clock = std::chrono::steady_clock;

struct ManagedService {
  eth::ServiceId id;
  std::string name;  // for logs; "" = the id in hex
};

// One outcome of one claim.
struct ManagerAction {
  enum class Kind {
    kRateLimited,     // the claimant is over its limit: ignored
    kCoalesced,       // merged into the claim of the same service being handled
    kIgnoredHealthy,  // a leader serves: nothing to do
    kTooSoon,         // down, but the last redeploy attempt is more recent than the interval
    kIgnoredRetired,  // the service is Retired (deregistered)
    kRedeployed,      // marked Recovering, redeployed, a leader serves, marked Active
    kFailed,          // could not check or recover it; `detail` says why
  };
  Kind kind = Kind::kFailed;
  eth::ServiceId service;
  std::string service_name;
  eth::Address claimant;
  uint64_t claim_block = 0;
  eth::Hash claim_tx;
  uint64_t claim_log_index = 0;
  std::string detail;
  // kRedeployed: from the start of Deploy until a leader served.
  std::chrono::milliseconds recovery_time{0};
  // From the moment the claim was admitted until this outcome.
  std::chrono::milliseconds handling_time{0};
};
// "rate-limited", "coalesced", "ignored-healthy", "too-soon", "ignored-retired", "redeployed",
// "failed".
std::string ManagerActionKindName(ManagerAction::Kind kind);

struct ManagerCounters {
  uint64_t claims_seen = 0;  // claims of managed services
  uint64_t rate_limited = 0;
  uint64_t coalesced = 0;
  uint64_t ignored_healthy = 0;
  uint64_t too_soon = 0;
  uint64_t ignored_retired = 0;
  uint64_t redeploys = 0;  // successful
  uint64_t failures = 0;
  uint64_t watch_restarts = 0;  // times the chain watch ended with an error and was resumed
};

struct ManagerOptions {
  std::vector<ManagedService> services;  // at least one
  std::chrono::milliseconds health_timeout{1000};
  int confirm_probes = 3;
  std::chrono::milliseconds confirm_interval{500};
  std::chrono::milliseconds claim_window{std::chrono::minutes(1)};
  int claims_per_window = 1;
  std::chrono::milliseconds min_redeploy_interval{std::chrono::seconds(30)};
  std::chrono::milliseconds deploy_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds leader_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds chain_timeout{std::chrono::seconds(60)};  // per read / transaction
  std::chrono::milliseconds retry_interval{std::chrono::seconds(2)};  // after a failed watch
  // First block to look at. Run: default the head when it starts; RunOnce: default 0.
  std::optional<uint64_t> from_block;
  std::function<Clock::time_point()> now;  // default Clock::now (tests inject a clock)
  // Called with each action, on the thread that produced it (Run's or a worker), after it is
  // recorded. Must not call back into the Manager's Submit/WaitIdle.
  std::function<void(const ManagerAction&)> on_action;
  size_t max_actions = 1000;  // the oldest actions are dropped beyond this
};

class Manager {
 public:
  // What Submit did with a claim.
  enum class Admission { kNotManaged, kRateLimited, kCoalesced, kStarted };

  // INVALID_ARGUMENT when `options.services` is empty or a dependency is null.
  static Result<std::unique_ptr<Manager>> Create(ManagerOptions options,
                                                 std::shared_ptr<RegistryGateway> registry,
                                                 std::shared_ptr<DeploymentBackend> backend,
                                                 std::shared_ptr<HealthProber> prober);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Follows claims until `stop` is requested, then stops and joins the workers; returns OK.
  // An unreachable chain is logged and retried every `retry_interval` (at start-up too).
  Status Run(std::stop_token stop);

  // Handles the claims in [from_block (default 0), head] and returns when they are handled, or
  // DEADLINE_EXCEEDED. Chain errors are returned as they are.
  Status RunOnce(Deadline deadline);

  // Admits one Claim event (what Run does with each): rate limit, coalesce, or start handling
  // it on a worker. Events of other kinds or services are kNotManaged.
  Admission Submit(const eth::RegistryEvent& claim);

  // Waits until no claim is being handled. DEADLINE_EXCEEDED otherwise.
  Status WaitIdle(Deadline deadline);

  ManagerCounters counters() const;
  std::vector<ManagerAction> actions() const;
  // The block Run resumes from after an error (the block of the last claim it admitted).
  uint64_t next_block() const;

 private:
  struct Slot {
    ManagedService service;
    bool busy = false;
    std::optional<Clock::time_point> last_attempt;
    std::jthread worker;
  };

  Manager(ManagerOptions options, std::shared_ptr<RegistryGateway> registry,
          std::shared_ptr<DeploymentBackend> backend, std::shared_ptr<HealthProber> prober);

  Clock::time_point Now() const;
  std::string NameOf(const ManagedService& s) const;
  // A worker: Check, record the outcome, free the slot.
  void Handle(ManagedService service, eth::RegistryEvent claim, Clock::time_point admitted,
              std::stop_token stop);
  // Steps 3-6 of the header comment; returns the outcome.
  ManagerAction Check(const ManagedService& service, const eth::RegistryEvent& claim,
                      std::stop_token stop);
  // One round of probes of every endpoint.
  Result<std::vector<EndpointHealth>> ProbeOnce(const eth::ServiceId& id);
  // Waits until an endpoint serves; returns its URL.
  Result<std::string> WaitForLeader(const eth::ServiceId& id, Deadline deadline,
                                    std::stop_token stop);
  ManagerAction MakeAction(ManagerAction::Kind kind, const ManagedService& service,
                           const eth::RegistryEvent& claim, std::string detail) const;
  // Records `a` (with the lock NOT held), bumps its counter, logs it and calls on_action.
  void Record(ManagerAction a);
  void StopWorkers();
  // Sleeps up to `d`; false when `stop` was requested.
  static bool SleepFor(std::chrono::milliseconds d, std::stop_token stop);

  const ManagerOptions options_;
  const std::shared_ptr<RegistryGateway> registry_;
  const std::shared_ptr<DeploymentBackend> backend_;
  const std::shared_ptr<HealthProber> prober_;
  ClaimRateLimiter limiter_;
  std::vector<eth::ServiceId> ids_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::map<eth::ServiceId, Slot> slots_;  // guarded by mu_ (workers only read `service`)
  ManagerCounters counters_;              // guarded by mu_
  std::deque<ManagerAction> actions_;     // guarded by mu_
  uint64_t next_block_ = 0;               // guarded by mu_
  bool has_cursor_ = false;               // Run's thread only
  std::pair<uint64_t, uint64_t> cursor_{0, 0};
};

}  // namespace br2k::manager
