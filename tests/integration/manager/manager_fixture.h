// The world of the manager's integration tests, as `br2k up` makes it: a real anvil with a deployed
// ServiceRegistry, and the service's pods (3 x etcd member + br2k-logserver replica) on the
// process runtime (deploy/process_runtime.h) below the test's directory, registered with their
// recovery information (kind "process", executables pinned by digest); the manager's account
// (anvil key 1) is a manager, and state.json records the deployment as `br2k up` writes it. A test
// may run the manager in-process (StartManager, the process backend) or as `br2k manager`.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/common/etcd_limits.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/deploy/process_runtime.h"
#include "br2k/deploy/recovery.h"
#include "br2k/http/client.h"
#include "br2k/manager/container_backend.h"
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
    name_ = br2k::testing::UniqueName("logserver");
    id_ = eth::ServiceIdFromName(name_);
    auto rt = deploy::ProcessRuntime::Create({.root = dir_.path(), .detach = true});
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime_ = *rt;
    // The deployment: no chain keys (the replicas do not publish; the test registers the
    // service itself), fast failover, executables pinned by digest.
    spec_.name = "logs";
    spec_.nodes = kNodes;
    spec_.addressing = deploy::Addressing::kLoopback;
    spec_.etcd_heartbeat_ms = 50;
    spec_.etcd_election_ms = 500;
    auto app = deploy::PinExecutable(br2k::testing::BinDir() / "br2k-logserver");
    auto etcd = deploy::PinExecutable("/usr/bin/etcd");
    ASSERT_TRUE(app.ok() && etcd.ok()) << app.status() << " " << etcd.status();
    spec_.app_image = *app;
    spec_.etcd_image = *etcd;
    spec_.app_args = br2k::testing::FastFailoverArgs();
    spec_.app_args.push_back(EtcdMaxTxnOpsFlag());
    ASSERT_TRUE(deploy::PickLoopbackPorts(spec_).ok());
    auto deployed = deploy::DeployAndWait(*runtime_, spec_, 0, nullptr, Deadline::After(90s));
    ASSERT_TRUE(deployed.ok()) << deployed.status();
    for (int i = 0; i < kNodes; ++i) {
      urls_.push_back(spec_.AppUrl(static_cast<size_t>(i)));
      first_pids_.push_back(AppPid(i));
    }
    // The service on-chain with its recovery information; the manager's account a manager.
    auto recovery = deploy::RecoveryOf(spec_, "process", "local", "", deploy::kExecutableRegistry);
    auto r = chain_->registry->Register(*chain_->owner, id_, urls_[0],
                                        deploy::EncodeRecovery(recovery), Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    auto m =
        chain_->registry->AddManager(*chain_->owner, id_, chain_->second_key->address(), Soon());
    ASSERT_TRUE(m.ok()) << m.status();
    // state.json as `br2k up` writes it: the deployment and the chain section naming the
    // service and the manager's key file.
    const auto key_file = dir_.path() / "manager.key";
    std::ofstream(key_file) << eth::testing::kAnvilKey1 << "\n";
    std::filesystem::permissions(
        key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    RunState s;
    s.run_dir = dir_.path().string();
    s.started_at_unix = 1;
    s.heartbeat_ms = spec_.etcd_heartbeat_ms;
    s.election_ms = spec_.etcd_election_ms;
    s.service = spec_.name;
    s.containers = ContainerState{.kind = "process",
                                  .context = "local",
                                  .root = dir_.path().string(),
                                  .name = spec_.name,
                                  .nodes = kNodes,
                                  .app_port_base = spec_.app_port_base,
                                  .etcd_client_port_base = spec_.etcd_client_port_base,
                                  .etcd_peer_port_base = spec_.etcd_peer_port_base,
                                  .container_registry = deploy::kExecutableRegistry,
                                  .images = {spec_.app_image, spec_.etcd_image}};
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
    if (!runtime_) return;
    if (HasFailure()) {
      for (int i = 0; i < kNodes; ++i)
        std::cerr << "--- " << spec_.PodName(static_cast<size_t>(i)) << " app log:\n"
                  << proc::TailOfFile(
                         runtime_->LogFile(spec_.PodName(static_cast<size_t>(i)), "app"), 30)
                  << "\n";
    }
    // Every pod, whoever (re)started it.
    (void)runtime_->Remove(spec_, /*purge=*/false, Deadline::After(60s));
  }

  std::filesystem::path StateFile() const { return dir_.path() / "state.json"; }

  // The pid of node i's replica as the runtime records it now (0 when none).
  pid_t AppPid(int i) const {
    for (const auto& p : runtime_->Processes(spec_.PodName(static_cast<size_t>(i))))
      if (p.container == "app" && p.running) return p.identity.pid;
    return 0;
  }
  std::vector<std::string> AppArgv(int i) const {
    for (const auto& p : runtime_->Processes(spec_.PodName(static_cast<size_t>(i))))
      if (p.container == "app") return p.identity.argv;
    return {};
  }

  // The index of the replica that leads (bounded wait), or -1.
  int WaitLeader(Deadline until = Deadline::After(60s)) {
    while (!until.expired()) {
      for (int i = 0; i < kNodes; ++i) {
        auto r = http::Call(urls_[i], "GET", "/leader", "", {}, Deadline::After(1s));
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
      auto r = br2k::testing::PostLog(urls_[i], user, "manager-it", seq, Deadline::After(10s));
      if (r.ok() && r->status == 200) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "could not post " << user;
  }

  std::vector<std::string> Logs() {
    int i = WaitLeader();
    if (i < 0) return {};
    auto r = http::Call(urls_[i], "GET", "/logs", "", {}, Deadline::After(10s));
    if (!r.ok() || r->status != 200) return {};
    return json::parse(r->body).at("logs").get<std::vector<std::string>>();
  }

  // Every machine lost: each pod's processes (etcd member and replica) killed.
  void KillAllReplicas() {
    for (int i = 0; i < kNodes; ++i) {
      Status killed = runtime_->DeletePod(spec_, static_cast<size_t>(i), Deadline::After(30s));
      ASSERT_TRUE(killed.ok()) << spec_.PodName(static_cast<size_t>(i)) << ": " << killed;
    }
    for (const auto& url : urls_) {
      auto h = http::Call(url, "GET", "/health", "", {}, Deadline::After(1s));
      ASSERT_FALSE(h.ok()) << url << " still answers";
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
    // The manager's process backend, as `br2k manager` builds it for a process deployment.
    ContainerBackendOptions co;
    co.runtime = runtime_;
    co.context_name = "local";
    co.image_exists = [](const std::string& reference, Deadline) {
      return deploy::CheckExecutableImage(reference);
    };
    co.base.etcd_heartbeat_ms = spec_.etcd_heartbeat_ms;
    co.base.etcd_election_ms = spec_.etcd_election_ms;
    co.base.app_args = spec_.app_args;
    co.registry =
        MakeOnChainRegistryGateway(chain_->registry, chain_->second_key, {.poll_interval = 100ms});
    auto backend = ContainerBackend::Create(co);
    ASSERT_TRUE(backend.ok()) << backend.status();
    auto m = Manager::Create(
        o,
        MakeOnChainRegistryGateway(chain_->registry, chain_->second_key, {.poll_interval = 100ms}),
        *backend, MakeHttpHealthProber());
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
    auto r = chain_->registry->SendClaim(claimant, id_, urls_[0], reason, Soon());
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
  std::shared_ptr<deploy::ProcessRuntime> runtime_;
  deploy::DeploymentSpec spec_;
  std::vector<std::string> urls_;
  std::vector<pid_t> first_pids_;  // node i's replica as first deployed
  std::string name_;
  eth::ServiceId id_;
  std::unique_ptr<Manager> manager_;
  std::jthread run_;
};

}  // namespace br2k::manager::it
