// The HTTP front end of a replica (frontend.h) on its own: a small application on the replica
// runtime over the in-memory etcd, called through the handler as the server would. What each
// answer means to a client: the committed result with its index, a redirect to the leader,
// refusals that log nothing (bad session, bytes that cannot be stored exactly, an application's
// Validate: 400 / 403 / 503), unknown routes and methods, and the probes.
#include "br2k/replication/frontend.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/etcd/fake_client.h"
#include "br2k/replication/application.h"
#include "br2k/replication/local_store.h"
#include "br2k/replication/routes.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;

// A key-value map: PUT /kv/{key} stores the body; GET /kv reads everything. Validate refuses
// some bodies the way a real application does.
class KvApp final : public Application {
 public:
  std::vector<Route> Routes() const override {
    return {{"GET", "/kv", RequestType::kReadOnly},
            {"PUT", "/kv/{key}", RequestType::kReplication}};
  }
  Status Validate(const Request& r, RequestType) const override {
    if (r.body == "forbidden") return PermissionDeniedError("not yours");
    if (r.body == "later") return UnavailableError("a dependency does not answer");
    if (r.body == "bad") return InvalidArgumentError("malformed value");
    return Status::Ok();
  }
  ApplyResult Apply(const Request& r, const ApplyContext& ctx) override {
    kv_[r.params.at("key")] = r.body;
    return {
        Outcome::kSuccess,
        {.status = 201, .body = json{{"index", ctx.index}, {"key", r.params.at("key")}}.dump()}};
  }
  Response Read(const Request&) const override { return {.body = json(kv_).dump()}; }
  std::string Snapshot() const override { return json(kv_).dump(); }
  Status Restore(std::string_view s) override {
    kv_.clear();
    if (!s.empty()) kv_ = json::parse(s).get<std::map<std::string, std::string>>();
    return Status::Ok();
  }

 private:
  std::map<std::string, std::string> kv_;
};

