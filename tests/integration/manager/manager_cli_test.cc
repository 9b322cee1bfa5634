// `br2k manager` as `br2k up` starts it (`br2k manager --run-dir <dir>`, every other setting
// from state.json), as a real process against the real world of manager_fixture.h.
#include <sys/wait.h>

#include "manager_fixture.h"

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;
using eth::ServiceState;
using it::kNodes;
using ManagerCliIT = it::ManagerFixture;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Runs `br2k args...` to completion; returns (exit code, stdout+stderr).
std::pair<int, std::string> RunBr2k(const std::filesystem::path& dir,
                                    std::vector<std::string> args) {
  const auto log = dir / "br2k-run.log";
  std::filesystem::remove(log);
  args.insert(args.begin(), (br2k::testing::BinDir() / "br2k").string());
  auto launcher = proc::PosixLauncher();
  auto pid = launcher->Spawn({.argv = args, .log_file = log});
  EXPECT_TRUE(pid.ok()) << pid.status();
  if (!pid.ok()) return {-1, ""};
  auto exit = launcher->Wait(*pid, Deadline::After(240s));
  EXPECT_TRUE(exit.ok()) << exit.status();
  return {exit.ok() ? exit->exit_code : -1, ReadFile(log)};
}

TEST_F(ManagerCliIT, RunDirOnly_redeploysAKilledServiceAndStopsOnSigterm) {
  Post("alice", 1);
  const auto log = dir_.path() / "manager.log";
  auto pid = launcher_->Spawn({.argv = {(br2k::testing::BinDir() / "br2k").string(), "manager",
                                        "--run-dir", dir_.path().string()},
                               .log_file = log});
  ASSERT_TRUE(pid.ok()) << pid.status();
  // It starts following claims at the head it reads at start-up: wait until it says so.
  auto until = Deadline::After(60s);
  while (!until.expired() && ReadFile(log).find("watching Claim events") == std::string::npos) {
    ASSERT_TRUE(launcher_->Alive(*pid)) << ReadFile(log);
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(ReadFile(log).find("watching Claim events of " + name_), std::string::npos)
      << ReadFile(log);

  KillAllReplicas();
  ASSERT_FALSE(HasFatalFailure());
  auto claimant = NewClaimant();
  SendClaim(*claimant, "connection refused");
  const auto mined = Clock::now();
  ASSERT_GE(WaitLeader(Deadline::After(180s)), 0) << ReadFile(log);
  std::cout << "[ manager ] br2k manager: claim mined -> leader serving: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - mined).count()
            << " ms\n";
  // Active once it has recorded the outcome.
  until = Deadline::After(120s);
  while (!until.expired() && ReadFile(log).find("redeployed:") == std::string::npos) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(StateChanges(),
            (std::vector<ServiceState>{ServiceState::kRecovering, ServiceState::kActive}))
      << ReadFile(log);
  EXPECT_EQ(Logs(), std::vector<std::string>{"alice"});
  for (int i = 0; i < kNodes; ++i) EXPECT_NE(AppPid(i), first_pids_[i]) << "node " << i;

  ASSERT_TRUE(launcher_->Signal(*pid, SIGTERM).ok());
  auto exit = launcher_->Wait(*pid, Deadline::After(30s));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->exit_code, 0) << ReadFile(log);
  EXPECT_NE(ReadFile(log).find("claims seen 1, ignored healthy 0, rate-limited 0, coalesced 0, "
                               "too soon 0, redeploys 1, failures 0"),
            std::string::npos)
      << ReadFile(log);
}

TEST_F(ManagerCliIT, Once_handlesTheClaimsOnChainAndExits) {
  auto head = chain_->anvil->client()->BlockNumber(it::Soon());
  ASSERT_TRUE(head.ok());
  auto claimant = NewClaimant();
  SendClaim(*claimant, "is it down?");
  auto [code, out] = RunBr2k(dir_.path(), {"manager", "--run-dir", dir_.path().string(), "--once",
                                           "--from-block", std::to_string(*head + 1)});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("ignored-healthy: service healthy"), std::string::npos) << out;
  EXPECT_TRUE(StateChanges().empty());
}

TEST(ManagerCli, NoRunState_clearErrorNamingTheFlags) {
  br2k::testing::ScratchDir empty("manager-cli-empty");
  auto [code, out] = RunBr2k(empty.path(), {"manager", "--run-dir", empty.path().string()});
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("br2k: no running `br2k up` in " + empty.path().string()), std::string::npos)
      << out;
  EXPECT_NE(out.find("--rpc-url, --registry, --service and --key-file"), std::string::npos) << out;
}

}  // namespace
}  // namespace br2k::manager
