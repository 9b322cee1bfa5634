// The etcd client contract, against a real 3-member cluster (GrpcClient over all members).
#include <spdlog/spdlog.h>

#include "br2k/cluster/local_cluster.h"
#include "br2k/etcd/grpc_client.h"
#include "etcd_contract.h"
#include "test_env.h"

namespace br2k::etcd::contract {
namespace {

using namespace std::chrono_literals;

br2k::testing::ScratchDir* g_dir = nullptr;
cluster::LocalCluster* g_cluster = nullptr;

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_dir = new br2k::testing::ScratchDir("contract");
    auto c = cluster::LocalCluster::Start(cluster::LocalClusterOptions::TestProfile(g_dir->path()),
                                          Deadline::After(60s));
    ASSERT_TRUE(c.ok()) << c.status();
    g_cluster = c->release();
  }
  void TearDown() override {
    delete g_cluster;
    delete g_dir;
  }
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);

Target kReal{"RealCluster", []() -> std::unique_ptr<Client> {
               auto c =
                   GrpcClient::Create(GrpcClientOptions{.endpoints = g_cluster->client_urls()});
               EXPECT_TRUE(c.ok()) << c.status();
               return c.ok() ? std::move(c).value() : nullptr;
             }};

INSTANTIATE_TEST_SUITE_P(Real, EtcdContract, ::testing::Values(&kReal), TargetName);

}  // namespace
}  // namespace br2k::etcd::contract
