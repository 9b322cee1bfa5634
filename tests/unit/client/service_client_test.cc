// ServiceClient against a scripted transport and an in-memory directory: redirects, retries with
// the same (client, seq), location changes, claims, deadlines and what the history records.
#include "br2k/client/service_client.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace br2k::client {
namespace {

using namespace std::chrono_literals;

constexpr char kA[] = "http://127.0.0.1:1001";
constexpr char kB[] = "http://127.0.0.1:1002";
constexpr char kC[] = "http://127.0.0.1:1003";

struct Sent {
  std::string url, method, target, body;
  std::map<std::string, std::string> headers;
};

http::ClientResponse Resp(int status, std::string body = "{}",
                          std::map<std::string, std::string> headers = {}) {
  return http::ClientResponse{status, std::move(headers), std::move(body)};
}

// Answers per location from a handler; records every request.
class ScriptedTransport final : public Transport {
 public:
  using Handler = std::function<Result<http::ClientResponse>(const Sent&)>;
  void On(const std::string& url, Handler h) {
    std::lock_guard<std::mutex> l(mu_);
    handlers_[url] = std::move(h);
  }
  Result<http::ClientResponse> Send(const std::string& base_url, const std::string& method,
                                    const std::string& target, const std::string& body,
                                    const std::map<std::string, std::string>& headers,
                                    Deadline) override {
    Sent s{base_url, method, target, body, headers};
    Handler h;
    {
      std::lock_guard<std::mutex> l(mu_);
      sent_.push_back(s);
      auto it = handlers_.find(base_url);
      if (it != handlers_.end()) h = it->second;
    }
    if (!h) return UnavailableError("connect " + base_url + ": Connection refused");
    return h(s);
  }
  std::vector<Sent> sent() const {
    std::lock_guard<std::mutex> l(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, Handler> handlers_;
  std::vector<Sent> sent_;
};

// A registry in memory: a location with its epoch, NewLocation events pushed by the test,
// claims recorded.
class MemoryDirectory final : public ServiceDirectory {
 public:
  MemoryDirectory(std::string location, uint64_t epoch, bool can_claim)
      : location_(std::move(location)), epoch_(epoch), can_claim_(can_claim) {}
  std::string Describe() const override { return "memory"; }
  Result<eth::ServiceLocation> Lookup(Deadline) override {
    std::lock_guard<std::mutex> l(mu_);
    ++lookups_;
    return eth::ServiceLocation{location_, epoch_, eth::ServiceState::kActive};
  }
  Result<uint64_t> NextBlock(Deadline) override { return 1; }
  Status Watch(uint64_t, const std::function<void(const LocationEvent&)>& on_event,
               std::stop_token stop) override {
    std::unique_lock<std::mutex> l(mu_);
    std::stop_callback wake(stop, [this] { cv_.notify_all(); });
    while (!stop.stop_requested()) {
      cv_.wait(l, [&] { return stop.stop_requested() || !events_.empty(); });
      while (!events_.empty()) {
        auto e = events_.front();
        events_.pop_front();
        l.unlock();
        on_event(e);
        l.lock();
        ++delivered_;
      }
    }
    return Status::Ok();
  }
  bool can_claim() const override { return can_claim_; }
  Result<ClaimReceipt> Claim(const std::string& failed, const std::string& reason,
                             Deadline) override {
    std::lock_guard<std::mutex> l(mu_);
    claims_.push_back({failed, reason});
    return ClaimReceipt{"0xc1a1" + std::to_string(claims_.size()), 100 + claims_.size()};
  }

  // Moves the service (as UpdateLocation would) and emits the event.
  void Move(const std::string& location, uint64_t epoch, bool emit = true) {
    std::lock_guard<std::mutex> l(mu_);
    location_ = location;
    epoch_ = epoch;
    if (emit) events_.push_back({location, epoch, 50 + epoch, "0xe"});
    cv_.notify_all();
  }
  void EmitStale(const std::string& location, uint64_t epoch) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back({location, epoch, 60, "0xf"});
    cv_.notify_all();
  }
  std::vector<std::pair<std::string, std::string>> claims() const {
    std::lock_guard<std::mutex> l(mu_);
    return claims_;
  }
  // Events handed to the client and returned from its callback.
  int delivered() const {
    std::lock_guard<std::mutex> l(mu_);
    return delivered_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string location_;
  uint64_t epoch_;
  bool can_claim_;
  int lookups_ = 0;
  int delivered_ = 0;
  std::deque<LocationEvent> events_;
  std::vector<std::pair<std::string, std::string>> claims_;
};

ServiceClientOptions Fast() {
  ServiceClientOptions o;
  o.client_id = "tester";
  o.backoff = {.base = 1ms, .max = 5ms, .multiplier = 2.0, .jitter = 0.2};
  o.attempt_timeout = 1s;
  return o;
}

std::unique_ptr<ServiceClient> Make(ServiceClientOptions o) {
  auto c = ServiceClient::Create(std::move(o), Deadline::After(5s));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

std::vector<HistoryRecord> OfType(const History& h, RecordType t) {
  std::vector<HistoryRecord> out;
  for (const auto& r : h.Snapshot()) {
    if (r.type == t) out.push_back(r);
  }
  return out;
}

TEST(ServiceClient, redirect_followedAtOnceWithTheSameSession) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) {
    return Resp(307, R"({"error":"NOT_LEADER"})",
                {{"location", std::string(kB) + "/logs"},
                 {"x-br2k-leader", "node-1"},
                 {"x-br2k-leader-url", kB}});
  });
  t->On(kB, [](const Sent&) {
    return Resp(200, R"({"index":0})", {{"x-br2k-index", "5"}, {"x-br2k-state", "Success"}});
  });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", R"({"user":"u"})", Deadline::After(5s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->url, kB);
  EXPECT_EQ(a->index, 5u);
  EXPECT_EQ(a->state, "Success");
  EXPECT_EQ(a->seq, 1u);
  EXPECT_EQ(a->attempts, 2u);
  auto sent = t->sent();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& s : sent) {
    EXPECT_EQ(s.headers.at("X-Br2k-Client"), "tester");
    EXPECT_EQ(s.headers.at("X-Br2k-Seq"), "1");
    EXPECT_EQ(s.body, R"({"user":"u"})");
  }
  auto redirects = OfType(c->history(), RecordType::kRedirect);
  ASSERT_EQ(redirects.size(), 1u);
  EXPECT_EQ(redirects[0].from, kA);
  EXPECT_EQ(redirects[0].url, kB);
  EXPECT_EQ(redirects[0].leader, "node-1");
  auto attempts = OfType(c->history(), RecordType::kAttempt);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "redirect");
  EXPECT_FALSE(attempts[1].retry) << "a redirect hop is not a retry";
  EXPECT_EQ(c->history().counters().retries, 0u);
  // The leader is now tried first.
  EXPECT_EQ(c->locations().front(), kB);
}

