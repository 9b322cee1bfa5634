// The replica runtime against the in-memory etcd (FakeClient): roles, fencing, group commit,
// Prepare service, exactly-once, recovery. Every test asserts on the final etcd contents and on
// each replica's state.
#include "br2k/replication/replica.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/etcd/fake_client.h"
#include "br2k/replication/chain_effects.h"
#include "br2k/replication/frontend.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/log_entry.h"
#include "br2k/replication/routes.h"
#include "log_server_app.h"
#include "test_env.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;

constexpr char kService[] = "svc";

// Polls `cond` until it holds or 20 s pass (a bound, not a timing assertion).
template <typename F>
bool WaitFor(F cond) {
  auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

struct Node {
  apps::LogServerApp app;
  MemoryStore store;
  Failpoints failpoints;
  std::unique_ptr<Replica> replica;
};

ReplicaOptions Options(const std::string& id, bool raft_leader) {
  ReplicaOptions o;
  o.service_id = kService;
  o.replica_id = id;
  o.advertise_url = "http://127.0.0.1:1/" + id;
  o.local_endpoint = raft_leader ? "fake://etcd" : "";
  o.takeover_grace = raft_leader ? 0ms : 600s;
  o.check_interval = 20ms;
  o.leader_ttl_seconds = 2;
  return o;
}

std::unique_ptr<Node> StartNode(etcd::Client& client, ReplicaOptions o) {
  auto n = std::make_unique<Node>();
  n->failpoints.set_test_mode(true);
  auto r = Replica::Create(
      std::move(o),
      {.client = &client, .app = &n->app, .store = &n->store, .failpoints = &n->failpoints});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  n->replica = std::move(*r);
  EXPECT_TRUE(n->replica->Start().ok());
  return n;
}

Request Post(const std::string& user, const std::string& client = "", uint64_t seq = 0) {
  return Request{.method = "POST",
                 .path = "/logs",
                 .body = "{\"user\":\"" + user + "\"}",
                 .client_id = client,
                 .seq = seq};
}

std::string Value(etcd::Client& c, const std::string& key) {
  auto kv = c.Get(key, Deadline::After(5s));
  return kv.ok() && *kv ? (*kv)->value : "";
}

EntryStatus Rs(etcd::Client& c, uint64_t i) {
  auto s = DecodeEntryStatus(Value(c, KeyLayout(kService).rs(i)));
  EXPECT_TRUE(s.ok()) << "RS " << i << ": " << s.status();
  return s.ok() ? *s : EntryStatus{};
}

void SeedEntry(etcd::Client& c, uint64_t i, const std::string& user, EntryState state,
               const std::string& client = "", uint64_t seq = 0) {
  KeyLayout k(kService);
  LogEntry e{.type = RequestType::kReplication, .request = Post(user, client, seq)};
  ASSERT_TRUE(c.Put(k.rle(i), EncodeLogEntry(e), Deadline::After(5s)).ok());
  EntryStatus s{.type = RequestType::kReplication, .state = state};
  if (state == EntryState::kSuccess || state == EntryState::kFail) {
    s.response = Response{.status = state == EntryState::kSuccess ? 200 : 400, .body = "{}"};
  }
  ASSERT_TRUE(c.Put(k.rs(i), EncodeEntryStatus(s), Deadline::After(5s)).ok());
}

bool IsLeader(Node& n) {
  return n.replica->status().role == Role::kLeader;
}

TEST(Replica_leader, CommitsRequestsAndFollowersConverge) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  auto b = StartNode(etcd, Options("b", false));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  for (int i = 0; i < 5; ++i) {
    auto r = a->replica->Execute(Post("u" + std::to_string(i)), RequestType::kReplication,
                                 Deadline::After(10s));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->index, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(r->state, EntryState::kSuccess);
  }
  // A rejected request is logged as Fail and changes nothing anywhere.
  auto bad = a->replica->Execute({.method = "POST", .path = "/logs", .body = "{}"},
                                 RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->state, EntryState::kFail);

  KeyLayout k(kService);
  EXPECT_EQ(Value(etcd, k.log_size()), "6");
  EXPECT_EQ(Value(etcd, k.ssi()), "6");
  EXPECT_EQ(Value(etcd, k.lpi("a")), "6");
  EXPECT_EQ(Value(etcd, k.current_leader()), "a");
  for (uint64_t i = 1; i <= 5; ++i) EXPECT_EQ(Rs(etcd, i).state, EntryState::kSuccess);
  EXPECT_EQ(Rs(etcd, 6).state, EntryState::kFail);
  std::vector<std::string> want = {"u0", "u1", "u2", "u3", "u4"};
  EXPECT_EQ(a->app.logs(), want);
  ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 6; }));
  EXPECT_EQ(b->app.logs(), want);
  EXPECT_EQ(b->replica->status().leader, "a");
  ASSERT_TRUE(WaitFor([&] { return Value(etcd, k.lpi("b")) == "6"; }));
  // Followers refuse writes.
  EXPECT_EQ(b->replica->Execute(Post("x"), RequestType::kReplication, Deadline::After(1s))
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

TEST(Replica_groupCommit, ConcurrentRequestsShareOneAppendTransaction) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  // The first request's append transaction blocks in the hook; the other 15 requests queue
  // behind it and must then share one batch.
  constexpr int kClients = 16;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> blocked{false};
  std::atomic<int> txns{0};
  etcd.SetHook([&](std::string_view method) {
    if (method == "Txn" && txns++ == 0) {
      blocked = true;
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
    }
    return Status::Ok();
  });
  std::atomic<int> ok{0};
  auto client = [&](int i) {
    auto r = a->replica->Execute(Post("c" + std::to_string(i)), RequestType::kReplication,
                                 Deadline::After(20s));
    if (r.ok() && r->state == EntryState::kSuccess) ok++;
  };
  std::vector<std::thread> threads;
  threads.emplace_back(client, 0);
  EXPECT_TRUE(WaitFor([&] { return blocked.load(); }));
  for (int i = 1; i < kClients; ++i) threads.emplace_back(client, i);
  EXPECT_TRUE(WaitFor([&] { return a->replica->status().queued == kClients - 1; }));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  etcd.SetHook(nullptr);
  EXPECT_EQ(ok.load(), kClients);
  EXPECT_EQ(Value(etcd, KeyLayout(kService).log_size()), std::to_string(kClients));
  EXPECT_EQ(a->app.logs().size(), static_cast<size_t>(kClients));
  // Two batches, pipelined: append b1 | append b2 + InProcess b1 | InProcess b2 + result b1 |
  // result b2. Four transactions, not three per request (nor three per batch).
  EXPECT_EQ(txns.load(), 4);
}

TEST(Replica_fencing, DeposedLeaderCannotWrite) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  ASSERT_TRUE(
      a->replica->Execute(Post("u1"), RequestType::kReplication, Deadline::After(10s)).ok());
  KeyLayout k(kService);
  // Someone else takes Current_Leader (as after a lease expiry and a new claim).
  etcd::TxnRequest t;
  t.success = {etcd::Op::Delete(k.current_leader())};
  ASSERT_TRUE(etcd.Txn(t, Deadline::After(5s)).ok());
  ASSERT_TRUE(etcd.Put(k.current_leader(), "z", Deadline::After(5s)).ok());
  // a still believes it leads until its next check; its write must fail either way.
  auto r = a->replica->Execute(Post("u2"), RequestType::kReplication, Deadline::After(10s));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Value(etcd, k.log_size()), "1");
  EXPECT_EQ(Value(etcd, k.rle(2)), "");
  ASSERT_TRUE(WaitFor([&] { return a->replica->status().role == Role::kFollower; }));
  EXPECT_EQ(a->app.logs(), std::vector<std::string>{"u1"});
  EXPECT_EQ(Value(etcd, k.current_leader()), "z");
}

