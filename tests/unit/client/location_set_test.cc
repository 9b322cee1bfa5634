#include "br2k/client/location_set.h"

#include <gtest/gtest.h>

namespace br2k::client {
namespace {

using V = std::vector<std::string>;

TEST(LocationSet, seedsAloneInTheirOrderWithoutDuplicates) {
  LocationSet s;
  ASSERT_TRUE(s.AddSeed("http://127.0.0.1:1").ok());
  ASSERT_TRUE(s.AddSeed("127.0.0.1:2").ok());
  ASSERT_TRUE(s.AddSeed("http://127.0.0.1:1/").ok());
  EXPECT_EQ(s.Order(), (V{"http://127.0.0.1:1", "http://127.0.0.1:2"}));
  EXPECT_FALSE(s.AddSeed("not a url").ok());
}

TEST(LocationSet, orderIsPreferredRegistryLearnedSeeds) {
  LocationSet s;
  ASSERT_TRUE(s.AddSeed("http://127.0.0.1:1").ok());
  EXPECT_TRUE(s.SetRegistry("127.0.0.1:2", 1));
  EXPECT_EQ(s.Order(), (V{"http://127.0.0.1:2", "http://127.0.0.1:1"}));
  s.LearnRedirect("http://127.0.0.1:3");
  s.LearnRedirect("http://127.0.0.1:4");
  // The latest redirect target is preferred; older ones follow the registry, newest first.
  EXPECT_EQ(s.Order(), (V{"http://127.0.0.1:4", "http://127.0.0.1:2", "http://127.0.0.1:3",
                          "http://127.0.0.1:1"}));
  s.MarkAnswered("http://127.0.0.1:1");
  EXPECT_EQ(s.Order(), (V{"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:4",
                          "http://127.0.0.1:3"}));
}

TEST(LocationSet, registryChangeBecomesPreferredAndStaleEpochsAreIgnored) {
  LocationSet s;
  EXPECT_TRUE(s.SetRegistry("http://127.0.0.1:2", 5));
  s.LearnRedirect("http://127.0.0.1:3");
  EXPECT_EQ(s.Order().front(), "http://127.0.0.1:3");
  EXPECT_FALSE(s.SetRegistry("http://127.0.0.1:9", 4));  // older epoch: a late event
  EXPECT_EQ(s.registry_raw(), "http://127.0.0.1:2");
  EXPECT_FALSE(s.SetRegistry("http://127.0.0.1:2", 5));  // the same: no change
  EXPECT_EQ(s.Order().front(), "http://127.0.0.1:3");
  EXPECT_TRUE(s.SetRegistry("http://127.0.0.1:7", 6));
  EXPECT_EQ(s.Order().front(), "http://127.0.0.1:7");
  EXPECT_EQ(s.registry_epoch(), 6u);
  EXPECT_TRUE(s.SetRegistry("http://127.0.0.1:8", 6));  // same epoch, new place: accepted
  EXPECT_EQ(s.registry_url(), "http://127.0.0.1:8");
}

// Issue 10 item 4: after a pinned epoch is repaired (lowered) by a manager, a client that held
// the pinned location must follow the repair and the leader's later, lower-than-pinned epoch.
TEST(LocationSet, repairedLocationResetsTheEpochHeld) {
  LocationSet s;
  EXPECT_TRUE(s.SetRegistry("http://127.0.0.1:66", uint64_t{1} << 48));  // the pin
  EXPECT_FALSE(s.SetRegistry("http://127.0.0.1:2", 0));                  // plain: ignored
  EXPECT_TRUE(s.SetRegistry("http://127.0.0.1:2", 0, nullptr, /*repaired=*/true));
  EXPECT_EQ(s.registry_epoch(), 0u);
  EXPECT_EQ(s.registry_url(), "http://127.0.0.1:2");
  EXPECT_TRUE(s.SetRegistry("http://127.0.0.1:3", 41));  // the leader publishes again
  EXPECT_EQ(s.registry_url(), "http://127.0.0.1:3");
  EXPECT_FALSE(s.SetRegistry("http://127.0.0.1:66", 40));  // still fenced otherwise
}

TEST(LocationSet, unparsableRegistryLocationIsHeldForClaimsButNotTried) {
  LocationSet s;
  ASSERT_TRUE(s.AddSeed("http://127.0.0.1:1").ok());
  std::string err;
  EXPECT_TRUE(s.SetRegistry("k8s://somewhere", 1, &err));
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(s.registry_raw(), "k8s://somewhere");
  EXPECT_EQ(s.registry_url(), "");
  EXPECT_EQ(s.Order(), (V{"http://127.0.0.1:1"}));
}

TEST(LocationSet, learnedLocationsAreBounded) {
  LocationSet s(3);
  for (int i = 1; i <= 10; ++i) s.LearnRedirect("http://127.0.0.1:" + std::to_string(i));
  EXPECT_EQ(s.Order(), (V{"http://127.0.0.1:10", "http://127.0.0.1:9", "http://127.0.0.1:8"}));
}

}  // namespace
}  // namespace br2k::client