TEST(ServiceClient, redirect_usesTheLeaderUrlHeaderWithoutLocation) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(307, "", {{"x-br2k-leader-url", kB}}); });
  t->On(kB, [](const Sent& s) { return Resp(200, s.target); });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs?x=1", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body, "/logs?x=1");
}

TEST(ServiceClient, retry_503ResendsTheSameSeqUntilFinal) {
  auto t = std::make_shared<ScriptedTransport>();
  std::atomic<int> n{0};
  t->On(kA, [&](const Sent&) {
    return ++n < 3 ? Resp(503, R"({"error":"NO_LEADER"})") : Resp(200, "done");
  });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body, "done");
  for (const auto& s : t->sent()) EXPECT_EQ(s.headers.at("X-Br2k-Seq"), "1");
  EXPECT_EQ(t->sent().size(), 3u);
  auto cnt = c->history().counters();
  EXPECT_EQ(cnt.attempts, 3u);
  EXPECT_EQ(cnt.retries, 2u);
  EXPECT_EQ(cnt.ok, 1u);
  // The next write takes the next number.
  auto b = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->seq, 2u);
  EXPECT_EQ(t->sent().back().headers.at("X-Br2k-Seq"), "2");
}

TEST(ServiceClient, unreachable_triesTheNextLocationInTheSameRound) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kB, [](const Sent&) { return Resp(200); });
  auto o = Fast();
  o.seeds = {kA, kB};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->url, kB);
  auto attempts = OfType(c->history(), RecordType::kAttempt);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].outcome, "unreachable");
  EXPECT_TRUE(attempts[1].retry);
  EXPECT_EQ(c->locations().front(), kB);  // the one that answered goes first next time
}

