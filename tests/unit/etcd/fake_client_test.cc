// What only the fake does: fault injection.
#include "br2k/etcd/fake_client.h"

#include <gtest/gtest.h>

namespace br2k::etcd {
namespace {

using namespace std::chrono_literals;

TEST(FakeClient, SetUnavailable_failsCallsAndPausesWatches) {
  FakeClient c;
  auto w = c.Watch(WatchOptions{.key = "k"}, Deadline::After(1s));
  ASSERT_TRUE(w.ok());
  c.SetUnavailable(true);
  EXPECT_EQ(c.Put("k", "v", Deadline::After(1s)).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE((*w)->connected());
  c.SetUnavailable(false);
  ASSERT_TRUE(c.Put("k", "v", Deadline::After(1s)).ok());
  auto b = (*w)->Next(Deadline::After(1s));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->events.size(), 1u);
  EXPECT_EQ(b->events[0].kv.value, "v");
}

TEST(FakeClient, SetHook_failsChosenMethodsOnly) {
  FakeClient c;
  c.SetHook([](std::string_view method) {
    return method == "Txn" ? AbortedError("injected") : Status::Ok();
  });
  EXPECT_EQ(c.Txn(TxnRequest{}, Deadline::After(1s)).status().code(), StatusCode::kAborted);
  EXPECT_TRUE(c.Put("k", "v", Deadline::After(1s)).ok());
}

TEST(FakeClient, Txn_failingHalfWayLeavesNoTrace) {
  FakeClient c;
  int64_t before = c.revision();
  auto r = c.Txn(TxnRequest{.success = {Op::Put("a", "1"), Op::Put("b", "2", /*lease=*/42)}},
                 Deadline::After(1s));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.revision(), before);
  EXPECT_FALSE((*c.Get("a", Deadline::After(1s))).has_value());
}

}  // namespace
}  // namespace br2k::etcd
