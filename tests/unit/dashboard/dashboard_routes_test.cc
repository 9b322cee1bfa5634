// The dashboard's HTTP routes on a real replica runtime over the in-memory etcd: pages, notes
// through the log, External_TXN records, the follower's internal request (not reachable over
// HTTP), CORS, and a second replica converging on the recorded events. Plus the calldata of the
// registry transactions the dashboard sends.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/etcd/fake_client.h"
#include "br2k/eth/service_registry.h"
#include "br2k/replication/frontend.h"
#include "br2k/replication/routes.h"
#include "dashboard_app.h"
#include "dashboard_http.h"
#include "registry_view.h"

namespace br2k::apps::dashboard {
namespace {

using namespace std::chrono_literals;
using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;
using replication::Replica;

const std::string kSvc = "0x" + std::string(64, 'a');

template <typename F>
bool WaitFor(F cond) {  // bounded: 20 s
  auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

struct Node {
  explicit Node(DashboardOptions options) : app(std::move(options)) {}
  DashboardApp app;
  replication::MemoryStore store;
  std::unique_ptr<replication::RouteTable> routes;
  std::unique_ptr<Replica> replica;
  http::Handler handler;
};

std::unique_ptr<Node> StartNode(etcd::Client& etcd, const std::string& id, bool raft_leader,
                                DashboardOptions options = {}) {
  auto n = std::make_unique<Node>(std::move(options));
  replication::ReplicaOptions o;
  o.service_id = "dashboard";
  o.replica_id = id;
  o.advertise_url = "http://127.0.0.1:1/" + id;
  o.local_endpoint = raft_leader ? "fake://etcd" : "";
  o.takeover_grace = raft_leader ? 0ms : 600s;
  o.check_interval = 20ms;
  auto r = Replica::Create(o, {.client = &etcd, .app = &n->app, .store = &n->store});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  n->replica = std::move(*r);
  auto routes = replication::RouteTable::Create(n->app.Routes());
  EXPECT_TRUE(routes.ok());
  n->routes = std::make_unique<replication::RouteTable>(std::move(*routes));
  n->handler = MakeDashboardHandler(
      *n->replica, nullptr,
      replication::MakeHandler(*n->replica, n->app, *n->routes,
                               {.advertise_url = o.advertise_url, .request_timeout = 10s}),
      {.advertise_url = o.advertise_url});
  EXPECT_TRUE(n->replica->Start().ok());
  return n;
}

HttpResponse Call(Node& n, const std::string& method, const std::string& path,
                  const std::string& body = "") {
  HttpRequest r{.method = method, .target = path, .path = path, .body = body};
  return n.handler(r);
}

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class DashboardRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_ = StartNode(etcd_, "a", true);
    follower_ = StartNode(etcd_, "b", false);
    ASSERT_TRUE(leader_ && follower_);
    ASSERT_TRUE(
        WaitFor([&] { return leader_->replica->status().role == replication::Role::kLeader; }));
    ASSERT_TRUE(WaitFor([&] { return follower_->replica->status().leader_url != ""; }));
  }
  etcd::FakeClient etcd_;
  std::unique_ptr<Node> leader_, follower_;
};

TEST_F(DashboardRoutes, Pages_servedByEveryReplica) {
  for (Node* n : {leader_.get(), follower_.get()}) {
    auto index = Call(*n, "GET", "/");
    EXPECT_EQ(index.status, 200);
    EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
    EXPECT_NE(index.body.find("<html"), std::string::npos);
    auto js = Call(*n, "GET", "/app.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
    EXPECT_EQ(Header(js, "Access-Control-Allow-Origin"), "*");
  }
}

TEST_F(DashboardRoutes, Notes_throughTheLogOnEveryReplica) {
  auto add = Call(*leader_, "POST", "/api/services/" + kSvc + "/notes",
                  R"({"author":"mgr","text":"checking the claim"})");
  ASSERT_EQ(add.status, 200) << add.body;
  EXPECT_EQ(Header(add, "X-Br2k-State"), "Success");
  uint64_t id = json::parse(add.body)["id"];
  // The follower redirects writes to the leader.
  auto redirected = Call(*follower_, "POST", "/api/services/" + kSvc + "/notes",
                         R"({"author":"mgr","text":"x"})");
  EXPECT_EQ(redirected.status, 307);
  EXPECT_EQ(Header(redirected, "Access-Control-Allow-Origin"), "*");
  // ... and shows the note from its own copy once it has followed.
  ASSERT_TRUE(WaitFor([&] {
    auto h = json::parse(Call(*follower_, "GET", "/api/history").body);
    return h["services"].size() == 1 && h["services"][0]["notes"].size() == 1;
  }));
  auto edit = Call(*leader_, "PUT", "/api/services/" + kSvc + "/notes/" + std::to_string(id),
                   R"({"text":"redeployed"})");
  EXPECT_EQ(edit.status, 200) << edit.body;
  auto bad = Call(*leader_, "POST", "/api/services/" + kSvc + "/notes", R"({"text":"no author"})");
  EXPECT_EQ(bad.status, 400);
  auto state = json::parse(Call(*leader_, "GET", "/api/state").body);
  EXPECT_EQ(state["services"][0]["notes"][0]["text"], "redeployed");
}

TEST_F(DashboardRoutes, ChainEvents_onlyThroughTheFollowerRequest) {
  EventBatch b{.events = {{.kind = "Claim",
                           .service = kSvc,
                           .tx = "0x" + std::string(64, '1'),
                           .log_index = 3,
                           .block = 12,
                           .location = "http://x:1",
                           .account = "0x" + std::string(40, '2')}},
               .next_block = 13};
  // Nobody can forge it over HTTP.
  auto forged = Call(*leader_, "POST", kEventsPath, EncodeEventBatch(b));
  EXPECT_EQ(forged.status, 404);
  // The follower's write path records it once, however often it is submitted.
  for (int i = 0; i < 2; ++i) {
    auto r =
        leader_->replica->Execute(DashboardApp::EventsRequest(b),
                                  replication::RequestType::kReplication, Deadline::After(10s));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(json::parse(r->response.body)["recorded"], i == 0 ? 1 : 0);
  }
  ASSERT_TRUE(WaitFor([&] {
    auto h = json::parse(Call(*follower_, "GET", "/api/history").body);
    return h["next_block"] == 13 && h["services"].size() == 1 &&
           h["services"][0]["claims"].size() == 1;
  }));
}

TEST_F(DashboardRoutes, ExternalTxn_recordedNotApplied) {
  std::string before = leader_->replica->local_state().snapshot;
  auto r = Call(*leader_, "POST", "/api/txs",
                R"({"tx":"0x)" + std::string(64, 'e') + R"(","from":"0x)" + std::string(40, 'f') +
                    R"(","function":"sendClaim","service":")" + kSvc + R"("})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["recorded"], true);
  EXPECT_EQ(leader_->replica->local_state().snapshot, before);
  EXPECT_EQ(Call(*leader_, "POST", "/api/txs", R"({"tx":"0x1"})").status, 400);
}

