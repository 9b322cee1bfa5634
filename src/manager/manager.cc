#include "br2k/manager/manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "br2k/common/log_escape.h"

namespace br2k::manager {

using namespace std::chrono_literals;
using Kind = ManagerAction::Kind;

namespace {

std::chrono::milliseconds Millis(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

std::string ShortHex(const eth::ServiceId& id) {
  return id.ToHex().substr(0, 10) + "..";
}

}  // namespace

std::string ManagerActionKindName(ManagerAction::Kind kind) {
  switch (kind) {
    case Kind::kRateLimited:
      return "rate-limited";
    case Kind::kCoalesced:
      return "coalesced";
    case Kind::kIgnoredHealthy:
      return "ignored-healthy";
    case Kind::kTooSoon:
      return "too-soon";
    case Kind::kIgnoredRetired:
      return "ignored-retired";
    case Kind::kRedeployed:
      return "redeployed";
    case Kind::kFailed:
      return "failed";
  }
  return "unknown";
}

Result<std::unique_ptr<Manager>> Manager::Create(ManagerOptions options,
                                                 std::shared_ptr<RegistryGateway> registry,
                                                 std::shared_ptr<DeploymentBackend> backend,
                                                 std::shared_ptr<HealthProber> prober) {
  if (options.services.empty()) return InvalidArgumentError("manager: no service to manage");
  if (!registry || !backend || !prober) {
    return InvalidArgumentError("manager: registry, backend and prober are required");
  }
  if (options.claims_per_window < 1) {
    return InvalidArgumentError("manager: claims_per_window must be at least 1");
  }
  options.confirm_probes = std::max(options.confirm_probes, 1);
  return std::unique_ptr<Manager>(
      new Manager(std::move(options), std::move(registry), std::move(backend), std::move(prober)));
}

Manager::Manager(ManagerOptions options, std::shared_ptr<RegistryGateway> registry,
                 std::shared_ptr<DeploymentBackend> backend, std::shared_ptr<HealthProber> prober)
    : options_(std::move(options)),
      registry_(std::move(registry)),
      backend_(std::move(backend)),
      prober_(std::move(prober)),
      limiter_(ClaimRateLimiter::Options{.window = options_.claim_window,
                                         .max_per_window = options_.claims_per_window}) {
  for (const auto& s : options_.services) {
    ids_.push_back(s.id);
    slots_[s.id].service = s;
  }
}

Manager::~Manager() {
  StopWorkers();
}

Clock::time_point Manager::Now() const {
  return options_.now ? options_.now() : Clock::now();
}

std::string Manager::NameOf(const ManagedService& s) const {
  return s.name.empty() ? ShortHex(s.id) : s.name;
}

bool Manager::SleepFor(std::chrono::milliseconds d, std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock l(m);
  cv.wait_for(l, stop, d, [] { return false; });
  return !stop.stop_requested();
}

ManagerAction Manager::MakeAction(Kind kind, const ManagedService& service,
                                  const eth::RegistryEvent& claim, std::string detail) const {
  ManagerAction a;
  a.kind = kind;
  a.service = service.id;
  a.service_name = NameOf(service);
  a.claimant = claim.account;
  a.claim_block = claim.block_number;
  a.claim_tx = claim.transaction_hash;
  a.claim_log_index = claim.log_index;
  a.detail = std::move(detail);
  return a;
}

void Manager::Record(ManagerAction a) {
  {
    std::lock_guard lock(mu_);
    switch (a.kind) {
      case Kind::kRateLimited:
        ++counters_.rate_limited;
        break;
      case Kind::kCoalesced:
        ++counters_.coalesced;
        break;
      case Kind::kIgnoredHealthy:
        ++counters_.ignored_healthy;
        break;
      case Kind::kTooSoon:
        ++counters_.too_soon;
        break;
      case Kind::kIgnoredRetired:
        ++counters_.ignored_retired;
        break;
      case Kind::kRedeployed:
        ++counters_.redeploys;
        break;
      case Kind::kFailed:
        ++counters_.failures;
        break;
    }
    actions_.push_back(a);
    while (actions_.size() > std::max<size_t>(options_.max_actions, 1)) actions_.pop_front();
  }
  const auto level = a.kind == Kind::kFailed        ? spdlog::level::err
                     : a.kind == Kind::kRedeployed  ? spdlog::level::info
                     : a.kind == Kind::kRateLimited ? spdlog::level::warn
                                                    : spdlog::level::info;
  spdlog::log(level, "manager: claim by {} against {} (block {}, tx {}): {}: {}",
              a.claimant.ToChecksum(), EscapeForLog(a.service_name), a.claim_block,
              ShortHex(a.claim_tx), ManagerActionKindName(a.kind), EscapeForLog(a.detail, 1024));
  if (options_.on_action) options_.on_action(a);
}

Manager::Admission Manager::Submit(const eth::RegistryEvent& claim) {
  if (claim.kind != eth::RegistryEvent::Kind::kClaim) return Admission::kNotManaged;
  std::optional<ManagerAction> action;
  Admission result;
  {
    std::lock_guard lock(mu_);
    auto it = slots_.find(claim.service);
    if (it == slots_.end()) return Admission::kNotManaged;
    Slot& slot = it->second;
    ++counters_.claims_seen;
    const auto now = Now();
    if (!limiter_.Admit(claim.account, now)) {
      result = Admission::kRateLimited;
      action = MakeAction(Kind::kRateLimited, slot.service, claim,
                          "more than " + std::to_string(options_.claims_per_window) +
                              " claim(s) from this claimant within " +
                              std::to_string(options_.claim_window.count() / 1000) + " s");
    } else if (slot.busy) {
      result = Admission::kCoalesced;
      action = MakeAction(Kind::kCoalesced, slot.service, claim,
                          "a claim of this service is being handled");
    } else {
      result = Admission::kStarted;
      // The previous worker of this slot has finished (busy is false): reap it.
      if (slot.worker.joinable()) slot.worker.join();
      slot.busy = true;
      slot.worker = std::jthread([this, service = slot.service, claim, now](std::stop_token st) {
        Handle(service, claim, now, st);
      });
    }
  }
  if (action) Record(std::move(*action));
  return result;
}

Result<std::vector<EndpointHealth>> Manager::ProbeOnce(const eth::ServiceId& id) {
  BR2K_ASSIGN_OR_RETURN(auto urls,
                        backend_->Endpoints(id, Deadline::After(options_.chain_timeout)));
  std::vector<EndpointHealth> out;
  for (const auto& url : urls) {
    out.push_back(prober_->Probe(url, Deadline::After(options_.health_timeout)));
  }
  return out;
}

Result<std::string> Manager::WaitForLeader(const eth::ServiceId& id, Deadline deadline,
                                           std::stop_token stop) {
  std::string last = "not probed yet";
  while (!deadline.expired()) {
    auto probes = ProbeOnce(id);
    if (probes.ok()) {
      for (const auto& e : *probes) {
        if (e.healthy && e.leader) return e.url;
      }
      last = DescribeHealth(*probes);
    } else {
      last = probes.status().ToString();
    }
    if (!SleepFor(100ms, stop)) return CancelledError("manager stopping");
  }
  return DeadlineExceededError("no leader serves after " +
                               std::to_string(options_.leader_timeout.count()) + " ms (" + last +
                               ")");
}

void Manager::Handle(ManagedService service, eth::RegistryEvent claim, Clock::time_point admitted,
                     std::stop_token stop) {
  // The location and reason are whatever the claimant wrote on chain: escaped and capped.
  spdlog::info("manager: claim by {} against {} at \"{}\" (reason \"{}\"): checking it",
               claim.account.ToChecksum(), EscapeForLog(NameOf(service)),
               EscapeForLog(claim.location), EscapeForLog(claim.reason));
  ManagerAction a = Check(service, claim, stop);
  a.handling_time = Millis(Now() - admitted);
  Record(std::move(a));
  std::lock_guard lock(mu_);
  slots_[service.id].busy = false;
  idle_cv_.notify_all();
}

ManagerAction Manager::Check(const ManagedService& service, const eth::RegistryEvent& claim,
                             std::stop_token stop) {
  auto outcome = [&](Kind kind, std::string detail) {
    return MakeAction(kind, service, claim, std::move(detail));
  };
  auto chain = [&] { return Deadline::After(options_.chain_timeout); };

  // Is a leader serving? Re-probe a few times: a fail-over in progress is not an outage.
  std::string health;
  bool serving = false;
  for (int round = 0; round < options_.confirm_probes && !serving; ++round) {
    if (round > 0 && !SleepFor(options_.confirm_interval, stop)) break;
    auto probes = ProbeOnce(service.id);
    if (!probes.ok()) {
      return outcome(Kind::kFailed, "cannot list the endpoints (" + backend_->Name() +
                                        " backend): " + probes.status().ToString());
    }
    serving = Serving(*probes);
    health = DescribeHealth(*probes);
  }
  if (stop.stop_requested()) return outcome(Kind::kFailed, "manager stopping");
  if (serving) {
    std::string extra;
    // Repair a state a manager left behind (e.g. one that stopped mid-recovery).
    auto record = registry_->GetService(service.id, chain());
    if (record.ok() && (record->state == eth::ServiceState::kRecovering ||
                        record->state == eth::ServiceState::kFailed)) {
      Status st = registry_->UpdateState(service.id, eth::ServiceState::kActive, chain());
      extra = st.ok()
                  ? "; the chain said " + eth::ServiceStateName(record->state) + ": marked Active"
                  : "; could not mark it Active: " + st.ToString();
    }
    return outcome(Kind::kIgnoredHealthy, "service healthy: " + health + extra);
  }

  // One redeploy attempt per interval.
  std::optional<Clock::time_point> last;
  {
    std::lock_guard lock(mu_);
    last = slots_[service.id].last_attempt;
  }
  if (last && Now() - *last < options_.min_redeploy_interval) {
    return outcome(Kind::kTooSoon,
                   "service down (" + health + ") but the last redeploy attempt was " +
                       std::to_string(Millis(Now() - *last).count()) + " ms ago (minimum " +
                       std::to_string(options_.min_redeploy_interval.count()) + " ms)");
  }

  // The recovery information.
  auto record = registry_->GetService(service.id, chain());
  if (!record.ok()) {
    return outcome(Kind::kFailed, "service down (" + health + ") but its record cannot be read: " +
                                      record.status().ToString());
  }
  if (record->state == eth::ServiceState::kRetired) {
    return outcome(Kind::kIgnoredRetired, "the service is Retired");
  }
  if (Status st = backend_->Check(service.id, record->recovery, chain()); !st.ok()) {
    return outcome(Kind::kFailed, "service down (" + health + ") but the " + backend_->Name() +
                                      " backend cannot deploy its recovery info: " + st.ToString());
  }

  // Recovering -> deploy -> a leader serves -> Active.
  {
    std::lock_guard lock(mu_);
    slots_[service.id].last_attempt = Now();
  }
  spdlog::warn("manager: {} is down ({}); redeploying it with the {} backend",
               EscapeForLog(NameOf(service)), EscapeForLog(health, 1024), backend_->Name());
  if (Status st = registry_->UpdateState(service.id, eth::ServiceState::kRecovering, chain());
      !st.ok()) {
    return outcome(Kind::kFailed,
                   "service down but it cannot be marked Recovering: " + st.ToString());
  }
  auto failed = [&](const std::string& why) {
    Status st = registry_->UpdateState(service.id, eth::ServiceState::kFailed, chain());
    return outcome(
        Kind::kFailed,
        why + (st.ok() ? "; marked Failed" : "; marking it Failed failed too: " + st.ToString()));
  };
  const auto deploy_start = Now();
  auto report =
      backend_->Deploy(service.id, record->recovery, Deadline::After(options_.deploy_timeout));
  if (!report.ok()) return failed("redeploy failed: " + report.status().ToString());
  for (const auto& w : report->warnings) {
    spdlog::warn("manager: {}: {}", EscapeForLog(NameOf(service)), EscapeForLog(w, 1024));
  }
  auto leader = WaitForLeader(service.id, Deadline::After(options_.leader_timeout), stop);
  if (!leader.ok()) {
    if (leader.status().code() == StatusCode::kCancelled) {
      return outcome(Kind::kFailed,
                     "manager stopped during the recovery (the chain still says Recovering)");
    }
    return failed("redeployed but " + leader.status().message());
  }
  const auto recovery = Millis(Now() - deploy_start);
  if (Status st = registry_->UpdateState(service.id, eth::ServiceState::kActive, chain());
      !st.ok()) {
    return outcome(Kind::kFailed, "redeployed and " + *leader +
                                      " serves, but it cannot be marked Active: " + st.ToString());
  }
  std::string started;
  for (const auto& s : report->started) started += (started.empty() ? "" : ", ") + s;
  ManagerAction a = outcome(Kind::kRedeployed, "restarted [" + started + "], left " +
                                                   std::to_string(report->already_running.size()) +
                                                   " running; leader " + *leader + " serves " +
                                                   std::to_string(recovery.count()) +
                                                   " ms after the deploy began; "
                                                   "marked Active");
  a.recovery_time = recovery;
  return a;
}

Status Manager::WaitIdle(Deadline deadline) {
  std::unique_lock lock(mu_);
  bool idle = idle_cv_.wait_until(lock, deadline.when(), [&] {
    return std::none_of(slots_.begin(), slots_.end(), [](auto& s) { return s.second.busy; });
  });
  return idle ? Status::Ok() : DeadlineExceededError("manager: claims still being handled");
}

void Manager::StopWorkers() {
  std::vector<std::jthread> workers;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, slot] : slots_) {
      if (slot.worker.joinable()) {
        slot.worker.request_stop();
        workers.push_back(std::move(slot.worker));
      }
    }
  }
  for (auto& w : workers) w.join();
}

