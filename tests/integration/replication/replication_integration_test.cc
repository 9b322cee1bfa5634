// The replicated log server against a real 3-member etcd cluster: three br2k-logserver child
// processes, killed at each failpoint, paused, cut off from their etcd member, or left without
// etcd. Every test ends by checking the etcd contents and every replica's local state.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "br2k/cluster/local_cluster.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/http/client.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/log_entry.h"
#include "br2k/replication/node_process.h"
#include "logserver_fleet.h"
#include "test_env.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
constexpr char kService[] = "logs";
constexpr int kNodes = 3;

class ReplicationIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::LogserverFleet::Create({.dir = dir_.path(),
                                              .nodes = kNodes,
                                              .service = kService,
                                              .args = testing::FastFailoverArgs()},
                                             Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    auto e = etcd::GrpcClient::Create({.endpoints = fleet_->cluster().client_urls()});
    ASSERT_TRUE(e.ok());
    etcd_ = std::move(e).value();
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  std::string Url(int i) const { return fleet_->Url(i); }

  void StartNode(int i, std::vector<std::string> extra = {}) {
    Status s = fleet_->Start(i, extra);
    ASSERT_TRUE(s.ok()) << s;
  }

  void KillNode(int i) {
    Status s = fleet_->Kill(i);
    ASSERT_TRUE(s.ok()) << s;
  }

  // The index of the one node among `among` that reports Leader (bounded wait), or -1.
  int WaitLeader(std::set<int> among) { return fleet_->WaitLeader(among, Deadline::After(40s)); }

  Result<http::ClientResponse> PostTo(int i, const std::string& user, const std::string& client,
                                      uint64_t seq, Deadline d = Deadline::After(15s)) {
    return testing::PostLog(Url(i), user, client, seq, d);
  }

  // A well-behaved client: tries every node, follows redirects, retries the same (client, seq)
  // until it gets a 200 or the bound runs out.
  http::ClientResponse ClientPost(const std::string& user, const std::string& client,
                                  uint64_t seq) {
    auto until = Deadline::After(60s);
    int next = 0;
    http::ClientResponse last;
    while (!until.expired()) {
      int i = next++ % kNodes;
      if (!fleet_->Running(i)) continue;
      auto r = PostTo(i, user, client, seq, Deadline::After(8s));
      if (r.ok() && r->status == 200) return *r;
      if (r.ok() && r->status == 307) {
        auto url = r->headers["x-br2k-leader-url"];
        for (int k = 0; k < kNodes; ++k) {
          if (Url(k) == url) next = k;
        }
      } else {
        std::this_thread::sleep_for(100ms);
      }
      if (r.ok()) last = *r;
    }
    ADD_FAILURE() << "no 200 for " << user << " (last " << last.status << " " << last.body << ")";
    return last;
  }

  std::string EtcdValue(const std::string& key) {
    auto kv = etcd_->Get(key, Deadline::After(5s));
    return kv.ok() && *kv ? (*kv)->value : "";
  }

  EntryStatus Rs(uint64_t i) {
    auto s = DecodeEntryStatus(EtcdValue(KeyLayout(kService).rs(i)));
    return s.ok() ? *s : EntryStatus{};
  }

  // The Success Replication entries in index order, from etcd; checks that nothing is pending.
  std::vector<std::string> ExpectedFromEtcd(uint64_t& ssi) {
    KeyLayout k(kService);
    auto ls = ParseIndex(EtcdValue(k.log_size())).value_or(0);
    ssi = ParseIndex(EtcdValue(k.ssi())).value_or(0);
    EXPECT_EQ(ls, ssi) << "every logged entry is finished";
    std::vector<std::string> out;
    for (uint64_t i = 1; i <= ls; ++i) {
      auto rs = Rs(i);
      EXPECT_NE(rs.state, EntryState::kNull) << "entry " << i;
      EXPECT_NE(rs.state, EntryState::kInProcess) << "entry " << i;
      auto e = DecodeLogEntry(EtcdValue(k.rle(i)));
      EXPECT_TRUE(e.ok()) << "RLE " << i;
      if (e.ok() && rs.state == EntryState::kSuccess && e->type == RequestType::kReplication) {
        out.push_back(json::parse(e->request.body).at("user").get<std::string>());
      }
    }
    return out;
  }

  json ReplicaState(int i) {
    auto r = http::Call(Url(i), "GET", "/replica?state=1", "", {}, Deadline::After(3s));
    if (!r.ok() || r->status != 200) return json();
    return json::parse(r->body, nullptr, false);
  }

  // Waits until every running node has applied SSI, then compares each one's state with the
  // Success entries in etcd. Returns that list.
  std::vector<std::string> CheckConverged() {
    std::vector<std::string> expected;
    uint64_t ssi = 0;
    auto until = Deadline::After(40s);
    bool all = false;
    while (!until.expired() && !all) {
      KeyLayout k(kService);
      ssi = ParseIndex(EtcdValue(k.ssi())).value_or(0);
      all = EtcdValue(k.log_size()) == EtcdValue(k.ssi());
      for (int i = 0; i < kNodes && all; ++i) {
        if (!fleet_->Running(i)) continue;
        auto st = ReplicaState(i);
        all = st.is_object() && st.value("lpi", uint64_t{0}) == ssi;
      }
      if (!all) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(all) << "replicas did not converge on SSI " << ssi;
    expected = ExpectedFromEtcd(ssi);
    for (int i = 0; i < kNodes; ++i) {
      if (!fleet_->Running(i)) continue;
      auto st = ReplicaState(i);
      EXPECT_TRUE(st.is_object()) << "node " << i;
      if (st.is_object()) {
        EXPECT_EQ(st["state"], json(expected)) << "node " << i;
      }
    }
    return expected;
  }

  void RunFailpoint(const std::string& failpoint, EntryState want_rs3, bool retry_is_duplicate) {
    for (int i = 0; i < kNodes; ++i) StartNode(i, {"--failpoint=" + failpoint + ":3"});
    int leader = WaitLeader({0, 1, 2});
    ASSERT_GE(leader, 0);
    for (uint64_t s = 1; s <= 2; ++s) {
      auto r = PostTo(leader, "u" + std::to_string(s), "c1", s);
      ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    }
    // The third request crashes the leader at the failpoint: no acknowledgement.
    auto r3 = PostTo(leader, "u3", "c1", 3);
    EXPECT_FALSE(r3.ok() && r3->status == 200);
    ASSERT_TRUE(fleet_->WaitExit(leader, Deadline::After(15s)).ok()) << "leader survived";
    std::set<int> others;
    for (int i = 0; i < kNodes; ++i) {
      if (i != leader) others.insert(i);
    }
    int next = WaitLeader(others);
    ASSERT_GE(next, 0) << "no new leader";
    // The client retries the same (client, seq): answered once, executed once.
    auto retry = ClientPost("u3", "c1", 3);
    EXPECT_EQ(retry.status, 200);
    EXPECT_EQ(retry.headers.count("x-br2k-duplicate") == 1, retry_is_duplicate) << failpoint;
    EXPECT_EQ(ClientPost("u4", "c1", 4).status, 200);
    EXPECT_EQ(Rs(3).state, want_rs3);
    // The old leader restarts (without the failpoint) and catches up.
    StartNode(leader);
    auto logs = CheckConverged();
    EXPECT_EQ(logs, (std::vector<std::string>{"u1", "u2", "u3", "u4"}));
  }

  testing::ScratchDir dir_{"repl-it"};
  std::unique_ptr<testing::LogserverFleet> fleet_;
  std::unique_ptr<etcd::GrpcClient> etcd_;
};

TEST_F(ReplicationIT, FailpointAfterAppend_entryIgnoredAndRetryRunsOnce) {
  RunFailpoint("after_append", EntryState::kIgnore, false);
}

TEST_F(ReplicationIT, FailpointAfterInProcess_entryReprocessedByNewLeader) {
  RunFailpoint("after_inprocess", EntryState::kSuccess, true);
}

TEST_F(ReplicationIT, FailpointMidApply_entryReprocessedAndOldLeaderRecovers) {
  RunFailpoint("mid_apply", EntryState::kSuccess, true);
}

TEST_F(ReplicationIT, FailpointAfterResult_retryAnsweredFromRecord) {
  RunFailpoint("after_result", EntryState::kSuccess, true);
}

TEST_F(ReplicationIT, PausedLeader_neverAcknowledgesAfterResume) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  int old = WaitLeader({0, 1, 2});
  ASSERT_GE(old, 0);
  ASSERT_EQ(ClientPost("before", "c1", 1).status, 200);
  ASSERT_TRUE(fleet_->Signal(old, SIGSTOP).ok());
  std::set<int> others;
  for (int i = 0; i < kNodes; ++i) {
    if (i != old) others.insert(i);
  }
  int next = WaitLeader(others);
  // A request reaches the paused leader's socket; it is read only after SIGCONT.
  std::atomic<int> paused_status{-1};
  std::thread t([&] {
    auto r = PostTo(old, "to-paused", "c2", 1, Deadline::After(30s));
    paused_status = r.ok() ? r->status : 0;
  });
  if (next < 0) {
    (void)fleet_->Signal(old, SIGCONT);
    t.join();
    FAIL() << "no new leader while the old one was paused";
  }
  auto during = PostTo(next, "during", "c1", 2);
  EXPECT_TRUE(during.ok() && during->status == 200);
  ASSERT_TRUE(fleet_->Signal(old, SIGCONT).ok());
  t.join();
  EXPECT_NE(paused_status.load(), 200) << "the resumed old leader acknowledged a request";
  EXPECT_NE(paused_status.load(), -1);
  auto logs = CheckConverged();
  EXPECT_EQ(logs, (std::vector<std::string>{"before", "during"}));
  auto p = ProbeReplica(Url(old), Deadline::After(2s));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->role, "Follower");
  EXPECT_EQ(EtcdValue(KeyLayout(kService).current_leader()), "node-" + std::to_string(next));
}

