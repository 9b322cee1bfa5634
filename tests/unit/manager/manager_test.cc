// The manager's decisions with an in-process registry, backend and health prober: healthy ->
// ignore; down -> Recovering, deploy, leader, Active; rate limiting per claimant; coalescing of
// concurrent claims; failures mark the service Failed; the watch survives chain errors.
#include "br2k/manager/manager.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;
using eth::RegistryEvent;
using eth::ServiceState;
using Kind = ManagerAction::Kind;

eth::Address Addr(uint8_t b) {
  eth::Address a;
  a.bytes.fill(b);
  return a;
}

const eth::ServiceId kService = eth::ServiceIdFromName("svc");
const eth::ServiceId kOther = eth::ServiceIdFromName("other");

RegistryEvent Claim(const eth::Address& claimant, uint64_t block = 1, uint64_t log_index = 0,
                    const eth::ServiceId& id = kService) {
  RegistryEvent e;
  e.kind = RegistryEvent::Kind::kClaim;
  e.service = id;
  e.account = claimant;
  e.location = "http://127.0.0.1:1";
  e.reason = "down";
  e.block_number = block;
  e.log_index = log_index;
  return e;
}

// The registry: records state changes; WatchClaims serves a scripted sequence of outcomes.
class FakeRegistry : public RegistryGateway {
 public:
  FakeRegistry() {
    record.state = ServiceState::kActive;
    record.recovery = eth::RecoveryInfo{"local", 3, "local", {"br2k-logserver"}};
  }
  Result<uint64_t> HeadBlock(Deadline) override {
    std::lock_guard l(mu);
    if (head_failures > 0) {
      --head_failures;
      return UnavailableError("chain down");
    }
    return head;
  }
  Result<eth::ServiceRecord> GetService(const eth::ServiceId& id, Deadline) override {
    std::lock_guard l(mu);
    if (id != kService) return NotFoundError("UnknownService");
    return record;
  }
  Status UpdateState(const eth::ServiceId&, ServiceState s, Deadline) override {
    std::lock_guard l(mu);
    if (!update_error.ok()) return update_error;
    states.push_back(s);
    record.state = s;
    return Status::Ok();
  }
  Result<std::vector<RegistryEvent>> PastClaims(const std::vector<eth::ServiceId>&, uint64_t from,
                                                uint64_t to, Deadline) override {
    std::lock_guard l(mu);
    std::vector<RegistryEvent> out;
    for (const auto& c : past) {
      if (c.block_number >= from && c.block_number <= to) out.push_back(c);
    }
    return out;
  }
  Status WatchClaims(const std::vector<eth::ServiceId>&, uint64_t from_block,
                     const std::function<Status(const RegistryEvent&)>& on_claim,
                     std::stop_token stop) override {
    {
      std::lock_guard l(mu);
      watch_from.push_back(from_block);
    }
    for (const auto& c : deliver) {
      if (c.block_number >= from_block) BR2K_RETURN_IF_ERROR(on_claim(c));
    }
    {
      std::lock_guard l(mu);
      if (watch_failures > 0) {
        --watch_failures;
        return UnavailableError("connection refused");
      }
    }
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lk(m);
    cv.wait(lk, stop, [] { return false; });
    return Status::Ok();
  }
  std::vector<ServiceState> States() {
    std::lock_guard l(mu);
    return states;
  }

  std::mutex mu;
  eth::ServiceRecord record;
  std::vector<ServiceState> states;
  Status update_error;
  uint64_t head = 100;
  int head_failures = 0;
  int watch_failures = 0;
  std::vector<RegistryEvent> deliver;  // delivered by every WatchClaims from its from_block
  std::vector<RegistryEvent> past;
  std::vector<uint64_t> watch_from;
};