TEST_F(DashboardRoutes, ChainRoutes_withoutARegistry) {
  EXPECT_EQ(Call(*leader_, "GET", "/api/services").status, 503);
  EXPECT_EQ(Call(*leader_, "POST", "/api/calldata", "{}").status, 503);
  EXPECT_EQ(Call(*leader_, "POST", "/api/send",
                 R"({"function":"sendClaim","service":"logserver","location":"x"})")
                .status,
            400);
  auto svc = Call(*follower_, "GET", "/api/services/" + kSvc);
  ASSERT_EQ(svc.status, 200) << svc.body;
  EXPECT_TRUE(json::parse(svc.body)["record"].is_null());
  EXPECT_EQ(Call(*follower_, "GET", "/api/services/0x12").status, 400);
  auto cfg = json::parse(Call(*follower_, "GET", "/api/config").body);
  EXPECT_EQ(cfg["replica"], "b");
  EXPECT_EQ(cfg["leader"], "a");
}

TEST(DashboardClaimReports, OnlyAManagersSignedReportIsRecorded) {
  // The registry's answer to "may this account report for this service?", as the CLI asks it.
  const std::string registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
  auto manager_key =
      *eth::PrivateKey::FromHex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
  auto stranger_key = eth::PrivateKey::Random();
  DashboardOptions options{
      .registry = registry,
      .may_report = [&](const std::string& service, const std::string& account) -> Result<bool> {
        if (service != kSvc) return UnavailableError("the node does not answer");
        return account == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
      }};
  etcd::FakeClient etcd;
  auto node = StartNode(etcd, "a", true, options);
  ASSERT_TRUE(node);
  ASSERT_TRUE(WaitFor([&] { return node->replica->status().role == replication::Role::kLeader; }));
  auto report = [&](const eth::PrivateKey& key, const std::string& svc) {
    manager::ClaimReport r{.registry = registry,
                           .service = svc,
                           .claim = "0x" + std::string(64, '1') + ":3",
                           .action = "ignored-healthy",
                           .detail = "a leader serves"};
    return manager::EncodeClaimReport(*manager::SignClaimReport(r, key));
  };
  auto by_stranger =
      Call(*node, "POST", "/api/services/" + kSvc + "/outcomes", report(stranger_key, kSvc));
  EXPECT_EQ(by_stranger.status, 403) << by_stranger.body;
  const std::string other = "0x" + std::string(64, 'c');
  auto chain_down =
      Call(*node, "POST", "/api/services/" + other + "/outcomes", report(manager_key, other));
  EXPECT_EQ(chain_down.status, 503) << chain_down.body;
  auto by_manager =
      Call(*node, "POST", "/api/services/" + kSvc + "/outcomes", report(manager_key, kSvc));
  ASSERT_EQ(by_manager.status, 200) << by_manager.body;
  auto h = json::parse(Call(*node, "GET", "/api/state").body);
  ASSERT_EQ(h["services"].size(), 1u);
  EXPECT_EQ(h["services"][0]["id"], kSvc);
}

