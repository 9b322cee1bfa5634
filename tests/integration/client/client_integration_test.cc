// The client library against the real thing: a 3-member etcd cluster, three br2k-logserver
// processes, and an anvil with a deployed ServiceRegistry where each test registers its service
// at a location it chooses (the replicas do not publish their location yet).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "br2k/client/service_client.h"
#include "br2k/eth/service_registry.h"
#include "br2k/replication/node_process.h"
#include "call_harness_path.h"
#include "command.h"
#include "logserver_fleet.h"
#include "registry_chain.h"
#include "test_env.h"

namespace br2k::client {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Kind = eth::RegistryEvent::Kind;
constexpr int kNodes = 3;

Deadline Soon() {
  return Deadline::After(60s);
}

Status NotRun() {
  return Status(StatusCode::kUnknown, "not run");
}

class ClientIT : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = eth::testing::StartRegistryChain("client-it", Soon());
    ASSERT_TRUE(c.ok()) << c.status();
    chain_ = std::move(*c);
  }
  static void TearDownTestSuite() { chain_.reset(); }

  void SetUp() override {
    ASSERT_NE(chain_, nullptr);
    auto f = br2k::testing::LogserverFleet::Create({.dir = dir_.path(),
                                                    .nodes = kNodes,
                                                    .service = "logs",
                                                    .args = br2k::testing::FastFailoverArgs()},
                                                   Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    for (int i = 0; i < kNodes; ++i) StartNode(i);
    service_name_ = br2k::testing::UniqueName("client-it");
    service_id_ = eth::ServiceIdFromName(service_name_);
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  std::string Url(int i) const { return fleet_->Url(i); }

  void StartNode(int i) {
    Status s = fleet_->Start(i);
    ASSERT_TRUE(s.ok()) << s;
  }

  void KillNode(int i) {
    Status s = fleet_->Kill(i);
    ASSERT_TRUE(s.ok()) << s;
  }

  // The one running node that reports Leader (bounded wait), or -1.
  int WaitLeader() { return fleet_->WaitLeader(fleet_->RunningNodes(), Deadline::After(40s)); }

  // Bounded wait until follower `f` knows `leader` (so it redirects instead of answering 503).
  void WaitKnowsLeader(int f, int leader) {
    auto until = Deadline::After(20s);
    std::string want = "node-" + std::to_string(leader);
    while (!until.expired()) {
      auto p = replication::ProbeReplica(Url(f), Deadline::After(1s));
      if (p.ok() && p->leader == want && p->leader_url == Url(leader)) return;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "node " << f << " never learned that node " << leader << " leads";
  }

  // Prints a client's history when the test fails (for post-mortems).
  struct DumpOnFailure {
    const ServiceClient* c;
    ~DumpOnFailure() {
      if (c && ::testing::Test::HasFailure()) {
        std::cerr << "---- client history ----\n" << c->history().ToJsonLines();
      }
    }
  };

  void Register(const std::string& location) {
    auto r = chain_->registry->Register(*chain_->owner, service_id_, location, eth::RecoveryInfo{},
                                        Soon());
    ASSERT_TRUE(r.ok()) << r.status();
  }

  ServiceClientOptions RegistryOptions() {
    ServiceClientOptions o;
    o.rpc = chain_->anvil->client();
    o.registry = chain_->registry->address();
    o.service = service_name_;
    o.backoff = {.base = 20ms, .max = 500ms, .multiplier = 2.0, .jitter = 0.2};
    o.attempt_timeout = 6s;
    o.event_poll = 100ms;
    return o;
  }

  std::unique_ptr<ServiceClient> Make(ServiceClientOptions o) {
    auto c = ServiceClient::Create(std::move(o), Soon());
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // The replicated list, read through the client (a linearizable read on the leader).
  std::vector<std::string> Logs(ServiceClient& c) {
    auto a = c.Read("/logs", Soon());
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return {};
    EXPECT_EQ(a->status, 200) << a->body;
    auto j = json::parse(a->body, nullptr, false);
    std::vector<std::string> out;
    if (!j.is_object() || !j.contains("logs")) {
      ADD_FAILURE() << "bad /logs answer " << a->body;
      return out;
    }
    for (const auto& v : j["logs"]) out.push_back(v.is_string() ? v.get<std::string>() : v.dump());
    return out;
  }

  static std::string Body(const std::string& user) { return json{{"user", user}}.dump(); }

  static std::vector<HistoryRecord> OfType(const History& h, RecordType t, uint64_t op = 0) {
    std::vector<HistoryRecord> out;
    for (const auto& r : h.Snapshot()) {
      if (r.type == t && (op == 0 || r.op == op)) out.push_back(r);
    }
    return out;
  }

  std::vector<eth::RegistryEvent> Claims() {
    auto e = chain_->registry->GetEvents(service_id_, {Kind::kClaim}, 0, std::nullopt, Soon());
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : std::vector<eth::RegistryEvent>{};
  }

  inline static std::unique_ptr<eth::testing::RegistryChain> chain_;  // the claimer: second_key

  br2k::testing::ScratchDir dir_{"client-it"};
  std::unique_ptr<br2k::testing::LogserverFleet> fleet_;
  std::string service_name_;
  eth::ServiceId service_id_;
};

// (a) The registry names a follower: the client follows its 307 to the leader at once.
TEST_F(ClientIT, followerLocation_followsTheRedirectToTheLeader) {
  int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % kNodes;
  WaitKnowsLeader(follower, leader);
  Register(Url(follower));
  auto c = Make(RegistryOptions());
  ASSERT_NE(c, nullptr);
  DumpOnFailure dump{c.get()};
  EXPECT_EQ(c->registry_location().first, Url(follower));

  auto a = c->Call("POST", "/logs", Body("via-follower"), Soon());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(a->url, Url(leader));
  EXPECT_EQ(a->state, "Success");
  ASSERT_TRUE(a->index.has_value());
  EXPECT_EQ(a->attempts, 2u);
  auto redirects = OfType(c->history(), RecordType::kRedirect, a->op);
  ASSERT_EQ(redirects.size(), 1u);
  EXPECT_EQ(redirects[0].from, Url(follower));
  EXPECT_EQ(redirects[0].url, Url(leader));
  EXPECT_EQ(redirects[0].leader, "node-" + std::to_string(leader));
  auto attempts = OfType(c->history(), RecordType::kAttempt, a->op);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].url, Url(follower));
  EXPECT_EQ(attempts[0].status, 307);
  EXPECT_EQ(attempts[1].url, Url(leader));
  EXPECT_EQ(attempts[1].outcome, "final");
  // The leader is tried first from now on.
  EXPECT_EQ(c->locations().front(), Url(leader));

  // The same with a seed URL only (no chain).
  ServiceClientOptions seeds;
  seeds.seeds = {Url(follower)};
  auto s = Make(seeds);
  ASSERT_NE(s, nullptr);
  auto b = s->Call("POST", "/logs", Body("via-seed"), Soon());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(s->history().counters().redirects, 1u);

  auto logs = Logs(*c);
  EXPECT_EQ(std::count(logs.begin(), logs.end(), "via-follower"), 1);
  EXPECT_EQ(std::count(logs.begin(), logs.end(), "via-seed"), 1);
}

// (b) The leader is killed -9 while a client sends 100 sequential writes: none fails, and every
// acknowledged write is in the log exactly once although some were retried.
TEST_F(ClientIT, leaderKilledDuringWrites_noFailureNoLossNoDuplicate) {
  int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Register(Url(leader));
  auto o = RegistryOptions();
  for (int i = 0; i < kNodes; ++i) o.seeds.push_back(Url(i));
  auto c = Make(o);
  ASSERT_NE(c, nullptr);
  DumpOnFailure dump{c.get()};

  constexpr int kWrites = 100;
  std::vector<Result<Answer>> answers(kWrites, Result<Answer>(NotRun()));
  std::atomic<int> acked{0};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      answers[i] = c->Call("POST", "/logs", Body("w-" + std::to_string(i)), Deadline::After(90s));
      if (answers[i].ok() && answers[i]->ok()) ++acked;
    }
  });
  auto until = Deadline::After(60s);
  while (!until.expired() && acked < 20) std::this_thread::sleep_for(5ms);
  EXPECT_GE(acked.load(), 20);
  auto killed_at = std::chrono::steady_clock::now();
  KillNode(leader);
  writer.join();

  int failed = 0;
  std::set<uint64_t> log_indexes;
  for (int i = 0; i < kWrites; ++i) {
    if (!answers[i].ok() || !answers[i]->ok()) {
      ++failed;
      ADD_FAILURE() << "write " << i << ": "
                    << (answers[i].ok()
                            ? std::to_string(answers[i]->status) + " " + answers[i]->body
                            : answers[i].status().ToString());
      continue;
    }
    ASSERT_TRUE(answers[i]->index.has_value()) << i;
    EXPECT_TRUE(log_indexes.insert(*answers[i]->index).second)
        << "log index " << *answers[i]->index << " acknowledged twice";
  }
  EXPECT_EQ(failed, 0);

  auto logs = Logs(*c);
  EXPECT_EQ(logs.size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) {
    std::string user = "w-" + std::to_string(i);
    EXPECT_EQ(std::count(logs.begin(), logs.end(), user), 1) << user;
    if (!answers[i].ok()) continue;
    auto body = json::parse(answers[i]->body, nullptr, false);
    ASSERT_TRUE(body.is_object() && body.contains("index")) << answers[i]->body;
    auto pos = body["index"].get<size_t>();
    ASSERT_LT(pos, logs.size());
    EXPECT_EQ(logs[pos], user) << "the acknowledged position holds the write";
  }
  auto n = c->history().counters();
  EXPECT_EQ(n.ok, static_cast<uint64_t>(kWrites) + 1);  // + the read
  EXPECT_EQ(n.fail + n.unknown, 0u);
  // Measured, not asserted: the time from the kill to the first acknowledged write after it.
  int64_t killed_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(killed_at.time_since_epoch()).count();
  int64_t first_ok_after = 0;
  for (const auto& r : c->history().Snapshot()) {
    if (r.type == RecordType::kOk && r.mono_ns > killed_ns) {
      first_ok_after = r.mono_ns;
      break;
    }
  }
  std::cout << "[measure] leader kill -> first acknowledged write: "
            << (first_ok_after - killed_ns) / 1000000 << " ms; attempts " << n.attempts
            << ", retries " << n.retries << ", redirects " << n.redirects << ", duplicates "
            << n.duplicates << "\n";
}

