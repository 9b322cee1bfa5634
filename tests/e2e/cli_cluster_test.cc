// `br2k up --detach`, `br2k status [--json]`, `br2k down`, driven through the real executable
// (up_test.cc checks the chain, registry and manager parts in depth).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "br2k/common/run_state.h"
#include "br2k/proc/process.h"
#include "command.h"
#include "test_env.h"

namespace br2k {
namespace {

using CliRun = testing::CommandResult;

CliRun Shell(const std::string& command) {
  return testing::RunShell(command);
}

CliRun Br2k(const std::filesystem::path& run_dir, const std::string& args) {
  return Shell("BR2K_RUN_DIR='" + run_dir.string() + "' '" + (testing::BinDir() / "br2k").string() +
               "' " + args);
}

TEST(Cli, UpStatusDown_fullCycle) {
  testing::ScratchDir dir("cli");
  auto run_dir = dir.path() / "run";

  CliRun none = Br2k(run_dir, "status");
  EXPECT_EQ(none.status, 1);
  EXPECT_NE(none.out.find("nothing is running"), std::string::npos) << none.out;

  CliRun up = Br2k(run_dir, "up --detach --heartbeat-ms 50 --election-ms 500");
  ASSERT_EQ(up.status, 0) << up.out;
  EXPECT_NE(up.out.find("leader"), std::string::npos) << up.out;

  CliRun status = Br2k(run_dir, "status --json");
  ASSERT_EQ(status.status, 0) << status.out;
  auto doc = nlohmann::json::parse(status.out);
  ASSERT_EQ(doc["etcd"].size(), 3u);
  int leaders = 0;
  std::vector<int> pids;
  for (const auto& m : doc["etcd"]) {
    EXPECT_TRUE(m["healthy"].get<bool>()) << m.dump();
    // TLS with client certificates (hardening item 11).
    EXPECT_TRUE(m["client_url"].get<std::string>().rfind("https://127.0.0.1:", 0) == 0) << m.dump();
    EXPECT_FALSE(m["name"].get<std::string>().empty());
    leaders += m["is_leader"].get<bool>();
    pids.push_back(m["pid"].get<int>());
  }
  EXPECT_EQ(leaders, 1);

  // Three replicas of the sample service, one leading, each beside its own etcd member.
  ASSERT_EQ(doc["replicas"].size(), 3u) << doc.dump();
  int service_leaders = 0;
  std::string follower_url;
  for (const auto& r : doc["replicas"]) {
    EXPECT_TRUE(r["healthy"].get<bool>()) << r.dump();
    service_leaders += r["role"] == "Leader";
    if (r["role"] == "Follower") follower_url = r["url"];
    pids.push_back(r["pid"].get<int>());
  }
  EXPECT_EQ(service_leaders, 1);
  EXPECT_EQ(doc["service"]["id"], "logserver");
  ASSERT_FALSE(follower_url.empty());
  // A request sent to a follower is redirected to the leader and committed on every replica.
  CliRun post = Shell("curl -sL -XPOST '" + follower_url +
                      "/logs' -H 'X-Br2k-Client: e2e' -H 'X-Br2k-Seq: 1' -d '{\"user\": \"bob\"}'");
  EXPECT_NE(post.out.find("\"index\":0"), std::string::npos) << "POST answered: " << post.out;
  CliRun logs = Shell("curl -sL '" + follower_url + "/logs'");
  EXPECT_NE(logs.out.find("\"bob\""), std::string::npos) << logs.out;

  // A second `up` reuses what runs instead of starting another cluster.
  CliRun again = Br2k(run_dir, "up --detach");
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("already running"), std::string::npos) << again.out;
  auto after = nlohmann::json::parse(Br2k(run_dir, "status --json").out);
  EXPECT_EQ(after["etcd"][0]["pid"].get<int>(), pids[0]);

