// The Service Registry Dashboard on real parts: a real 3-member etcd cluster, three
// br2k-dashboard processes (one per member), and a real anvil with the real ServiceRegistry.
// A Claim sent on chain is recorded exactly once in every replica's state, also across a kill -9
// of the dashboard's leader (its event follower moves with the leadership); the services API
// lists what the registry holds and keeps answering after the fail-over; the dashboard publishes
// its own location like any service; a claim sent through the dashboard's own key (a Normal
// request) is sent exactly once, even when the client retries it.
#include "dashboard_fixture.h"

namespace br2k::apps::dashboard {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class DashboardIT : public DashboardFixture {};

TEST_F(DashboardIT, ClaimOnChain_recordedOnceOnEveryReplica_acrossALeaderKill) {
  int leader = fleet_->WaitLeader({0, 1, 2}, Deadline::After(40s));
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % kNodes;
  // The services API (any replica) lists what the registry holds, with its record.
  json services = Get(follower, "/api/services");
  ASSERT_TRUE(ServicesListed(follower)) << services.dump();
  // With ?live=1 each location is asked: the dashboard's own shows its leader.
  bool leads = false;
  for (Deadline d = Deadline::After(30s); !d.expired() && !leads;
       std::this_thread::sleep_for(100ms)) {
    json live = Get(follower, "/api/services?live=1");
    for (const auto& s : live.value("services", json::array())) {
      leads = leads || (s["id"] == dash_.ToHex() && s.contains("live") &&
                        s["live"].value("role", "") == "Leader" &&
                        s["live"].value("id", "") == fleet_->Id(leader));
    }
  }
  EXPECT_TRUE(leads) << "the services list never showed the dashboard's live leader";
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
  // What the manager does about a claim (here the owner, a manager, as br2k's manager would):
  // Recovering, then Active. The claim's outcome follows on every replica.
  for (auto st : {eth::ServiceState::kRecovering, eth::ServiceState::kActive}) {
    auto r = reg_->UpdateState(*chain_->owner, svc_, st, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
  }
  for (int i = 0; i < kNodes; ++i) {
    std::string outcome;
    for (Deadline d = Deadline::After(30s); !d.expired(); std::this_thread::sleep_for(100ms)) {
      json h = Get(i, "/api/services/" + svc_.ToHex());
      if (!h.is_object() || !h["history"].is_object()) continue;
      for (const auto& c : h["history"]["claims"]) {
        if (c["key"] == first) outcome = c["outcome"];
      }
      if (outcome == "Active") break;
    }
    EXPECT_EQ(outcome, "Active") << "node " << i;
  }
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
  // A manager-only function from a key that is not a manager: refused before anything is sent.
  {
    auto h = testing::SessionHeaders("it-browser", 2);
    h["Content-Type"] = "application/json";
    std::string b =
        json{{"function", "updateState"}, {"service", svc_name_}, {"state", "Failed"}}.dump();
    std::string u = fleet_->Url(leader);
    auto r = http::Call(u, "POST", "/api/send", b, h, Deadline::After(30s));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 422) << r->body;
    json j = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(j.value("reason", "").starts_with("updateState: NotManager(")) << r->body;
    auto rec = reg_->GetService(svc_, Soon());
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->state, eth::ServiceState::kActive);
  }
  // The browser's calldata for its wallet encodes the same call.
  auto cd = http::Call(fleet_->Url(leader), "POST", "/api/calldata", body, {}, Deadline::After(5s));
  ASSERT_TRUE(cd.ok());
  json call = json::parse(cd->body);
  EXPECT_EQ(call["to"], reg_->address().ToChecksum()) << cd->body;
}

}  // namespace
}  // namespace br2k::apps::dashboard