// Three endpoints; a leader serves while `up` (Deploy brings it up unless told to fail).
class FakeWorld : public DeploymentBackend, public HealthProber {
 public:
  std::string Name() const override { return "fake"; }
  Result<std::vector<std::string>> Endpoints(const eth::ServiceId& id, Deadline) override {
    if (id != kService) return NotFoundError("not ours");
    return std::vector<std::string>{"http://a", "http://b", "http://c"};
  }
  Status Check(const eth::ServiceId&, const eth::RecoveryInfo& info, Deadline) override {
    std::lock_guard l(mu);
    checked.push_back(info);
    return check_error;
  }
  Result<DeployReport> Deploy(const eth::ServiceId&, const eth::RecoveryInfo&, Deadline) override {
    std::unique_lock l(mu);
    ++deploys;
    in_deploy = true;
    cv.notify_all();
    cv.wait(l, [&] { return !hold_deploy; });
    in_deploy = false;
    if (!deploy_error.ok()) return deploy_error;
    if (deploy_brings_leader) up = true;
    return DeployReport{.started = {"a (pid 1)", "b (pid 2)", "c (pid 3)"}};
  }
  EndpointHealth Probe(const std::string& url, Deadline) override {
    std::lock_guard l(mu);
    ++probes;
    EndpointHealth h{.url = url};
    if (probes <= followers_only_probes) {
      // A fail-over in progress: every replica answers, none leads yet.
      h.reachable = h.healthy = true;
      return h;
    }
    if (!up) {
      h.error = "connection refused";
      return h;
    }
    h.reachable = h.healthy = true;
    h.leader = url == "http://b";
    return h;
  }
  void SetUp(bool v) {
    std::lock_guard l(mu);
    up = v;
  }
  void WaitInDeploy() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return in_deploy; });
  }
  void ReleaseDeploy() {
    std::lock_guard l(mu);
    hold_deploy = false;
    cv.notify_all();
  }
  int Deploys() {
    std::lock_guard l(mu);
    return deploys;
  }

  std::mutex mu;
  std::condition_variable cv;
  bool up = true;
  bool hold_deploy = false;
  bool in_deploy = false;
  bool deploy_brings_leader = true;
  int followers_only_probes = 0;
  int deploys = 0;
  int probes = 0;
  Status check_error;
  Status deploy_error;
  std::vector<eth::RecoveryInfo> checked;
};

class ManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Manager> Make(std::function<void(ManagerOptions&)> tweak = nullptr) {
    ManagerOptions o;
    o.services = {{kService, "svc"}};
    o.confirm_probes = 3;
    o.confirm_interval = 0ms;
    o.min_redeploy_interval = 0ms;
    o.leader_timeout = 5s;
    o.retry_interval = 10ms;
    o.now = [this] { return now_.load(); };
    if (tweak) tweak(o);
    auto m = Manager::Create(o, registry_, world_, world_);
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(*m);
  }
  void Advance(std::chrono::milliseconds d) { now_ = now_.load() + d; }
  static std::vector<Kind> Kinds(const Manager& m) {
    std::vector<Kind> out;
    for (const auto& a : m.actions()) out.push_back(a.kind);
    return out;
  }

  std::atomic<Clock::time_point> now_{Clock::time_point(std::chrono::hours(1))};
  std::shared_ptr<FakeRegistry> registry_ = std::make_shared<FakeRegistry>();
  std::shared_ptr<FakeWorld> world_ = std::make_shared<FakeWorld>();
};

TEST_F(ManagerTest, Create_refusesNoServicesOrMissingParts) {
  EXPECT_EQ(Manager::Create(ManagerOptions{}, registry_, world_, world_).status().code(),
            StatusCode::kInvalidArgument);
  ManagerOptions o;
  o.services = {{kService, "svc"}};
  EXPECT_EQ(Manager::Create(o, nullptr, world_, world_).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ManagerTest, HealthyService_claimIgnoredNothingChanges) {
  auto m = Make();
  EXPECT_EQ(m->Submit(Claim(Addr(1))), Manager::Admission::kStarted);
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  ASSERT_EQ(Kinds(*m), std::vector<Kind>{Kind::kIgnoredHealthy});
  EXPECT_NE(m->actions()[0].detail.find("http://b: healthy leader"), std::string::npos)
      << m->actions()[0].detail;
  EXPECT_EQ(world_->Deploys(), 0);
  EXPECT_TRUE(registry_->States().empty());
  auto c = m->counters();
  EXPECT_EQ(c.claims_seen, 1u);
  EXPECT_EQ(c.ignored_healthy, 1u);
  EXPECT_EQ(c.redeploys, 0u);
}

TEST_F(ManagerTest, DownService_markedRecoveringRedeployedMarkedActive) {
  world_->SetUp(false);
  auto m = Make();
  EXPECT_EQ(m->Submit(Claim(Addr(1))), Manager::Admission::kStarted);
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  ASSERT_EQ(Kinds(*m), std::vector<Kind>{Kind::kRedeployed}) << m->actions()[0].detail;
  EXPECT_EQ(registry_->States(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kActive}));
  EXPECT_EQ(world_->Deploys(), 1);
  ASSERT_EQ(world_->checked.size(), 1u);
  EXPECT_EQ(world_->checked[0], registry_->record.recovery);
  EXPECT_EQ(m->counters().redeploys, 1u);
  EXPECT_EQ(m->actions()[0].claimant, Addr(1));
}

