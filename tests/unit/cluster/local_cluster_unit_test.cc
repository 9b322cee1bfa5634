// LocalCluster with an injected process launcher: no process is started.
#include <gtest/gtest.h>

#include <atomic>

#include "br2k/cluster/local_cluster.h"
#include "test_env.h"

namespace br2k::cluster {
namespace {

using namespace std::chrono_literals;

// Refuses to start anything and counts the attempts.
class RefusingLauncher final : public proc::Launcher {
 public:
  Result<pid_t> Spawn(const proc::SpawnSpec& spec) override {
    ++spawns;
    last_argv = spec.argv;
    return InternalError("fork: resource temporarily unavailable (injected)");
  }
  Status Signal(pid_t, int) override { return NotFoundError("none"); }
  bool Alive(pid_t) override { return false; }
  Result<proc::ExitInfo> Wait(pid_t, Deadline) override { return proc::ExitInfo{}; }
  std::atomic<int> spawns{0};
  std::vector<std::string> last_argv;
};

TEST(LocalClusterUnit, Start_spawnFailureIsReportedNotRetriedForever) {
  testing::ScratchDir dir("cluster-unit");
  auto launcher = std::make_shared<RefusingLauncher>();
  auto o = LocalClusterOptions::TestProfile(dir.path());
  o.launcher = launcher;
  auto c = LocalCluster::Start(o, Deadline::After(10s));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInternal);
  EXPECT_NE(c.status().message().find("injected"), std::string::npos) << c.status();
  EXPECT_EQ(launcher->spawns.load(), 1);  // nothing died, so no retry with other ports
}

TEST(LocalClusterUnit, MemberArguments_carryPreVoteTimeoutsAndTxnLimit) {
  testing::ScratchDir dir("cluster-unit");
  auto launcher = std::make_shared<RefusingLauncher>();
  auto o = LocalClusterOptions::TestProfile(dir.path());
  o.launcher = launcher;
  o.heartbeat_ms = 70;
  o.election_ms = 700;
  (void)LocalCluster::Start(o, Deadline::After(10s));
  const auto& argv = launcher->last_argv;
  auto has = [&](const std::string& a) {
    return std::find(argv.begin(), argv.end(), a) != argv.end();
  };
  EXPECT_TRUE(has("--pre-vote=true"));
  EXPECT_TRUE(has("--heartbeat-interval=70"));
  EXPECT_TRUE(has("--election-timeout=700"));
  EXPECT_TRUE(has("--max-txn-ops=4096"));
  EXPECT_TRUE(has("--name=etcd-0"));
}

}  // namespace
}  // namespace br2k::cluster