TEST(Replica_fencing, SameIdReclaimWithNewEpochFencesOldEpoch) {
  // The fence compares the revision too: a stale epoch of the same replica id cannot write.
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  KeyLayout k(kService);
  ASSERT_TRUE(etcd.Put(k.current_leader(), "a", Deadline::After(5s)).ok());  // new mod_revision
  auto r = a->replica->Execute(Post("u"), RequestType::kReplication, Deadline::After(10s));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Value(etcd, k.log_size()), "");
  EXPECT_TRUE(a->app.logs().empty());
}

TEST(Replica_prepareService, NullIgnoredInProcessReprocessedFailSkipped) {
  etcd::FakeClient etcd;
  KeyLayout k(kService);
  SeedEntry(etcd, 1, "one", EntryState::kSuccess);
  SeedEntry(etcd, 2, "two", EntryState::kInProcess);
  SeedEntry(etcd, 3, "three", EntryState::kNull);
  SeedEntry(etcd, 4, "four", EntryState::kFail);
  ASSERT_TRUE(etcd.Put(k.log_size(), "4", Deadline::After(5s)).ok());
  ASSERT_TRUE(etcd.Put(k.ssi(), "1", Deadline::After(5s)).ok());
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  EXPECT_EQ(Rs(etcd, 1).state, EntryState::kSuccess);
  auto rs2 = Rs(etcd, 2);
  EXPECT_EQ(rs2.state, EntryState::kSuccess);
  ASSERT_TRUE(rs2.response.has_value());
  EXPECT_EQ(rs2.response->status, 200);
  EXPECT_EQ(Rs(etcd, 3).state, EntryState::kIgnore);
  EXPECT_EQ(Rs(etcd, 4).state, EntryState::kFail);
  EXPECT_EQ(Value(etcd, k.ssi()), "4");
  EXPECT_EQ(Value(etcd, k.lpi("a")), "4");
  EXPECT_EQ(a->app.logs(), (std::vector<std::string>{"one", "two"}));
  // New requests continue after the old log.
  auto r = a->replica->Execute(Post("five"), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->index, 5u);
}

TEST(Replica_exactlyOnce, DuplicateAnsweredFromRecordNotExecuted) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto r1 =
      a->replica->Execute(Post("u", "c1", 1), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_FALSE(r1->duplicate);
  auto r2 =
      a->replica->Execute(Post("u", "c1", 1), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->duplicate);
  EXPECT_EQ(r2->index, r1->index);
  EXPECT_EQ(r2->response, r1->response);
  EXPECT_EQ(a->app.logs().size(), 1u);
  EXPECT_EQ(Value(etcd, KeyLayout(kService).log_size()), "1");
  // The next sequence number is a new request.
  auto r3 =
      a->replica->Execute(Post("u", "c1", 2), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->duplicate);
  EXPECT_EQ(a->app.logs().size(), 2u);
}

TEST(Replica_exactlyOnce, DuplicateAcrossLeadersUsesEtcdRecord) {
  etcd::FakeClient etcd;
  SeedEntry(etcd, 1, "done", EntryState::kInProcess, "c9", 3);  // old leader died mid-request
  SeedEntry(etcd, 2, "never", EntryState::kNull, "c9", 4);      // old leader died after append
  KeyLayout k(kService);
  ASSERT_TRUE(etcd.Put(k.log_size(), "2", Deadline::After(5s)).ok());
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  // Retry of the InProcess one: re-processed once by Prepare service, answered from record.
  auto r =
      a->replica->Execute(Post("done", "c9", 3), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->duplicate);
  EXPECT_EQ(r->index, 1u);
  // Retry of the Ignored one: runs now, once.
  auto r2 =
      a->replica->Execute(Post("never", "c9", 4), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_FALSE(r2->duplicate);
  EXPECT_EQ(r2->index, 3u);
  auto r3 =
      a->replica->Execute(Post("never", "c9", 4), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r3.ok());
  EXPECT_TRUE(r3->duplicate);
  EXPECT_EQ(r3->index, 3u);
  EXPECT_EQ(a->app.logs(), (std::vector<std::string>{"done", "never"}));
  EXPECT_EQ(Rs(etcd, 2).state, EntryState::kIgnore);
  EXPECT_EQ(Rs(etcd, 3).state, EntryState::kSuccess);
}

// The session table is the log: a retry is answered from its entry for as long as the entry is
// retained, however old, and no per-request session record is written.
TEST(Replica_exactlyOnce, SessionLivesAsLongAsItsEntry) {
  etcd::FakeClient etcd;
  auto o = Options("a", true);
  o.session_ttl = 0s;  // records and floors expire at the next sweep; entries do not
  o.session_sweep_interval = 0s;
  auto a = StartNode(etcd, o);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto r1 =
      a->replica->Execute(Post("u", "c1", 1), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r1.ok()) << r1.status();
  KeyLayout k(kService);
  auto records = etcd.GetPrefix(k.session_prefix(), Deadline::After(5s));
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty()) << records->size() << " session records";
  std::this_thread::sleep_for(300ms);  // a few sweeps
  auto r2 =
      a->replica->Execute(Post("u", "c1", 1), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->duplicate);
  EXPECT_EQ(r2->index, 1u);
  EXPECT_EQ(a->app.logs().size(), 1u);
}

// Once its entry is trimmed, a request is covered by its client's floor; the floor expires
// with the session TTL, and then the same (client, seq) is a new request (the documented
// client contract).
TEST(Replica_exactlyOnce, ExpiredFloorIsSweptAndRetryRunsAsNew) {
  etcd::FakeClient etcd;
  auto o = Options("a", true);
  o.trim_threshold = 2;
  o.trim_interval = 0ms;
  o.snapshot_interval = 20ms;
  o.session_ttl = 3600s;
  auto a = StartNode(etcd, o);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  for (uint64_t s = 1; s <= 6; ++s) {
    auto r = a->replica->Execute(Post("u" + std::to_string(s), "c1", s), RequestType::kReplication,
                                 Deadline::After(10s));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  KeyLayout k(kService);
  ASSERT_TRUE(WaitFor([&] { return !Value(etcd, k.session_floor("c1")).empty(); }));
  auto gone =
      a->replica->Execute(Post("u1", "c1", 1), RequestType::kReplication, Deadline::After(10s));
  EXPECT_EQ(gone.status().code(), StatusCode::kOutOfRange) << gone.status();
  a.reset();
  // The same log, a leader whose floors expire at once.
  o.session_ttl = 0s;
  o.session_sweep_interval = 0s;
  auto b = StartNode(etcd, o);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*b); }));
  ASSERT_TRUE(WaitFor([&] { return Value(etcd, k.session_floor("c1")).empty(); }));
  auto again =
      b->replica->Execute(Post("u1", "c1", 1), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->duplicate);
  EXPECT_EQ(again->index, 7u);
}

struct RecordingPublisher final : LocationPublisher {
  Status Publish(const std::string& url, int64_t epoch, Deadline) override {
    std::lock_guard lock(mu);
    calls.emplace_back(url, epoch);
    return fail ? UnavailableError("registry down") : Status::Ok();
  }
  std::mutex mu;
  std::vector<std::pair<std::string, int64_t>> calls;
  bool fail = false;
};

