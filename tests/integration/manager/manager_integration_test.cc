// The manager daemon in-process against real components (manager_fixture.h): claims are sent
// on-chain; the manager runs with the real registry gateway, HTTP prober and process backend.
#include "manager_fixture.h"

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;
using eth::ServiceState;
using Kind = ManagerAction::Kind;
using it::kNodes;
using ManagerIT = it::ManagerFixture;

TEST_F(ManagerIT, ClaimAgainstHealthyService_ignoredNoRedeploy) {
  Post("alice", 1);
  StartManager();
  ASSERT_FALSE(HasFatalFailure());
  auto claimant = NewClaimant();
  SendClaim(*claimant, "it looks down to me");
  auto actions = WaitActions(1);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kIgnoredHealthy) << actions[0].detail;
  EXPECT_EQ(actions[0].claimant, claimant->address());
  EXPECT_NE(actions[0].detail.find("healthy leader"), std::string::npos) << actions[0].detail;
  auto c = manager_->counters();
  EXPECT_EQ(c.claims_seen, 1u);
  EXPECT_EQ(c.redeploys, 0u);
  EXPECT_EQ(OnChainState(), ServiceState::kActive);
  EXPECT_TRUE(StateChanges().empty());
  // Nothing was restarted.
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(AppPid(i), first_pids_[i]);
  EXPECT_EQ(Logs(), std::vector<std::string>{"alice"});
}

TEST_F(ManagerIT, AllReplicasKilled_claimRedeploysWithStateIntact) {
  const std::vector<std::string> users = {"alice", "bob", "carol", "dave", "erin"};
  for (size_t i = 0; i < users.size(); ++i) Post(users[i], i + 1);
  ASSERT_EQ(Logs(), users);
  StartManager();
  ASSERT_FALSE(HasFatalFailure());
  KillAllReplicas();
  ASSERT_FALSE(HasFatalFailure());

  auto claimant = NewClaimant();
  SendClaim(*claimant, "connection refused");
  const auto mined = Clock::now();
  const int leader = WaitLeader(Deadline::After(180s));
  const auto serving = Clock::now();
  ASSERT_GE(leader, 0) << "no leader after the claim";
  std::cout << "[ manager ] recovery time, claim mined -> leader serving: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(serving - mined).count()
            << " ms\n";

  auto actions = WaitActions(1);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].kind, Kind::kRedeployed) << actions[0].detail;
  std::cout << "[ manager ] " << actions[0].detail << "; handled in "
            << actions[0].handling_time.count() << " ms\n";
  // The entries written before the kill survived (same data directories).
  EXPECT_EQ(Logs(), users);
  Post("frank", users.size() + 1);
  auto after = users;
  after.push_back("frank");
  EXPECT_EQ(Logs(), after);
  // On-chain: Recovering, then Active.
  EXPECT_EQ(StateChanges(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kActive}));
  EXPECT_EQ(OnChainState(), ServiceState::kActive);
  // New processes, recorded by the runtime, running the pinned executable with the same
  // arguments (same ports, same volumes).
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_NE(AppPid(i), first_pids_[i]) << "node " << i;
    EXPECT_NE(AppPid(i), 0) << "node " << i;
    EXPECT_EQ(AppArgv(i)[0], deploy::OpenExecutableImage(spec_.app_image)->string());
  }
  auto c = manager_->counters();
  EXPECT_EQ(c.redeploys, 1u);
  EXPECT_EQ(c.failures, 0u);
}

TEST_F(ManagerIT, ClaimFlood_onlyTheFirstClaimOfAClaimantIsActedOn) {
  Post("alice", 1);
  StartManager();
  ASSERT_FALSE(HasFatalFailure());
  KillAllReplicas();
  ASSERT_FALSE(HasFatalFailure());
  auto flooder = NewClaimant();
  constexpr int kClaims = 5;
  for (int i = 0; i < kClaims; ++i) SendClaim(*flooder, "flood " + std::to_string(i));
  auto actions = WaitActions(kClaims);
  ASSERT_EQ(actions.size(), static_cast<size_t>(kClaims));
  int redeployed = 0, limited = 0;
  for (const auto& a : actions) {
    EXPECT_EQ(a.claimant, flooder->address());
    redeployed += a.kind == Kind::kRedeployed;
    limited += a.kind == Kind::kRateLimited;
  }
  EXPECT_EQ(redeployed, 1);
  EXPECT_EQ(limited, kClaims - 1);
  EXPECT_EQ(StateChanges(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kActive}));
  EXPECT_EQ(Logs(), std::vector<std::string>{"alice"});
  // Another claimant is still heard: the service is healthy now, so it is ignored.
  auto other = NewClaimant();
  SendClaim(*other, "still down?");
  actions = WaitActions(kClaims + 1);
  ASSERT_EQ(actions.size(), static_cast<size_t>(kClaims + 1));
  EXPECT_EQ(actions.back().kind, Kind::kIgnoredHealthy) << actions.back().detail;
  auto c = manager_->counters();
  EXPECT_EQ(c.claims_seen, static_cast<uint64_t>(kClaims + 1));
  EXPECT_EQ(c.rate_limited, static_cast<uint64_t>(kClaims - 1));
  EXPECT_EQ(c.redeploys, 1u);
}

}  // namespace
}  // namespace br2k::manager