TEST(ServiceClient, final4xx_isReturnedNotRetried) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(400, R"({"error":"BAD_REQUEST"})"); });
  auto o = Fast();
  o.seeds = {kA, kB};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, 400);
  EXPECT_FALSE(a->ok());
  EXPECT_EQ(t->sent().size(), 1u);
  auto fails = OfType(c->history(), RecordType::kFail);
  ASSERT_EQ(fails.size(), 1u);
  EXPECT_EQ(fails[0].status, 400);
}

TEST(ServiceClient, retry_408And429And500WithoutStateAreRetried) {
  for (int status : {408, 429, 500, 502, 504}) {
    auto t = std::make_shared<ScriptedTransport>();
    std::atomic<int> n{0};
    t->On(kA, [&](const Sent&) { return ++n == 1 ? Resp(status) : Resp(200); });
    auto o = Fast();
    o.seeds = {kA};
    o.transport = t;
    auto c = Make(o);
    auto a = c->Call("POST", "/logs", "{}", Deadline::After(5s));
    ASSERT_TRUE(a.ok()) << status;
    EXPECT_EQ(a->status, 200) << status;
  }
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(500, "app", {{"x-br2k-state", "Fail"}}); });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, 500);
  EXPECT_EQ(t->sent().size(), 1u);
}

TEST(ServiceClient, deadline_nothingSentIsFailSentIsUnknown) {
  {
    auto t = std::make_shared<ScriptedTransport>();  // every location refuses connections
    auto o = Fast();
    o.seeds = {kA, kB};
    o.transport = t;
    auto c = Make(o);
    auto a = c->Call("POST", "/logs", "{}", Deadline::After(100ms));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_NE(a.status().message().find("not executed"), std::string::npos) << a.status();
    EXPECT_EQ(c->history().counters().fail, 1u);
    EXPECT_EQ(c->history().counters().unknown, 0u);
  }
  {
    auto t = std::make_shared<ScriptedTransport>();
    t->On(kA, [](const Sent&) { return Result<http::ClientResponse>(AbortedError("reset")); });
    auto o = Fast();
    o.seeds = {kA};
    o.transport = t;
    auto c = Make(o);
    auto a = c->Call("POST", "/logs", "{}", Deadline::After(100ms));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.status().code(), StatusCode::kDeadlineExceeded);
    EXPECT_NE(a.status().message().find("outcome unknown"), std::string::npos) << a.status();
    auto unknown = OfType(c->history(), RecordType::kUnknown);
    ASSERT_EQ(unknown.size(), 1u);
    EXPECT_EQ(unknown[0].seq, 1u);
    EXPECT_NE(unknown[0].error.find("reset"), std::string::npos);
    for (const auto& s : t->sent()) EXPECT_EQ(s.headers.at("X-Br2k-Seq"), "1");
  }
  {
    // A read that runs out of time is a fail: reads have no effect.
    auto t = std::make_shared<ScriptedTransport>();
    t->On(kA, [](const Sent&) { return Resp(503); });
    auto o = Fast();
    o.seeds = {kA};
    o.transport = t;
    auto c = Make(o);
    auto a = c->Read("/logs", Deadline::After(50ms));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(c->history().counters().fail, 1u);
    EXPECT_EQ(c->history().counters().unknown, 0u);
  }
}

