// Failures of a real cluster: killed members, a killed leader, an unreachable cluster.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "br2k/cluster/local_cluster.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/proc/process.h"
#include "test_env.h"

namespace br2k::etcd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::unique_ptr<GrpcClient> Connect(std::vector<std::string> urls) {
  auto c = GrpcClient::Create(GrpcClientOptions{.endpoints = std::move(urls)});
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(c).value();
}

class Failover : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = cluster::LocalCluster::Start(cluster::LocalClusterOptions::TestProfile(dir_.path()),
                                          Deadline::After(60s));
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(c).value();
  }
  std::string Url(int i) const { return cluster_->members()[static_cast<size_t>(i)].client_url; }

  br2k::testing::ScratchDir dir_{"failover"};
  std::unique_ptr<cluster::LocalCluster> cluster_;
};

// Create-if-absent: idempotent, so a write whose outcome is unknown can simply be retried.
void WriteOnce(Client& c, const std::string& key, const std::string& value) {
  Deadline until = Deadline::After(30s);
  while (!until.expired()) {
    auto r = c.Txn(TxnRequest{.compare = {Compare::Absent(key)}, .success = {Op::Put(key, value)}},
                   Deadline::After(3s));
    if (r.ok()) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL() << "could not write " << key;
}

TEST_F(Failover, Watch_resumesWithoutLossAfterItsMemberIsKilled) {
  // The watcher's first endpoint is member 0, so its stream lives there; the writer avoids it.
  auto watcher_client = Connect({Url(0), Url(1), Url(2)});
  auto writer = Connect({Url(1), Url(2)});
  auto w = watcher_client->Watch(WatchOptions{.key = "/wl/", .range_end = PrefixEnd("/wl/")},
                                 Deadline::After(10s));
  ASSERT_TRUE(w.ok()) << w.status();

  constexpr int kWrites = 300;
  std::thread producer([&] {
    for (int i = 0; i < kWrites; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "/wl/%05d", i);
      WriteOnce(*writer, key, std::to_string(i));
      if (i == kWrites / 3) {
        ASSERT_TRUE(cluster_->KillMember(0).ok());
      }
    }
  });

  std::vector<Event> events;
  Deadline until = Deadline::After(90s);
  while (events.size() < kWrites && !until.expired()) {
    auto b = (*w)->Next(Deadline::After(1s));
    if (!b.ok()) {
      ASSERT_EQ(b.status().code(), StatusCode::kDeadlineExceeded) << b.status();
      continue;
    }
    for (auto& e : b->events) events.push_back(std::move(e));
  }
  producer.join();

  ASSERT_EQ(events.size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "/wl/%05d", i);
    EXPECT_EQ(events[i].kv.key, key) << "event " << i << " out of order or missing";
    if (i > 0) {
      EXPECT_GT(events[i].kv.mod_revision, events[i - 1].kv.mod_revision);
    }
  }
  // Every event matches what the store holds.
  auto stored = writer->GetPrefix("/wl/", Deadline::After(5s));
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ((*stored)[i].mod_revision, events[i].kv.mod_revision);
}

TEST_F(Failover, LeaderKilled_anotherMemberLeads) {
  auto leader = cluster_->LeaderIndex(Deadline::After(5s));
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto client = Connect(cluster_->client_urls());
  auto before = client->EndpointStatus(Url(*leader), Deadline::After(2s));
  ASSERT_TRUE(before.ok());
  const uint64_t old_leader = before->leader;

  auto killed_at = Clock::now();
  ASSERT_TRUE(cluster_->KillMember(*leader).ok());
  uint64_t new_leader = 0;
  Deadline until = Deadline::After(30s);
  while (new_leader == 0 && !until.expired()) {
    for (int i = 0; i < 3; ++i) {
      if (i == *leader) continue;
      auto st = client->EndpointStatus(Url(i), Deadline::After(500ms));
      if (st.ok() && st->leader != 0 && st->leader != old_leader) new_leader = st->leader;
    }
    if (new_leader == 0) std::this_thread::sleep_for(5ms);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at);
  ASSERT_NE(new_leader, 0u) << "no new leader within 30 s";
  EXPECT_NE(new_leader, old_leader);
  std::printf(
      "leader failover: new leader %lx elected %lld ms after the old one was killed "
      "(election timeout %d ms)\n",
      static_cast<unsigned long>(new_leader), static_cast<long long>(ms.count()),
      cluster_->options().election_ms);
  RecordProperty("leader_failover_ms", static_cast<int>(ms.count()));
  // The cluster keeps serving writes, and the killed member rejoins as a follower.
  Status put = UnavailableError("not tried");
  for (Deadline d = Deadline::After(20s); !put.ok() && !d.expired();) {
    put = client->Put("/after-failover", "ok", Deadline::After(3s)).status();
  }
  ASSERT_TRUE(put.ok()) << put;
  ASSERT_TRUE(cluster_->RestartMember(*leader, Deadline::After(30s)).ok());
}