// The bounded log by bytes (beside the real-etcd test EtcdQuotaIT in
// tests/integration/replication/etcd_quota_test.cc): with no bound by count, the leader trims
// once the retained entries hold more than trim_bytes; a new leader counts what it finds.
TEST(Replica_boundedLog, TrimsByBytesWithoutACountBound) {
  etcd::FakeClient etcd;
  auto o = Options("a", true);
  o.trim_threshold = 0;  // no bound by count
  o.trim_bytes = 4096;
  o.trim_interval = 0ms;
  o.snapshot_interval = 20ms;
  const std::string big(240, 'x');
  KeyLayout k(kService);
  {
    auto a = StartNode(etcd, o);
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    for (uint64_t s = 1; s <= 40; ++s) {
      auto r = a->replica->Execute(Post(big + std::to_string(s), "c1", s),
                                   RequestType::kReplication, Deadline::After(10s));
      ASSERT_TRUE(r.ok()) << r.status();
    }
    ASSERT_TRUE(WaitFor([&] { return a->replica->status().log_bytes <= o.trim_bytes; }))
        << a->replica->status().log_bytes;
    EXPECT_GT(a->replica->status().trims, 0u);
    EXPECT_GT(ParseIndex(Value(etcd, k.log_start())).value_or(1), 1u);
    EXPECT_NE(a->replica->MetricsText().find("br2k_log_retained_bytes "), std::string::npos);
  }
  // Trimming by bytes off: a new leader counts the retained entries it reads and keeps them.
  o.trim_bytes = 0;
  auto b = StartNode(etcd, o);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*b); }));
  const uint64_t start = ParseIndex(Value(etcd, k.log_start())).value_or(1);
  const auto st = b->replica->status();
  EXPECT_GE(st.log_bytes, (40 - start + 1) * big.size()) << "start " << start;
  EXPECT_EQ(st.trims, 0u);
}

// etcd's NOSPACE refusal (beside EtcdQuotaIT, which reaches a real etcd's quota): the request
// fails with RESOURCE_EXHAUSTED naming the quota, and once etcd accepts writes again its retry
// with the same (client, seq) runs exactly once.
TEST(Replica_etcdQuota, NoSpaceRefusalIsReportedAndItsRetryRunsOnce) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  ASSERT_TRUE(
      a->replica->Execute(Post("one", "c1", 1), RequestType::kReplication, Deadline::After(10s))
          .ok());
  std::atomic<bool> full{true};
  etcd.SetHook([&](std::string_view method) {
    if (full && (method == "Txn" || method == "Put" || method == "LeaseGrant")) {
      return ResourceExhaustedError("etcdserver: mvcc: database space exceeded");
    }
    return Status::Ok();
  });
  auto r =
      a->replica->Execute(Post("two", "c1", 2), RequestType::kReplication, Deadline::After(10s));
  ASSERT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status();
  EXPECT_NE(r.status().message().find("quota"), std::string::npos) << r.status();
  EXPECT_TRUE(a->replica->status().etcd_nospace);
  EXPECT_GE(a->replica->status().etcd_nospace_refusals, 1u);
  full = false;
  // The leader stepped down; once it leads again the retry runs (a retry meanwhile is refused).
  Result<WriteResult> again = UnavailableError("not tried");
  for (int i = 0; i < 200 && !again.ok(); ++i) {
    again =
        a->replica->Execute(Post("two", "c1", 2), RequestType::kReplication, Deadline::After(10s));
    if (!again.ok()) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(again.ok()) << again.status();
  auto dup =
      a->replica->Execute(Post("two", "c1", 2), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(a->app.logs(), (std::vector<std::string>{"one", "two"}));
}

// Entries too large to read 512 at a time (big bodies against the etcd client's receive limit)
// are read in smaller chunks: a follower catches up, and a new leader restores and rebuilds its
// session table from them.
TEST(Replica_follower, EntriesTooLargeForOneAnswerAreReadInSmallerChunks) {
  etcd::FakeClient etcd;
  etcd.SetMaxResponseBytes(4 * 1024);  // about 10 entries of these
  const std::string big(240, 'x');     // the log server takes users of up to 256 chars
  std::vector<std::string> want;
  {
    auto a = StartNode(etcd, Options("a", true));
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    for (uint64_t s = 1; s <= 30; ++s) {
      auto r = a->replica->Execute(Post(big + std::to_string(s), "c1", s),
                                   RequestType::kReplication, Deadline::After(10s));
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->state, EntryState::kSuccess);
      want.push_back(big + std::to_string(s));
    }
    auto b = StartNode(etcd, Options("b", false));
    ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 30; }));
    EXPECT_TRUE(b->app.logs() == want) << b->app.logs().size() << " entries applied";
  }
  // A replica with nothing local takes over: Prepare service and the session table.
  auto c = StartNode(etcd, Options("c", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*c); }));
  EXPECT_TRUE(c->app.logs() == want) << c->app.logs().size() << " entries applied";
  auto again =
      c->replica->Execute(Post("other", "c1", 5), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->index, 5u);
  EXPECT_EQ(Value(etcd, KeyLayout(kService).log_size()), "30");
}

TEST(Replica_register, PublishesUrlAndEpochBeforeServingAndResignsIfItCannot) {
  etcd::FakeClient etcd;
  KeyLayout k(kService);
  {
    RecordingPublisher pub;
    apps::LogServerApp app;
    MemoryStore store;
    auto r = Replica::Create(Options("a", true),
                             {.client = &etcd, .app = &app, .store = &store, .publisher = &pub});
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return (*r)->status().role == Role::kLeader; }));
    auto cl = etcd.Get(k.current_leader(), Deadline::After(5s));
    ASSERT_TRUE(cl.ok() && cl->has_value());
    std::lock_guard lock(pub.mu);
    ASSERT_EQ(pub.calls.size(), 1u);
    EXPECT_EQ(pub.calls[0].first, "http://127.0.0.1:1/a");
    EXPECT_EQ(pub.calls[0].second, (*cl)->mod_revision);
    EXPECT_EQ((*r)->status().epoch, (*cl)->mod_revision);
  }
  // The first replica stopped and released its claim; b cannot publish, so it never serves.
  RecordingPublisher pub;
  pub.fail = true;
  apps::LogServerApp app;
  MemoryStore store;
  auto r = Replica::Create(Options("b", true),
                           {.client = &etcd, .app = &app, .store = &store, .publisher = &pub});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Start().ok());
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(pub.mu);
    return pub.calls.size() >= 2;
  }));
  EXPECT_NE((*r)->status().role, Role::kLeader);
  EXPECT_EQ(
      (*r)->Execute(Post("x"), RequestType::kReplication, Deadline::After(1s)).status().code(),
      StatusCode::kFailedPrecondition);
  EXPECT_EQ(Value(etcd, k.log_size()), "");
}

TEST(Replica_etcdUnavailable, NoAcknowledgementThenResumes) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  etcd.SetUnavailable(true);
  auto r = a->replica->Execute(Post("lost"), RequestType::kReplication, Deadline::After(5s));
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(a->replica->Read({.method = "GET", .path = "/logs"}, Deadline::After(2s)).ok());
  etcd.SetUnavailable(false);
  KeyLayout k(kService);
  EXPECT_EQ(Value(etcd, k.log_size()), "");
  EXPECT_TRUE(a->app.logs().empty());
  ASSERT_TRUE(WaitFor([&] {
    return a->replica->Execute(Post("back"), RequestType::kReplication, Deadline::After(2s)).ok();
  }));
  EXPECT_EQ(a->app.logs(), std::vector<std::string>{"back"});
  auto read = a->replica->Read({.method = "GET", .path = "/logs"}, Deadline::After(5s));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->body, "{\"logs\":[\"back\"]}");
}

TEST(Replica_resultWriteFails, LocalStateRolledBackAndEntryReprocessed) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  // Fail the third transaction of the batch (the result write) once.
  std::atomic<int> txn{0};
  etcd.SetHook([&](std::string_view m) {
    if (m == "Txn" && ++txn == 3) return UnavailableError("injected: outcome unknown");
    return Status::Ok();
  });
  auto r = a->replica->Execute(Post("x"), RequestType::kReplication, Deadline::After(5s));
  EXPECT_FALSE(r.ok());
  etcd.SetHook(nullptr);
  EXPECT_EQ(Rs(etcd, 1).state, EntryState::kInProcess);
  // The replica leads again; Prepare service re-processes entry 1 exactly once.
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a) && Rs(etcd, 1).state == EntryState::kSuccess; }));
  EXPECT_EQ(a->app.logs(), std::vector<std::string>{"x"});
  EXPECT_EQ(Value(etcd, KeyLayout(kService).ssi()), "1");
}