TEST(ServiceClient, read_sendsNoSessionHeaders) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(200, R"({"logs":[]})"); });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Read("/logs", Deadline::After(5s));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->seq, 0u);
  ASSERT_EQ(t->sent().size(), 1u);
  EXPECT_EQ(t->sent()[0].method, "GET");
  EXPECT_TRUE(t->sent()[0].headers.empty());
  EXPECT_EQ(c->next_seq(), 1u) << "reads take no sequence number";
}

TEST(ServiceClient, redirectLoop_isBoundedAndNeverExecuted) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(307, "", {{"location", std::string(kB) + "/logs"}}); });
  t->On(kB, [](const Sent&) { return Resp(307, "", {{"location", std::string(kA) + "/logs"}}); });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(100ms));
  ASSERT_FALSE(a.ok());
  // Only redirects were answered: the request was never executed.
  EXPECT_EQ(c->history().counters().fail, 1u);
}

TEST(ServiceClient, claim_onceAfterClaimAfterRoundsThenCompletes) {
  auto dir = std::make_shared<MemoryDirectory>(kA, 3, true);
  auto t = std::make_shared<ScriptedTransport>();
  auto o = Fast();
  o.directory = dir;
  o.transport = t;
  o.claim_after = 3;
  o.seeds = {kB};
  auto c = Make(o);
  // Down until a claim has been sent; then a redeployed service answers at A.
  t->On(kA, [&](const Sent&) -> Result<http::ClientResponse> {
    if (dir->claims().empty()) return UnavailableError("connect: refused");
    return Resp(200, "back");
  });
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(10s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body, "back");
  auto claims = dir->claims();
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].first, kA) << "the claim names the registry's location";
  auto recs = OfType(c->history(), RecordType::kClaim);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].url, kA);
  EXPECT_EQ(recs[0].tx, "0xc1a11");
  EXPECT_EQ(recs[0].seq, 1u);
  // Every attempt of the operation carried seq 1; at least claim_after rounds of both
  // locations failed before the claim.
  for (const auto& s : t->sent()) EXPECT_EQ(s.headers.at("X-Br2k-Seq"), "1");
  size_t before_claim = 0;
  for (const auto& r : c->history().Snapshot()) {
    if (r.type == RecordType::kClaim) break;
    if (r.type == RecordType::kAttempt) ++before_claim;
  }
  EXPECT_EQ(before_claim, 6u);
}

TEST(ServiceClient, claim_notRepeatedInOneOutageButAgainInTheNext) {
  auto dir = std::make_shared<MemoryDirectory>(kA, 1, true);
  auto t = std::make_shared<ScriptedTransport>();
  auto o = Fast();
  o.directory = dir;
  o.transport = t;
  o.claim_after = 2;
  auto c = Make(o);
  // Outage 1: two operations time out; one claim between them.
  EXPECT_FALSE(c->Call("POST", "/logs", "{}", Deadline::After(100ms)).ok());
  EXPECT_FALSE(c->Call("POST", "/logs", "{}", Deadline::After(100ms)).ok());
  EXPECT_EQ(dir->claims().size(), 1u);
  // The service answers: the outage is over.
  t->On(kA, [](const Sent&) { return Resp(200); });
  ASSERT_TRUE(c->Call("POST", "/logs", "{}", Deadline::After(5s)).ok());
  // Outage 2: a new claim.
  t->On(kA, [](const Sent&) { return Result<http::ClientResponse>(UnavailableError("refused")); });
  EXPECT_FALSE(c->Call("POST", "/logs", "{}", Deadline::After(100ms)).ok());
  EXPECT_EQ(dir->claims().size(), 2u);
  EXPECT_EQ(c->history().counters().claims, 2u);
}