TEST_F(ReplicationIT, LeaderEtcdMemberKilled_serviceContinuesWithoutLoss) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  int old = WaitLeader({0, 1, 2});
  ASSERT_GE(old, 0);
  std::vector<std::string> acked;
  uint64_t seq = 0;
  for (int k = 0; k < 5; ++k) {
    std::string u = "a" + std::to_string(++seq);
    if (ClientPost(u, "c1", seq).status == 200) acked.push_back(u);
  }
  ASSERT_TRUE(fleet_->cluster().KillMember(old).ok());
  std::set<int> others;
  for (int i = 0; i < kNodes; ++i) {
    if (i != old) others.insert(i);
  }
  // The client keeps going; the old leader resigns and a replica beside a live member leads.
  for (int k = 0; k < 10; ++k) {
    std::string u = "b" + std::to_string(++seq);
    if (ClientPost(u, "c1", seq).status == 200) acked.push_back(u);
  }
  int next = WaitLeader(others);
  EXPECT_GE(next, 0);
  EXPECT_EQ(acked.size(), 15u);
  auto logs = CheckConverged();
  EXPECT_EQ(logs, acked) << "acknowledged requests lost or duplicated";
}

TEST_F(ReplicationIT, EtcdUnreachable_503ThenResumes) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  ASSERT_EQ(ClientPost("u1", "c1", 1).status, 200);
  for (int m = 0; m < kNodes; ++m) ASSERT_TRUE(fleet_->cluster().PauseMember(m).ok());
  for (uint64_t s = 2; s <= 3; ++s) {
    auto r = PostTo(leader, "outage", "c1", s);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 503) << r->body;
    auto j = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << r->body;
  }
  for (int m = 0; m < kNodes; ++m) ASSERT_TRUE(fleet_->cluster().ResumeMember(m).ok());
  EXPECT_EQ(ClientPost("u2", "c1", 4).status, 200);
  auto logs = CheckConverged();
  EXPECT_EQ(logs, (std::vector<std::string>{"u1", "u2"}));
}