template <typename F>
bool WaitFor(F cond) {  // a bound, not a timing assertion
  auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

struct Node {
  KvApp app;
  MemoryStore store;
  std::unique_ptr<RouteTable> routes;
  std::unique_ptr<Replica> replica;
  http::Handler handler;
};

std::unique_ptr<Node> StartNode(etcd::Client& etcd, const std::string& id, bool raft_leader) {
  auto n = std::make_unique<Node>();
  ReplicaOptions o;
  o.service_id = "kv";
  o.replica_id = id;
  o.advertise_url = "http://127.0.0.1:1/" + id;
  o.local_endpoint = raft_leader ? "fake://etcd" : "";
  o.takeover_grace = raft_leader ? 0ms : 600s;
  o.check_interval = 20ms;
  auto r = Replica::Create(o, {.client = &etcd, .app = &n->app, .store = &n->store});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  n->replica = std::move(*r);
  auto routes = RouteTable::Create(n->app.Routes());
  EXPECT_TRUE(routes.ok());
  n->routes = std::make_unique<RouteTable>(std::move(*routes));
  n->handler = MakeHandler(*n->replica, n->app, *n->routes,
                           {.advertise_url = o.advertise_url, .request_timeout = 10s});
  EXPECT_TRUE(n->replica->Start().ok());
  return n;
}

HttpResponse Call(Node& n, const std::string& method, const std::string& target,
                  const std::string& body = "", std::map<std::string, std::string> headers = {}) {
  HttpRequest r{.method = method, .target = target, .headers = std::move(headers), .body = body};
  EXPECT_TRUE(http::SplitTarget(target, r.path, r.query).ok());
  return n.handler(r);
}

std::map<std::string, std::string> Session(const std::string& client, uint64_t seq) {
  return {{"x-br2k-client", client}, {"x-br2k-seq", std::to_string(seq)}};
}

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class Frontend : public ::testing::Test {
 protected:
  void SetUp() override {
    leader_ = StartNode(etcd_, "a", true);
    follower_ = StartNode(etcd_, "b", false);
    ASSERT_TRUE(leader_ && follower_);
    ASSERT_TRUE(WaitFor([&] { return leader_->replica->status().role == Role::kLeader; }));
    ASSERT_TRUE(WaitFor([&] { return !follower_->replica->status().leader_url.empty(); }));
  }
  uint64_t LogSize() { return leader_->replica->status().ls; }
  etcd::FakeClient etcd_;
  std::unique_ptr<Node> leader_, follower_;
};

TEST_F(Frontend, Write_answersTheCommittedResultAndARetryGetsTheSameOne) {
  auto first = Call(*leader_, "PUT", "/kv/a", "1", Session("c1", 1));
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(Header(first, "X-Br2k-State"), "Success");
  const std::string index = Header(first, "X-Br2k-Index");
  EXPECT_EQ(json::parse(first.body)["index"].dump(), index);
  EXPECT_EQ(Header(first, "X-Br2k-Duplicate"), "");
  const uint64_t ls = LogSize();
  auto retry = Call(*leader_, "PUT", "/kv/a", "1", Session("c1", 1));
  EXPECT_EQ(retry.status, 201);
  EXPECT_EQ(Header(retry, "X-Br2k-Index"), index);
  EXPECT_EQ(Header(retry, "X-Br2k-Duplicate"), "true");
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(LogSize(), ls) << "a retry is not logged again";
  auto read = Call(*leader_, "GET", "/kv");
  EXPECT_EQ(read.status, 200);
  EXPECT_EQ(json::parse(read.body)["a"], "1");
}

TEST_F(Frontend, Follower_redirectsToTheLeaderWithTheWholeTarget) {
  auto r = Call(*follower_, "PUT", "/kv/b?x=1", "2", Session("c2", 1));
  EXPECT_EQ(r.status, 307) << r.body;
  EXPECT_EQ(Header(r, "Location"), "http://127.0.0.1:1/a/kv/b?x=1");
  EXPECT_EQ(Header(r, "X-Br2k-Leader"), "a");
  EXPECT_EQ(Call(*follower_, "GET", "/kv").status, 307) << "reads are linearizable: the leader's";
}

TEST_F(Frontend, Refusals_logNothing) {
  const uint64_t ls = LogSize();
  struct Case {
    std::string target, body;
    std::map<std::string, std::string> headers;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"/kv/a", "forbidden", {}, 403, "not yours"},
      {"/kv/a", "later", {}, 503, "does not answer"},
      {"/kv/a", "bad", {}, 400, "malformed"},
      {"/kv/a", "\xC0\xAF", {}, 400, "body is not valid UTF-8"},
      {"/kv/a?q=%ff\xFF", "v", {}, 400, "query string is not valid UTF-8"},
      {"/kv/a", "v", {{"x-br2k-client", "c3"}}, 400, "X-Br2k"},
      {"/kv/a", "v", Session("c3", 0), 400, "X-Br2k-Seq"},
      {"/kv/a", "v", {{"x-br2k-client", "bad client!"}, {"x-br2k-seq", "1"}}, 400, "X-Br2k-Client"},
  };
  for (const auto& c : cases) {
    auto r = Call(*leader_, "PUT", c.target, c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.target << " " << c.body << ": " << r.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << r.body;
    EXPECT_FALSE(json::parse(r.body, nullptr, false).is_discarded()) << "errors are JSON";
  }
  EXPECT_EQ(LogSize(), ls);
}

TEST_F(Frontend, UnknownRouteAndMethod) {
  EXPECT_EQ(Call(*leader_, "GET", "/nope").status, 404);
  EXPECT_EQ(Call(*leader_, "DELETE", "/kv/a").status, 405);
  EXPECT_EQ(Call(*leader_, "POST", "/kv").status, 405);
}

TEST_F(Frontend, Probes_sayWhoLeads) {
  EXPECT_EQ(Call(*leader_, "GET", "/leader").status, 200);
  auto f = Call(*follower_, "GET", "/leader");
  EXPECT_EQ(f.status, 503);
  EXPECT_EQ(json::parse(f.body)["current_leader"], "a");
  EXPECT_EQ(Call(*follower_, "GET", "/health").status, 200);
  auto st = json::parse(Call(*follower_, "GET", "/status").body);
  EXPECT_EQ(st["role"], "Follower");
  EXPECT_EQ(st["leader_url"], "http://127.0.0.1:1/a");
  auto metrics = Call(*leader_, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.content_type.find("text/plain"), std::string::npos);
}

}  // namespace
}  // namespace br2k::replication
