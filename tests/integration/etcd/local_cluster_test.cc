// The local cluster launcher against the real etcd binary.
#include "br2k/cluster/local_cluster.h"

#include <gtest/gtest.h>

#include "br2k/etcd/grpc_client.h"
#include "test_env.h"

namespace br2k::cluster {
namespace {

using namespace std::chrono_literals;

TEST(LocalCluster, Start_threeMembersAgreeOnOneLeader) {
  testing::ScratchDir dir("cluster");
  auto c = LocalCluster::Start(LocalClusterOptions::TestProfile(dir.path()), Deadline::After(60s));
  ASSERT_TRUE(c.ok()) << c.status();
  auto health = (*c)->Health(Deadline::After(5s));
  ASSERT_EQ(health.size(), 3u);
  int leaders = 0;
  for (const auto& h : health) {
    EXPECT_TRUE(h.healthy) << h.name << ": " << h.error;
    EXPECT_GT(h.pid, 0);
    leaders += h.is_leader;
  }
  EXPECT_EQ(leaders, 1);
  // Each member has its own data directory and log under the run directory.
  for (const auto& m : (*c)->members()) {
    EXPECT_TRUE(std::filesystem::exists(m.data_dir)) << m.data_dir;
    EXPECT_TRUE(std::filesystem::exists(m.log_file)) << m.log_file;
  }
  // The run-state section names every member.
  auto state = (*c)->ToState();
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[1].client_url, (*c)->members()[1].client_url);

  std::vector<pid_t> pids;
  for (const auto& m : (*c)->members()) pids.push_back(m.pid);
  ASSERT_TRUE((*c)->Stop().ok());
  for (pid_t p : pids) EXPECT_FALSE(proc::PosixLauncher()->Alive(p)) << p;
}

TEST(LocalCluster, Start_missingEtcdBinaryIsFailedPrecondition) {
  testing::ScratchDir dir("cluster");
  auto o = LocalClusterOptions::TestProfile(dir.path());
  o.etcd_binary = "/nonexistent/etcd";
  auto c = LocalCluster::Start(o, Deadline::After(10s));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(c.status().message().find("etcd-server"), std::string::npos) << c.status();
}

TEST(LocalCluster, Start_memberThatExitsAtOnceFailsFastWithItsLog) {
  testing::ScratchDir dir("cluster");
  auto o = LocalClusterOptions::TestProfile(dir.path());
  o.etcd_binary = "false";  // runs, and exits with status 1 at once
  Deadline deadline = Deadline::After(60s);
  auto c = LocalCluster::Start(o, deadline);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("exited"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("etcd.log"), std::string::npos) << c.status();
  EXPECT_FALSE(deadline.expired()) << "a dead member must not make start-up wait for the deadline";
}

TEST(LocalCluster, Start_rejectsElectionTimeoutTooShortForHeartbeat) {
  testing::ScratchDir dir("cluster");
  auto o = LocalClusterOptions::TestProfile(dir.path());
  o.election_ms = o.heartbeat_ms * 2;
  EXPECT_EQ(LocalCluster::Start(o, Deadline::After(10s)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LocalCluster, RestartMember_keepsItsDataAndRejoins) {
  testing::ScratchDir dir("cluster");
  auto c = LocalCluster::Start(LocalClusterOptions::TestProfile(dir.path()), Deadline::After(60s));
  ASSERT_TRUE(c.ok()) << c.status();
  auto client = etcd::GrpcClient::Create({.endpoints = (*c)->client_urls()});
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Put("/k", "before", Deadline::After(5s)).ok());
  ASSERT_TRUE((*c)->KillMember(2).ok());
  EXPECT_EQ((*c)->members()[2].pid, 0);
  // If member 2 led, writes fail until a new leader is elected; a plain put may be retried.
  Status put = UnavailableError("not tried");
  for (Deadline until = Deadline::After(20s); !put.ok() && !until.expired();) {
    put = (*client)->Put("/k", "while-down", Deadline::After(2s)).status();
  }
  ASSERT_TRUE(put.ok()) << put;
  ASSERT_TRUE((*c)->RestartMember(2, Deadline::After(30s)).ok());
  // The restarted member catches up: a serializable read on it alone sees the latest value.
  auto only2 = etcd::GrpcClient::Create({.endpoints = {(*c)->members()[2].client_url}});
  ASSERT_TRUE(only2.ok());
  std::string seen;
  Deadline until = Deadline::After(10s);
  while (seen != "while-down" && !until.expired()) {
    etcd::RangeRequest r = etcd::RangeRequest::Key("/k");
    r.serializable = true;
    auto got = (*only2)->Range(r, Deadline::After(2s));
    if (got.ok() && !got->kvs.empty()) seen = got->kvs[0].value;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(seen, "while-down");
}

}  // namespace
}  // namespace br2k::cluster