// (c) A NewLocation event (UpdateLocation with a higher epoch) moves the client.
TEST_F(ClientIT, newLocationEvent_movesTheClient) {
  int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % kNodes;
  WaitKnowsLeader(follower, leader);
  Register(Url(leader));
  auto c = Make(RegistryOptions());
  ASSERT_NE(c, nullptr);
  DumpOnFailure dump{c.get()};
  auto first = c->Call("POST", "/logs", Body("before-move"), Soon());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->attempts, 1u);
  uint64_t epoch = c->registry_location().second;

  auto moved = chain_->registry->UpdateLocation(*chain_->owner, service_id_, Url(follower),
                                                epoch + 1, Soon());
  ASSERT_TRUE(moved.ok()) << moved.status();
  auto until = Deadline::After(30s);
  while (!until.expired() && c->registry_location().first != Url(follower)) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(c->registry_location().first, Url(follower)) << "the event never reached the client";
  auto locs = OfType(c->history(), RecordType::kLocation);
  ASSERT_EQ(locs.size(), 2u);
  EXPECT_EQ(locs[1].source, "event");
  EXPECT_EQ(locs[1].from, Url(leader));
  EXPECT_EQ(locs[1].url, Url(follower));
  EXPECT_EQ(locs[1].epoch, epoch + 1);
  EXPECT_EQ(locs[1].block, moved->block_number);
  EXPECT_EQ(locs[1].tx, moved->transaction_hash.ToHex());

  auto second = c->Call("POST", "/logs", Body("after-move"), Soon());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->status, 200);
  auto attempts = OfType(c->history(), RecordType::kAttempt, second->op);
  ASSERT_FALSE(attempts.empty());
  EXPECT_EQ(attempts[0].url, Url(follower)) << "the first attempt goes to the new location";
  // The follower redirected to the leader.
  EXPECT_EQ(second->url, Url(leader));
}

