// `--timeout` is an overall deadline (docs/security.md, item 2), on real parts: a real anvil
// with the ServiceRegistry hung with SIGSTOP while a real br2k-logserver fleet (3 etcd members,
// 3 replicas) serves, a real TCP socket that accepts and never answers, and a real replica
// paused with SIGSTOP. Each case runs `br2k call` (the call verb's harness) as a user does, under
// `timeout -s KILL` so that a hang fails the test instead of holding it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "br2k/client/service_client.h"
#include "call_harness_path.h"
#include "command.h"
#include "logserver_fleet.h"
#include "registry_chain.h"
#include "test_env.h"

namespace br2k::client {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr int kNodes = 3;
// A command that outlives this is killed (and the test fails on its exit status).
constexpr int kKillAfterS = 90;

struct Timed {
  br2k::testing::CommandResult r;
  double seconds = 0;
};

Timed Br2kCall(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"timeout",    "-s",  "KILL", std::to_string(kKillAfterS),
                                   kCallHarness, "call"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto t0 = Clock::now();
  Timed t;
  t.r = br2k::testing::RunCommand(argv);
  t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "[ measured ] br2k call returned " << t.r.status << " after " << t.seconds << " s\n";
  return t;
}

// A TCP listener on loopback that accepts connections and never answers (nor closes them until
// it is destroyed).
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(fd_, 16) != 0) {
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] {
      while (!stop_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) break;
        held_.push_back(c);  // read nothing, answer nothing
      }
    });
  }
  ~SilentServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    if (accepter_.joinable()) accepter_.join();
    ::close(fd_);
    for (int c : held_) ::close(c);
  }
  int port() const { return port_; }
  int accepted() const { return static_cast<int>(held_.size()); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;  // written by the accepter thread only; read after a finished call
  std::thread accepter_;
};

class ClientDeadlineIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = eth::testing::StartRegistryChain("client-deadline", Deadline::After(60s));
    ASSERT_TRUE(c.ok()) << c.status();
    chain_ = std::move(*c);
    auto f = br2k::testing::LogserverFleet::Create({.dir = dir_.path(),
                                                    .nodes = kNodes,
                                                    .service = "logs",
                                                    .args = br2k::testing::FastFailoverArgs()},
                                                   Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    for (int i = 0; i < kNodes; ++i) {
      Status s = fleet_->Start(i);
      ASSERT_TRUE(s.ok()) << s;
    }
    service_ = br2k::testing::UniqueName("deadline");
    key_file_ = dir_.path() / "claim.key";
    std::ofstream(key_file_) << eth::testing::kAnvilKey1 << "\n";
  }

  void TearDown() override {
    ResumeAnvil();
    for (int i = 0; i < kNodes; ++i) {
      if (paused_[i]) (void)fleet_->Signal(i, SIGCONT);
    }
    if (fleet_) {
      fleet_->StopAll();
      if (HasFailure()) fleet_->DumpLogs(std::cerr);
    }
    chain_.reset();
  }

  void Register(const std::string& location) {
    auto r = chain_->registry->Register(*chain_->owner, eth::ServiceIdFromName(service_), location,
                                        eth::RecoveryInfo{}, Deadline::After(60s));
    ASSERT_TRUE(r.ok()) << r.status();
  }

  void PauseAnvil() {
    ASSERT_EQ(::kill(chain_->anvil->pid(), SIGSTOP), 0);
    anvil_paused_ = true;
  }
  void ResumeAnvil() {
    if (anvil_paused_) ::kill(chain_->anvil->pid(), SIGCONT);
    anvil_paused_ = false;
  }
  void PauseNode(int i) {
    Status s = fleet_->Signal(i, SIGSTOP);
    ASSERT_TRUE(s.ok()) << s;
    paused_[i] = true;
  }

  std::vector<std::string> ChainFlags() {
    return {"--rpc-url",  chain_->anvil->url(),
            "--registry", chain_->registry->address().ToChecksum(),
            "--service",  service_};
  }
  std::vector<std::string> SeedFlags() {
    std::vector<std::string> out;
    for (int i = 0; i < kNodes; ++i) {
      out.push_back("--url");
      out.push_back(fleet_->Url(i));
    }
    return out;
  }

  // The replicated list, read from `leader` (the chain is not needed).
  json Logs(int leader) {
    auto r = br2k::testing::RunCommand(
        {kCallHarness, "call", "/logs", "--url", fleet_->Url(leader), "--timeout", "20"});
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }

  std::unique_ptr<eth::testing::RegistryChain> chain_;
  br2k::testing::ScratchDir dir_{"client-deadline"};
  std::unique_ptr<br2k::testing::LogserverFleet> fleet_;
  std::string service_;
  std::filesystem::path key_file_;
  bool anvil_paused_ = false;
  bool paused_[kNodes] = {false, false, false};
};

// The probe's first finding: with the chain node hung, `br2k call --timeout 10` never returned
// although the leader answered curl at once. Now the known replicas serve the write meanwhile,
// and the claim key's set-up (which asks the chain) does not hold the call either.
TEST_F(ClientDeadlineIT, hungChainNode_knownReplicasServeTheCall) {
  int leader = fleet_->WaitLeader(fleet_->RunningNodes(), Deadline::After(40s));
  ASSERT_GE(leader, 0);
  Register(fleet_->Url(leader));
  PauseAnvil();

  std::vector<std::string> args = {
      "POST", "/logs",  "--data",     R"({"user":"while-hung"})", "--timeout",
      "10",   "--json", "--key-file", key_file_.string()};
  for (const auto& a : ChainFlags()) args.push_back(a);
  for (const auto& a : SeedFlags()) args.push_back(a);
  Timed t = Br2kCall(args);
  ASSERT_EQ(t.r.status, 0) << t.r.err;
  EXPECT_LT(t.seconds, 10 + 5) << t.r.err;
  auto a = json::parse(t.r.out, nullptr, false);
  ASSERT_TRUE(a.is_object()) << t.r.out;
  EXPECT_EQ(a["status"], 200);
  EXPECT_EQ(a["state"], "Success");
  EXPECT_NE(t.r.err.find("no Claims will be sent"), std::string::npos) << t.r.err;
  EXPECT_EQ(Logs(leader)["logs"], json::array({"while-hung"}));
}