TEST_F(Failover, Mutation_failsOverPastAMemberThatIsDown) {
  // Kill a follower (killing the leader would add an election, during which etcd itself may
  // answer "request timed out"; that case is LeaderKilled_anotherMemberLeads).
  auto leader = cluster_->LeaderIndex(Deadline::After(5s));
  ASSERT_TRUE(leader.ok()) << leader.status();
  const int down = (*leader + 1) % 3;
  ASSERT_TRUE(cluster_->KillMember(down).ok());
  std::vector<std::string> urls = {Url(down)};
  for (int i = 0; i < 3; ++i) {
    if (i != down) urls.push_back(Url(i));
  }
  auto client = Connect(urls);
  auto r = client->Put("/k", "v", Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  auto got = client->Get("/k", Deadline::After(5s));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)->value, "v");
}

TEST_F(Failover, PausedMember_readsMoveOnAndWatchResumes) {
  auto client = Connect({Url(0), Url(1), Url(2)});
  ASSERT_TRUE(client->Put("/p", "1", Deadline::After(5s)).ok());
  auto w = client->Watch(WatchOptions{.key = "/p"}, Deadline::After(5s));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(cluster_->PauseMember(0).ok());
  auto writer = Connect({Url(1), Url(2)});
  Deadline until = Deadline::After(30s);
  bool wrote = false;
  while (!wrote && !until.expired()) wrote = writer->Put("/p", "2", Deadline::After(2s)).ok();
  ASSERT_TRUE(wrote);
  // A read through a client whose first endpoint is paused still answers before its deadline.
  auto got = client->Get("/p", Deadline::After(10s));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)->value, "2");
  // The watch, whose stream was on the paused member, gets the event (keepalive or the
  // member's lost leadership ends the stale stream; it resumes elsewhere).
  Event seen;
  bool have = false;
  while (!have && !until.expired()) {
    auto b = (*w)->Next(Deadline::After(1s));
    if (b.ok() && !b->events.empty()) {
      seen = b->events[0];
      have = true;
    }
  }
  ASSERT_TRUE(cluster_->ResumeMember(0).ok());
  ASSERT_TRUE(have) << "watch did not resume within 30 s";
  EXPECT_EQ(seen.kv.value, "2");
}