TEST(Replica_recovery, RestartCatchesUpFromDurableState) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  auto b = StartNode(etcd, Options("b", false));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  ASSERT_TRUE(a->replica->Execute(Post("1"), RequestType::kReplication, Deadline::After(10s)).ok());
  ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 1; }));
  // b restarts with its store; more requests were committed meanwhile.
  b->replica->Stop();
  ASSERT_TRUE(a->replica->Execute(Post("2"), RequestType::kReplication, Deadline::After(10s)).ok());
  auto saved = b->store.LoadState();
  ASSERT_TRUE(saved.ok() && saved->has_value());
  EXPECT_EQ((*saved)->lpi, 1u);
  auto b2 = std::make_unique<Node>();
  ASSERT_TRUE(b2->store.SaveState(**saved).ok());
  auto r =
      Replica::Create(Options("b", false), {.client = &etcd, .app = &b2->app, .store = &b2->store});
  ASSERT_TRUE(r.ok()) << r.status();
  b2->replica = std::move(*r);
  EXPECT_EQ(b2->app.logs(), std::vector<std::string>{"1"});
  ASSERT_TRUE(b2->replica->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return b2->replica->status().lpi == 2; }));
  EXPECT_EQ(b2->app.logs(), (std::vector<std::string>{"1", "2"}));
}

// Issue 10 item 8: a state.json edited plausibly ran "healthy" and diverged. Each edit below is
// DATA_LOSS on load: the file is set aside, and the replica rebuilds from etcd to exactly the
// leader's state.
struct Tamper {
  const char* name;
  std::function<void(nlohmann::json& state, uint64_t ssi)> edit;
};

nlohmann::json ReadJson(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

void Reseal(nlohmann::json& j) {  // a consistent file: the checksum recomputed
  LocalState s{.lpi = j["lpi"].get<uint64_t>(), .snapshot = j["snapshot"].get<std::string>()};
  j["crc32"] = LocalStateChecksum(s);
}

const Tamper kTampers[] = {
    {"lpi_minus_5", [](nlohmann::json& j, uint64_t) { j["lpi"] = j["lpi"].get<uint64_t>() - 5; }},
    {"lpi_plus_1000",
     [](nlohmann::json& j, uint64_t) { j["lpi"] = j["lpi"].get<uint64_t>() + 1000; }},
    {"lpi_plus_1000_resealed",
     [](nlohmann::json& j, uint64_t) {
       j["lpi"] = j["lpi"].get<uint64_t>() + 1000;
       Reseal(j);
     }},
    {"one_element_dropped",
     [](nlohmann::json& j, uint64_t) {
       auto snap = nlohmann::json::parse(j["snapshot"].get<std::string>());
       ASSERT_TRUE(snap.is_array() && snap.size() > 2) << snap.dump();
       snap.erase(snap.begin() + 2);
       j["snapshot"] = snap.dump();
     }},
    {"checksum_mismatch",
     [](nlohmann::json& j, uint64_t) { j["crc32"] = j["crc32"].get<uint64_t>() ^ 1; }},
    {"lpi_above_ssi_resealed",
     [](nlohmann::json& j, uint64_t ssi) {
       j["lpi"] = ssi + 1;
       Reseal(j);
     }},
    {"old_format_without_checksum",
     [](nlohmann::json& j, uint64_t) {
       j.erase("crc32");
       j["format"] = "br2k-state-1";
     }},
};

TEST(Replica_localStateIntegrity, TamperedStateFileIsDataLossAndRebuiltFromEtcd) {
  for (const auto& t : kTampers) {
    SCOPED_TRACE(t.name);
    testing::ScratchDir dir(std::string("repl-tamper-") + t.name);
    etcd::FakeClient etcd;
    auto a = StartNode(etcd, Options("a", true));
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(a->replica
                      ->Execute(Post("u" + std::to_string(i)), RequestType::kReplication,
                                Deadline::After(10s))
                      .ok());
    }
    // b saves its state at LPI 8 and stops.
    {
      apps::LogServerApp app;
      auto store = FileStore::Open(dir.path());
      ASSERT_TRUE(store.ok());
      auto b = Replica::Create(Options("b", false),
                               {.client = &etcd, .app = &app, .store = store->get()});
      ASSERT_TRUE(b.ok()) << b.status();
      ASSERT_TRUE((*b)->Start().ok());
      ASSERT_TRUE(WaitFor([&] { return (*b)->status().lpi == 8; }));
      (*b)->Stop();
    }
    auto j = ReadJson(dir.path() / "state.json");
    ASSERT_EQ(j["lpi"].get<uint64_t>(), 8u);
    t.edit(j, 9);  // SSI once "after" below is committed
    { std::ofstream(dir.path() / "state.json") << j.dump(); }
    ASSERT_TRUE(
        a->replica->Execute(Post("after"), RequestType::kReplication, Deadline::After(10s)).ok());

    apps::LogServerApp app;
    auto store = FileStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    auto b =
        Replica::Create(Options("b", false), {.client = &etcd, .app = &app, .store = store->get()});
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*b)->Start().ok());
    ASSERT_TRUE(WaitFor([&] { return (*b)->status().lpi == 9; })) << (*b)->status().lpi;
    EXPECT_EQ(app.logs(), a->app.logs());
    EXPECT_EQ(app.logs().size(), 9u);
    auto st = (*b)->status();
    EXPECT_EQ(st.state_rebuilds, 1u);
    EXPECT_FALSE(st.last_data_loss.empty());
    EXPECT_TRUE(st.healthy) << st.last_error;
    bool kept = false;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      kept |= e.path().filename().string().starts_with("state.json.corrupt-");
    }
    EXPECT_TRUE(kept) << "the corrupt file is set aside for inspection";
    (*b)->Stop();
    // What it saved now loads cleanly.
    auto saved = (*store)->LoadState();
    ASSERT_TRUE(saved.ok()) << saved.status();
    ASSERT_TRUE(saved->has_value());
    EXPECT_EQ((*saved)->lpi, 9u);
  }
}

TEST(Replica_localStateIntegrity, NotJsonStateFileIsSetAsideNotOverwrittenInPlace) {
  testing::ScratchDir dir("repl-corrupt");
  { std::ofstream(dir.path() / "state.json") << "{not json"; }
  auto store = FileStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  etcd::FakeClient etcd;
  apps::LogServerApp app;
  auto r =
      Replica::Create(Options("a", true), {.client = &etcd, .app = &app, .store = store->get()});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->status().state_rebuilds, 1u);
  EXPECT_NE((*r)->status().last_data_loss.find("state.json"), std::string::npos);
  std::string kept;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().starts_with("state.json.corrupt-")) {
      std::ifstream in(e.path());
      kept.assign(std::istreambuf_iterator<char>(in), {});
    }
  }
  EXPECT_EQ(kept, "{not json");
}

// While running: a state.json damaged under a live follower is found by the periodic check,
// set aside and replaced by the (intact) state in memory.
TEST(Replica_localStateIntegrity, FileDamagedWhileRunningIsFoundAndResaved) {
  testing::ScratchDir dir("repl-damaged-live");
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  apps::LogServerApp app;
  auto store = FileStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto o = Options("b", false);
  o.invariant_check_interval = 100ms;
  o.snapshot_interval = 10ms;
  auto b = Replica::Create(o, {.client = &etcd, .app = &app, .store = store->get()});
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->Start().ok());
  ASSERT_TRUE(a->replica->Execute(Post("x"), RequestType::kReplication, Deadline::After(10s)).ok());
  ASSERT_TRUE(WaitFor([&] { return (*b)->status().lpi == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    auto s = (*store)->LoadState();
    return s.ok() && *s && (*s)->lpi == 1;
  }));
  { std::ofstream(dir.path() / "state.json") << "garbage"; }
  ASSERT_TRUE(WaitFor([&] {
    auto s = (*store)->LoadState();
    return s.ok() && *s && (*s)->lpi == 1;
  }));
  EXPECT_NE((*b)->status().last_data_loss, "");
  EXPECT_EQ(app.logs(), std::vector<std::string>{"x"});
}