TEST_F(ManagerTest, FailoverInProgress_notTakenForAnOutage) {
  // Round 1 (three probes): the old leader is gone and nobody leads yet; round 2: a new leader.
  world_->followers_only_probes = 3;
  auto m = Make([](ManagerOptions& o) { o.confirm_probes = 3; });
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  EXPECT_EQ(Kinds(*m), std::vector<Kind>{Kind::kIgnoredHealthy});
  EXPECT_EQ(world_->Deploys(), 0);
  EXPECT_EQ(world_->probes, 6);
}

TEST_F(ManagerTest, NoLeaderInAnyRound_takenForAnOutage) {
  world_->followers_only_probes = 9;  // three rounds without a leader
  auto m = Make([](ManagerOptions& o) { o.confirm_probes = 3; });
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  EXPECT_EQ(Kinds(*m), std::vector<Kind>{Kind::kRedeployed});
  EXPECT_EQ(world_->Deploys(), 1);
}

TEST_F(ManagerTest, RateLimit_oneActedOnClaimPerClaimantPerWindow) {
  auto m = Make([](ManagerOptions& o) { o.claim_window = 60s; });
  EXPECT_EQ(m->Submit(Claim(Addr(1), 1)), Manager::Admission::kStarted);
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  for (uint64_t b = 2; b < 6; ++b) {
    EXPECT_EQ(m->Submit(Claim(Addr(1), b)), Manager::Admission::kRateLimited);
  }
  // Another claimant is not affected.
  EXPECT_EQ(m->Submit(Claim(Addr(2), 6)), Manager::Admission::kStarted);
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  // After the window the first claimant is heard again.
  Advance(61s);
  EXPECT_EQ(m->Submit(Claim(Addr(1), 7)), Manager::Admission::kStarted);
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  auto c = m->counters();
  EXPECT_EQ(c.claims_seen, 7u);
  EXPECT_EQ(c.rate_limited, 4u);
  EXPECT_EQ(c.ignored_healthy, 3u);
}

TEST_F(ManagerTest, ConcurrentClaims_coalescedIntoOneRecovery) {
  world_->SetUp(false);
  world_->hold_deploy = true;
  auto m = Make();
  EXPECT_EQ(m->Submit(Claim(Addr(1), 1)), Manager::Admission::kStarted);
  world_->WaitInDeploy();
  EXPECT_EQ(m->Submit(Claim(Addr(2), 2)), Manager::Admission::kCoalesced);
  EXPECT_EQ(m->Submit(Claim(Addr(3), 3)), Manager::Admission::kCoalesced);
  world_->ReleaseDeploy();
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  EXPECT_EQ(world_->Deploys(), 1);
  auto c = m->counters();
  EXPECT_EQ(c.coalesced, 2u);
  EXPECT_EQ(c.redeploys, 1u);
  EXPECT_EQ(registry_->States(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kActive}));
}

TEST_F(ManagerTest, DeployFails_serviceMarkedFailed) {
  world_->SetUp(false);
  world_->deploy_error = UnavailableError("node-1 exited right after its restart");
  auto m = Make();
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  ASSERT_EQ(Kinds(*m), std::vector<Kind>{Kind::kFailed});
  EXPECT_NE(m->actions()[0].detail.find("node-1 exited"), std::string::npos);
  EXPECT_EQ(registry_->States(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kFailed}));
  EXPECT_EQ(m->counters().failures, 1u);
}