TEST_F(DashboardRoutes, Options_isACorsPreflight) {
  auto r = Call(*follower_, "OPTIONS", "/api/services/" + kSvc + "/notes");
  EXPECT_EQ(r.status, 204);
  EXPECT_NE(Header(r, "Access-Control-Allow-Headers").find("X-Br2k-Seq"), std::string::npos);
}

TEST(DashboardEncodeTx, MatchesTheRegistryAbi) {
  auto registry = *eth::Address::Parse("0x5FbDB2315678afecb367f032d93F642f64180aa3");
  auto t = ParseTxRequest(
      R"({"function":"sendClaim","service":"logserver","location":"http://a:1","reason":"down"})");
  ASSERT_TRUE(t.ok());
  auto call = EncodeTx(registry, *t);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->to, registry.ToChecksum());
  auto fn = eth::ServiceRegistry::Function("sendClaim");
  ASSERT_TRUE(fn.ok());
  auto args = (*fn)->DecodeCall(*eth::FromHex(call->data));
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_EQ(args->size(), 3u);
  EXPECT_EQ(eth::ToHex((*args)[0].bytes), t->service);
  EXPECT_EQ((*args)[1].AsString(), "http://a:1");
  EXPECT_EQ((*args)[2].AsString(), "down");
  for (
      const char* body :
      {R"({"function":"register","service":"s","location":"l","replicas":3,"images":["a"]})",
       R"({"function":"updateLocation","service":"s","location":"l","epoch":9})",
       R"({"function":"updateState","service":"s","state":"Failed"})",
       R"({"function":"updateRecoveryInfo","service":"s","replicas":1})",
       R"({"function":"addOperator","service":"s","account":"0x5FbDB2315678afecb367f032d93F642f64180aa3"})"}) {
    auto tx = ParseTxRequest(body);
    ASSERT_TRUE(tx.ok()) << body << ": " << tx.status();
    EXPECT_TRUE(EncodeTx(registry, *tx).ok()) << body;
  }
}

}  // namespace
}  // namespace br2k::apps::dashboard