struct RefusingPublisher final : LocationPublisher {
  Status Publish(const std::string&, int64_t, Deadline) override {
    publishes++;
    return refuse ? AbortedError("StaleEpoch: the registry holds a higher epoch") : Status::Ok();
  }
  Status Check(const std::string&, int64_t, Deadline) override {
    checks++;
    return check_refuses.exchange(false) ? AbortedError("registry shows another location")
                                         : Status::Ok();
  }
  std::atomic<int> publishes{0};
  std::atomic<int> checks{0};
  std::atomic<bool> refuse{true};
  std::atomic<bool> check_refuses{false};
};

// Issue 10 item 4: with the registry refusing every claim the replicas claimed and resigned in a
// tight loop (380 step-downs in 25 s). Now each refusal doubles a jittered pause.
TEST(Replica_registryRefuses, ClaimsBackOffInsteadOfLooping) {
  etcd::FakeClient etcd;
  RefusingPublisher pub;
  apps::LogServerApp app;
  MemoryStore store;
  auto o = Options("a", true);
  o.claim_backoff_initial = 100ms;
  o.claim_backoff_max = 800ms;
  auto r = Replica::Create(o, {.client = &etcd, .app = &app, .store = &store, .publisher = &pub});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Start().ok());
  std::this_thread::sleep_for(3s);
  // Without backoff: one claim per 20 ms check (~150). With it: 100+200+400+800+800.. ms.
  const int n = pub.publishes.load();
  EXPECT_GE(n, 2);
  EXPECT_LE(n, 10);
  auto st = (*r)->status();
  EXPECT_EQ(st.registry_refusals, static_cast<uint64_t>(n));
  EXPECT_NE(st.role, Role::kLeader);
  EXPECT_NE((*r)->MetricsText().find("br2k_registry_refusals_total " + std::to_string(n)),
            std::string::npos);
  // Once the registry accepts (a manager repaired it), the next claim leads.
  pub.refuse = false;
  ASSERT_TRUE(WaitFor([&] { return (*r)->status().role == Role::kLeader; }));
  EXPECT_EQ((*r)->status().claim_backoff_ms, 0u);
}

// Issue 10 item 6: the leader never noticed that its location was changed. It checks at a bounded
// rate, and when the location cannot be restored at its epoch it resigns and claims anew (a newer
// epoch publishes over it).
TEST(Replica_registryCheck, LeaderChecksLocationAndResignsWhenItCannotRestoreIt) {
  etcd::FakeClient etcd;
  RefusingPublisher pub;
  pub.refuse = false;
  apps::LogServerApp app;
  MemoryStore store;
  auto o = Options("a", true);
  o.location_check_interval = 100ms;
  auto r = Replica::Create(o, {.client = &etcd, .app = &app, .store = &store, .publisher = &pub});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*r)->status().role == Role::kLeader; }));
  const int64_t first = (*r)->status().epoch;
  ASSERT_TRUE(WaitFor([&] { return pub.checks.load() >= 3; }));
  std::this_thread::sleep_for(500ms);
  EXPECT_LE(pub.checks.load(), 12) << "bounded rate";
  pub.check_refuses = true;
  ASSERT_TRUE(WaitFor([&] {
    auto s = (*r)->status();
    return s.location_check_resigns == 1 && s.role == Role::kLeader && s.epoch > first;
  }));
}

TEST(FileStore_journal, TornNewestRecordFallsBackToPreviousAndAllCorruptIsDataLoss) {
  testing::ScratchDir dir("repl-journal");
  {
    auto store = FileStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->SaveJournal({.step = JournalStep::kAppend, .first = 1, .last = 2}).ok());
    ASSERT_TRUE((*store)->SaveJournal({.step = JournalStep::kApply, .first = 1, .last = 2}).ok());
    auto j = (*store)->LoadJournal();
    ASSERT_TRUE(j.ok() && j->has_value());
    EXPECT_EQ((*j)->step, JournalStep::kApply);
  }
  auto path = dir.path() / "journal.dat";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), {});
  }
  // The second record went to slot 0 (seq 2); tear it.
  std::string torn = bytes;
  torn[30] ^= 0x5a;
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << torn; }
  {
    auto store = FileStore::Open(dir.path());
    ASSERT_TRUE(store.ok());
    auto j = (*store)->LoadJournal();
    ASSERT_TRUE(j.ok() && j->has_value()) << j.status();
    EXPECT_EQ((*j)->step, JournalStep::kAppend);
  }
  std::string both = torn;
  both[64 * 1024 + 30] ^= 0x5a;
  { std::ofstream(path, std::ios::binary | std::ios::trunc) << both; }
  auto store = FileStore::Open(dir.path());
  ASSERT_TRUE(store.ok());
  auto j = (*store)->LoadJournal();
  EXPECT_EQ(j.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(j.status().message().find("journal.dat"), std::string::npos);
  // Creating a replica on it fails clearly and keeps the file.
  etcd::FakeClient etcd;
  apps::LogServerApp app;
  auto r =
      Replica::Create(Options("a", true), {.client = &etcd, .app = &app, .store = store->get()});
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  std::ifstream in(path, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(after, both);
}

TEST(Replica_failpoint, MidApplyStopsBeforeResultIsWritten) {
  // In test mode the failpoint only counts; the crash itself is covered by integration tests.
  Failpoints f;
  f.set_test_mode(true);
  ASSERT_TRUE(f.Configure("mid_apply:2").ok());
  f.Hit(Failpoint::kMidApply);
  EXPECT_EQ(f.fired(), 0);
  f.Hit(Failpoint::kMidApply);
  EXPECT_EQ(f.fired(), 1);
  f.Hit(Failpoint::kMidApply);
  EXPECT_EQ(f.fired(), 1);
  EXPECT_FALSE(f.Configure("bogus").ok());
  EXPECT_FALSE(f.Configure("after_append:0").ok());
}

TEST(Replica_paperMode, SameOutcomeOneRequestAtATime) {
  etcd::FakeClient etcd;
  auto o = Options("a", true);
  o.mode = CommitMode::kPaper;
  auto a = StartNode(etcd, o);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  std::atomic<int> txns{0};
  etcd.SetHook([&](std::string_view m) {
    if (m == "Txn") txns++;
    return Status::Ok();
  });
  auto r = a->replica->Execute(Post("p", "c", 1), RequestType::kReplication, Deadline::After(10s));
  etcd.SetHook(nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Rs(etcd, 1).state, EntryState::kSuccess);
  EXPECT_EQ(Value(etcd, KeyLayout(kService).ssi()), "1");
  // RLE, RS, LS, InProcess, result, LPI, SSI: one fenced write each.
  EXPECT_GE(txns.load(), 7);
}

// An in-process chain for the runtime's side of exactly-once transactions (the real path, with
// anvil, is tested end to end in tests/e2e). It mines a broadcast transaction when `mining`.
class FakeChain final : public ChainEffects {
 public:
  void ResetNonce(uint64_t floor) override {
    std::lock_guard lock(mu);
    next = std::max(mined_nonces, floor);
  }
  Result<SignedTx> Sign(const ChainCall& call, Deadline) override {
    std::lock_guard lock(mu);
    if (unreachable) return UnavailableError("chain unreachable");
    ++signs;
    uint64_t n = next++;
    char hash[67];
    std::snprintf(hash, sizeof hash, "0x%064llx", static_cast<unsigned long long>(1000 + n));
    calls.push_back(call);
    return SignedTx{.raw = "0x02" + std::string(hash + 2, 8),
                    .hash = hash,
                    .nonce = n,
                    .from = "0x" + std::string(40, 'a')};
  }
  Status Broadcast(const SignedTx& tx, Deadline) override {
    std::lock_guard lock(mu);
    if (unreachable) return UnavailableError("chain unreachable");
    broadcasts[tx.hash]++;
    if (mining && !mined.count(tx.hash)) {
      mined[tx.hash] = ++block;
      mined_nonces = std::max(mined_nonces, tx.nonce + 1);
    }
    return Status::Ok();
  }
  Result<std::optional<TxReceiptInfo>> Receipt(const std::string& hash, Deadline) override {
    std::lock_guard lock(mu);
    auto it = mined.find(hash);
    if (it == mined.end()) return std::optional<TxReceiptInfo>();
    return std::optional<TxReceiptInfo>(TxReceiptInfo{.success = true, .block = it->second});
  }
  std::mutex mu;
  bool unreachable = false;
  bool mining = true;
  int signs = 0;
  uint64_t next = 0, mined_nonces = 0, block = 0;
  std::vector<ChainCall> calls;
  std::map<std::string, int> broadcasts;
  std::map<std::string, uint64_t> mined;
};

std::unique_ptr<Node> StartChainNode(etcd::Client& client, ReplicaOptions o, ChainEffects* chain) {
  auto n = std::make_unique<Node>();
  n->failpoints.set_test_mode(true);
  auto r = Replica::Create(std::move(o), {.client = &client,
                                          .app = &n->app,
                                          .store = &n->store,
                                          .failpoints = &n->failpoints,
                                          .chain = chain});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return nullptr;
  n->replica = std::move(*r);
  EXPECT_TRUE(n->replica->Start().ok());
  return n;
}

Request Anchor(const std::string& client, uint64_t seq) {
  return Request{
      .method = "POST", .path = "/anchor", .body = "{}", .client_id = client, .seq = seq};
}

TEST(Replica_chainEffects, NormalRequestSignsRecordsThenBroadcastsOnceAndSettles) {
  etcd::FakeClient etcd;
  FakeChain chain;
  KeyLayout k(kService);
  auto a = StartChainNode(etcd, Options("a", true), &chain);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  ASSERT_TRUE(
      a->replica->Execute(Post("u1"), RequestType::kReplication, Deadline::After(10s)).ok());
  // The record must be in etcd before the broadcast: check it from inside the broadcast.
  auto r = a->replica->Execute(Anchor("c1", 1), RequestType::kNormal, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, EntryState::kSuccess);
  EXPECT_EQ(r->index, 2u);
  auto body = nlohmann::json::parse(r->response.body);
  std::string hash = body.at("tx");
  EXPECT_EQ(body.at("status"), "success");
  EXPECT_EQ(body.at("nonce"), 0);
  {
    std::lock_guard lock(chain.mu);
    EXPECT_EQ(chain.signs, 1);
    EXPECT_EQ(chain.broadcasts[hash], 1);
    ASSERT_EQ(chain.calls.size(), 1u);
    EXPECT_EQ(chain.calls[0].data.size(), 2u + 128u);  // digest + size, as hex
  }
  auto rec = DecodeSignedTx(Value(etcd, k.tx(2)));
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->hash, hash);
  EXPECT_EQ(Value(etcd, k.tx_pending(2)), "");  // settled: marker gone
  EXPECT_EQ(Rs(etcd, 2).state, EntryState::kSuccess);
  // A retry is answered from the record, and nothing is signed or sent again.
  auto dup = a->replica->Execute(Anchor("c1", 1), RequestType::kNormal, Deadline::After(10s));
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  std::lock_guard lock(chain.mu);
  EXPECT_EQ(chain.signs, 1);
  EXPECT_EQ(chain.broadcasts[hash], 1);
  // Followers never execute Normal requests; the replicated state holds only u1.
  EXPECT_EQ(a->app.logs(), (std::vector<std::string>{"u1"}));
}

