// Real buildah, a real docker-registry (CNCF Distribution) on loopback, real skopeo: an image of
// br2k-logserver is built on scratch, reproducibly, pushed by digest, and found (or not) there.
#include <gtest/gtest.h>

#include "br2k/deploy/container_env.h"
#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/images.h"
#include "br2k/proc/process.h"
#include "test_env.h"

namespace br2k::deploy {
namespace {

using namespace std::chrono_literals;

class ImagesRegistry : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = ContainerEnv::Prepare(dir_.path() / "containers");
    ASSERT_TRUE(e.ok()) << e.status();
    env_ = *e;
  }
  br2k::testing::ScratchDir dir_{"deploy-images"};
  ContainerEnv env_;
  std::shared_ptr<proc::CommandRunner> runner_ = proc::PosixCommandRunner();
};

TEST_F(ImagesRegistry, BuildIsReproducibleCachedAndPushedByDigest) {
  ImageBuilder builder(env_, runner_);
  ImageSpec spec{.name = "br2k-logserver",
                 .binary = br2k::testing::BinDir() / "br2k-logserver",
                 .dirs = {"/tmp", "/var/lib/br2k"}};
  auto first = builder.Build(spec, nullptr, Deadline::After(300s));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->id.starts_with("sha256:")) << first->id;
  EXPECT_GT(first->size, 1 << 20) << "the binary and its libraries";
  EXPECT_EQ(first->local, "localhost/br2k-logserver:" + first->tag);

  // Same inputs, no cache: the same image id (fixed timestamps).
  auto again = builder.Build(spec, nullptr, Deadline::After(300s));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id, first->id);
  // With the record as cache and the image in storage: returned as it is.
  auto cached = builder.Build(spec, &*first, Deadline::After(60s));
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(*cached, *first);

  auto reg = StartEmbeddedRegistry(*proc::PosixLauncher(), dir_.path() / "registry", false,
                                   Deadline::After(30s));
  ASSERT_TRUE(reg.ok()) << reg.status();
  std::string host = "127.0.0.1:" + std::to_string(reg->port);
  auto pushed = PushImage(env_, *runner_, *first, host, "br2k", "", Deadline::After(300s));
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  auto ref = ParseDigestReference(pushed->reference);
  ASSERT_TRUE(ref.ok()) << pushed->reference;
  EXPECT_EQ(ref->repository, host + "/br2k/br2k-logserver");

  EXPECT_TRUE(
      CheckImageInRegistry(env_, *runner_, pushed->reference, "", Deadline::After(60s)).ok());
  std::string missing = ref->repository + "@sha256:" + std::string(64, '0');
  auto absent = CheckImageInRegistry(env_, *runner_, missing, "", Deadline::After(60s));
  EXPECT_EQ(absent.code(), StatusCode::kNotFound) << absent;

  ASSERT_TRUE(StopEmbeddedRegistry(*proc::PosixLauncher(), *reg).ok());
  EXPECT_FALSE(CheckRegistryAnswers(host, Deadline::After(2s)).ok());
  auto gone = CheckImageInRegistry(env_, *runner_, pushed->reference, "", Deadline::After(60s));
  EXPECT_EQ(gone.code(), StatusCode::kUnavailable) << gone;
  // A push of a real image to a registry that is gone: UNAVAILABLE naming the registry.
  auto push_gone = PushImage(env_, *runner_, *first, host, "br2k", "", Deadline::After(60s));
  ASSERT_FALSE(push_gone.ok());
  EXPECT_EQ(push_gone.status().code(), StatusCode::kUnavailable) << push_gone.status();
  EXPECT_NE(push_gone.status().message().find(host), std::string::npos) << push_gone.status();
}

TEST_F(ImagesRegistry, MissingBinaryIsNotFound) {
  ImageBuilder builder(env_, runner_);
  auto r =
      builder.Build({.name = "x", .binary = dir_.path() / "nope"}, nullptr, Deadline::After(10s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace br2k::deploy
