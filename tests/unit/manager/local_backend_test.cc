// The local deployment backend with a scripted launcher and prober: which replicas it restarts,
// with what, what it writes back into state.json, and how it refuses.
#include "br2k/manager/local_backend.h"

#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>

#include "br2k/manager/state_lock.h"
#include "test_env.h"

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;

class FakeLauncher : public proc::Launcher {
 public:
  Result<pid_t> Spawn(const proc::SpawnSpec& spec) override {
    std::lock_guard l(mu);
    if (fail_spawn_of.count(spec.argv.size() > 1 ? spec.argv[1] : "")) {
      return NotFoundError("cannot execute '" + spec.argv[0] + "'");
    }
    specs.push_back(spec);
    pid_t pid = next_pid++;
    if (!children_die) alive.insert(pid);
    return pid;
  }
  Status Signal(pid_t pid, int) override {
    std::lock_guard l(mu);
    alive.erase(pid);
    return Status::Ok();
  }
  bool Alive(pid_t pid) override {
    std::lock_guard l(mu);
    return alive.count(pid) > 0;
  }
  Result<proc::ExitInfo> Wait(pid_t, Deadline) override { return proc::ExitInfo{.exit_code = 2}; }

  std::mutex mu;
  std::set<pid_t> alive;
  std::vector<proc::SpawnSpec> specs;
  std::set<std::string> fail_spawn_of;  // by argv[1]
  bool children_die = false;
  pid_t next_pid = 1000;
};

class AlwaysHealthy : public HealthProber {
 public:
  EndpointHealth Probe(const std::string& url, Deadline) override {
    return EndpointHealth{.url = url, .reachable = true, .healthy = true};
  }
};

eth::RecoveryInfo Info() {
  return eth::RecoveryInfo{"local", 3, "local", {"br2k-logserver"}};
}

class LocalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunState s;
    s.run_dir = dir_.path().string();
    s.started_at_unix = 1;
    s.heartbeat_ms = 100;
    s.election_ms = 1000;
    s.service = "logserver";
    for (int i = 0; i < 3; ++i) {
      std::string id = "node-" + std::to_string(i);
      s.etcd.push_back({.name = "etcd-" + std::to_string(i),
                        .client_url = "http://127.0.0.1:" + std::to_string(2379 + i),
                        .peer_url = "http://127.0.0.1:" + std::to_string(2380 + i),
                        .pid = 500 + i,
                        .data_dir = "d",
                        .log_file = "l"});
      launcher_->alive.insert(500 + i);
      s.replicas.push_back({.id = id,
                            .url = "http://127.0.0.1:" + std::to_string(8000 + i),
                            .pid = 11 + i,
                            .etcd_member = "etcd-" + std::to_string(i),
                            .data_dir = (dir_.path() / id).string(),
                            .log_file = (dir_.path() / (id + ".log")).string(),
                            .argv = {"/opt/bin/br2k-logserver", "--id=" + id, "--listen=x"}});
    }
    s.chain = ChainState{.rpc_url = "http://127.0.0.1:8545",
                         .chain_id = 31337,
                         .registry = "0x00",
                         .service_name = "logserver"};
    Save(s);
  }
  void Save(const RunState& s) { ASSERT_TRUE(s.Save(dir_.path() / "state.json").ok()); }
  RunState Load() { return *RunState::Load(dir_.path() / "state.json"); }

  LocalBackend Backend(std::vector<eth::ServiceId> services = {}) {
    return LocalBackend(LocalBackendOptions{
        .run_dir = dir_.path(),
        .services = std::move(services),
        .launcher = launcher_,
        .prober = std::make_shared<AlwaysHealthy>(),
        .is_running = [l = launcher_](const ReplicaState& r) { return l->Alive(r.pid); },
        .lock_timeout = 200ms});
  }

  testing::ScratchDir dir_{"manager-local-backend"};
  std::shared_ptr<FakeLauncher> launcher_ = std::make_shared<FakeLauncher>();
  const eth::ServiceId id_ = eth::ServiceIdFromName("logserver");
};

TEST_F(LocalBackendTest, Deploy_restartsOnlyTheDeadReplicasAsTheyWereStarted) {
  launcher_->alive.insert(12);  // node-1 runs
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->started, (std::vector<std::string>{"node-0 (pid 1000)", "node-2 (pid 1001)"}));
  EXPECT_EQ(r->already_running, std::vector<std::string>{"node-1 (pid 12)"});
  EXPECT_TRUE(r->warnings.empty());
  ASSERT_EQ(launcher_->specs.size(), 2u);
  const auto before = Load();  // pids changed, argv and paths did not
  EXPECT_EQ(launcher_->specs[0].argv, before.replicas[0].argv);
  EXPECT_EQ(launcher_->specs[0].log_file, before.replicas[0].log_file);
  EXPECT_TRUE(launcher_->specs[0].detach);
  EXPECT_EQ(launcher_->specs[1].argv, before.replicas[2].argv);
  auto after = Load();
  EXPECT_EQ(after.replicas[0].pid, 1000);
  EXPECT_EQ(after.replicas[1].pid, 12);
  EXPECT_EQ(after.replicas[2].pid, 1001);
  // The restart is marked in the replica's own log.
  std::ifstream log(after.replicas[0].log_file);
  std::string line;
  std::getline(log, line);
  EXPECT_NE(line.find("restarting node-0 (previous pid 11 is gone)"), std::string::npos) << line;
}