TEST(Replica_chainEffects, NewLeaderRebroadcastsTheSameRawTransactionAndSettles) {
  etcd::FakeClient etcd;
  FakeChain chain;
  chain.mining = false;  // broadcast, never mined while a leads
  KeyLayout k(kService);
  std::string hash;
  {
    auto a = StartChainNode(etcd, Options("a", true), &chain);
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    auto r = a->replica->Execute(Anchor("c1", 7), RequestType::kNormal, Deadline::After(1s));
    EXPECT_FALSE(r.ok());  // not mined: no answer yet
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard lock(chain.mu);
      return !chain.broadcasts.empty();
    }));
    hash = chain.broadcasts.begin()->first;
    EXPECT_EQ(Rs(etcd, 1).state, EntryState::kInProcess);
    EXPECT_NE(Value(etcd, k.tx_pending(1)), "");
  }  // a stops (as if it died after the broadcast)
  {
    std::lock_guard lock(chain.mu);
    chain.mining = true;
  }
  auto b = StartChainNode(etcd, Options("b", true), &chain);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*b); }));
  ASSERT_TRUE(WaitFor([&] { return Rs(etcd, 1).state == EntryState::kSuccess; }));
  auto r = b->replica->Execute(Anchor("c1", 7), RequestType::kNormal, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->duplicate);
  EXPECT_EQ(nlohmann::json::parse(r->response.body).at("tx"), hash);
  EXPECT_EQ(Value(etcd, k.tx_pending(1)), "");
  // A new request is signed above the recorded nonce.
  auto r2 = b->replica->Execute(Anchor("c1", 8), RequestType::kNormal, Deadline::After(10s));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(nlohmann::json::parse(r2->response.body).at("nonce"), 1);
  std::lock_guard lock(chain.mu);
  EXPECT_EQ(chain.signs, 2);             // one signature per request, ever
  EXPECT_GE(chain.broadcasts[hash], 2);  // the same raw transaction, sent again
  EXPECT_EQ(chain.mined.size(), 2u);
}

TEST(Replica_chainEffects, UnreachableChainIgnoresTheEntryAndARetryRunsOnce) {
  etcd::FakeClient etcd;
  FakeChain chain;
  chain.unreachable = true;
  auto a = StartChainNode(etcd, Options("a", true), &chain);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto r = a->replica->Execute(Anchor("c1", 1), RequestType::kNormal, Deadline::After(10s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(Rs(etcd, 1).state, EntryState::kIgnore);
  {
    std::lock_guard lock(chain.mu);
    chain.unreachable = false;
  }
  auto r2 = a->replica->Execute(Anchor("c1", 1), RequestType::kNormal, Deadline::After(10s));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->index, 2u);
  EXPECT_EQ(r2->state, EntryState::kSuccess);
  std::lock_guard lock(chain.mu);
  EXPECT_EQ(chain.signs, 1);
  EXPECT_EQ(chain.mined.size(), 1u);
}

TEST(Replica_chainEffects, WithoutAChainTheRequestFailsClearly) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto r = a->replica->Execute(Anchor("c1", 1), RequestType::kNormal, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, EntryState::kFail);
  EXPECT_EQ(r->response.status, 501);
}

// ---- the bounded log ----

ReplicaOptions TrimOptions(const std::string& id, bool raft_leader) {
  auto o = Options(id, raft_leader);
  o.trim_threshold = 10;
  o.trim_interval = 0ms;  // at every check
  o.snapshot_chunk_bytes = 64;
  o.snapshot_interval = 50ms;
  return o;
}

uint64_t LogStart(etcd::Client& c) {
  return ParseIndex(Value(c, KeyLayout(kService).log_start())).value_or(1);
}

std::vector<std::string> WriteUsers(Node& leader, const std::string& client, uint64_t from,
                                    uint64_t to) {
  std::vector<std::string> users;
  for (uint64_t s = from; s <= to; ++s) {
    auto r = leader.replica->Execute(Post("u" + std::to_string(s), client, s),
                                     RequestType::kReplication, Deadline::After(10s));
    EXPECT_TRUE(r.ok()) << r.status();
    users.push_back("u" + std::to_string(s));
  }
  return users;
}

// The snapshot in etcd, reassembled from its chunks by hand.
std::optional<std::pair<SnapshotHeader, std::string>> EtcdSnapshot(etcd::Client& c) {
  KeyLayout k(kService);
  auto h = DecodeSnapshotHeader(Value(c, k.snapshot()));
  if (!h.ok()) return std::nullopt;
  std::string data;
  for (uint64_t i = 0; i < h->chunks; ++i) data += Value(c, k.snapshot_chunk(h->index, i));
  return std::make_pair(*h, data);
}