// The library behind it: Create returns after registry_wait with the seeds, a Call is served by
// them while the chain hangs, and the registry location arrives once the node runs again.
TEST_F(ClientDeadlineIT, hungChainNode_clientStartsWithSeedsAndReadsTheRegistryLater) {
  int leader = fleet_->WaitLeader(fleet_->RunningNodes(), Deadline::After(40s));
  ASSERT_GE(leader, 0);
  Register(fleet_->Url(leader));
  PauseAnvil();

  ServiceClientOptions o;
  o.rpc = chain_->anvil->client();
  o.registry = chain_->registry->address();
  o.service = service_;
  o.seeds = {fleet_->Url((leader + 1) % kNodes)};  // a follower: its redirect finds the leader
  o.chain_timeout = 1s;
  o.registry_wait = 500ms;
  o.event_poll = 100ms;
  auto c = ServiceClient::Create(std::move(o), Deadline::After(30s));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE((*c)->registry_read());
  auto a = (*c)->Call("POST", "/logs", R"({"user":"seeded"})", Deadline::After(10s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(a->url, fleet_->Url(leader));
  EXPECT_FALSE((*c)->registry_read());

  ResumeAnvil();
  auto until = Deadline::After(30s);
  while (!until.expired() && !(*c)->registry_read()) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE((*c)->registry_read());
  EXPECT_EQ((*c)->registry_location().first, fleet_->Url(leader));
}

// Without a known replica there is nothing to try: a clear DEADLINE_EXCEEDED naming the chain
// node, at the deadline.
TEST_F(ClientDeadlineIT, hungChainNode_noKnownReplica_failsAtTheDeadlineNamingTheNode) {
  int leader = fleet_->WaitLeader(fleet_->RunningNodes(), Deadline::After(40s));
  ASSERT_GE(leader, 0);
  Register(fleet_->Url(leader));
  PauseAnvil();

  std::vector<std::string> args = {"POST",      "/logs", "--data", R"({"user":"lost"})",
                                   "--timeout", "5"};
  for (const auto& a : ChainFlags()) args.push_back(a);
  Timed t = Br2kCall(args);
  EXPECT_EQ(t.r.status, 1) << t.r.err;
  EXPECT_GE(t.seconds, 4.5) << t.r.err;
  EXPECT_LT(t.seconds, 5 + 5) << t.r.err;
  EXPECT_NE(t.r.err.find(chain_->anvil->url()), std::string::npos) << t.r.err;
  EXPECT_NE(t.r.err.find("timed out"), std::string::npos) << t.r.err;
  ResumeAnvil();
  EXPECT_EQ(Logs(leader)["logs"], json::array());
}

// The probe's second finding: `br2k call --url <a server that accepts and never answers>
// --timeout 5` was still running at 45 s.
TEST_F(ClientDeadlineIT, silentServer_callFailsAtTheDeadline) {
  SilentServer silent;
  ASSERT_GT(silent.port(), 0);
  Timed t = Br2kCall({"POST", "/logs", "--data", R"({"user":"x"})", "--url",
                      "http://127.0.0.1:" + std::to_string(silent.port()), "--timeout", "5"});
  EXPECT_EQ(t.r.status, 1) << t.r.err;
  EXPECT_GE(t.seconds, 4.5) << t.r.err;
  EXPECT_LT(t.seconds, 5 + 5) << t.r.err;
  EXPECT_NE(t.r.err.find("no final answer before the deadline"), std::string::npos) << t.r.err;
  EXPECT_NE(t.r.err.find("outcome unknown"), std::string::npos) << t.r.err;
  EXPECT_GE(silent.accepted(), 1);
}

// The probe's third finding: with the leader paused (SIGSTOP), `br2k call --timeout 15` hung past
// 45 s although another replica already led. The registry still names the paused replica.
TEST_F(ClientDeadlineIT, pausedReplica_callReachesTheNewLeader) {
  int old = fleet_->WaitLeader(fleet_->RunningNodes(), Deadline::After(40s));
  ASSERT_GE(old, 0);
  Register(fleet_->Url(old));
  PauseNode(old);
  std::set<int> others;
  for (int i = 0; i < kNodes; ++i) {
    if (i != old) others.insert(i);
  }
  int leader = fleet_->WaitLeader(others, Deadline::After(40s));
  ASSERT_GE(leader, 0);

  std::vector<std::string> args = {
      "POST", "/logs",  "--data",     R"({"user":"after-pause"})", "--timeout",
      "15",   "--json", "--key-file", key_file_.string()};
  for (const auto& a : ChainFlags()) args.push_back(a);
  for (const auto& a : SeedFlags()) args.push_back(a);
  Timed t = Br2kCall(args);
  ASSERT_EQ(t.r.status, 0) << t.r.err;
  EXPECT_LT(t.seconds, 15 + 5) << t.r.err;
  auto a = json::parse(t.r.out, nullptr, false);
  ASSERT_TRUE(a.is_object()) << t.r.out;
  EXPECT_EQ(a["status"], 200);
  EXPECT_EQ(a["url"], fleet_->Url(leader));
  EXPECT_EQ(Logs(leader)["logs"], json::array({"after-pause"}));
}

}  // namespace
}  // namespace br2k::client