TEST(ServiceClient, claim_neverWhenClaimAfterIsZero) {
  auto dir = std::make_shared<MemoryDirectory>(kA, 1, true);
  auto o = Fast();
  o.directory = dir;
  o.transport = std::make_shared<ScriptedTransport>();
  auto c = Make(o);
  EXPECT_FALSE(c->Call("POST", "/logs", "{}", Deadline::After(100ms)).ok());
  EXPECT_TRUE(dir->claims().empty());
}

TEST(ServiceClient, event_movesTheClientToTheNewLocation) {
  auto dir = std::make_shared<MemoryDirectory>(kA, 1, false);
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(200, "A"); });
  t->On(kB, [](const Sent&) { return Resp(200, "B"); });
  auto o = Fast();
  o.directory = dir;
  o.transport = t;
  auto c = Make(o);
  auto a = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->body, "A");
  dir->Move(kB, 2);
  // Bounded wait for the event thread.
  auto until = Deadline::After(5s);
  while (!until.expired() && c->registry_location().first != kB) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(c->registry_location(), std::make_pair(std::string(kB), uint64_t{2}));
  auto b = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->body, "B");
  auto locs = OfType(c->history(), RecordType::kLocation);
  ASSERT_EQ(locs.size(), 2u);
  EXPECT_EQ(locs[0].source, "registry");
  EXPECT_EQ(locs[0].url, kA);
  EXPECT_EQ(locs[1].source, "event");
  EXPECT_EQ(locs[1].from, kA);
  EXPECT_EQ(locs[1].url, kB);
  EXPECT_EQ(locs[1].epoch, 2u);
  EXPECT_EQ(locs[1].block, 52u);
  // A late event with an older epoch does not move it back.
  dir->EmitStale(kC, 1);
  dir->Move(kB, 2);  // a re-emission of the current location: no change either
  until = Deadline::After(5s);
  while (!until.expired() && dir->delivered() < 3) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(dir->delivered(), 3);
  EXPECT_EQ(c->registry_location().first, kB);
  EXPECT_EQ(c->locations().front(), kB);
  EXPECT_EQ(OfType(c->history(), RecordType::kLocation).size(), 2u);
}

TEST(ServiceClient, event_wakesARetryWaitingInBackoff) {
  auto dir = std::make_shared<MemoryDirectory>(kA, 1, false);
  auto t = std::make_shared<ScriptedTransport>();
  std::atomic<int> a_attempts{0};
  t->On(kA, [&](const Sent&) -> Result<http::ClientResponse> {
    ++a_attempts;
    return UnavailableError("refused");
  });
  t->On(kB, [](const Sent&) { return Resp(200, "B"); });
  auto o = Fast();
  o.backoff = {
      .base = 60s, .max = 60s, .multiplier = 1.0, .jitter = 0.0};  // would outlast the call
  o.directory = dir;
  o.transport = t;
  auto c = Make(o);
  std::thread mover([&] {
    auto until = Deadline::After(10s);
    while (!until.expired() && a_attempts == 0) std::this_thread::sleep_for(1ms);
    dir->Move(kB, 2);
  });
  auto r = c->Call("POST", "/logs", "{}", Deadline::After(20s));
  mover.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "B");
}

TEST(ServiceClient, registryReread_afterAFailedRound) {
  // The location moved without an event reaching the client (events off): the re-read after a
  // failed round finds it.
  auto dir = std::make_shared<MemoryDirectory>(kA, 1, false);
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kB, [](const Sent&) { return Resp(200, "B"); });
  auto o = Fast();
  o.directory = dir;
  o.transport = t;
  o.follow_events = false;
  auto c = Make(o);
  dir->Move(kB, 2, /*emit=*/false);
  auto r = c->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "B");
  auto locs = OfType(c->history(), RecordType::kLocation);
  ASSERT_EQ(locs.size(), 2u);
  EXPECT_EQ(locs[1].source, "registry");
  EXPECT_EQ(locs[1].url, kB);
}