TEST(Replica_boundedLog, TrimsBelowTheSnapshotAndEveryLpi) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, TrimOptions("a", true));
  auto b = StartNode(etcd, TrimOptions("b", false));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto users = WriteUsers(*a, "c1", 1, 40);
  ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 40; }));
  ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) > 1 && a->replica->status().trims > 0; }));
  KeyLayout k(kService);
  const uint64_t start = LogStart(etcd);
  EXPECT_EQ(Value(etcd, k.log_size()), "40");
  for (uint64_t i = 1; i <= 40; ++i) {
    EXPECT_EQ(Value(etcd, k.rle(i)).empty(), i < start) << "RLE " << i;
    EXPECT_EQ(Value(etcd, k.rs(i)).empty(), i < start) << "RS " << i;
  }
  // The client's requests of trimmed entries are covered by its floor; no record is kept.
  auto records = etcd.GetPrefix(k.session_prefix(), Deadline::After(5s));
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty()) << records->size() << " session records";
  auto floor = DecodeSessionFloor(Value(etcd, k.session_floor("c1")));
  ASSERT_TRUE(floor.ok()) << floor.status();
  EXPECT_EQ(floor->seq, start - 1);
  // The snapshot covers everything trimmed and is a snapshot of the state at its index.
  auto snap = EtcdSnapshot(etcd);
  ASSERT_TRUE(snap.has_value());
  EXPECT_GE(snap->first.index, start - 1);
  EXPECT_GT(snap->first.chunks, 1u);  // 64-byte chunks
  EXPECT_EQ(snap->first.size, snap->second.size());
  EXPECT_EQ(snap->first.crc32, Crc32(snap->second));
  apps::LogServerApp restored;
  ASSERT_TRUE(restored.Restore(snap->second).ok());
  EXPECT_EQ(restored.logs(),
            std::vector<std::string>(users.begin(), users.begin() + snap->first.index));
  // Only the current snapshot's chunks are kept.
  auto all = etcd.GetPrefix(k.snapshot_prefix(), Deadline::After(5s));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), snap->first.chunks);
  auto st = a->replica->status();
  EXPECT_EQ(st.log_start, start);
  EXPECT_EQ(st.snapshot_index, snap->first.index);
  EXPECT_NE(a->replica->MetricsText().find("br2k_log_trims_total"), std::string::npos);
  // Nothing changed for the replicas: both still hold every entry.
  EXPECT_EQ(a->app.logs(), users);
  EXPECT_EQ(b->app.logs(), users);
  // The service goes on after the trimmed part.
  auto r =
      a->replica->Execute(Post("more", "c1", 41), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->index, 41u);
  ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 41; }));
}

TEST(Replica_boundedLog, EmptyFollowerRestoresFromTheSnapshotAndCatchesUp) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, TrimOptions("a", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto users = WriteUsers(*a, "c1", 1, 40);
  ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) > 1; }));
  // A brand-new replica (empty store) cannot follow from entry 1: it restores the snapshot,
  // then follows the retained entries, including those written afterwards.
  auto b = StartNode(etcd, TrimOptions("b", false));
  auto more = WriteUsers(*a, "c1", 41, 45);
  users.insert(users.end(), more.begin(), more.end());
  ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 45; }));
  EXPECT_EQ(b->app.logs(), users);
  EXPECT_EQ(b->app.logs(), a->app.logs());
  EXPECT_EQ(b->replica->status().restores, 1u);
  EXPECT_GT(b->replica->status().snapshot_index, 0u);
  // Restored durably: a restart from b's store starts at or above the snapshot.
  ASSERT_TRUE(WaitFor([&] {
    auto saved = b->store.LoadState();
    return saved.ok() && saved->has_value() && (*saved)->lpi >= LogStart(etcd) - 1;
  }));
}

TEST(Replica_boundedLog, ReplicaWithinMaxLagHoldsTrimmingBackOneBeyondIsNotWaitedFor) {
  KeyLayout k(kService);
  for (uint64_t max_lag : {1000u, 10u}) {
    etcd::FakeClient etcd;
    // Replica z is down at LPI 5.
    ASSERT_TRUE(etcd.Put(k.lpi("z"), "5", Deadline::After(5s)).ok());
    auto o = TrimOptions("a", true);
    o.max_lag = max_lag;
    auto a = StartNode(etcd, o);
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    WriteUsers(*a, "c1", 1, 40);
    ASSERT_TRUE(WaitFor([&] { return a->replica->status().trims > 0; })) << max_lag;
    if (max_lag == 1000) {
      EXPECT_EQ(LogStart(etcd), 6u) << "z's entries must stay";
      EXPECT_NE(Value(etcd, k.rle(6)), "");
    } else {
      ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) > 6; })) << "z is 35 behind: not waited for";
      // z, when it comes back, restores from the snapshot.
      auto snap = EtcdSnapshot(etcd);
      ASSERT_TRUE(snap.has_value());
      EXPECT_GE(snap->first.index, LogStart(etcd) - 1);
    }
  }
}

TEST(Replica_boundedLog, CorruptSnapshotChunkIsDataLossAndNotApplied) {
  etcd::FakeClient etcd;
  KeyLayout k(kService);
  {
    auto a = StartNode(etcd, TrimOptions("a", true));
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    WriteUsers(*a, "c1", 1, 40);
    ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) > 1; }));
  }  // a stops; nobody writes another snapshot
  auto snap = EtcdSnapshot(etcd);
  ASSERT_TRUE(snap.has_value());
  const uint64_t last = snap->first.chunks - 1;
  std::string chunk = Value(etcd, k.snapshot_chunk(snap->first.index, last));
  ASSERT_FALSE(chunk.empty());
  chunk[0] = chunk[0] == 'x' ? 'y' : 'x';  // same size, other bytes
  ASSERT_TRUE(etcd.Put(k.snapshot_chunk(snap->first.index, last), chunk, Deadline::After(5s)).ok());
  auto b = StartNode(etcd, TrimOptions("b", false));
  ASSERT_TRUE(WaitFor([&] { return !b->replica->status().healthy; }));
  auto st = b->replica->status();
  EXPECT_NE(st.last_error.find("DATA_LOSS"), std::string::npos) << st.last_error;
  EXPECT_NE(st.last_error.find("CRC-32"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.lpi, 0u);
  EXPECT_TRUE(b->app.logs().empty());
  auto saved = b->store.LoadState();
  ASSERT_TRUE(saved.ok());
  EXPECT_FALSE(saved->has_value());
  EXPECT_EQ(st.restores, 0u);
}

