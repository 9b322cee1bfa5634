// Real child processes (/bin/sh), no network: fast enough for the unit tier.
#include "br2k/proc/process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "test_env.h"

namespace br2k::proc {
namespace {

using namespace std::chrono_literals;

TEST(Process, Spawn_runsAndReportsExitCode) {
  auto l = PosixLauncher();
  auto pid = l->Spawn({.argv = {"sh", "-c", "exit 7"}});
  ASSERT_TRUE(pid.ok()) << pid.status();
  auto info = l->Wait(*pid, Deadline::After(5s));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->exit_code, 7);
  EXPECT_FALSE(l->Alive(*pid));
}

TEST(Process, Spawn_missingBinaryIsNotFound) {
  auto pid = PosixLauncher()->Spawn({.argv = {"/nonexistent/br2k-no-such-binary"}});
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().code(), StatusCode::kNotFound);
  EXPECT_NE(pid.status().message().find("br2k-no-such-binary"), std::string::npos);
}

TEST(Process, Spawn_writesLogAndPassesEnvironment) {
  testing::ScratchDir dir("proc");
  auto log = dir.path() / "out.log";
  auto l = PosixLauncher();
  auto pid = l->Spawn({.argv = {"sh", "-c", "echo \"hello $BR2K_TEST_VAR\"; echo err >&2"},
                       .log_file = log,
                       .env = {{"BR2K_TEST_VAR", "world"}}});
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(l->Wait(*pid, Deadline::After(5s)).ok());
  std::stringstream ss;
  ss << std::ifstream(log).rdbuf();
  EXPECT_EQ(ss.str(), "hello world\nerr\n");
}

TEST(Process, Terminate_escalatesToSigkillWhenTermIsIgnored) {
  auto l = PosixLauncher();
  auto pid = l->Spawn({.argv = {"sh", "-c", "trap '' TERM; while true; do sleep 0.05; done"}});
  ASSERT_TRUE(pid.ok());
  std::this_thread::sleep_for(100ms);  // let the shell install its trap
  ASSERT_TRUE(Terminate(*l, *pid, 200ms).ok());
  EXPECT_FALSE(l->Alive(*pid));
}

TEST(Process, PauseAndResume_stoppedProcessStillAlive) {
  auto l = PosixLauncher();
  auto pid = l->Spawn({.argv = {"sleep", "30"}});
  ASSERT_TRUE(pid.ok());
  ASSERT_TRUE(l->Signal(*pid, SIGSTOP).ok());
  EXPECT_TRUE(l->Alive(*pid));
  ASSERT_TRUE(Terminate(*l, *pid, 1s).ok());  // Terminate resumes it first
  auto gone = l->Wait(*pid, Deadline::After(1s));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(l->Alive(*pid));
}

TEST(Process, Wait_deadlineExceededWhileRunning) {
  auto l = PosixLauncher();
  auto pid = l->Spawn({.argv = {"sleep", "30"}});
  ASSERT_TRUE(pid.ok());
  auto r = l->Wait(*pid, Deadline::After(50ms));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(Terminate(*l, *pid, 1s).ok());
}

TEST(Process, FreePort_givesBindablePort) {
  auto p = FreePort();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_GT(*p, 1024);
  EXPECT_EQ(FreePort("not-an-ip").status().code(), StatusCode::kInvalidArgument);
}

TEST(Process, WaitStopped_returnsOnceTheProcessIsStopped) {
  auto l = PosixLauncher();
  auto pid = l->Spawn({.argv = {"sleep", "30"}});
  ASSERT_TRUE(pid.ok()) << pid.status();
  ASSERT_TRUE(l->Signal(*pid, SIGSTOP).ok());
  ASSERT_TRUE(WaitStopped(*pid, Deadline::After(5s)).ok());
  std::ifstream stat("/proc/" + std::to_string(*pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  EXPECT_NE(line.find(") T"), std::string::npos) << line;
  ASSERT_TRUE(l->Signal(*pid, SIGCONT).ok());
  EXPECT_EQ(WaitStopped(*pid, Deadline::After(50ms)).code(), StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(Terminate(*l, *pid, 1s).ok());
  EXPECT_EQ(WaitStopped(*pid, Deadline::After(1s)).code(), StatusCode::kNotFound);
}

// Outbound connections take their local port from the ephemeral range; a port picked for a
// server started later must come from outside it, and one process never gets the same twice.
TEST(Process, FreePort_avoidsTheEphemeralRangeAndRepeats) {
  int lo = 0, hi = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> lo >> hi;
  ASSERT_GT(lo, 0);
  std::set<int> seen;
  for (int i = 0; i < 50; ++i) {
    auto p = FreePort();
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(*p < lo || *p > hi) << *p << " is in the ephemeral range " << lo << "-" << hi;
    EXPECT_TRUE(seen.insert(*p).second) << "port " << *p << " handed out twice";
  }
}

}  // namespace
}  // namespace br2k::proc