TEST(ServiceClient, concurrentCalls_getDistinctSequenceNumbers) {
  auto t = std::make_shared<ScriptedTransport>();
  std::atomic<int> n{0};
  t->On(kA, [&](const Sent&) { return ++n % 3 == 0 ? Resp(503) : Resp(200); });
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  o.first_seq = 100;
  auto c = Make(o);
  std::vector<std::thread> ts;
  std::mutex mu;
  std::set<uint64_t> seqs;
  for (int k = 0; k < 4; ++k) {
    ts.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto a = c->Call("POST", "/logs", "{}", Deadline::After(10s));
        ASSERT_TRUE(a.ok());
        std::lock_guard<std::mutex> l(mu);
        EXPECT_TRUE(seqs.insert(a->seq).second);
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(seqs.size(), 100u);
  EXPECT_EQ(*seqs.begin(), 100u);
  EXPECT_EQ(*seqs.rbegin(), 199u);
  EXPECT_EQ(c->history().counters().ok, 100u);
  // Each operation's records share its seq.
  std::map<uint64_t, uint64_t> seq_of_op;
  for (const auto& r : c->history().Snapshot()) {
    if (r.op == 0) continue;
    auto [it, fresh] = seq_of_op.emplace(r.op, r.seq);
    EXPECT_EQ(it->second, r.seq);
  }
}

TEST(ServiceClient, create_rejectsBadOptions) {
  auto bad = [](ServiceClientOptions o) {
    auto c = ServiceClient::Create(std::move(o), Deadline::After(1s));
    EXPECT_FALSE(c.ok());
    return c.ok() ? Status::Ok() : c.status();
  };
  EXPECT_EQ(bad(Fast()).code(), StatusCode::kInvalidArgument);  // no location source
  auto o = Fast();
  o.seeds = {"ftp://x:1"};
  EXPECT_NE(bad(o).message().find("scheme"), std::string::npos);
  o = Fast();
  o.seeds = {kA};
  o.client_id = "has space";
  EXPECT_NE(bad(o).message().find("client id"), std::string::npos);
  o.client_id = std::string(65, 'x');
  (void)bad(o);
  o = Fast();
  o.seeds = {kA};
  o.claim_after = 2;  // no registry to claim to
  EXPECT_NE(bad(o).message().find("claim"), std::string::npos);
  o.claim_after = 0;
  o.directory = std::make_shared<MemoryDirectory>(kA, 1, /*can_claim=*/false);
  o.claim_after = 2;
  EXPECT_NE(bad(o).message().find("claim key"), std::string::npos);
  o = Fast();
  o.seeds = {kA};
  o.first_seq = 0;
  (void)bad(o);
  o = Fast();
  o.seeds = {kA};
  o.backoff.jitter = 2;
  (void)bad(o);
  o = Fast();
  o.service = "svc";  // a registry needs rpc and an address too
  EXPECT_NE(bad(o).message().find("registry"), std::string::npos);
}

TEST(ServiceClient, call_rejectsBadRequestsWithoutSendingOrRecording) {
  auto t = std::make_shared<ScriptedTransport>();
  auto o = Fast();
  o.seeds = {kA};
  o.transport = t;
  auto c = Make(o);
  EXPECT_EQ(c->Call("post", "/logs", "", Deadline::After(1s)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Call("POST", "logs", "", Deadline::After(1s)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Call("POST", "/a\r\nX: y", "", Deadline::After(1s)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->CallWithSeq("POST", "/logs", "", 0, Deadline::After(1s)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(t->sent().empty());
  EXPECT_TRUE(c->history().Snapshot().empty());
}

TEST(ServiceClient, defaultClientIdIsRandomAndValid) {
  auto o = Fast();
  o.client_id = "";
  o.seeds = {kA};
  auto a = Make(o);
  auto b = Make(o);
  EXPECT_EQ(a->client_id().size(), 14u);
  EXPECT_EQ(a->client_id().substr(0, 2), "c-");
  EXPECT_NE(a->client_id(), b->client_id());
}

// A registry whose chain node hangs: Lookup blocks until the test opens it (or the call's
// deadline passes, as the RPC client's would), then answers `location` or `error`.
class HungDirectory final : public ServiceDirectory {
 public:
  explicit HungDirectory(std::string location, Status error = Status::Ok())
      : location_(std::move(location)), error_(std::move(error)) {}
  std::string Describe() const override { return "hung"; }
  Result<eth::ServiceLocation> Lookup(Deadline d) override {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_until(l, d.when(), [&] { return open_; })) {
      return DeadlineExceededError("http://127.0.0.1:8545: response timed out");
    }
    if (!error_.ok()) return error_;
    return eth::ServiceLocation{location_, 1, eth::ServiceState::kActive};
  }
  Result<uint64_t> NextBlock(Deadline) override { return 1; }
  Status Watch(uint64_t, const std::function<void(const LocationEvent&)>&,
               std::stop_token stop) override {
    std::unique_lock<std::mutex> l(mu_);
    std::stop_callback wake(stop, [this] { cv_.notify_all(); });
    cv_.wait(l, [&] { return stop.stop_requested(); });
    return Status::Ok();
  }
  bool can_claim() const override { return false; }
  Result<ClaimReceipt> Claim(const std::string&, const std::string&, Deadline) override {
    return FailedPreconditionError("no claim key");
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::string location_;
  Status error_;
};

TEST(ServiceClient_hungRegistry, withSeeds_createReturnsAndTheSeedsServe) {
  auto t = std::make_shared<ScriptedTransport>();
  t->On(kA, [](const Sent&) { return Resp(200, "{}", {{"x-br2k-state", "Success"}}); });
  auto dir = std::make_shared<HungDirectory>(kB);
  auto o = Fast();
  o.transport = t;
  o.directory = dir;
  o.seeds = {kA};
  o.registry_wait = 50ms;
  o.chain_timeout = 100ms;
  auto c = ServiceClient::Create(std::move(o), Deadline::After(60s));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE((*c)->registry_read());
  auto a = (*c)->Call("POST", "/logs", "{}", Deadline::After(5s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->url, kA);
  dir->Open();
  Deadline until = Deadline::After(10s);
  while (!until.expired() && !(*c)->registry_read()) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE((*c)->registry_read());
  EXPECT_EQ((*c)->registry_location().first, kB);
}

TEST(ServiceClient_hungRegistry, withoutSeeds_createFailsAtItsDeadlineNamingTheNode) {
  auto dir = std::make_shared<HungDirectory>(kB);
  auto o = Fast();
  o.transport = std::make_shared<ScriptedTransport>();
  o.directory = dir;
  auto t0 = std::chrono::steady_clock::now();
  auto c = ServiceClient::Create(std::move(o), Deadline::After(300ms));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kDeadlineExceeded) << c.status();
  EXPECT_NE(c.status().message().find("127.0.0.1:8545"), std::string::npos) << c.status();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms + 5s);
}

TEST(ServiceClient_hungRegistry, withSeeds_aPermanentErrorIsStillReturned) {
  auto dir = std::make_shared<HungDirectory>(kB, NotFoundError("service not registered"));
  dir->Open();
  auto o = Fast();
  o.transport = std::make_shared<ScriptedTransport>();
  o.directory = dir;
  o.seeds = {kA};
  auto c = ServiceClient::Create(std::move(o), Deadline::After(5s));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound) << c.status();
}

}  // namespace
}  // namespace br2k::client