TEST_F(ManagerTest, NoLeaderAfterDeploy_serviceMarkedFailed) {
  world_->SetUp(false);
  world_->deploy_brings_leader = false;
  auto m = Make([](ManagerOptions& o) { o.leader_timeout = 300ms; });
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  ASSERT_EQ(Kinds(*m), std::vector<Kind>{Kind::kFailed});
  EXPECT_NE(m->actions()[0].detail.find("no leader serves"), std::string::npos)
      << m->actions()[0].detail;
  EXPECT_EQ(registry_->States(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kFailed}));
}

TEST_F(ManagerTest, RecoveryInfoRefusedByBackend_nothingChanges) {
  world_->SetUp(false);
  world_->check_error = FailedPreconditionError("deploy context \"k8s\" is not local");
  auto m = Make();
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  ASSERT_EQ(Kinds(*m), std::vector<Kind>{Kind::kFailed});
  EXPECT_NE(m->actions()[0].detail.find("k8s"), std::string::npos);
  EXPECT_TRUE(registry_->States().empty());
  EXPECT_EQ(world_->Deploys(), 0);
}

TEST_F(ManagerTest, NotAManagerOnChain_noDeploy) {
  world_->SetUp(false);
  registry_->update_error = PermissionDeniedError("NotManager(..)");
  auto m = Make();
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  ASSERT_EQ(Kinds(*m), std::vector<Kind>{Kind::kFailed});
  EXPECT_NE(m->actions()[0].detail.find("Recovering"), std::string::npos);
  EXPECT_EQ(world_->Deploys(), 0);
}

TEST_F(ManagerTest, RedeployAgainTooSoon_ignoredUntilTheIntervalPasses) {
  world_->SetUp(false);
  auto m = Make([](ManagerOptions& o) { o.min_redeploy_interval = 30s; });
  m->Submit(Claim(Addr(1), 1));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  world_->SetUp(false);  // down again at once
  m->Submit(Claim(Addr(2), 2));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  Advance(31s);
  m->Submit(Claim(Addr(3), 3));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  EXPECT_EQ(Kinds(*m), (std::vector<Kind>{Kind::kRedeployed, Kind::kTooSoon, Kind::kRedeployed}));
  EXPECT_EQ(world_->Deploys(), 2);
}

TEST_F(ManagerTest, RetiredService_ignored) {
  world_->SetUp(false);
  registry_->record.state = ServiceState::kRetired;
  auto m = Make();
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  EXPECT_EQ(Kinds(*m), std::vector<Kind>{Kind::kIgnoredRetired});
  EXPECT_EQ(world_->Deploys(), 0);
}

TEST_F(ManagerTest, HealthyButChainSaysRecovering_markedActive) {
  registry_->record.state = ServiceState::kRecovering;
  auto m = Make();
  m->Submit(Claim(Addr(1)));
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  EXPECT_EQ(Kinds(*m), std::vector<Kind>{Kind::kIgnoredHealthy});
  EXPECT_EQ(registry_->States(), std::vector<ServiceState>{ServiceState::kActive});
}

TEST_F(ManagerTest, OtherServicesAndEvents_notManaged) {
  auto m = Make();
  EXPECT_EQ(m->Submit(Claim(Addr(1), 1, 0, kOther)), Manager::Admission::kNotManaged);
  RegistryEvent e = Claim(Addr(1));
  e.kind = RegistryEvent::Kind::kNewLocation;
  EXPECT_EQ(m->Submit(e), Manager::Admission::kNotManaged);
  EXPECT_EQ(m->counters().claims_seen, 0u);
  EXPECT_TRUE(m->actions().empty());
}