TEST_F(LocalBackendTest, Deploy_nothingToDoWhenEverythingRuns) {
  launcher_->alive.insert({11, 12, 13});
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->started.empty());
  EXPECT_EQ(r->already_running.size(), 3u);
  EXPECT_TRUE(launcher_->specs.empty());
}

TEST_F(LocalBackendTest, Deploy_refusesRecoveryInfoItCannotDeploy) {
  auto b = Backend();
  auto info = Info();
  info.deploy_context = "kind-br2k";
  auto r = b.Deploy(id_, info, Deadline::After(5s));
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("\"kind-br2k\" is not local"), std::string::npos);
  info = Info();
  info.deploy_context = "local:" + dir_.path().string();
  info.replicas = 5;
  EXPECT_EQ(b.Check(id_, info, Deadline::After(1s)).code(), StatusCode::kFailedPrecondition);
  info.replicas = 3;
  EXPECT_TRUE(b.Check(id_, info, Deadline::After(1s)).ok());
  EXPECT_TRUE(launcher_->specs.empty());
}

TEST_F(LocalBackendTest, Deploy_aReplicaWithoutArgvCannotBeRestarted) {
  auto s = Load();
  s.replicas[1].argv.clear();
  Save(s);
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("replica node-1"), std::string::npos) << r.status();
  EXPECT_TRUE(launcher_->specs.empty());
}

TEST_F(LocalBackendTest, Deploy_replicaThatExitsAtOnceIsReportedWithItsLog) {
  launcher_->children_die = true;
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("node-0 exited right after its restart (exited with"),
            std::string::npos)
      << r.status();
  EXPECT_NE(r.status().message().find("node-0.log"), std::string::npos);
  // What was started is recorded, so `br2k down` would find it.
  EXPECT_EQ(Load().replicas[0].pid, 1000);
}

TEST_F(LocalBackendTest, Deploy_spawnFailureKeepsWhatStartedRecorded) {
  launcher_->fail_spawn_of = {"--id=node-1"};
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot restart node-1"), std::string::npos);
  auto s = Load();
  EXPECT_EQ(s.replicas[0].pid, 1000);
  EXPECT_EQ(s.replicas[1].pid, 12);
  EXPECT_EQ(s.replicas[2].pid, 13);
}

TEST_F(LocalBackendTest, Deploy_waitsForTheStateLock) {
  auto held = StateLock::Acquire(dir_.path(), Deadline::After(1s));
  ASSERT_TRUE(held.ok());
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(launcher_->specs.empty());
}

TEST_F(LocalBackendTest, Deploy_warnsAboutDeadEtcdMembers) {
  launcher_->alive.erase(501);
  auto b = Backend();
  auto r = b.Deploy(id_, Info(), Deadline::After(5s));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("etcd member etcd-1"), std::string::npos);
}

TEST_F(LocalBackendTest, Endpoints_areTheReplicaUrls) {
  auto b = Backend();
  auto e = b.Endpoints(id_, Deadline::After(1s));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(*e, (std::vector<std::string>{"http://127.0.0.1:8000", "http://127.0.0.1:8001",
                                          "http://127.0.0.1:8002"}));
}

TEST_F(LocalBackendTest, Endpoints_otherServiceIsNotFound) {
  auto b = Backend();
  auto e = b.Endpoints(eth::ServiceIdFromName("payments"), Deadline::After(1s));
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("it deploys \"logserver\""), std::string::npos);
  // Configured ids win over the run state's chain section.
  auto configured = Backend({eth::ServiceIdFromName("payments")});
  EXPECT_TRUE(configured.Endpoints(eth::ServiceIdFromName("payments"), Deadline::After(1s)).ok());
  EXPECT_EQ(configured.Endpoints(id_, Deadline::After(1s)).status().code(), StatusCode::kNotFound);
}

TEST_F(LocalBackendTest, Endpoints_withoutChainSectionNeedsConfiguredIds) {
  auto s = Load();
  s.chain.reset();
  Save(s);
  EXPECT_EQ(Backend().Endpoints(id_, Deadline::After(1s)).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Backend({id_}).Endpoints(id_, Deadline::After(1s)).ok());
}

TEST_F(LocalBackendTest, NoStateFile_failedPreconditionMentioningDown) {
  std::filesystem::remove(dir_.path() / "state.json");
  auto b = Backend();
  auto e = b.Endpoints(id_, Deadline::After(1s));
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(e.status().message().find("br2k down"), std::string::npos);
  EXPECT_EQ(b.Deploy(id_, Info(), Deadline::After(1s)).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(LocalBackendTest, CorruptStateFile_failedPrecondition) {
  std::ofstream(dir_.path() / "state.json") << "{not json";
  EXPECT_EQ(Backend().Endpoints(id_, Deadline::After(1s)).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace br2k::manager
