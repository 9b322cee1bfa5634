// The manager's pure parts: the per-claimant rate limiter and the run-state lock.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "br2k/manager/claim_rate_limiter.h"
#include "br2k/manager/state_lock.h"
#include "test_env.h"

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;
using TimePoint = ClaimRateLimiter::Clock::time_point;

eth::Address Addr(uint8_t b) {
  eth::Address a;
  a.bytes.fill(b);
  return a;
}

const TimePoint kT0 = TimePoint(std::chrono::hours(10));

TEST(ClaimRateLimiter, Admit_firstClaimThenNothingWithinTheWindow) {
  ClaimRateLimiter l({.window = 60s, .max_per_window = 1});
  EXPECT_TRUE(l.Admit(Addr(1), kT0));
  EXPECT_FALSE(l.Admit(Addr(1), kT0 + 1s));
  EXPECT_FALSE(l.Admit(Addr(1), kT0 + 59s));
  EXPECT_TRUE(l.Admit(Addr(2), kT0 + 1s)) << "other claimants are independent";
  EXPECT_TRUE(l.Admit(Addr(1), kT0 + 60s)) << "the window slides";
}

TEST(ClaimRateLimiter, Admit_rejectedClaimsDoNotExtendTheBan) {
  ClaimRateLimiter l({.window = 10s, .max_per_window = 1});
  EXPECT_TRUE(l.Admit(Addr(1), kT0));
  for (int i = 1; i < 10; ++i) EXPECT_FALSE(l.Admit(Addr(1), kT0 + std::chrono::seconds(i)));
  EXPECT_TRUE(l.Admit(Addr(1), kT0 + 10s));
}

TEST(ClaimRateLimiter, Admit_severalPerWindow) {
  ClaimRateLimiter l({.window = 10s, .max_per_window = 3});
  EXPECT_TRUE(l.Admit(Addr(1), kT0));
  EXPECT_TRUE(l.Admit(Addr(1), kT0 + 1s));
  EXPECT_TRUE(l.Admit(Addr(1), kT0 + 2s));
  EXPECT_FALSE(l.Admit(Addr(1), kT0 + 3s));
  EXPECT_TRUE(l.Admit(Addr(1), kT0 + 10s));  // the first one left the window
  EXPECT_FALSE(l.Admit(Addr(1), kT0 + 10s));
}

TEST(ClaimRateLimiter, Admit_memoryStaysBounded) {
  ClaimRateLimiter l({.window = 10s, .max_per_window = 1, .max_tracked = 8});
  for (int i = 0; i < 200; ++i) {
    EXPECT_TRUE(l.Admit(Addr(static_cast<uint8_t>(i)), kT0 + std::chrono::milliseconds(i)));
    EXPECT_LE(l.tracked(), 8u);
  }
  // The most recent claimants are still remembered.
  EXPECT_FALSE(l.Admit(Addr(199), kT0 + 1s));
}

TEST(ClaimRateLimiter, Admit_zeroLimitIsTreatedAsOne) {
  ClaimRateLimiter l({.window = 10s, .max_per_window = 0});
  EXPECT_TRUE(l.Admit(Addr(1), kT0));
  EXPECT_FALSE(l.Admit(Addr(1), kT0));
}

RunState SampleState(const std::filesystem::path& dir) {
  RunState s;
  s.run_dir = dir.string();
  s.started_at_unix = 1;
  s.heartbeat_ms = 100;
  s.election_ms = 1000;
  s.etcd.push_back({.name = "etcd-0",
                    .client_url = "http://127.0.0.1:1",
                    .peer_url = "http://127.0.0.1:2",
                    .pid = 1,
                    .data_dir = "d",
                    .log_file = "l"});
  s.service = "logserver";
  s.replicas.push_back({.id = "node-0",
                        .url = "http://127.0.0.1:3",
                        .pid = 7,
                        .etcd_member = "etcd-0",
                        .data_dir = "d0",
                        .log_file = "l0",
                        .argv = {"/bin/br2k-logserver", "--id=node-0"}});
  return s;
}

TEST(StateLock, Acquire_excludesASecondHolderUntilReleased) {
  testing::ScratchDir dir("state-lock");
  auto a = StateLock::Acquire(dir.path(), Deadline::After(1s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(std::filesystem::exists(StateLockFile(dir.path())));
  auto b = StateLock::Acquire(dir.path(), Deadline::After(50ms));
  EXPECT_EQ(b.status().code(), StatusCode::kDeadlineExceeded);
  a->Release();
  EXPECT_FALSE(a->held());
  auto c = StateLock::Acquire(dir.path(), Deadline::After(1s));
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(StateLock, Acquire_missingRunDirIsNotFound) {
  EXPECT_EQ(StateLock::Acquire("/nonexistent/br2k/run", Deadline::After(1s)).status().code(),
            StatusCode::kNotFound);
}

TEST(StateLock, Acquire_waitsForTheHolder) {
  testing::ScratchDir dir("state-lock-wait");
  auto a = StateLock::Acquire(dir.path(), Deadline::After(1s));
  ASSERT_TRUE(a.ok());
  std::atomic<bool> released{false};
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    released = true;
    a->Release();
  });
  auto b = StateLock::Acquire(dir.path(), Deadline::After(10s));
  EXPECT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(released.load()) << "acquired while the first holder still held it";
  t.join();
}

TEST(StateLock, UpdateRunState_concurrentUpdatesAreNotLost) {
  testing::ScratchDir dir("state-lock-update");
  ASSERT_TRUE(SampleState(dir.path()).Save(dir.path() / "state.json").ok());
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Status st = UpdateRunState(
            dir.path(),
            [](RunState& s) {
              ++s.replicas[0].pid;
              return Status::Ok();
            },
            Deadline::After(30s));
        EXPECT_TRUE(st.ok()) << st;
      }
    });
  }
  for (auto& t : ts) t.join();
  auto s = RunState::Load(dir.path() / "state.json");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->replicas[0].pid, 7 + kThreads * kEach);
}

TEST(StateLock, UpdateRunState_refusalSavesNothingAndMissingFileIsNotFound) {
  testing::ScratchDir dir("state-lock-refuse");
  EXPECT_EQ(UpdateRunState(
                dir.path(), [](RunState&) { return Status::Ok(); }, Deadline::After(1s))
                .code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(SampleState(dir.path()).Save(dir.path() / "state.json").ok());
  Status st = UpdateRunState(
      dir.path(),
      [](RunState& s) {
        s.replicas[0].pid = 99;
        return AbortedError("changed my mind");
      },
      Deadline::After(1s));
  EXPECT_EQ(st.code(), StatusCode::kAborted);
  EXPECT_EQ(RunState::Load(dir.path() / "state.json")->replicas[0].pid, 7);
}

}  // namespace
}  // namespace br2k::manager
