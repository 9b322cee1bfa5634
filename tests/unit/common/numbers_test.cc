// Issue 10 item 5: `--epoch` of 2^64, -1 or 99999999999999999999999 was saturated to 2^64-1 by
// the CLI (and with one operator's key that pinned the registry's epoch for good).
#include "br2k/common/numbers.h"

#include <gtest/gtest.h>

namespace br2k {
namespace {

TEST(ParseDecimalU64_range, OutOfRangeAndMalformedAreRefusedNotSaturated) {
  for (const char* bad : {"18446744073709551616", "-1", "99999999999999999999999", "", "+1", " 1",
                          "1 ", "0x10", "1e3", "1.0", "١"}) {
    auto r = ParseDecimalU64(bad, "--epoch");
    ASSERT_FALSE(r.ok()) << bad << " -> " << *r;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("--epoch must be a decimal integer"), std::string::npos)
        << r.status();
  }
}

TEST(ParseDecimalU64_range, TheWholeRangeIsAccepted) {
  EXPECT_EQ(*ParseDecimalU64("0", "x"), 0u);
  EXPECT_EQ(*ParseDecimalU64("007", "x"), 7u);
  EXPECT_EQ(*ParseDecimalU64("18446744073709551615", "x"), UINT64_MAX);
  EXPECT_EQ(*ParseDecimalU64("18446744073709551614", "x"), UINT64_MAX - 1);
}

}  // namespace
}  // namespace br2k