TEST_F(Failover, Client_reconnectsToARestartedMember) {
  ASSERT_TRUE(cluster_->KillMember(2).ok());
  auto only2 = Connect({Url(2)});
  EXPECT_EQ(only2->Get("/k", Deadline::After(2s)).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(cluster_->RestartMember(2, Deadline::After(30s)).ok());
  // The same long-lived client (its channel failed while the member was down) recovers.
  Status st = UnavailableError("not tried");
  for (Deadline until = Deadline::After(20s); !st.ok() && !until.expired();) {
    st = only2->Get("/k", Deadline::After(1s)).status();
    if (!st.ok()) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(st.ok()) << st;
}

// Seen in partition runs: after a fault a replica's client never went back to its own member
// (the first endpoint), so leaders wrote through another node's member. Now it returns once
// its member serves again, and probes nothing while it is home.
TEST_F(Failover, ReturnsToItsOwnMemberAfterItRecovers) {
  auto made = GrpcClient::Create(
      GrpcClientOptions{.endpoints = {Url(0), Url(1), Url(2)}, .home_probe_interval = 200ms});
  ASSERT_TRUE(made.ok()) << made.status();
  auto& client = **made;
  const std::string home = *NormalizeEndpoint(Url(0));
  ASSERT_TRUE(client.Put("/home", "0", Deadline::After(5s)).ok());
  EXPECT_EQ(client.current_endpoint(), home);

  ASSERT_TRUE(cluster_->KillMember(0).ok());
  // The client moves away and keeps working (an election may be running: bounded retries).
  Deadline until = Deadline::After(30s);
  bool wrote = false;
  while (!wrote && !until.expired()) wrote = client.Put("/home", "1", Deadline::After(3s)).ok();
  ASSERT_TRUE(wrote);
  EXPECT_NE(client.current_endpoint(), home);
  for (int i = 0; i < 5; ++i) {
    auto got = client.Get("/home", Deadline::After(5s));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_NE(client.current_endpoint(), home);
  }

  ASSERT_TRUE(cluster_->RestartMember(0, Deadline::After(30s)).ok());
  until = Deadline::After(30s);
  while (client.current_endpoint() != home && !until.expired()) {
    (void)client.Get("/home", Deadline::After(3s));
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(client.current_endpoint(), home) << "still on another member 30 s after the restart";
  // Home again: the calls are served there, and no probe is started any more.
  const uint64_t probes = client.home_probes();
  EXPECT_GE(probes, 1u);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(client.Put("/home", std::to_string(i), Deadline::After(5s)).ok());
    auto got = client.Get("/home", Deadline::After(5s));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)->value, std::to_string(i));
  }
  EXPECT_EQ(client.current_endpoint(), home);
  EXPECT_EQ(client.home_probes(), probes);
}

// A member that is up but does not serve (paused, like one cut off from the others) is not
// returned to; probes follow the injected clock, at most one per interval; once the member
// serves again the client goes home.
TEST_F(Failover, ProbesItsPausedMemberOncePerIntervalAndReturnsWhenItServes) {
  std::atomic<int64_t> now_ms{0};  // the injected clock
  auto made = GrpcClient::Create(GrpcClientOptions{
      .endpoints = {Url(0), Url(1), Url(2)}, .home_probe_interval = 1000ms, .clock = [&now_ms] {
        return Clock::time_point(std::chrono::milliseconds(now_ms.load()));
      }});
  ASSERT_TRUE(made.ok()) << made.status();
  auto& client = **made;
  const std::string home = *NormalizeEndpoint(Url(0));
  ASSERT_TRUE(client.Put("/paused", "0", Deadline::After(5s)).ok());
  ASSERT_TRUE(cluster_->PauseMember(0).ok());
  struct Resume {
    cluster::LocalCluster* c;
    ~Resume() { (void)c->ResumeMember(0); }
  } resume{cluster_.get()};

  Deadline until = Deadline::After(30s);
  bool read = false;
  while (!read && !until.expired()) read = client.Get("/paused", Deadline::After(5s)).ok();
  ASSERT_TRUE(read);
  ASSERT_NE(client.current_endpoint(), home);
  // The clock stands still: however many calls, at most one probe.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Get("/paused", Deadline::After(5s)).ok());
  EXPECT_LE(client.home_probes(), 1u);
  // Each interval allows one more probe; the paused member fails them and is not returned to.
  for (int i = 0; i < 3; ++i) {
    now_ms += 1000;
    std::this_thread::sleep_for(1700ms);  // > read_attempt_timeout: the previous probe ended
    ASSERT_TRUE(client.Get("/paused", Deadline::After(5s)).ok());
    EXPECT_NE(client.current_endpoint(), home);
  }
  EXPECT_GE(client.home_probes(), 3u);
  EXPECT_LE(client.home_probes(), 4u);

  ASSERT_TRUE(cluster_->ResumeMember(0).ok());
  until = Deadline::After(30s);
  while (client.current_endpoint() != home && !until.expired()) {
    now_ms += 1000;
    (void)client.Get("/paused", Deadline::After(3s));
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(client.current_endpoint(), home);
}

TEST(Unreachable, NothingListening_promptUnavailableNamingTheEndpoints) {
  auto p1 = proc::FreePort();
  auto p2 = proc::FreePort();
  ASSERT_TRUE(p1.ok() && p2.ok());
  auto client = Connect({"127.0.0.1:" + std::to_string(*p1), "127.0.0.1:" + std::to_string(*p2)});
  Deadline deadline = Deadline::After(20s);
  auto r = client->Get("/k", deadline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find(std::to_string(*p1)), std::string::npos) << r.status();
  EXPECT_FALSE(deadline.expired()) << "an unreachable cluster must fail fast, not wait";
  auto put = client->Put("/k", "v", deadline);
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status();
  auto watch = client->Watch(WatchOptions{.key = "/k"}, Deadline::After(2s));
  EXPECT_FALSE(watch.ok());
  EXPECT_FALSE(deadline.expired());
}

TEST(Unreachable, SilentPeer_callEndsAtItsDeadline) {
  // A socket that accepts connections (in the kernel backlog) but never speaks HTTP/2.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto client = Connect({"127.0.0.1:" + std::to_string(ntohs(addr.sin_port))});
  auto start = Clock::now();
  auto r = client->Put("/k", "v", Deadline::After(1s));
  auto took = Clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == StatusCode::kDeadlineExceeded ||
              r.status().code() == StatusCode::kUnavailable)
      << r.status();
  EXPECT_LT(took, 10s) << "the call must end at its deadline, not hang";
}