ManagerCounters Manager::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

std::vector<ManagerAction> Manager::actions() const {
  std::lock_guard lock(mu_);
  return {actions_.begin(), actions_.end()};
}

uint64_t Manager::next_block() const {
  std::lock_guard lock(mu_);
  return next_block_;
}

Status Manager::Run(std::stop_token stop) {
  uint64_t from = 0;
  if (options_.from_block) {
    from = *options_.from_block;
  } else {
    while (true) {
      auto head = registry_->HeadBlock(Deadline::After(options_.chain_timeout));
      if (head.ok()) {
        from = *head;
        break;
      }
      spdlog::warn("manager: the chain is unreachable ({}); retrying in {} ms",
                   head.status().ToString(), options_.retry_interval.count());
      if (!SleepFor(options_.retry_interval, stop)) {
        StopWorkers();
        return Status::Ok();
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    next_block_ = from;
  }
  std::string names;
  for (const auto& s : options_.services) names += (names.empty() ? "" : ", ") + NameOf(s);
  spdlog::info("manager: watching Claim events of {} from block {} ({} backend)", names, from,
               backend_->Name());
  auto on_claim = [&](const eth::RegistryEvent& e) -> Status {
    if (e.removed) {
      spdlog::warn("manager: a claim in block {} was dropped by a reorg", e.block_number);
      return Status::Ok();
    }
    std::pair<uint64_t, uint64_t> at{e.block_number, e.log_index};
    if (has_cursor_ && at <= cursor_) return Status::Ok();  // seen before a resumed watch
    has_cursor_ = true;
    cursor_ = at;
    {
      std::lock_guard lock(mu_);
      next_block_ = e.block_number;
    }
    Submit(e);
    return Status::Ok();
  };
  while (!stop.stop_requested()) {
    Status st = registry_->WatchClaims(ids_, next_block(), on_claim, stop);
    if (stop.stop_requested()) break;
    {
      std::lock_guard lock(mu_);
      ++counters_.watch_restarts;
    }
    spdlog::warn("manager: the claim watch ended ({}); resuming from block {} in {} ms",
                 st.ToString(), next_block(), options_.retry_interval.count());
    if (!SleepFor(options_.retry_interval, stop)) break;
  }
  spdlog::info("manager: stopping");
  StopWorkers();
  return Status::Ok();
}

Status Manager::RunOnce(Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto head, registry_->HeadBlock(deadline));
  const uint64_t from = options_.from_block.value_or(0);
  BR2K_ASSIGN_OR_RETURN(auto claims, registry_->PastClaims(ids_, from, head, deadline));
  spdlog::info("manager: {} claim(s) in blocks [{}, {}]", claims.size(), from, head);
  for (const auto& c : claims) Submit(c);
  {
    std::lock_guard lock(mu_);
    next_block_ = head + 1;
  }
  return WaitIdle(deadline);
}

}  // namespace br2k::manager