  // Three etcd members, three replicas, anvil, the manager, and the dashboard's three etcd
  // members and three replicas.
  auto state = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(state->chain.has_value());
  ASSERT_TRUE(state->manager.has_value());
  ASSERT_TRUE(state->dashboard.has_value());
  pids.push_back(state->chain->anvil_pid);
  pids.push_back(state->manager->pid);
  for (const auto& r : state->dashboard->replicas) pids.push_back(r.pid);
  for (const auto& m : state->dashboard->etcd) pids.push_back(m.pid);
  CliRun down = Br2k(run_dir, "down");
  ASSERT_EQ(down.status, 0) << down.out;
  EXPECT_NE(down.out.find("stopped 14"), std::string::npos) << down.out;
  for (int pid : pids) EXPECT_FALSE(proc::PosixLauncher()->Alive(pid)) << "left behind: " << pid;
  EXPECT_EQ(Br2k(run_dir, "status").status, 1);
  // Down twice is harmless.
  EXPECT_EQ(Br2k(run_dir, "down").status, 0);
}

TEST(Cli, Status_corruptStateFileGivesAClearError) {
  testing::ScratchDir dir("cli");
  std::ofstream(dir.path() / "state.json") << "{ not json";
  CliRun status = Br2k(dir.path(), "status");
  EXPECT_EQ(status.status, 1);
  EXPECT_NE(status.out.find("br2k: "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("not valid JSON"), std::string::npos) << status.out;
  CliRun up = Br2k(dir.path(), "up --detach");
  EXPECT_EQ(up.status, 1);
  EXPECT_NE(up.out.find("br2k down"), std::string::npos) << up.out;
}

// What broke (issue 10, item 12): `br2k up` said to fix a corrupt state file with `br2k down`,
// and `br2k down` refused it. Now it stops what runs there (found by the run directory) and sets
// the file aside, and a fresh `up` can start.
TEST(Cli, Down_corruptStateFile_stopsWhatRunsAndSetsTheFileAside) {
  testing::ScratchDir dir("cli");
  auto run_dir = dir.path() / "run";
  CliRun up =
      Br2k(run_dir, "up --detach --no-manager --no-dashboard --heartbeat-ms 50 --election-ms 500");
  ASSERT_EQ(up.status, 0) << up.out;
  auto state = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(state.ok()) << state.status();
  std::vector<int> pids;
  for (const auto& m : state->etcd) pids.push_back(m.pid);
  for (const auto& r : state->replicas) pids.push_back(r.pid);
  pids.push_back(state->chain->anvil_pid);
  for (int pid : pids) ASSERT_GT(pid, 0);
  std::ofstream(run_dir / "state.json", std::ios::trunc) << "{ \"version\": 1, truncated";
  CliRun down = Br2k(run_dir, "down");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_NE(down.out.find("state file was corrupt"), std::string::npos) << down.out;
  EXPECT_NE(down.out.find("stopped 7 process(es)"), std::string::npos) << down.out;
  for (int pid : pids) EXPECT_FALSE(proc::PosixLauncher()->Alive(pid)) << "left behind: " << pid;
  EXPECT_FALSE(std::filesystem::exists(run_dir / "state.json"));
  bool kept = false;
  for (const auto& e : std::filesystem::directory_iterator(run_dir))
    kept |= e.path().filename().string().starts_with("state.json.corrupt-");
  EXPECT_TRUE(kept) << "the corrupt file is kept for a look";
  CliRun again =
      Br2k(run_dir, "up --detach --no-manager --no-dashboard --heartbeat-ms 50 --election-ms 500");
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(Br2k(run_dir, "down").status, 0);
}

TEST(Cli, UnknownVerbAndBadFlagAreUsageErrors) {
  testing::ScratchDir dir("cli");
  CliRun verb = Br2k(dir.path(), "frobnicate");
  EXPECT_NE(verb.status, 0);
  CliRun flag = Br2k(dir.path(), "up --members 0");
  EXPECT_NE(flag.status, 0);
  EXPECT_NE(flag.out.find("members"), std::string::npos) << flag.out;
}

}  // namespace
}  // namespace br2k