TEST(Replica_boundedLog, RetryOfATrimmedRequestIsGoneAndNotExecuted) {
  etcd::FakeClient etcd;
  KeyLayout k(kService);
  {
    auto a = StartNode(etcd, TrimOptions("a", true));
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    WriteUsers(*a, "c1", 1, 40);
    ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) > 2; }));
    auto r =
        a->replica->Execute(Post("u1", "c1", 1), RequestType::kReplication, Deadline::After(10s));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status();
    EXPECT_NE(r.status().message().find("trimmed"), std::string::npos) << r.status();
    EXPECT_EQ(a->app.logs().size(), 40u);
    EXPECT_EQ(Value(etcd, k.log_size()), "40");
  }
  // A new leader loads the floors with the sessions: still refused, never run again.
  auto b = StartNode(etcd, TrimOptions("b", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*b); }));
  auto r =
      b->replica->Execute(Post("u2", "c1", 2), RequestType::kReplication, Deadline::After(10s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status();
  EXPECT_EQ(Value(etcd, k.log_size()), "40");
  // The client's next request and other clients are not affected.
  auto next =
      b->replica->Execute(Post("u41", "c1", 41), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->index, 41u);
  auto other =
      b->replica->Execute(Post("v1", "c2", 1), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(other->duplicate);
  EXPECT_EQ(b->app.logs().size(), 42u);
}

// A client that sent a higher seq first: its trimmed request is not under the client's floor
// (a lower seq is still in the log), so trimming leaves a record of it; a retry is refused by
// this leader and by the next one, and the request in the log is still answered.
TEST(Replica_boundedLog, OutOfOrderSeqOfATrimmedEntryKeepsARecord) {
  etcd::FakeClient etcd;
  KeyLayout k(kService);
  {
    auto a = StartNode(etcd, TrimOptions("a", true));
    ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
    {
      // A follower that stops at entry 1 holds trimming at 1 (it is within max_lag).
      auto f = StartNode(etcd, TrimOptions("f", false));
      WriteUsers(*a, "c2", 50, 50);  // entry 1
      ASSERT_TRUE(WaitFor([&] { return Value(etcd, k.lpi("f")) == "1"; }));
    }
    auto low =
        a->replica->Execute(Post("v10", "c2", 10), RequestType::kReplication, Deadline::After(10s));
    ASSERT_TRUE(low.ok()) << low.status();
    EXPECT_EQ(low->index, 2u);
    WriteUsers(*a, "c1", 1, 20);  // entries 3-22
    ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) == 2; }));
    EXPECT_FALSE(Value(etcd, k.session("c2", 50)).empty());
    EXPECT_TRUE(Value(etcd, k.session_floor("c2")).empty());
    auto r =
        a->replica->Execute(Post("u50", "c2", 50), RequestType::kReplication, Deadline::After(10s));
    EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status();
  }
  auto b = StartNode(etcd, TrimOptions("b", true));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*b); }));
  auto r =
      b->replica->Execute(Post("u50", "c2", 50), RequestType::kReplication, Deadline::After(10s));
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << r.status();
  auto kept =
      b->replica->Execute(Post("v10", "c2", 10), RequestType::kReplication, Deadline::After(10s));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(kept->duplicate);
  EXPECT_EQ(kept->index, 2u);
  EXPECT_EQ(Value(etcd, k.log_size()), "22");
}

TEST(Replica_boundedLog, EntryWithAPendingTransactionIsNeverTrimmed) {
  etcd::FakeClient etcd;
  FakeChain chain;
  chain.mining = false;
  KeyLayout k(kService);
  auto a = StartChainNode(etcd, TrimOptions("a", true), &chain);
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  WriteUsers(*a, "c1", 1, 3);
  auto anchor = a->replica->Execute(Anchor("c2", 1), RequestType::kNormal, Deadline::After(1s));
  EXPECT_FALSE(anchor.ok());  // not mined: no answer yet
  ASSERT_TRUE(WaitFor([&] { return !Value(etcd, k.tx_pending(4)).empty(); }));
  WriteUsers(*a, "c1", 4, 40);
  ASSERT_TRUE(WaitFor([&] { return a->replica->status().trims > 0; }));
  EXPECT_EQ(LogStart(etcd), 4u);  // entries 1-3 trimmed, 4 waits for its receipt
  EXPECT_NE(Value(etcd, k.rle(4)), "");
  EXPECT_NE(Value(etcd, k.tx(4)), "");
  EXPECT_NE(Value(etcd, k.tx_pending(4)), "");
  EXPECT_EQ(Rs(etcd, 4).state, EntryState::kInProcess);
  {
    std::lock_guard lock(chain.mu);
    chain.mining = true;
  }
  // Settled (RS Success, TXQ deleted): the next trim goes past it.
  ASSERT_TRUE(WaitFor([&] { return Value(etcd, k.tx_pending(4)).empty(); }));
  ASSERT_TRUE(WaitFor([&] { return LogStart(etcd) > 4; }));
  EXPECT_EQ(Value(etcd, k.tx(4)), "");
  EXPECT_EQ(Value(etcd, k.rs(4)), "");
}

// Regression (issue 10 item 7): the front end's lax UTF-8 check let overlong forms, surrogates and
// F5..F7 through and never looked at the query string; etcd then held U+FFFD where the leader had
// applied the raw bytes, so followers applied another request. Now what cannot be logged exactly
// is refused, and what is accepted is logged byte for byte and applied the same everywhere.
TEST(Frontend_exactBytes, BytesTheLogCannotHoldAreRefusedTheRestAppliedIdentically) {
  etcd::FakeClient etcd;
  auto a = StartNode(etcd, Options("a", true));
  auto b = StartNode(etcd, Options("b", false));
  ASSERT_TRUE(WaitFor([&] { return IsLeader(*a); }));
  auto routes = RouteTable::Create(a->app.Routes());
  ASSERT_TRUE(routes.ok());
  auto handler = MakeHandler(*a->replica, a->app, *routes, {});
  auto post = [&](std::string query, std::string user_bytes) {
    http::HttpRequest req;
    req.method = "POST";
    req.path = "/logs";
    req.query = std::move(query);
    req.target = req.path + (req.query.empty() ? "" : "?" + req.query);
    req.body = "{\"user\":\"" + user_bytes + "\"}";
    return handler(req);
  };
  const char* refused[] = {"\xC0\xAF",          // overlong '/'
                           "\xE0\x80\xAF",      // overlong '/' in 3 bytes
                           "\xED\xA0\x80",      // surrogate U+D800
                           "\xF5\x80\x80\x80",  // above U+10FFFF
                           "\xF7\xBF\xBF\xBF", "\xF4\x90\x80\x80", "\xFF", "\x80"};
  for (const char* bytes : refused) {
    auto r = post("", bytes);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("UTF-8"), std::string::npos) << r.body;
    auto q = post(std::string("tag=") + bytes, "ok");
    EXPECT_EQ(q.status, 400) << q.body;
    EXPECT_NE(q.body.find("query string"), std::string::npos) << q.body;
  }
  KeyLayout k(kService);
  EXPECT_EQ(Value(etcd, k.log_size()), "") << "nothing refused reached the log";
  // Well-formed multi-byte text (2, 3 and 4 bytes, U+10FFFF, U+FFFD itself) is logged exactly.
  std::string user = "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBD";
  auto ok = post("tag=\xC3\xA9", user);
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto e = DecodeLogEntry(Value(etcd, k.rle(1)));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->request.body, "{\"user\":\"" + user + "\"}");
  EXPECT_EQ(e->request.query, "tag=\xC3\xA9");
  ASSERT_TRUE(WaitFor([&] { return b->replica->status().lpi == 1; }));
  EXPECT_EQ(a->app.logs(), std::vector<std::string>{user});
  EXPECT_EQ(b->app.logs(), a->app.logs());
}

// Regression (issue 10 item 12): {"user":18446744073709551615} was stored as "-1".
TEST(LogServerApp_user, LargestUnsignedStoredExactlyBeyond64BitsRefused) {
  apps::LogServerApp app;
  auto apply = [&](const std::string& body) {
    Request r{.method = "POST", .path = "/logs", .body = body};
    Status v = app.Validate(r, RequestType::kReplication);
    if (!v.ok()) return v;
    auto out = app.Apply(r, {.index = 1, .type = RequestType::kReplication, .as_leader = true});
    return out.outcome == Outcome::kSuccess ? Status::Ok()
                                            : InvalidArgumentError(out.response.body);
  };
  EXPECT_TRUE(apply("{\"user\":18446744073709551615}").ok());
  EXPECT_TRUE(apply("{\"user\":-9223372036854775808}").ok());
  EXPECT_TRUE(apply("{\"user\":7}").ok());
  EXPECT_FALSE(apply("{\"user\":18446744073709551616}").ok());
  EXPECT_FALSE(apply("{\"user\":99999999999999999999999}").ok());
  EXPECT_FALSE(apply("{\"user\":1.5}").ok());
  EXPECT_EQ(app.logs(),
            (std::vector<std::string>{"18446744073709551615", "-9223372036854775808", "7"}));
}

}  // namespace
}  // namespace br2k::replication