// Regression: a client created while its member was not yet serving (a pod starts the replica
// and its etcd container together) kept failing every call after the member served: its
// channel's early, refused attempts left it unable to connect (gRPC 1.51). The client calls as
// a follower does: short deadlines, a few times a second.
TEST(Unreachable, MemberStartingAfterTheClient_isReachedOnceItServes) {
  br2k::testing::ScratchDir dir("etcd-late-member");
  auto client_port = proc::FreePort();
  auto peer_port = proc::FreePort();
  ASSERT_TRUE(client_port.ok() && peer_port.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(*client_port);
  const std::string peer = "http://127.0.0.1:" + std::to_string(*peer_port);
  auto client = Connect({url});
  auto poll_once = [&] { return client->Get("/k", Deadline::After(250ms)).status(); };
  for (auto until = Clock::now() + 3s; Clock::now() < until;) {
    EXPECT_FALSE(poll_once().ok());
    std::this_thread::sleep_for(250ms);
  }
  auto launcher = proc::PosixLauncher();
  auto pid = launcher->Spawn(proc::SpawnSpec{
      .argv = {"etcd", "--name", "late", "--data-dir", (dir.path() / "data").string(),
               "--listen-client-urls", url, "--advertise-client-urls", url, "--listen-peer-urls",
               peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "late=" + peer},
      .log_file = dir.path() / "etcd.log"});
  ASSERT_TRUE(pid.ok()) << pid.status();
  // The member serves within a few seconds (a fresh client connects at once then); the early
  // client must get through too.
  Status st = UnavailableError("not tried");
  for (Deadline until = Deadline::After(30s); !until.expired();) {
    st = poll_once();
    if (st.ok()) break;
    std::this_thread::sleep_for(250ms);
  }
  auto fresh = Connect({url});
  Status fresh_st = fresh->Get("/k", Deadline::After(5s)).status();
  (void)proc::Terminate(*launcher, *pid, 5s);
  ASSERT_TRUE(fresh_st.ok()) << "the member never served: " << fresh_st;
  EXPECT_TRUE(st.ok()) << "the early client never reached the member: " << st;
}

TEST(Endpoints, MalformedEndpointIsInvalidArgument) {
  EXPECT_EQ(GrpcClient::Create({.endpoints = {"not a url"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcClient::Create({.endpoints = {"https://127.0.0.1:2379"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcClient::Create({.endpoints = {}}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*NormalizeEndpoint("http://127.0.0.1:2379/"), "127.0.0.1:2379");
}

}  // namespace
}  // namespace br2k::etcd
