// IsOurs and CaptureIdentity on a fake /proc tree in a scratch directory (<root>/<pid>/stat,
// cmdline, exe), plus one check against the real /proc with a child of ours.
#include "br2k/proc/ownership.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "br2k/proc/process.h"
#include "test_env.h"

namespace br2k::proc {
namespace {

using namespace std::chrono_literals;

class FakeProc {
 public:
  FakeProc() : dir_("fake-proc") {}
  const std::filesystem::path& root() const { return dir_.path(); }

  // A process `pid` running `exe` with `argv`, started at `start_time`, in `state`.
  void Add(pid_t pid, const std::string& exe, const std::vector<std::string>& argv,
           uint64_t start_time, char state = 'S', const std::string& comm = "x") {
    auto d = root() / std::to_string(pid);
    std::filesystem::create_directories(d);
    std::ofstream(d / "stat") << pid << " (" << comm << ") " << state
                              << " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 " << start_time
                              << " 20 21 22\n";
    std::string cmdline;
    for (const auto& a : argv) cmdline += a + '\0';
    std::ofstream(d / "cmdline", std::ios::binary) << cmdline;
    std::filesystem::create_symlink(exe, d / "exe");  // the target need not exist
  }
  void Remove(pid_t pid) { std::filesystem::remove_all(root() / std::to_string(pid)); }

