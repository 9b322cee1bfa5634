// The on-chain recovery information of a container deployment: what a deploy writes, what a
// manager anywhere reads back, and every way the chain's copy can be wrong.
#include "br2k/deploy/recovery.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace br2k::deploy {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

DeploymentSpec Spec() {
  DeploymentSpec s;
  s.name = "logserver";
  s.nodes = 3;
  s.app_image = "127.0.0.1:5000/br2k/br2k-logserver@" + kA;
  s.etcd_image = "127.0.0.1:5000/br2k/br2k-etcd@" + kB;
  s.app_port_base = 20000;
  s.etcd_client_port_base = 21000;
  s.etcd_peer_port_base = 22000;
  s.secrets.files = {{"operator-0.key", "0xsecret0"}, {"tx.key", "0xsecrettx"}};
  return s;
}

TEST(Recovery, EncodeDecodeRoundTripsWithoutSecrets) {
  auto r =
      RecoveryOf(Spec(), "kubernetes", "prod", "https://k8s.example:6443", "127.0.0.1:5000/br2k");
  auto info = EncodeRecovery(r);
  EXPECT_EQ(info.replicas, 3u);
  EXPECT_EQ(info.images.size(), 2u);
  EXPECT_EQ(info.deploy_context.find("0xsecret"), std::string::npos) << info.deploy_context;
  auto back = DecodeRecovery(info);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  EXPECT_EQ(back->secret_files, (std::vector<std::string>{"operator-0.key", "tx.key"}));
}

TEST(Recovery, SpecForRecoveryRebuildsTheDeploymentFromTheChain) {
  auto r = RecoveryOf(Spec(), "podman", "podman", "", "127.0.0.1:5000/br2k");
  DeploymentSpec base;
  base.chain.rpc_url = "http://127.0.0.1:8545";
  auto spec = SpecForRecovery(*DecodeRecovery(EncodeRecovery(r)), base);
  EXPECT_EQ(spec.nodes, 3u);
  EXPECT_EQ(spec.app_image, Spec().app_image);
  EXPECT_EQ(spec.etcd_peer_port_base, 22000);
  EXPECT_EQ(spec.addressing, Addressing::kLoopback);
  EXPECT_TRUE(spec.secrets.files.empty()) << "keys never come from the chain";
  EXPECT_EQ(spec.secrets.existing.size(), 2u);
  EXPECT_EQ(spec.chain.rpc_url, "http://127.0.0.1:8545");
}

TEST(Recovery, AProcessDeploymentNamesExecutablesPinnedByDigestOnThisMachine) {
  DeploymentSpec spec = Spec();
  spec.app_image = "file:///opt/br2k/bin/br2k-logserver@" + kA;
  spec.etcd_image = "file:///usr/bin/etcd@" + kB;
  auto r = RecoveryOf(spec, "process", "local", "", "file://");
  auto back = DecodeRecovery(EncodeRecovery(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  EXPECT_EQ(SpecForRecovery(*back, {}).addressing, Addressing::kLoopback);

  // A container image or another registry is not a process deployment's.
  auto info = EncodeRecovery(r);
  info.images[1] = "127.0.0.1:5000/br2k/br2k-etcd@" + kB;
  EXPECT_NE(DecodeRecovery(info).status().message().find("images[1] is not an executable image"),
            std::string::npos);
  info = EncodeRecovery(r);
  info.container_registry = "127.0.0.1:5000/br2k";
  EXPECT_EQ(DecodeRecovery(info).status().code(), StatusCode::kInvalidArgument);
  info = EncodeRecovery(r);
  info.images[0] = "file://relative/br2k-logserver@" + kA;
  EXPECT_EQ(DecodeRecovery(info).status().code(), StatusCode::kInvalidArgument);
}

TEST(Recovery, TheLocalBackendsContextIsNotFoundNotAnError) {
  eth::RecoveryInfo local{.deploy_context = "local",
                          .replicas = 3,
                          .container_registry = "local",
                          .images = {"br2k-logserver"}};
  EXPECT_EQ(DecodeRecovery(local).status().code(), StatusCode::kNotFound);
}

TEST(Recovery, DecodeNamesEachBadField) {
  auto good = EncodeRecovery(RecoveryOf(Spec(), "podman", "podman", "", "127.0.0.1:5000/br2k"));
  auto ctx = nlohmann::json::parse(good.deploy_context);
  struct Case {
    const char* what;
    std::function<void(eth::RecoveryInfo&, nlohmann::json&)> mutate;
  } cases[] = {
      {"version", [](auto&, auto& j) { j["v"] = 2; }},
      {"kind", [](auto&, auto& j) { j["kind"] = "nomad"; }},
      {"server",
       [](auto&, auto& j) {
         j["kind"] = "kubernetes";
         j["server"] = "http://x";
       }},
      {"namespace", [](auto&, auto& j) { j["namespace"] = "Bad_NS"; }},
      {"ports.app", [](auto&, auto& j) { j["ports"]["app"] = 70000; }},
      {"secrets", [](auto&, auto& j) { j["secrets"] = {"../etc/passwd"}; }},
      {"replicas", [](auto& i, auto&) { i.replicas = 0; }},
      {"images", [](auto& i, auto&) { i.images.pop_back(); }},
      {"images[0]", [](auto& i, auto&) { i.images[0] = "127.0.0.1:5000/br2k/app:latest"; }},
      {"is not in",
       [](auto& i, auto&) {
         i.images[1] = "evil.example/br2k/etcd@sha256:" + std::string(64, 'c');
       }},
  };
  for (const auto& c : cases) {
    auto info = good;
    auto j = ctx;
    c.mutate(info, j);
    info.deploy_context = j.dump();
    auto r = DecodeRecovery(info);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(r.status().message().find(c.what), std::string::npos) << c.what << ": " << r.status();
  }
  auto garbage = good;
  garbage.deploy_context = "{not json";
  EXPECT_EQ(DecodeRecovery(garbage).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace br2k::deploy
