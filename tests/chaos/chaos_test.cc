// The chaos tier: short scenarios of `br2k chaos` (real etcd members and br2k-logserver replicas
// in network namespaces, anvil with the registry, the papers' attacker, clients), each asserting
// that the history checker passed AND that the faults it was about really happened (a leader
// change after cutting the leader, a replica restarted after its failpoint, a chain outage
// during the load). Needs root (network namespaces); skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "command.h"
#include "test_env.h"

namespace br2k::testing {
namespace {

using nlohmann::json;

struct Outcome {
  int status = -1;
  std::string output;
  json report;
  json check;
  std::vector<json> faults;
};

// Runs `br2k chaos --out <dir> <args>` and reads what it wrote.
Outcome RunChaos(const ScratchDir& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {(BinDir() / "br2k").string(),  "chaos",     "--out",
                                   (dir.path() / "run").string(), "--bin-dir", BinDir().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv);
  Outcome o;
  o.status = r.status;
  o.output = r.out + r.err;
  auto read = [&](const std::string& name) {
    std::ifstream in(dir.path() / "run" / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  o.report = json::parse(read("report.json"), nullptr, false);
  o.check = json::parse(read("check.json"), nullptr, false);
  std::istringstream faults(read("faults.jsonl"));
  for (std::string line; std::getline(faults, line);) {
    if (!line.empty()) o.faults.push_back(json::parse(line, nullptr, false));
  }
  return o;
}

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  }
  // The checker passed, the run acknowledged writes and nothing died unexpectedly.
  static void ExpectPassed(const Outcome& o) {
    ASSERT_FALSE(o.report.is_discarded()) << o.output;
    ASSERT_FALSE(o.check.is_discarded()) << o.output;
    EXPECT_EQ(o.status, 0) << o.output;
    EXPECT_TRUE(o.check["ok"].get<bool>()) << o.check.dump(2);
    EXPECT_TRUE(o.report["replication_success"].get<bool>());
    EXPECT_GT(o.report["acked"].get<uint64_t>(), 20u) << o.output;
  }
};

TEST_F(ChaosTest, leaderCut_checkerPassesAndLeadershipMoves) {
  ScratchDir dir("chaos-leader");
  auto o = RunChaos(dir, {"--nodes",      "3",  "--attacker",    "leader", "--fault",      "cut",
                          "--duration",   "24", "--hold",        "4",      "--period-min", "4",
                          "--period-max", "5",  "--first-fault", "3",      "--clients",    "3",
                          "--rate",       "5",  "--give-up",     "20",     "--seed",       "7"});
  ExpectPassed(o);
  ASSERT_GE(o.faults.size(), 2u) << o.output;
  for (const auto& f : o.faults) {
    EXPECT_EQ(f["kind"], "cut");
    EXPECT_TRUE(f["leader"].get<bool>()) << f.dump();
    EXPECT_GT(f["end_ns"].get<int64_t>(), f["start_ns"].get<int64_t>());
  }
  EXPECT_GE(o.report["leader_changes"].get<uint64_t>(), 1u);
  // After every cut of the leader some other replica acknowledged a write.
  for (const auto& t : o.report["failover_s"]) EXPECT_GE(t.get<double>(), 0.0) << o.report.dump(2);
}

TEST_F(ChaosTest, randomPartition_checkerPasses) {
  ScratchDir dir("chaos-random");
  auto o =
      RunChaos(dir, {"--nodes",      "3",  "--attacker",    "random", "--fault",      "partition",
                     "--duration",   "22", "--hold",        "4",      "--period-min", "3",
                     "--period-max", "4",  "--first-fault", "2",      "--clients",    "2",
                     "--rate",       "5",  "--give-up",     "20",     "--seed",       "11",
                     "--run",        "2"});
  ExpectPassed(o);
  ASSERT_GE(o.faults.size(), 2u) << o.output;
  for (const auto& f : o.faults) {
    EXPECT_EQ(f["kind"], "partition");
    EXPECT_EQ(f["note"], "") << f.dump();
  }
}

TEST_F(ChaosTest, killAtFailpoint_replicasRestartAndCheckerPasses) {
  ScratchDir dir("chaos-failpoint");
  auto o = RunChaos(
      dir, {"--nodes", "3", "--attacker", "none", "--failpoint", "mid_apply:40", "--duration", "20",
            "--clients", "3", "--rate", "5", "--give-up", "20", "--run", "3"});
  ExpectPassed(o);
  EXPECT_GE(o.report["failpoint_kills"].get<int>(), 1) << o.output;
}

TEST_F(ChaosTest, chainOutage_serviceKeepsAcknowledging) {
  ScratchDir dir("chaos-chain");
  auto o = RunChaos(
      dir, {"--nodes", "3", "--attacker",    "random", "--fault",      "chain", "--duration", "20",
            "--hold",  "6", "--first-fault", "4",      "--max-faults", "1",     "--clients",  "2",
            "--rate",  "5", "--give-up",     "20",     "--run",        "4"});
  ExpectPassed(o);
  ASSERT_EQ(o.faults.size(), 1u) << o.output;
  EXPECT_EQ(o.faults[0]["target"], "anvil");
  EXPECT_EQ(o.faults[0]["note"], "") << o.faults[0].dump();
  // Writes were acknowledged while the chain was down.
  auto start = o.faults[0]["start_ns"].get<int64_t>(), end = o.faults[0]["end_ns"].get<int64_t>();
  (void)start;
  (void)end;
  const auto& per_second = o.report["acks_per_second"];
  ASSERT_GT(per_second.size(), 9u);
  uint64_t during = 0;
  for (size_t s = 5; s < 9; ++s) during += per_second[s].get<uint64_t>();
  EXPECT_GT(during, 0u) << o.report.dump(2);
}

}  // namespace
}  // namespace br2k::testing