// (d) Every replica is down: after claim_after rounds the client sends exactly one Claim (seen
// on chain with the failed location); once the replicas are back the same write completes and
// is executed once.
TEST_F(ClientIT, allReplicasDown_oneClaimThenTheSameWriteCompletesOnce) {
  int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  Register(Url(leader));
  auto o = RegistryOptions();
  for (int i = 0; i < kNodes; ++i) o.seeds.push_back(Url(i));
  o.claimer = chain_->second_key;
  o.claim_after = 3;
  auto c = Make(o);
  ASSERT_NE(c, nullptr);
  DumpOnFailure dump{c.get()};
  for (int i = 0; i < kNodes; ++i) KillNode(i);

  Result<Answer> answer = NotRun();
  std::thread writer(
      [&] { answer = c->Call("POST", "/logs", Body("survivor"), Deadline::After(180s)); });
  auto until = Deadline::After(90s);
  while (!until.expired() && Claims().empty()) std::this_thread::sleep_for(100ms);
  auto claims = Claims();
  ASSERT_EQ(claims.size(), 1u);
  EXPECT_EQ(claims[0].location, Url(leader)) << "the claim names the registry's location";
  EXPECT_EQ(claims[0].account, chain_->second_key->address());
  EXPECT_EQ(claims[0].reason, o.claim_reason);

  for (int i = 0; i < kNodes; ++i) StartNode(i);
  writer.join();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_EQ(answer->seq, 1u);

  EXPECT_EQ(Claims().size(), 1u) << "exactly one claim for the outage";
  auto n = c->history().counters();
  EXPECT_EQ(n.claims, 1u);
  EXPECT_EQ(n.claim_failures, 0u);
  auto recs = c->history().OpRecords(answer->op);
  for (const auto& r : recs) EXPECT_EQ(r.seq, 1u) << RecordToJson(r);
  auto claim_recs = OfType(c->history(), RecordType::kClaim);
  ASSERT_EQ(claim_recs.size(), 1u);
  EXPECT_EQ(claim_recs[0].tx, claims[0].transaction_hash.ToHex());
  auto logs = Logs(*c);
  EXPECT_EQ(std::count(logs.begin(), logs.end(), "survivor"), 1);
  std::cout << "[measure] outage write: " << n.attempts << " attempts before it completed\n";
}

