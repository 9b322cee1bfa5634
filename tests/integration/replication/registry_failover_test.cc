// The Register role end to end: a real 3-member etcd cluster, three br2k-logserver processes
// started with --rpc-url/--registry/--service-name/--operator-key-file (one anvil development
// key per replica), and a real anvil with the ServiceRegistry. The registry follows the leader
// through a kill -9 (a NewLocation event with a higher epoch, timed from the kill); the old
// leader's epoch is refused afterwards; a chain that is down when the leader is elected does not
// stop it serving, and its location is published once the chain comes up. Bad chain flags stop
// the process at start with a clear error.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "anvil.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/http/client.h"
#include "br2k/proc/process.h"
#include "br2k/replication/node_process.h"
#include "br2k/replication/registry_publisher.h"
#include "logserver_fleet.h"
#include "test_env.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using eth::testing::Anvil;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr int kNodes = 3;
const char* const kOperatorKeys[kNodes] = {eth::testing::kAnvilKey1, eth::testing::kAnvilKey2,
                                           eth::testing::kAnvilKey3};

Deadline Soon() {
  return Deadline::After(60s);
}

eth::PrivateKey Key(const char* hex) {
  return *eth::PrivateKey::FromHex(hex);
}

long Ms(Clock::duration d) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

class RegistryFailoverIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::LogserverFleet::Create({.dir = dir_.path(),
                                              .nodes = kNodes,
                                              .service = "logs",
                                              .args = testing::FastFailoverArgs()},
                                             Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    for (int i = 0; i < kNodes; ++i) {
      key_files_.push_back(dir_.path() / ("operator-" + std::to_string(i) + ".key"));
      std::ofstream(key_files_.back()) << kOperatorKeys[i] << "\n";
    }
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  std::string Url(int i) const { return fleet_->Url(i); }

  void StartNode(int i, const std::string& rpc_url, const eth::Address& registry) {
    Status s = fleet_->Start(
        i, {"--rpc-url=" + rpc_url, "--registry=" + registry.ToChecksum(),
            "--service-name=" + service_name_, "--operator-key-file=" + key_files_[i].string()});
    ASSERT_TRUE(s.ok()) << s;
  }

  int WaitLeader(std::set<int> among) { return fleet_->WaitLeader(among, Deadline::After(40s)); }

  json StatusOf(int i) {
    auto r = http::Call(Url(i), "GET", "/status", "", {}, Deadline::After(3s));
    if (!r.ok() || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }

  // POST /logs through node `i` (following one redirect), retried until a 200.
  int PostVia(int i, const std::string& user, uint64_t seq) {
    auto until = Deadline::After(30s);
    int status = 0;
    std::string url = Url(i);
    while (!until.expired()) {
      auto r = testing::PostLog(url, user, "registry-it", seq, Deadline::After(8s));
      if (r.ok()) status = r->status;
      if (r.ok() && r->status == 200) return 200;
      if (r.ok() && r->status == 307) {
        url = r->headers["x-br2k-leader-url"];
        continue;
      }
      std::this_thread::sleep_for(100ms);
    }
    return status;
  }

  // Deploys the registry from dev key 0 and registers the service, with each replica's key as
  // an operator.
  Result<eth::Address> DeployAndRegister(std::shared_ptr<eth::RpcClient> client) {
    BR2K_ASSIGN_OR_RETURN(auto owner, eth::TxSender::Create(client, Key(eth::testing::kAnvilKey0),
                                                            eth::testing::kAnvilChainId, Soon()));
    BR2K_ASSIGN_OR_RETURN(eth::Address addr, eth::ServiceRegistry::Deploy(*owner, Soon()));
    eth::ServiceRegistry reg(client, addr);
    eth::RecoveryInfo info{"kind-br2k", 3, "harbor.local/br2k", {"br2k-logserver:dev"}};
    BR2K_RETURN_IF_ERROR(reg.Register(*owner, id(), "unpublished", info, Soon()).status());
    for (const char* k : kOperatorKeys) {
      BR2K_RETURN_IF_ERROR(reg.AddOperator(*owner, id(), Key(k).address(), Soon()).status());
    }
    return addr;
  }

  eth::ServiceId id() const { return eth::ServiceIdFromName(service_name_); }

  // Bounded wait until the registry shows `url`; returns its epoch (0 on timeout).
  uint64_t WaitRegistryShows(eth::ServiceRegistry& reg, const std::string& url) {
    auto until = Deadline::After(60s);
    while (!until.expired()) {
      auto loc = reg.GetServiceLocation(id(), Deadline::After(5s));
      if (loc.ok() && loc->location == url) return loc->epoch;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "the registry never showed " << url;
    return 0;
  }

  testing::ScratchDir dir_{"registry-it"};
  std::string service_name_ = testing::UniqueName("logserver");
  std::unique_ptr<testing::LogserverFleet> fleet_;
  std::vector<std::filesystem::path> key_files_;
};

TEST_F(RegistryFailoverIT, KilledLeader_registryFollowsAndTheOldEpochIsRefused) {
  auto anvil = Anvil::Start("registry-failover");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  auto client = (*anvil)->client();
  auto addr = DeployAndRegister(client);
  ASSERT_TRUE(addr.ok()) << addr.status();
  eth::ServiceRegistry reg(client, *addr);
  for (int i = 0; i < kNodes; ++i) StartNode(i, (*anvil)->url(), *addr);

  int old = WaitLeader({0, 1, 2});
  ASSERT_GE(old, 0);
  uint64_t e1 = WaitRegistryShows(reg, Url(old));
  ASSERT_GT(e1, 0u);
  json st = StatusOf(old);
  EXPECT_EQ(st["epoch"], e1) << "the registry carries the leader's fencing epoch";
  EXPECT_EQ(st["registry"]["published"]["url"], Url(old)) << st.dump();
  EXPECT_EQ(st["registry"]["published"]["epoch"], e1);
  EXPECT_EQ(st["registry"]["operator"], Key(kOperatorKeys[old]).address().ToChecksum());
  EXPECT_TRUE(st["registry"]["pending"].is_null()) << st.dump();
  ASSERT_EQ(PostVia((old + 1) % kNodes, "before", 1), 200);

  auto head = client->BlockNumber(Soon());
  ASSERT_TRUE(head.ok());
  auto t_kill = Clock::now();
  Status killed = fleet_->Kill(old);
  ASSERT_TRUE(killed.ok()) << killed;

  std::optional<eth::RegistryEvent> moved;
  eth::LogWatcher::Options wopt;
  wopt.poll_interval = 20ms;
  Status watch = reg.Watch(
      id(), {eth::RegistryEvent::Kind::kNewLocation}, *head + 1,
      [&](const eth::RegistryEvent& ev) {
        if (ev.epoch <= e1) return Status::Ok();
        moved = ev;
        return CancelledError("seen");
      },
      std::stop_token(), Deadline::After(60s), wopt);
  auto t_event = Clock::now();
  ASSERT_TRUE(moved.has_value()) << watch;
  std::cout << "[registry] kill -9 of the leader -> NewLocation(epoch " << moved->epoch << ", "
            << moved->location << ") observed in " << Ms(t_event - t_kill) << " ms (old epoch "
            << e1 << ")\n";

  std::set<int> others;
  for (int i = 0; i < kNodes; ++i) {
    if (i != old) others.insert(i);
  }
  int next = WaitLeader(others);
  ASSERT_GE(next, 0);
  EXPECT_EQ(moved->location, Url(next));
  EXPECT_GT(moved->epoch, e1);
  EXPECT_EQ(StatusOf(next)["epoch"], moved->epoch);
  auto loc = reg.GetServiceLocation(id(), Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, Url(next));
  EXPECT_EQ(loc->epoch, moved->epoch);
  EXPECT_EQ(PostVia(next, "after", 2), 200);

  // The deposed leader's epoch, sent with its own operator key: refused, location unchanged.
  RegistryPublisherOptions o;
  o.client = client;
  o.registry = *addr;
  o.service = id();
  o.operator_key = Key(kOperatorKeys[old]);
  o.chain_id = eth::testing::kAnvilChainId;
  auto stale = RegistryLocationPublisher::Create(o);
  ASSERT_TRUE(stale.ok());
  Status refused = (*stale)->Publish(Url(old), static_cast<int64_t>(e1), Deadline::After(10s));
  EXPECT_EQ(refused.code(), StatusCode::kAborted) << refused;
  // And straight to the contract, past the publisher's own read.
  auto sender =
      eth::TxSender::Create(client, Key(kOperatorKeys[old]), eth::testing::kAnvilChainId, Soon());
  ASSERT_TRUE(sender.ok());
  auto direct = reg.UpdateLocation(**sender, id(), Url(old), e1, Soon());
  EXPECT_EQ(direct.status().code(), StatusCode::kAborted) << direct.status();
  loc = reg.GetServiceLocation(id(), Soon());
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->location, Url(next));
  EXPECT_EQ(loc->epoch, moved->epoch);
}

TEST_F(RegistryFailoverIT, ChainDownAtElection_leaderServesAndPublishesWhenTheChainComesUp) {
  auto port = proc::FreePort("127.0.0.1");
  ASSERT_TRUE(port.ok());
  const std::string rpc_url = "http://127.0.0.1:" + std::to_string(*port);
  eth::Address registry = eth::CreateAddress(Key(eth::testing::kAnvilKey0).address(), 0);
  for (int i = 0; i < kNodes; ++i) StartNode(i, rpc_url, registry);

  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  // Serving without the chain: a client that asks a follower is redirected to the leader.
  ASSERT_EQ(PostVia((leader + 1) % kNodes, "no-chain", 1), 200);
  json st = StatusOf(leader);
  EXPECT_EQ(st["registry"]["pending"]["url"], Url(leader)) << st.dump();
  EXPECT_EQ(st["registry"]["pending"]["retrying"], true) << st.dump();
  EXPECT_NE(st["registry"]["last_error"].get<std::string>().find("UNAVAILABLE"), std::string::npos)
      << st.dump();

  auto anvil = Anvil::Start("registry-late-chain", *port);
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  auto t_up = Clock::now();
  auto addr = DeployAndRegister((*anvil)->client());
  ASSERT_TRUE(addr.ok()) << addr.status();
  ASSERT_EQ(*addr, registry);
  eth::ServiceRegistry reg((*anvil)->client(), registry);
  uint64_t epoch = WaitRegistryShows(reg, Url(leader));
  std::cout << "[registry] location published " << Ms(Clock::now() - t_up)
            << " ms after the chain came up (deploy and registration included)\n";
  EXPECT_EQ(StatusOf(leader)["epoch"], epoch);
  // The publisher is idle again (bounded wait for its state to settle after the receipt).
  auto until = Deadline::After(10s);
  while (!until.expired() && !StatusOf(leader)["registry"]["pending"].is_null()) {
    std::this_thread::sleep_for(50ms);
  }
  st = StatusOf(leader);
  EXPECT_TRUE(st["registry"]["pending"].is_null()) << st.dump();
  EXPECT_EQ(st["registry"]["last_error"], "") << st.dump();
  EXPECT_EQ(st["registry"]["published"]["epoch"], epoch);
}

// Issue 10 item 6: a follower's operator key rewrote the leader's location at the current epoch
// and the leader never noticed. Now the contract refuses that; a location changed by a manager's
// repair (below the leader's epoch) is restored by the leader itself, and one written at a higher
// epoch by another operator makes the leader resign and claim again, so a new epoch publishes over
// it.
TEST_F(RegistryFailoverIT, HijackedLocation_restoredByTheLeader) {
  auto anvil = Anvil::Start("registry-hijack");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  auto client = (*anvil)->client();
  auto addr = DeployAndRegister(client);
  ASSERT_TRUE(addr.ok()) << addr.status();
  eth::ServiceRegistry reg(client, *addr);
  for (int i = 0; i < kNodes; ++i) StartNode(i, (*anvil)->url(), *addr);
  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  uint64_t e1 = WaitRegistryShows(reg, Url(leader));
  ASSERT_GT(e1, 0u);
  const int follower = (leader + 1) % kNodes;
  const std::string evil = "http://127.0.0.1:9/hijacked";
  auto follower_key = eth::TxSender::Create(client, Key(kOperatorKeys[follower]),
                                            eth::testing::kAnvilChainId, Soon());
  ASSERT_TRUE(follower_key.ok());
  auto owner = eth::TxSender::Create(client, Key(eth::testing::kAnvilKey0),
                                     eth::testing::kAnvilChainId, Soon());
  ASSERT_TRUE(owner.ok());

  // (1) At the leader's epoch: refused by the contract.
  auto same = reg.UpdateLocation(**follower_key, id(), evil, e1, Soon());
  EXPECT_EQ(same.status().code(), StatusCode::kAborted) << same.status();
  EXPECT_NE(same.status().message().find("EpochHeldByOther"), std::string::npos);
  EXPECT_EQ(reg.GetServiceLocation(id(), Soon())->location, Url(leader));

  // (2) A repair below the leader's epoch: the leader restores its location, at its epoch.
  auto t0 = Clock::now();
  ASSERT_TRUE(reg.RepairLocation(**owner, id(), evil, 0, Soon()).ok());
  EXPECT_EQ(WaitRegistryShows(reg, Url(leader)), e1);
  std::cout << "[registry] location repaired away to epoch 0: restored by the leader in "
            << Ms(Clock::now() - t0) << " ms\n";
  json st = StatusOf(leader);
  EXPECT_EQ(st["role"], "Leader");
  EXPECT_EQ(st["epoch"], e1);
  EXPECT_GE(st["registry"]["counters"]["restores"].get<uint64_t>(), 1u) << st.dump();

  // (3) Above the leader's epoch, by another operator: the leader resigns, a new claim (a newer
  // etcd revision) publishes over it.
  t0 = Clock::now();
  ASSERT_TRUE(reg.UpdateLocation(**follower_key, id(), evil, e1 + 1, Soon()).ok());
  auto until = Deadline::After(60s);
  eth::ServiceLocation loc;
  while (!until.expired()) {
    auto l = reg.GetServiceLocation(id(), Deadline::After(5s));
    if (l.ok() && l->location != evil && l->epoch > e1 + 1) {
      loc = *l;
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(loc.epoch, e1 + 1) << "the hijacked location was never replaced";
  std::cout << "[registry] location hijacked at a higher epoch: republished by a leader at epoch "
            << loc.epoch << " in " << Ms(Clock::now() - t0) << " ms\n";
  int now = WaitLeader({0, 1, 2});
  ASSERT_GE(now, 0);
  EXPECT_EQ(loc.location, Url(now));
  EXPECT_EQ(PostVia(now, "after-hijack", 1), 200);
}

// Issue 10 item 4: with the registry refusing every claim, the replicas claimed and resigned in a
// tight loop (380 step-downs in 25 s, etcd revision +43/s). Here another operator writes a
// foreign location 2^40 epochs ahead (a legal jump the etcd revision never reaches): every claim
// is refused, and the replicas back off. A manager's repair then lets a replica lead again.
TEST_F(RegistryFailoverIT, RegistryRefusesEveryClaim_replicasBackOffInsteadOfLooping) {
  auto anvil = Anvil::Start("registry-refuses");
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  auto client = (*anvil)->client();
  auto addr = DeployAndRegister(client);
  ASSERT_TRUE(addr.ok()) << addr.status();
  eth::ServiceRegistry reg(client, *addr);
  for (int i = 0; i < kNodes; ++i) StartNode(i, (*anvil)->url(), *addr);
  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  uint64_t e1 = WaitRegistryShows(reg, Url(leader));
  ASSERT_GT(e1, 0u);
  auto etcd = etcd::GrpcClient::Create({.endpoints = fleet_->cluster().client_urls()});
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  auto revision = [&]() -> int64_t {
    auto r = (*etcd)->Range({.key = "/"}, Deadline::After(5s));
    return r.ok() ? r->header.revision : -1;
  };

  const int other = (leader + 1) % kNodes;
  auto other_key =
      eth::TxSender::Create(client, Key(kOperatorKeys[other]), eth::testing::kAnvilChainId, Soon());
  ASSERT_TRUE(other_key.ok());
  const std::string foreign = "http://127.0.0.1:9/foreign";
  ASSERT_TRUE(
      reg.UpdateLocation(**other_key, id(), foreign, e1 + (uint64_t{1} << 40), Soon()).ok());

  // Bounded window: count the refusals and the etcd revision growth.
  std::this_thread::sleep_for(3s);  // the leader's check notices and resigns
  const int64_t rev0 = revision();
  auto refusals = [&] {
    uint64_t n = 0;
    for (int i = 0; i < kNodes; ++i) {
      json s = StatusOf(i);
      if (s.is_object()) n += s.value("registry_refusals", uint64_t{0});
    }
    return n;
  };
  const uint64_t before = refusals();
  std::this_thread::sleep_for(25s);
  const uint64_t in_window = refusals() - before;
  const int64_t rev1 = revision();
  std::cout << "[registry] every claim refused: " << in_window
            << " refused claims (step-downs) in 25 s across " << kNodes
            << " replicas; etcd revision +" << (rev1 - rev0) << " ("
            << static_cast<double>(rev1 - rev0) / 25.0 << "/s)\n";
  EXPECT_GE(before + in_window, 1u) << "the registry did refuse";
  EXPECT_LE(in_window, 30u) << "backing off, not looping (issue 10 saw 380)";
  EXPECT_LE(rev1 - rev0, 25 * 10) << "etcd revision growth bounded";
  for (int i = 0; i < kNodes; ++i) EXPECT_NE(StatusOf(i)["role"], "Leader");

  // The manager repairs it; a replica leads and publishes again (within the claim backoff).
  auto owner = eth::TxSender::Create(client, Key(eth::testing::kAnvilKey0),
                                     eth::testing::kAnvilChainId, Soon());
  ASSERT_TRUE(owner.ok());
  auto t0 = Clock::now();
  ASSERT_TRUE(reg.RepairLocation(**owner, id(), foreign, 0, Soon()).ok());
  int next = WaitLeader({0, 1, 2});
  ASSERT_GE(next, 0);
  auto until = Deadline::After(60s);
  while (!until.expired()) {
    auto l = reg.GetServiceLocation(id(), Deadline::After(5s));
    if (l.ok() && l->location != foreign && l->epoch > 0) break;
    std::this_thread::sleep_for(100ms);
  }
  next = WaitLeader({0, 1, 2});
  ASSERT_GE(next, 0);
  EXPECT_EQ(reg.GetServiceLocation(id(), Soon())->location, Url(next));
  std::cout << "[registry] after repairLocation: a leader published again in "
            << Ms(Clock::now() - t0) << " ms\n";
  EXPECT_EQ(PostVia(next, "after-repair", 1), 200);
}

// No cluster needed: the flags are checked before the replica contacts etcd.
TEST(RegistryFlagsIT, BadChainFlags_failAtStartWithAClearError) {
  testing::ScratchDir dir("registry-flags");
  auto launcher = proc::PosixLauncher();
  auto port = proc::FreePort();
  ASSERT_TRUE(port.ok());
  auto key_file = dir.path() / "operator.key";
  std::ofstream(key_file) << eth::testing::kAnvilKey1 << "\n";
  const std::string some_address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  std::vector<Case> cases = {
      {{"--rpc-url=http://127.0.0.1:1", "--registry=0x1234",
        "--operator-key-file=" + key_file.string()},
       "--registry"},
      {{"--rpc-url=http://127.0.0.1:1", "--registry=" + some_address,
        "--operator-key-file=" + (dir.path() / "missing.key").string()},
       "--operator-key-file"},
      {{"--registry=" + some_address}, "go together"},
      {{"--rpc-url=ws://127.0.0.1:1", "--registry=" + some_address,
        "--operator-key-file=" + key_file.string()},
       "--rpc-url"},
  };
  int n = 0;
  for (const auto& c : cases) {
    LogserverNode node{.id = "bad-" + std::to_string(n),
                       .service = "logs",
                       .listen_port = *port,
                       .etcd_urls = {"http://127.0.0.1:1"},
                       .local_etcd_url = "http://127.0.0.1:1",
                       .data_dir = dir.path() / ("data-" + std::to_string(n))};
    node.extra_args = c.args;
    auto log = dir.path() / ("bad-" + std::to_string(n) + ".log");
    auto pid = launcher->Spawn(
        {.argv = LogserverArgv(testing::BinDir() / "br2k-logserver", node), .log_file = log});
    ASSERT_TRUE(pid.ok());
    auto exit = launcher->Wait(*pid, Deadline::After(20s));
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(exit->exit_code, 1) << c.expect;
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_NE(text.find(c.expect), std::string::npos) << text;
    ++n;
  }
}

}  // namespace
}  // namespace br2k::replication
