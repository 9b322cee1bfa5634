#include "br2k/proc/command.h"

#include <gtest/gtest.h>

#include <chrono>

namespace br2k::proc {
namespace {

using namespace std::chrono_literals;

TEST(Command_run, CapturesStdoutStderrAndExitCode) {
  auto r = PosixCommandRunner()->Run({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}},
                                     Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->Summary(), "exit 3: err");
}

TEST(Command_run, FeedsInputAndPassesEnvironment) {
  auto r = PosixCommandRunner()->Run({.argv = {"sh", "-c", "cat; printf %s \"$BR2K_T\""},
                                      .env = {{"BR2K_T", "v"}},
                                      .input = std::string(200000, 'x')},
                                     Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out.size(), 200001u);
  EXPECT_EQ(r->out.back(), 'v');
}

TEST(Command_run, MissingBinaryIsNotFound) {
  auto r = PosixCommandRunner()->Run({.argv = {"br2k-no-such-tool"}}, Deadline::After(10s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Command_run, DeadlineKillsTheWholeProcessGroup) {
  // The grandchild keeps stdout open: only killing the group ends the wait.
  auto t0 = std::chrono::steady_clock::now();
  auto r = PosixCommandRunner()->Run({.argv = {"sh", "-c", "sleep 30 & sleep 30"}},
                                     Deadline::After(300ms));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
}

TEST(Command_run, OutputIsCappedNotUnbounded) {
  auto r = PosixCommandRunner()->Run(
      {.argv = {"sh", "-c", "head -c 100000 /dev/zero"}, .max_output = 1000}, Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out.size(), 1000u);
  EXPECT_EQ(r->exit_code, 0);
}

TEST(Command_runChecked, NonZeroExitBecomesTheGivenCodeWithStderr) {
  auto r = RunChecked(*PosixCommandRunner(), {.argv = {"sh", "-c", "echo boom >&2; exit 1"}},
                      Deadline::After(10s), StatusCode::kUnavailable);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("boom"), std::string::npos);
}

}  // namespace
}  // namespace br2k::proc