// `br2k call`, as a user runs it (through a harness holding only the call verb).
using CliRun = br2k::testing::CommandResult;

CliRun Br2kCall(const std::vector<std::string>& args, const std::string& env = "") {
  std::vector<std::string> argv = {kCallHarness, "call"};
  argv.insert(argv.end(), args.begin(), args.end());
  return br2k::testing::RunCommand(argv, env);
}

TEST_F(ClientIT, cli_callThroughRegistryAndSeeds) {
  int leader = WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % kNodes;
  WaitKnowsLeader(follower, leader);
  Register(Url(follower));
  auto history = dir_.path() / "history.jsonl";

  // Through the registry, three writes in a row, JSON out, history written.
  CliRun r = Br2kCall({"POST",           "/logs",
                       "--data",         R"({"user":"cli-{i}"})",
                       "--count",        "3",
                       "--rpc-url",      chain_->anvil->url(),
                       "--registry",     chain_->registry->address().ToChecksum(),
                       "--service",      service_name_,
                       "--client",       "cli-test",
                       "--seq",          "10",
                       "--json",         "--history",
                       history.string(), "-v"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  uint64_t want_seq = 10;
  while (std::getline(lines, line)) {
    auto j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["status"], 200);
    EXPECT_EQ(j["client"], "cli-test");
    EXPECT_EQ(j["seq"], want_seq++);
    EXPECT_EQ(j["state"], "Success");
  }
  EXPECT_EQ(want_seq, 13u);
  EXPECT_NE(r.err.find("redirect " + Url(follower) + " -> " + Url(leader)), std::string::npos)
      << r.err;
  std::ifstream in(history);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto recs = ParseJsonLines(text);
  ASSERT_TRUE(recs.ok()) << recs.status();
  int oks = 0;
  for (const auto& rec : *recs) oks += rec.type == RecordType::kOk;
  EXPECT_EQ(oks, 3);

  // The same (client, seq) again: answered from the recorded result, not executed again.
  CliRun again = Br2kCall({"POST", "/logs", "--data", R"({"user":"cli-1"})", "--url", Url(leader),
                           "--client", "cli-test", "--seq", "10", "--json"});
  ASSERT_EQ(again.status, 0) << again.err;
  auto j = json::parse(again.out, nullptr, false);
  EXPECT_EQ(j.value("duplicate", false), true) << again.out;

  // A read with a seed URL only; GET is the default without --data.
  CliRun read = Br2kCall({"/logs", "--url", Url(follower)});
  ASSERT_EQ(read.status, 0) << read.err;
  auto logs = json::parse(read.out, nullptr, false);
  ASSERT_TRUE(logs.is_object()) << read.out;
  EXPECT_EQ(logs["logs"], json::array({"cli-1", "cli-2", "cli-3"}));

  // Clear errors.
  CliRun bad_path = Br2kCall({"POST", "logs", "--url", Url(leader)});
  EXPECT_EQ(bad_path.status, 1);
  EXPECT_NE(bad_path.err.find("PATH must start with '/'"), std::string::npos) << bad_path.err;
  CliRun no_source = Br2kCall({"/logs", "--run-dir", (dir_.path() / "nothing").string()});
  EXPECT_EQ(no_source.status, 1);
  EXPECT_NE(no_source.err.find("br2k up"), std::string::npos) << no_source.err;
  CliRun http_error = Br2kCall({"POST", "/logs", "--data", "{}", "--url", Url(leader)});
  EXPECT_EQ(http_error.status, 1);
  EXPECT_NE(http_error.err.find("HTTP 400"), std::string::npos) << http_error.err;
  CliRun claim_no_key = Br2kCall({"/logs", "--url", Url(leader), "--claim-after", "2"});
  EXPECT_EQ(claim_no_key.status, 1);
  EXPECT_NE(claim_no_key.err.find("--key-file"), std::string::npos) << claim_no_key.err;
}

}  // namespace
}  // namespace br2k::client