TEST_F(ReplicationIT, Frontend_redirectsAndAnswersBadInputWithJson) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % kNodes;
  auto until = Deadline::After(20s);
  while (!until.expired()) {  // the follower learns the leader on its next check
    auto p = ProbeReplica(Url(follower), Deadline::After(1s));
    if (p.ok() && !p->leader.empty()) break;
    std::this_thread::sleep_for(50ms);
  }
  auto r = PostTo(follower, "x", "c1", 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 307);
  EXPECT_EQ(r->headers["location"], Url(leader) + "/logs");
  EXPECT_EQ(r->headers["x-br2k-leader"], "node-" + std::to_string(leader));
  auto call = [&](const std::string& m, const std::string& target, const std::string& body,
                  std::map<std::string, std::string> h = {}) {
    auto c = http::Call(Url(leader), m, target, body, h, Deadline::After(10s));
    EXPECT_TRUE(c.ok());
    if (c.ok()) {
      EXPECT_TRUE(json::parse(c->body, nullptr, false).is_object()) << c->body;
    }
    return c.ok() ? c->status : 0;
  };
  EXPECT_EQ(call("GET", "/nope", ""), 404);
  EXPECT_EQ(call("DELETE", "/logs", ""), 405);
  EXPECT_EQ(call("POST", "/logs", "{not json"), 400);
  EXPECT_EQ(call("POST", "/logs", "{\"user\":\"u\"}", {{"X-Br2k-Seq", "1"}}), 400);
  EXPECT_EQ(call("POST", "/logs", std::string(2 * 1024 * 1024, 'x')), 413);
  EXPECT_EQ(call("GET", "/leader", ""), 200);
  auto f = http::Call(Url(follower), "GET", "/leader", "", {}, Deadline::After(5s));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->status, 503);
  EXPECT_EQ(call("POST", "/logs", "{\"user\":\"ok\"}"), 200);
  // Issue 10 item 7: bytes the log cannot hold exactly (JSON text is UTF-8) are refused, the query
  // string included; well-formed multi-byte text is logged byte for byte (CheckConverged below
  // compares every replica with etcd).
  EXPECT_EQ(call("POST", "/logs?tag=\xFF", "{\"user\":\"q\"}"), 400);
  EXPECT_EQ(call("POST", "/logs", "{\"user\":\"\xED\xA0\x80\"}"), 400);  // a surrogate
  EXPECT_EQ(call("POST", "/logs", "{\"user\":\"\xC0\xAF\"}"), 400);      // overlong '/'
  EXPECT_EQ(call("POST", "/logs", "{\"user\":\"\xF5\x80\x80\x80\"}"), 400);
  EXPECT_EQ(call("POST", "/logs?tag=\xC3\xA9", "{\"user\":\"h\xC3\xA9 \xF0\x9F\x98\x80\"}"), 200);
  auto read = http::Call(Url(leader), "GET", "/logs", "", {}, Deadline::After(10s));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(json::parse(read->body)["logs"], json({"ok", "h\xC3\xA9 \xF0\x9F\x98\x80"}));
  auto metrics = http::Call(Url(leader), "GET", "/metrics", "", {}, Deadline::After(5s));
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("br2k_requests_total{type=\"Replication\",outcome=\"success\"} 2"),
            std::string::npos)
      << metrics->body;
  EXPECT_EQ(CheckConverged(), (std::vector<std::string>{"ok", "h\xC3\xA9 \xF0\x9F\x98\x80"}));
}