 private:
  testing::ScratchDir dir_;
};

const std::vector<std::string> kEtcdArgv = {"etcd", "--name=etcd-0", "--data-dir=/run/br2k/etcd-0"};

TEST(Ownership, IsOurs_exactMatchIsOurs) {
  FakeProc p;
  p.Add(100, "/usr/bin/etcd", kEtcdArgv, 4242);
  auto seen = CaptureIdentity(100, p.root());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->exe, "/usr/bin/etcd");
  EXPECT_EQ(seen->argv, kEtcdArgv);
  EXPECT_EQ(seen->start_time, 4242u);
  EXPECT_TRUE(IsOurs(*seen, p.root()));
  // Recorded without exe: argv[0]'s basename is expected.
  EXPECT_TRUE(IsOurs({.pid = 100, .argv = kEtcdArgv, .start_time = 4242}, p.root()));
}

TEST(Ownership, IsOurs_reusedPidWithAnotherStartTimeIsNotOurs) {
  FakeProc p;
  p.Add(100, "/usr/bin/etcd", kEtcdArgv, 5000);
  EXPECT_FALSE(IsOurs({.pid = 100, .exe = "/usr/bin/etcd", .argv = kEtcdArgv, .start_time = 4242},
                      p.root()));
}

TEST(Ownership, IsOurs_argvThatMerelyContainsEtcdIsNotOurs) {
  FakeProc p;
  // What the substring rule killed: someone else's editor, a lookalike, a wrapper.
  p.Add(101, "/usr/bin/vim", {"vim", "etcd.conf"}, 1);
  p.Add(102, "/usr/bin/sleep", {"etcd-lookalike", "300"}, 1);
  p.Add(103, "/usr/bin/bash", {"bash", "-c", "etcd --name=etcd-0"}, 1);
  for (pid_t pid : {101, 102, 103}) {
    EXPECT_FALSE(IsOurs({.pid = pid, .argv = kEtcdArgv}, p.root())) << pid;
    EXPECT_FALSE(IsOurs({.pid = pid, .argv = kEtcdArgv, .start_time = 1}, p.root())) << pid;
  }
}

TEST(Ownership, IsOurs_olderRecordWithoutStartTimeNeedsExactExecutableAndArgv) {
  FakeProc p;
  p.Add(100, "/usr/bin/etcd", kEtcdArgv, 777);
  EXPECT_TRUE(IsOurs({.pid = 100, .argv = kEtcdArgv}, p.root()));
  // One argument more, one less, or another value: not ours.
  auto longer = kEtcdArgv;
  longer.push_back("--extra");
  EXPECT_FALSE(IsOurs({.pid = 100, .argv = longer}, p.root()));
  EXPECT_FALSE(IsOurs({.pid = 100, .argv = {"etcd"}}, p.root()));
  EXPECT_FALSE(IsOurs({.pid = 100, .argv = {"etcd", "--name=etcd-0", "--data-dir=/run/br2k/etcd"}},
                      p.root()));
  // The same argv run by another executable (exec -a etcd ...): not ours.
  p.Add(200, "/usr/bin/sleep", kEtcdArgv, 777);
  EXPECT_FALSE(IsOurs({.pid = 200, .argv = kEtcdArgv}, p.root()));
  // No argv recorded: nothing to verify, never ours.
  EXPECT_FALSE(IsOurs({.pid = 100, .exe = "/usr/bin/etcd"}, p.root()));
}

TEST(Ownership, IsOurs_missingOrZombieProcessIsNotOurs) {
  FakeProc p;
  EXPECT_FALSE(IsOurs({.pid = 100, .argv = kEtcdArgv}, p.root()));
  EXPECT_EQ(CaptureIdentity(100, p.root()).status().code(), StatusCode::kNotFound);
  p.Add(100, "/usr/bin/etcd", kEtcdArgv, 1, 'Z');
  EXPECT_FALSE(IsOurs({.pid = 100, .argv = kEtcdArgv}, p.root()));
  EXPECT_EQ(CaptureIdentity(100, p.root()).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(IsOurs({.pid = 0, .argv = kEtcdArgv}, p.root()));
  EXPECT_FALSE(IsOurs({.pid = -1, .argv = kEtcdArgv}, p.root()));
}

TEST(Ownership, IsOurs_replacedBinaryAndOddCommandNamesStillMatch) {
  FakeProc p;
  // A rebuilt binary: the kernel shows "<path> (deleted)"; comm with spaces and parentheses.
  p.Add(100, "/build/bin/br2k-logserver (deleted)", {"/build/bin/br2k-logserver", "--id=node-0"},
        99, 'S', "a) b (c");
  auto seen = CaptureIdentity(100, p.root());
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->exe, "/build/bin/br2k-logserver");
  EXPECT_EQ(seen->start_time, 99u);
  EXPECT_TRUE(
      IsOurs({.pid = 100, .argv = {"/build/bin/br2k-logserver", "--id=node-0"}, .start_time = 99},
             p.root()));
}

TEST(Ownership, IdentityAfterSpawn_fallsBackToTheArgvAsStarted) {
  FakeProc p;
  p.Add(100, "/usr/bin/other", {"other"}, 5);  // e.g. a fake launcher's pid naming a real one
  auto id = IdentityAfterSpawn(100, kEtcdArgv, p.root());
  EXPECT_EQ(id, (ProcessIdentity{.pid = 100, .argv = kEtcdArgv}));
  EXPECT_EQ(IdentityAfterSpawn(300, kEtcdArgv, p.root()),
            (ProcessIdentity{.pid = 300, .argv = kEtcdArgv}));
}

TEST(Ownership, RealProc_childIsOursUntilItExits) {
  auto l = PosixLauncher();
  std::vector<std::string> argv = {"sleep", "30"};
  auto pid = l->Spawn({.argv = argv});
  ASSERT_TRUE(pid.ok()) << pid.status();
  ProcessIdentity id = IdentityAfterSpawn(*pid, argv);
  EXPECT_GT(id.start_time, 0u);
  EXPECT_EQ(std::filesystem::path(id.exe).filename(), "sleep");
  EXPECT_TRUE(IsOurs(id));
  ProcessIdentity reused = id;
  reused.start_time += 1;
  EXPECT_FALSE(IsOurs(reused));
  ASSERT_TRUE(Terminate(*l, *pid, 2s).ok());
  EXPECT_FALSE(IsOurs(id));
}

}  // namespace
}  // namespace br2k::proc
