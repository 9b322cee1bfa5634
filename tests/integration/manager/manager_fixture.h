// The world of the manager's integration tests: a 3-member etcd cluster, three br2k-logserver
// processes described by a state.json as `br2k up` writes it (argv, logs, data dirs, and a chain
// section naming the service), a real anvil with a deployed ServiceRegistry in which the service
// is registered with local recovery information and the manager's account (anvil key 1) is a
// manager. A test may run the manager in-process (StartManager) or as `br2k manager`.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/http/client.h"
#include "br2k/manager/local_backend.h"
#include "br2k/manager/manager.h"
#include "br2k/proc/process.h"
#include "logserver_fleet.h"
#include "registry_chain.h"
#include "test_env.h"

namespace br2k::manager::it {

using namespace std::chrono_literals;
using eth::RegistryEvent;
using eth::ServiceState;
using nlohmann::json;
using Kind = ManagerAction::Kind;
constexpr int kNodes = 3;

inline Deadline Soon() {
  return Deadline::After(60s);
}

class ManagerFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = eth::testing::StartRegistryChain("manager-it", Soon());
    ASSERT_TRUE(c.ok()) << c.status();
    chain_ = std::move(*c);
  }
  static void TearDownTestSuite() { chain_.reset(); }

  void SetUp() override {
    ASSERT_NE(chain_, nullptr);
    // Node i keeps its data and its log in <dir>/node-<i>/, as `br2k up` lays them out.
    auto f = br2k::testing::LogserverFleet::Create({.dir = dir_.path(),
                                                    .nodes = kNodes,
                                                    .service = "logs",
                                                    .args = br2k::testing::FastFailoverArgs(),
                                                    .data_dir = "node-{i}",
                                                    .log_file = "node-{i}/logserver.log"},
                                                   Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    StartReplicasAndWriteState();
    ASSERT_FALSE(HasFatalFailure());
    // The service on-chain: local recovery info, the manager's account a manager.
    name_ = br2k::testing::UniqueName("logserver");
    id_ = eth::ServiceIdFromName(name_);
    auto r = chain_->registry->Register(*chain_->owner, id_, replicas_[0].url,
                                        eth::RecoveryInfo{"local", 3, "local", {"br2k-logserver"}},
                                        Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    auto m =
        chain_->registry->AddManager(*chain_->owner, id_, chain_->second_key->address(), Soon());
    ASSERT_TRUE(m.ok()) << m.status();
    // The state's chain section names the service and the manager's key file (as `br2k up`
    // writes it).
    const auto key_file = dir_.path() / "manager.key";
    std::ofstream(key_file) << eth::testing::kAnvilKey1 << "\n";
    std::filesystem::permissions(
        key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    RunState s = *RunState::Load(StateFile());
    s.chain = ChainState{.rpc_url = chain_->anvil->url(),
                         .chain_id = eth::testing::kAnvilChainId,
                         .registry = chain_->registry->address().ToChecksum(),
                         .service_name = name_,
                         .manager_key_file = key_file.string()};
    ASSERT_TRUE(s.Save(StateFile()).ok());
    ASSERT_GE(WaitLeader(), 0);
  }

  void TearDown() override {
    StopManager();
    if (!fleet_) return;
    // Stop the replicas the fleet started, and every replica the state names (the manager may
    // have restarted them).
    fleet_->StopAll();
    auto s = RunState::Load(StateFile());
    if (s.ok()) {
      for (const auto& r : s->replicas) {
        if (r.pid > 0 && launcher_->Alive(r.pid)) (void)proc::Terminate(*launcher_, r.pid, 3s);
      }
    }
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  std::filesystem::path StateFile() const { return dir_.path() / "state.json"; }

  void StartReplicasAndWriteState() {
    RunState s;
    s.run_dir = dir_.path().string();
    s.started_at_unix = 1;
    s.heartbeat_ms = 50;
    s.election_ms = 500;
    s.service = fleet_->options().service;
    for (const auto& m : fleet_->cluster().members()) {
      s.etcd.push_back({.name = m.name,
                        .client_url = m.client_url,
                        .peer_url = m.peer_url,
                        .pid = m.pid,
                        .data_dir = m.data_dir.string(),
                        .log_file = m.log_file.string()});
    }
    for (int i = 0; i < kNodes; ++i) {
      std::filesystem::create_directories(fleet_->DataDir(i));
      ReplicaState r{.id = fleet_->Id(i),
                     .url = fleet_->Url(i),
                     .etcd_member = fleet_->cluster().members()[i].name,
                     .data_dir = fleet_->DataDir(i).string(),
                     .log_file = fleet_->LogFile(i).string(),
                     .argv = fleet_->Argv(i)};
      Status spawned = fleet_->Spawn(i);
      ASSERT_TRUE(spawned.ok()) << spawned;
      r.pid = fleet_->pid(i);
      replicas_.push_back(r);
    }
    s.replicas = replicas_;
    ASSERT_TRUE(s.Save(StateFile()).ok());
  }

  // The index of the replica that leads (bounded wait), or -1.
  int WaitLeader(Deadline until = Deadline::After(60s)) {
    while (!until.expired()) {
      for (int i = 0; i < kNodes; ++i) {
        auto r = http::Call(replicas_[i].url, "GET", "/leader", "", {}, Deadline::After(1s));
        if (r.ok() && r->status == 200) return i;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  // Posts {"user": user} through whichever replica leads, retrying the same (client, seq).
  void Post(const std::string& user, uint64_t seq) {
    auto until = Deadline::After(60s);
    while (!until.expired()) {
      int i = WaitLeader(until);
      if (i < 0) break;
      auto r =
          br2k::testing::PostLog(replicas_[i].url, user, "manager-it", seq, Deadline::After(10s));
      if (r.ok() && r->status == 200) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "could not post " << user;
  }

  std::vector<std::string> Logs() {
    int i = WaitLeader();
    if (i < 0) return {};
    auto r = http::Call(replicas_[i].url, "GET", "/logs", "", {}, Deadline::After(10s));
    if (!r.ok() || r->status != 200) return {};
    return json::parse(r->body).at("logs").get<std::vector<std::string>>();
  }

  void KillAllReplicas() {
    for (int i = 0; i < kNodes; ++i) {
      Status killed = fleet_->Kill(i);
      ASSERT_TRUE(killed.ok()) << replicas_[i].id << ": " << killed;
    }
    for (const auto& r : replicas_) {
      auto h = http::Call(r.url, "GET", "/health", "", {}, Deadline::After(1s));
      ASSERT_FALSE(h.ok()) << r.id << " still answers";
    }
  }

  void StartManager(std::function<void(ManagerOptions&)> tweak = nullptr) {
    auto head = chain_->anvil->client()->BlockNumber(Soon());
    ASSERT_TRUE(head.ok());
    ManagerOptions o;
    o.services = {{id_, name_}};
    o.from_block = *head + 1;  // every claim the test sends from now on
    o.claim_window = 10min;
    o.confirm_probes = 2;
    o.confirm_interval = 300ms;
    o.leader_timeout = 60s;
    o.deploy_timeout = 60s;
    if (tweak) tweak(o);
    auto backend = std::make_shared<LocalBackend>(LocalBackendOptions{.run_dir = dir_.path()});
    auto m = Manager::Create(
        o,
        MakeOnChainRegistryGateway(chain_->registry, chain_->second_key, {.poll_interval = 100ms}),
        backend, MakeHttpHealthProber());
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    run_ = std::jthread([this](std::stop_token st) { EXPECT_TRUE(manager_->Run(st).ok()); });
  }

  void StopManager() {
    if (run_.joinable()) {
      run_.request_stop();
      run_.join();
    }
  }

  // Sends a claim from `claimant` and returns once it is mined.
  void SendClaim(eth::TxSender& claimant, const std::string& reason) {
    auto r = chain_->registry->SendClaim(claimant, id_, replicas_[0].url, reason, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Waits until the manager recorded `n` actions and is idle.
  std::vector<ManagerAction> WaitActions(size_t n, Deadline until = Deadline::After(180s)) {
    while (!until.expired() && manager_->actions().size() < n) std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(manager_->WaitIdle(until).ok());
    return manager_->actions();
  }

  std::vector<ServiceState> StateChanges() {
    auto e = chain_->registry->GetEvents(id_, {RegistryEvent::Kind::kStateChanged}, 0, std::nullopt,
                                         Soon());
    EXPECT_TRUE(e.ok()) << e.status();
    std::vector<ServiceState> out;
    if (e.ok()) {
      for (const auto& ev : *e) out.push_back(ev.state);
    }
    return out;
  }

  ServiceState OnChainState() {
    auto s = chain_->registry->GetService(id_, Soon());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->state : ServiceState::kNone;
  }

  // A fresh funded account.
  std::unique_ptr<eth::TxSender> NewClaimant() {
    eth::PrivateKey key = eth::PrivateKey::Random();
    eth::SendOptions opts;
    opts.value = *eth::U256::FromDecimal("1000000000000000000");
    auto fund = chain_->owner->SendAndWait(key.address(), {}, opts, Soon());
    EXPECT_TRUE(fund.ok()) << fund.status();
    auto s =
        eth::TxSender::Create(chain_->anvil->client(), key, eth::testing::kAnvilChainId, Soon());
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  // The manager's key is second_key.
  inline static std::unique_ptr<eth::testing::RegistryChain> chain_;

  br2k::testing::ScratchDir dir_{"manager-it"};
  std::shared_ptr<proc::Launcher> launcher_ = proc::PosixLauncher();
  std::unique_ptr<br2k::testing::LogserverFleet> fleet_;
  std::vector<ReplicaState> replicas_;  // as first written to state.json (pids of the first start)
  std::string name_;
  eth::ServiceId id_;
  std::unique_ptr<Manager> manager_;
  std::jthread run_;
};

}  // namespace br2k::manager::it