// Issue 10 item 8: a replica restarted with a plausibly edited state.json ran "healthy", diverged
// and, as leader, served 129 entries where the truth was 126. Now each edit is DATA_LOSS on load:
// the replica rebuilds from etcd, converges with the others and, made leader, serves the truth.
TEST_F(ReplicationIT, TamperedLocalState_rebuiltFromEtcdAndNeverServed) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  uint64_t seq = 0;
  for (int w = 0; w < 12; ++w, ++seq) {
    ASSERT_EQ(ClientPost("t" + std::to_string(seq), "c1", seq + 1).status, 200);
  }
  CheckConverged();
  const int victim = (leader + 1) % kNodes;
  const auto file = fleet_->DataDir(victim) / "state.json";
  struct Edit {
    const char* name;
    std::function<void(json&)> apply;
  };
  const Edit edits[] = {{"one element dropped and LPI -1 (checksum left as it was)",
                         [](json& j) {
                           auto snap = json::parse(j["snapshot"].get<std::string>());
                           snap.erase(snap.begin() + 3);
                           j["snapshot"] = snap.dump();
                           j["lpi"] = j["lpi"].get<uint64_t>() - 1;
                         }},
                        {"LPI +1000 with the checksum recomputed", [](json& j) {
                           LocalState s{.lpi = j["lpi"].get<uint64_t>() + 1000,
                                        .snapshot = j["snapshot"].get<std::string>()};
                           j["lpi"] = s.lpi;
                           j["crc32"] = LocalStateChecksum(s);
                         }}};
  for (const auto& e : edits) {
    SCOPED_TRACE(e.name);
    fleet_->Stop(victim);  // SIGTERM: it saves its state
    json j;
    {
      std::ifstream in(file);
      j = json::parse(in);
    }
    e.apply(j);
    { std::ofstream(file) << j.dump(); }
    ASSERT_EQ(ClientPost("t" + std::to_string(seq), "c1", seq + 1).status, 200);
    ++seq;
    StartNode(victim);
    CheckConverged();
    auto st = http::Call(Url(victim), "GET", "/status", "", {}, Deadline::After(3s));
    ASSERT_TRUE(st.ok());
    json sj = json::parse(st->body);
    EXPECT_EQ(sj["state_rebuilds"], 1) << sj.dump();
    EXPECT_NE(sj["last_data_loss"].get<std::string>(), "") << sj.dump();
  }
  // The others stop serving; the rebuilt replica leads and serves exactly what etcd holds.
  uint64_t ssi = 0;
  auto truth = ExpectedFromEtcd(ssi);
  ASSERT_EQ(truth.size(), seq);
  for (int i = 0; i < kNodes; ++i) {
    if (i != victim) fleet_->Stop(i);
  }
  ASSERT_EQ(WaitLeader({victim}), victim);
  auto r = http::Call(Url(victim), "GET", "/logs", "", {}, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["logs"], json(truth));
}