TEST_F(ManagerTest, Run_survivesAnUnreachableChainAndHandlesEachClaimOnce) {
  world_->SetUp(false);
  registry_->head_failures = 2;   // unreachable at start-up
  registry_->watch_failures = 2;  // then the watch breaks twice
  registry_->deliver = {Claim(Addr(1), 101, 0), Claim(Addr(2), 101, 1)};
  std::atomic<int> handled{0};
  auto m = Make([&](ManagerOptions& o) { o.on_action = [&](const ManagerAction&) { ++handled; }; });
  std::stop_source stop;
  std::thread run([&] { EXPECT_TRUE(m->Run(stop.get_token()).ok()); });
  auto until = Deadline::After(10s);
  while (!until.expired()) {
    size_t watches;
    {
      std::lock_guard l(registry_->mu);
      watches = registry_->watch_from.size();
    }
    if (handled.load() >= 2 && watches >= 3) break;  // the third watch is the one that holds
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  stop.request_stop();
  run.join();
  // The resumed watches re-delivered both claims; each was admitted once.
  auto c = m->counters();
  EXPECT_EQ(c.claims_seen, 2u);
  EXPECT_EQ(c.watch_restarts, 2u);
  EXPECT_EQ(c.redeploys, 1u);
  // The second claim was merged into the recovery, or (if that had already ended) found the
  // service healthy.
  EXPECT_EQ(c.coalesced + c.ignored_healthy, 1u);
  EXPECT_EQ(world_->Deploys(), 1);
  ASSERT_GE(registry_->watch_from.size(), 3u);
  EXPECT_EQ(registry_->watch_from[0], 100u);  // the head when it could first be read
  EXPECT_EQ(registry_->watch_from[1], 101u);  // resumed at the last claim's block
}

TEST_F(ManagerTest, RunOnce_handlesPastClaimsAndReturns) {
  registry_->past = {Claim(Addr(1), 5), Claim(Addr(1), 6), Claim(Addr(2), 200)};
  auto m = Make([](ManagerOptions& o) { o.from_block = 4; });
  ASSERT_TRUE(m->RunOnce(Deadline::After(10s)).ok());
  auto c = m->counters();
  EXPECT_EQ(c.claims_seen, 2u);  // block 200 is past the head (100)
  EXPECT_EQ(c.ignored_healthy, 1u);
  EXPECT_EQ(c.rate_limited, 1u);
  EXPECT_EQ(m->next_block(), 101u);
}

// Regression (issue 10 item 9): a claim's location and reason went into the manager's log raw:
// newlines forged lines, terminal escapes passed through, a 50 KB reason was a 50 KB line.
TEST_F(ManagerTest, ClaimReasonWithNewlinesAndEscapes_oneEscapedCappedLogLine) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  auto m = Make();
  RegistryEvent c = Claim(Addr(1));
  c.reason =
      "down\n[2026-11-29 00:00:00.000] [info] manager: forged\x1b[2J" + std::string(50 * 1024, 'x');
  c.location = "http://evil\r\n[2026-11-29 00:00:00.000] [info] also forged";
  EXPECT_EQ(m->Submit(c), Manager::Admission::kStarted);
  ASSERT_TRUE(m->WaitIdle(Deadline::After(10s)).ok());
  spdlog::set_default_logger(previous);

  std::string log = captured.str();
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a terminal escape reached the log";
  EXPECT_EQ(log.find('\r'), std::string::npos);
  std::istringstream lines(log);
  std::string line;
  int checking = 0;
  while (std::getline(lines, line)) {
    EXPECT_NE(line.rfind("[2026-11-29 00:00:00.000]", 0), 0u) << "forged line: " << line;
    EXPECT_LT(line.size(), 2048u) << "an uncapped line";
    if (line.find("checking it") == std::string::npos) continue;
    ++checking;
    EXPECT_NE(line.find("down\\n[2026-11-29 00:00:00.000] [info] manager: forged\\x1b[2J"),
              std::string::npos)
        << line;
    EXPECT_NE(line.find("http://evil\\r\\n[2026"), std::string::npos) << line;
    EXPECT_NE(line.find("...(" + std::to_string(c.reason.size()) + " bytes)"), std::string::npos)
        << line;
  }
  EXPECT_EQ(checking, 1) << log;
}

}  // namespace
}  // namespace br2k::manager
