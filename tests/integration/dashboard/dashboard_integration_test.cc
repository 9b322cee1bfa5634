// The Service Registry Dashboard on real parts: a real 3-member etcd cluster, three
// br2k-dashboard processes (one per member), and a real anvil with the real ServiceRegistry.
// A Claim sent on chain is recorded exactly once in every replica's state, also across a kill -9
// of the dashboard's leader (its event follower moves with the leadership); the services API
// lists what the registry holds and keeps answering after the fail-over; the dashboard publishes
// its own location like any service; a claim sent through the dashboard's own key (a Normal
// request) is sent exactly once, even when the client retries it.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "br2k/eth/service_registry.h"
#include "br2k/http/client.h"
#include "logserver_fleet.h"
#include "registry_chain.h"
#include "test_env.h"

namespace br2k::apps::dashboard {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
constexpr int kNodes = 3;
// Operator keys of the dashboard's replicas (they publish its location); key 1 is the dashboard's
// own transaction key; the owner (key 0) sends the users' claims.
const char* const kOperatorKeys[kNodes] = {eth::testing::kAnvilKey2, eth::testing::kAnvilKey3,
                                           eth::testing::kAnvilKey4};

Deadline Soon() {
  return Deadline::After(60s);
}

eth::PrivateKey Key(const char* hex) {
  return *eth::PrivateKey::FromHex(hex);
}

class DashboardIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto chain = eth::testing::StartRegistryChain("dashboard-it", Soon());
    ASSERT_TRUE(chain.ok()) << chain.status();
    chain_ = std::move(*chain);
    reg_ = chain_->registry;
    // The service users claim about, and the dashboard itself.
    eth::RecoveryInfo info{"local", 3, "127.0.0.1:5000", {"br2k-logserver@sha256:00"}};
    auto r = reg_->Register(*chain_->owner, svc_, "http://127.0.0.1:9/svc", info, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    r = reg_->Register(*chain_->owner, dash_, "unpublished", {"local", 3, "", {}}, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    for (int i = 0; i < kNodes; ++i) {
      r = reg_->AddOperator(*chain_->owner, dash_, Key(kOperatorKeys[i]).address(), Soon());
      ASSERT_TRUE(r.ok()) << r.status();
      key_files_.push_back(dir_.path() / ("operator-" + std::to_string(i) + ".key"));
      std::ofstream(key_files_.back()) << kOperatorKeys[i] << "\n";
    }
    tx_key_file_ = dir_.path() / "dashboard-tx.key";
    std::ofstream(tx_key_file_) << eth::testing::kAnvilKey1 << "\n";

    auto args = testing::FastFailoverArgs();
    args.push_back("--rpc-url=" + chain_->anvil->url());
    args.push_back("--registry=" + reg_->address().ToChecksum());
    args.push_back("--chain-id=" + std::to_string(eth::testing::kAnvilChainId));
    args.push_back("--service-name=" + dash_name_);
    args.push_back("--tx-key-file=" + tx_key_file_.string());
    args.push_back("--poll-ms=100");
    auto f = testing::LogserverFleet::Create({.dir = dir_.path(),
                                              .nodes = kNodes,
                                              .service = "dashboard",
                                              .binary = "br2k-dashboard",
                                              .args = args},
                                             Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    for (int i = 0; i < kNodes; ++i) {
      Status s = fleet_->Start(i, {"--operator-key-file=" + key_files_[i].string()});
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  json Get(int node, const std::string& path) {
    auto r = http::Call(fleet_->Url(node), "GET", path, "", {}, Deadline::After(10s));
    if (!r.ok() || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }

  // How many claims with `key` node's copy of the record holds for the service (-1: no answer).
  int ClaimsWithKey(int node, const std::string& key) {
    json h = Get(node, "/api/history");
    if (!h.is_object()) return -1;
    int n = 0;
    for (const auto& s : h["services"]) {
      for (const auto& c : s["claims"]) n += c["key"] == key ? 1 : 0;
    }
    return n;
  }

  // Bounded wait until every node of `nodes` holds exactly one claim `key`.
  bool WaitRecordedOnce(const std::set<int>& nodes, const std::string& key) {
    auto until = Deadline::After(45s);
    while (!until.expired()) {
      bool all = true;
      for (int i : nodes) all = all && ClaimsWithKey(i, key) == 1;
      if (all) return true;
      std::this_thread::sleep_for(100ms);
    }
    for (int i : nodes) {
      ADD_FAILURE() << "node " << i << " holds " << ClaimsWithKey(i, key) << " claim(s) " << key;
    }
    return false;
  }

  std::string SendClaim(const std::string& reason) {
    auto receipt = reg_->SendClaim(*chain_->owner, svc_, "http://127.0.0.1:9/svc", reason, Soon());
    EXPECT_TRUE(receipt.ok()) << receipt.status();
    if (!receipt.ok()) return "";
    for (const auto& log : receipt->logs) {
      auto ev = eth::ServiceRegistry::DecodeEvent(log);
      if (ev.ok() && *ev && (*ev)->kind == eth::RegistryEvent::Kind::kClaim) {
        return (*ev)->transaction_hash.ToHex() + ":" + std::to_string((*ev)->log_index);
      }
    }
    ADD_FAILURE() << "no Claim event in the receipt";
    return "";
  }

  bool ServicesListed(int node) {
    json s = Get(node, "/api/services");
    if (!s.is_object()) return false;
    std::set<std::string> ids;
    for (const auto& v : s["services"]) ids.insert(v.value("id", ""));
    return ids.count(svc_.ToHex()) && ids.count(dash_.ToHex());
  }

  testing::ScratchDir dir_{"dashboard-it"};
  std::string svc_name_ = testing::UniqueName("svc");
  std::string dash_name_ = testing::UniqueName("dashboard");
  eth::ServiceId svc_ = eth::ServiceIdFromName(svc_name_);
  eth::ServiceId dash_ = eth::ServiceIdFromName(dash_name_);
  std::unique_ptr<eth::testing::RegistryChain> chain_;
  std::shared_ptr<eth::ServiceRegistry> reg_;
  std::unique_ptr<testing::LogserverFleet> fleet_;
  std::vector<std::filesystem::path> key_files_;
  std::filesystem::path tx_key_file_;
};

TEST_F(DashboardIT, ClaimOnChain_recordedOnceOnEveryReplica_acrossALeaderKill) {
  int leader = fleet_->WaitLeader({0, 1, 2}, Deadline::After(40s));
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % kNodes;
  // The services API (any replica) lists what the registry holds, with its record.
  json services = Get(follower, "/api/services");
  ASSERT_TRUE(ServicesListed(follower)) << services.dump();
  json one = Get(follower, "/api/services/" + svc_.ToHex());
  EXPECT_EQ(one["record"]["location"], "http://127.0.0.1:9/svc") << one.dump();
  EXPECT_EQ(one["record"]["recovery"]["replicas"], 3);
  // The pages come from the binary.
  auto page = http::Call(fleet_->Url(follower), "GET", "/", "", {}, Deadline::After(5s));
  ASSERT_TRUE(page.ok());
  EXPECT_NE(page->body.find("br2k dashboard"), std::string::npos);

  std::string first = SendClaim("it: first");
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(WaitRecordedOnce({0, 1, 2}, first));
  // The dashboard is a registered service too: its leader published its location.
  auto until = Deadline::After(30s);
  while (!until.expired()) {
    auto loc = reg_->GetServiceLocation(dash_, Deadline::After(5s));
    if (loc.ok() && loc->location == fleet_->Url(leader)) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_FALSE(until.expired()) << "the registry never showed the dashboard's leader";

  Status killed = fleet_->Kill(leader);
  ASSERT_TRUE(killed.ok()) << killed;
  std::set<int> others;
  for (int i = 0; i < kNodes; ++i) {
    if (i != leader) others.insert(i);
  }
  int next = fleet_->WaitLeader(others, Deadline::After(40s));
  ASSERT_GE(next, 0);
  // The new leader's follower records what happens on chain from now on, and nothing twice.
  std::string second = SendClaim("it: second");
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(WaitRecordedOnce(others, second));
  for (int i : others) EXPECT_EQ(ClaimsWithKey(i, first), 1) << "node " << i;
  for (int i : others) EXPECT_TRUE(ServicesListed(i)) << "node " << i;

  // The killed replica comes back and catches up, each claim once.
  Status restarted = fleet_->Start(leader, {"--operator-key-file=" + key_files_[leader].string()});
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(WaitRecordedOnce({leader}, second));
  EXPECT_EQ(ClaimsWithKey(leader, first), 1);
}

TEST_F(DashboardIT, ClaimByTheDashboardsKey_isANormalRequestSentOnce) {
  int leader = fleet_->WaitLeader({0, 1, 2}, Deadline::After(40s));
  ASSERT_GE(leader, 0);
  const std::string body = json{
      {"function", "sendClaim"},
      {"service", svc_name_},
      {"location", "http://127.0.0.1:9/svc"},
      {"reason",
       "it: by the dashboard"}}.dump();
  std::map<std::string, std::string> headers = testing::SessionHeaders("it-browser", 1);
  headers["Content-Type"] = "application/json";
  // Sent to a follower: redirected to the leader, which sends the transaction once; the same
  // (client, seq) again is answered from the record.
  std::string tx;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // Follows redirects; retries while the follower does not know the leader yet (bounded).
    std::string url = fleet_->Url((leader + 1) % kNodes);
    Result<http::ClientResponse> r = UnavailableError("not sent");
    for (Deadline until = Deadline::After(30s); !until.expired();) {
      r = http::Call(url, "POST", "/api/send", body, headers, Deadline::After(30s));
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->status == 307) {
        url = r->headers["x-br2k-leader-url"];
        continue;
      }
      if (r->status != 503) break;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(r->body);
    EXPECT_EQ(j["status"], "success") << r->body;
    if (attempt == 0) tx = j["tx"];
    EXPECT_EQ(j["tx"], tx);
    EXPECT_EQ(r->headers["x-br2k-duplicate"], attempt == 0 ? "" : "true");
  }
  // Its Claim event is recorded once, and its receipt is one click away.
  auto receipt = Get(leader, "/api/receipt/" + tx);
  EXPECT_EQ(receipt["status"], "success") << receipt.dump();
  EXPECT_EQ(receipt["events"], json::array({"Claim"}));
  EXPECT_EQ(receipt["from"], Key(eth::testing::kAnvilKey1).address().ToChecksum());
  auto until = Deadline::After(45s);
  int claims = 0;
  while (!until.expired()) {
    json h = Get((leader + 2) % kNodes, "/api/history");
    claims = 0;
    for (const auto& s : h["services"]) {
      for (const auto& c : s["claims"]) claims += c["tx"] == tx ? 1 : 0;
    }
    if (claims == 1) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(claims, 1);
  // The browser's calldata for its wallet encodes the same call.
  auto cd = http::Call(fleet_->Url(leader), "POST", "/api/calldata", body, {}, Deadline::After(5s));
  ASSERT_TRUE(cd.ok());
  json call = json::parse(cd->body);
  EXPECT_EQ(call["to"], reg_->address().ToChecksum()) << cd->body;
}

}  // namespace
}  // namespace br2k::apps::dashboard