TEST_F(ReplicationIT, BoundedLog_wipedFollowerRestoresFromTheSnapshot) {
  using Clock = std::chrono::steady_clock;
  const std::vector<std::string> trim = {"--trim-threshold=50", "--trim-interval-ms=200",
                                         "--trim-max-lag=50"};
  for (int i = 0; i < kNodes; ++i) StartNode(i, trim);
  int leader = WaitLeader({0, 1, 2});
  ASSERT_GE(leader, 0);
  KeyLayout k(kService);
  std::vector<std::string> acked;
  uint64_t seq = 0;
  auto write = [&](int n) {
    for (int w = 0; w < n; ++w) {
      std::string u = "w" + std::to_string(++seq);
      if (ClientPost(u, "c1", seq).status == 200) acked.push_back(u);
    }
  };
  auto rle_keys = [&] {
    auto r = etcd_->Range(
        {.key = k.rle_prefix(), .range_end = etcd::PrefixEnd(k.rle_prefix()), .count_only = true},
        Deadline::After(5s));
    return r.ok() ? r->count : int64_t{-1};
  };
  auto t0 = Clock::now();
  write(300);
  std::cout << "[bounded] 300 writes took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
            << " ms\n";
  // Trimmed while every replica is up.
  auto until = Deadline::After(20s);
  while (!until.expired() && ParseIndex(EtcdValue(k.log_start())).value_or(1) <= 1) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(ParseIndex(EtcdValue(k.log_start())).value_or(1), 1u) << "the log was not trimmed";

  // A follower dies and loses its disk; the service goes on without it.
  const int victim = (leader + 1) % kNodes;
  const std::string victim_id = "node-" + std::to_string(victim);
  KillNode(victim);
  std::filesystem::remove_all(fleet_->DataDir(victim));
  const uint64_t victim_lpi = ParseIndex(EtcdValue(k.lpi(victim_id))).value_or(0);
  write(150);
  // More than max_lag behind, it does not hold trimming back: etcd stays small.
  until = Deadline::After(30s);
  while (!until.expired() && (rle_keys() < 0 || rle_keys() >= 100 ||
                              ParseIndex(EtcdValue(k.log_start())).value_or(1) <= victim_lpi + 1)) {
    std::this_thread::sleep_for(50ms);
  }
  const uint64_t start = ParseIndex(EtcdValue(k.log_start())).value_or(1);
  EXPECT_GT(start, victim_lpi + 1) << "the log was not trimmed past the dead replica";
  const int64_t kept = rle_keys();
  EXPECT_GE(kept, 0);
  EXPECT_LT(kept, 100) << "more than 2x --trim-threshold RLE keys in etcd";
  std::cout << "[bounded] dead replica at LPI " << victim_lpi << "; log starts at " << start << ", "
            << kept << " RLE keys in etcd\n";

  // It comes back with an empty data dir: restores from the snapshot and follows.
  auto t1 = Clock::now();
  StartNode(victim, trim);
  write(20);
  EXPECT_EQ(acked.size(), 470u);
  uint64_t ssi = 0;
  bool converged = false;
  until = Deadline::After(40s);
  while (!until.expired() && !converged) {
    ssi = ParseIndex(EtcdValue(k.ssi())).value_or(0);
    converged = EtcdValue(k.log_size()) == EtcdValue(k.ssi());
    for (int i = 0; i < kNodes && converged; ++i) {
      auto st = ReplicaState(i);
      converged = st.is_object() && st.value("lpi", uint64_t{0}) == ssi;
    }
    if (!converged) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(converged) << "replicas did not converge on SSI " << ssi;
  std::cout << "[bounded] restarted replica caught up (snapshot + log) in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t1).count()
            << " ms\n";
  for (int i = 0; i < kNodes; ++i) {
    auto st = ReplicaState(i);
    ASSERT_TRUE(st.is_object()) << "node " << i;
    EXPECT_EQ(st["state"], json(acked)) << "node " << i;
  }
  for (int i = 0; i < kNodes; ++i) {  // logged, not asserted: the live ones need not restore
    auto st = http::Call(Url(i), "GET", "/status", "", {}, Deadline::After(3s));
    auto j = st.ok() ? json::parse(st->body, nullptr, false) : json();
    if (j.is_object()) {
      std::cout << "[bounded] node " << i << (i == victim ? " (wiped)" : "") << ": "
                << j.value("role", "") << ", trims " << j.value("trims", 0) << ", restores "
                << j.value("restores", 0) << ", log_start " << j.value("log_start", 0) << "\n";
    }
  }
  auto status = http::Call(Url(victim), "GET", "/status", "", {}, Deadline::After(3s));
  ASSERT_TRUE(status.ok());
  auto sj = json::parse(status->body, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << status->body;
  EXPECT_GE(sj.value("restores", uint64_t{0}), 1u) << status->body;
  EXPECT_GE(sj.value("log_start", uint64_t{0}), start) << status->body;
  // A retry of a request whose entry was trimmed is refused with 410, not executed again.
  const uint64_t ls_before = ParseIndex(EtcdValue(k.log_size())).value_or(0);
  auto gone = PostTo(WaitLeader({0, 1, 2}), "w1", "c1", 1);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->status, 410) << gone->body;
  EXPECT_EQ(ParseIndex(EtcdValue(k.log_size())).value_or(0), ls_before);
}

}  // namespace
}  // namespace br2k::replication
