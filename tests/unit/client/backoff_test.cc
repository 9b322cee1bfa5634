#include "br2k/client/backoff.h"

#include <gtest/gtest.h>

namespace br2k::client {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, growsGeometricallyUpToTheCap) {
  BackoffPolicy p{
      .base = milliseconds(50), .max = milliseconds(1000), .multiplier = 2.0, .jitter = 0.0};
  EXPECT_EQ(BackoffDelay(p, 1, 0.5), milliseconds(50));
  EXPECT_EQ(BackoffDelay(p, 2, 0.5), milliseconds(100));
  EXPECT_EQ(BackoffDelay(p, 3, 0.5), milliseconds(200));
  EXPECT_EQ(BackoffDelay(p, 5, 0.5), milliseconds(800));
  EXPECT_EQ(BackoffDelay(p, 6, 0.5), milliseconds(1000));
  EXPECT_EQ(BackoffDelay(p, 4000000000u, 0.5), milliseconds(1000));  // no overflow
  EXPECT_EQ(BackoffDelay(p, 0, 0.5), milliseconds(50));              // 0 counts as 1
}

TEST(Backoff, jitterStaysWithinItsBandAndUnderTheCap) {
  BackoffPolicy p{
      .base = milliseconds(100), .max = milliseconds(1000), .multiplier = 2.0, .jitter = 0.25};
  EXPECT_EQ(BackoffDelay(p, 1, 0.0), milliseconds(75));
  EXPECT_EQ(BackoffDelay(p, 1, 0.5), milliseconds(100));
  EXPECT_EQ(BackoffDelay(p, 1, 0.9999999), milliseconds(125));
  EXPECT_EQ(BackoffDelay(p, 10, 0.9999999), milliseconds(1000));  // capped after jitter
  Backoff b(p, 7);
  for (int i = 1; i <= 50; ++i) {
    auto d = b.Next();
    EXPECT_GE(d, BackoffDelay(p, static_cast<uint32_t>(i), 0.0));
    EXPECT_LE(d, BackoffDelay(p, static_cast<uint32_t>(i), 0.9999999));
  }
  EXPECT_EQ(b.round(), 50u);
  b.Reset();
  auto first = b.Next();
  EXPECT_GE(first, milliseconds(75));
  EXPECT_LE(first, milliseconds(125));
}

TEST(Backoff, sameSeedSameSequence) {
  BackoffPolicy p;
  Backoff a(p, 42), b(p, 42);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(Backoff, validation) {
  EXPECT_TRUE(ValidateBackoff(BackoffPolicy()).ok());
  EXPECT_FALSE(ValidateBackoff({.base = milliseconds(0)}).ok());
  EXPECT_FALSE(ValidateBackoff({.base = milliseconds(10), .max = milliseconds(5)}).ok());
  EXPECT_FALSE(ValidateBackoff({.multiplier = 0.5}).ok());
  EXPECT_FALSE(ValidateBackoff({.jitter = 1.5}).ok());
  EXPECT_FALSE(ValidateBackoff({.jitter = -0.1}).ok());
}

}  // namespace
}  // namespace br2k::client
