#include "br2k/common/status.h"

#include <gtest/gtest.h>

namespace br2k {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  BR2K_ASSIGN_OR_RETURN(int h, Half(x));
  BR2K_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, ToStringNamesTheGrpcCode) {
  EXPECT_EQ(UnavailableError("no leader").ToString(), "UNAVAILABLE: no leader");
  EXPECT_EQ(static_cast<int>(StatusCode::kUnavailable), 14);  // gRPC's numbering
  EXPECT_EQ(static_cast<int>(StatusCode::kDeadlineExceeded), 4);
}

TEST(Status, WithContextKeepsCode) {
  Status s = NotFoundError("lease 7").WithContext("keepalive");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "keepalive: lease 7");
}

TEST(Result, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
  EXPECT_EQ(Quarter(5).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace br2k
