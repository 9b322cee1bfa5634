// `br2k up --containers` runs the whole loop in containers on this machine, with real parts:
// buildah images on scratch, Debian's docker-registry on loopback, podman playing the pods (app +
// etcd each), anvil with the ServiceRegistry, the manager with the podman backend. The service
// serves, survives the leader pod's loss, and after every pod is gone a claim makes the manager
// redeploy it from the chain's recovery information alone, with its state intact.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/common/run_state.h"
#include "br2k/deploy/recovery.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/etcd/tls.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "command.h"
#include "test_env.h"

namespace br2k {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using CliRun = testing::CommandResult;

CliRun Shell(const std::string& command) {
  return testing::RunShell(command);
}

CliRun Br2k(const std::filesystem::path& run_dir, const std::string& args) {
  return testing::RunBr2k(run_dir.string(), args);
}

// podman in the run's own container environment.
CliRun Podman(const RunState& s, const std::string& args) {
  const auto& root = s.containers->root;
  return Shell("CONTAINERS_CONF='" + root + "/containers.conf' CONTAINERS_STORAGE_CONF='" + root +
               "/storage.conf' podman --storage-driver vfs " + args);
}

Result<eth::ServiceRecord> ReadRegistry(const ChainState& c) {
  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeHttpTransport(c.rpc_url));
  auto client = std::make_shared<eth::RpcClient>(transport);
  BR2K_ASSIGN_OR_RETURN(auto address, eth::Address::Parse(c.registry));
  eth::ServiceRegistry reg(client, address);
  return reg.GetService(eth::ServiceIdFromName(c.service_name), Deadline::After(10s));
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(UpContainers, ServesSurvivesTheLeaderPodAndIsRecoveredFromTheChainAfterTotalLoss) {
  testing::ScratchDir dir("up-containers");
  const auto run_dir = dir.path() / "run";
  auto t0 = Clock::now();
  CliRun up =
      Br2k(run_dir, "up --containers --detach --heartbeat-ms 50 --election-ms 500 --timeout 240");
  std::cout << "[ up --containers ] " << std::chrono::duration<double>(Clock::now() - t0).count()
            << " s\n"
            << up.out;
  ASSERT_EQ(up.status, 0) << up.out;
  auto s = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->containers.has_value());
  ASSERT_TRUE(s->chain.has_value());
  ASSERT_EQ(s->replicas.size(), 3u);
  // The dashboard runs in containers too: its own image (br2k-dashboard, run as
  // /usr/bin/br2k-dashboard), pods, registry entry and recovery information.
  ASSERT_TRUE(s->dashboard.has_value()) << up.out;
  ASSERT_EQ(s->dashboard->replicas.size(), 3u);
  EXPECT_EQ(s->dashboard->deployment.kind, "podman");
  ASSERT_EQ(s->dashboard->deployment.images.size(), 2u);
  EXPECT_NE(s->dashboard->deployment.images[0].find("/br2k-dashboard@sha256:"), std::string::npos)
      << s->dashboard->deployment.images[0];
  {
    auto doc = nlohmann::json::parse(Br2k(run_dir, "status --json").out, nullptr, false);
    ASSERT_TRUE(doc.is_object() && doc["dashboard"].is_object() &&
                doc["dashboard"]["url"].is_string())
        << doc.dump();
    CliRun listed = Shell("curl -s --max-time 20 '" + doc["dashboard"]["url"].get<std::string>() +
                          "/api/services'");
    EXPECT_NE(listed.out.find(eth::ServiceIdFromName("logserver").ToHex()), std::string::npos)
        << listed.out;
    EXPECT_NE(listed.out.find(eth::ServiceIdFromName("dashboard").ToHex()), std::string::npos)
        << listed.out;
  }

  // The chain holds the recovery information: registry and images by digest, no secret.
  auto record = ReadRegistry(*s->chain);
  ASSERT_TRUE(record.ok()) << record.status();
  auto recovery = deploy::DecodeRecovery(record->recovery);
  ASSERT_TRUE(recovery.ok()) << recovery.status() << " in " << record->recovery.deploy_context;
  EXPECT_EQ(recovery->kind, "podman");
  EXPECT_EQ(recovery->replicas, 3u);
  EXPECT_EQ(recovery->app_image, s->containers->images[0]);
  EXPECT_NE(recovery->app_image.find("@sha256:"), std::string::npos);
  std::string key = ReadFile(s->chain->operator_key_files[0]);
  key = key.substr(0, key.find('\n'));
  EXPECT_EQ(record->recovery.deploy_context.find(key.substr(2, 16)), std::string::npos)
      << "no key material on chain";

  // Three pods run, each with an app and an etcd container.
  CliRun pods = Podman(*s, "ps --format '{{.Names}}'");
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(pods.out.find("dashboard-" + std::to_string(i) + "-app"), std::string::npos)
        << pods.out;
    EXPECT_NE(pods.out.find("logserver-" + std::to_string(i) + "-app"), std::string::npos)
        << pods.out;
    EXPECT_NE(pods.out.find("logserver-" + std::to_string(i) + "-etcd"), std::string::npos)
        << pods.out;
  }

  CliRun first = Br2k(run_dir, "call POST /logs --data '{\"user\":\"alice\"}' --timeout 60");
  ASSERT_EQ(first.status, 0) << first.out;
  CliRun status = Br2k(run_dir, "status");
  EXPECT_EQ(status.status, 0) << status.out;
  {
    // Hardening item 11 on podman too: the members serve TLS only, for certificates of the
    // deployment's CA. The Secret's files are host paths (podman 4.3 would mount them
    // base64-encoded), and each pod sees only its own keys.
    auto doc = nlohmann::json::parse(Br2k(run_dir, "status --json").out, nullptr, false);
    ASSERT_TRUE(doc.is_object() && doc["etcd"].size() == 3u) << doc.dump();
    std::vector<std::string> urls, host_ports;
    for (const auto& m : doc["etcd"]) {
      const std::string url = m["client_url"];
      EXPECT_TRUE(url.starts_with("https://")) << url;
      urls.push_back(url);
      host_ports.push_back(*etcd::NormalizeEndpoint(url));
    }
    auto plain = etcd::GrpcClient::Create({.endpoints = host_ports});
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(
        (*plain)->Range(etcd::RangeRequest::Prefix("/br2k/"), Deadline::After(5s)).status().code(),
        StatusCode::kUnavailable);
    const auto tls_dir = run_dir / "etcd-tls" / "logserver";
    auto tls = etcd::LoadTlsFiles((tls_dir / "ca.crt").string(), (tls_dir / "client.crt").string(),
                                  (tls_dir / "client.key").string());
    ASSERT_TRUE(tls.ok()) << tls.status();
    auto own = etcd::GrpcClient::Create({.endpoints = urls, .tls = *tls});
    ASSERT_TRUE(own.ok()) << own.status();
    auto keys = (*own)->Range(etcd::RangeRequest::Prefix("/br2k/logserver/"), Deadline::After(10s));
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_FALSE(keys->kvs.empty());
    const auto pod0 = std::filesystem::path(s->containers->root) / "pod-secrets" / "logserver-0";
    std::vector<std::string> seen;
    for (const auto& vol : std::filesystem::directory_iterator(pod0))
      for (const auto& f : std::filesystem::directory_iterator(vol.path()))
        seen.push_back(f.path().filename().string());
    auto has = [&](const std::string& f) {
      return std::find(seen.begin(), seen.end(), f) != seen.end();
    };
    EXPECT_TRUE(has("operator-0.key") && has("etcd-0.key") && has("etcd-ca.crt"))
        << ::testing::PrintToString(seen);
    EXPECT_FALSE(has("operator-1.key") || has("etcd-1.key")) << ::testing::PrintToString(seen);
  }

  // The leader pod is lost: another replica leads, the service answers.
  CliRun leader = Br2k(run_dir, "registry locate");
  ASSERT_EQ(leader.status, 0) << leader.out;
  std::string leader_pod;
  for (size_t i = 0; i < s->replicas.size(); ++i)
    if (leader.out.find(s->replicas[i].url) != std::string::npos)
      leader_pod = s->replicas[i].etcd_member;
  ASSERT_FALSE(leader_pod.empty()) << leader.out;
  ASSERT_EQ(Podman(*s, "pod rm -f -t 0 " + leader_pod).status, 0);
  auto lost = Clock::now();
  // --claim-after 0: an ordinary failover must not spend the client's claim. The manager acts
  // on one claim per claimant per 60 s, so a claim here would make it ignore the real one below.
  CliRun after_leader =
      Br2k(run_dir, "call POST /logs --data '{\"user\":\"bob\"}' --timeout 90 --claim-after 0");
  std::cout << "[ up --containers ] leader pod removed -> next write acknowledged: "
            << std::chrono::duration<double>(Clock::now() - lost).count() << " s\n";
  EXPECT_EQ(after_leader.status, 0) << after_leader.out;

  // Every pod is lost. A claim makes the manager redeploy from the chain's information.
  for (int i = 0; i < 3; ++i) (void)Podman(*s, "pod rm -f -t 0 logserver-" + std::to_string(i));
  EXPECT_EQ(Podman(*s, "pod ps -q --filter name=logserver").out, "");
  auto killed = Clock::now();
  CliRun healed = Br2k(run_dir, "call GET /logs --claim-after 1 --timeout 240");
  std::cout << "[ up --containers ] every pod removed -> claim -> answered after the redeploy: "
            << std::chrono::duration<double>(Clock::now() - killed).count() << " s\n";
  EXPECT_EQ(healed.status, 0) << healed.out << "\nmanager log:\n"
                              << ReadFile(run_dir / "manager.log");
  EXPECT_NE(healed.out.find("\"alice\""), std::string::npos) << healed.out;
  EXPECT_NE(healed.out.find("\"bob\""), std::string::npos) << healed.out;
  for (Deadline d = Deadline::After(60s); !d.expired();) {
    if (ReadFile(run_dir / "manager.log").find("marked Active") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_NE(ReadFile(run_dir / "manager.log").find("marked Active"), std::string::npos)
      << ReadFile(run_dir / "manager.log");

  // down removes the pods (the dashboard's too) and stops the embedded registry; the volumes
  // (data) stay until
  // --purge removes the run directory with br2k's container storage.
  int registry_pid = s->containers->registry_pid;
  CliRun down = Br2k(run_dir, "down");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_EQ(Podman(*s, "pod ps -q").out, "");
  EXPECT_NE(Podman(*s, "volume ls -q").out.find("logserver-0-data"), std::string::npos);
  EXPECT_FALSE(
      registry_pid > 0 &&
      std::filesystem::exists("/proc/" + std::to_string(registry_pid) + "/cmdline") &&
      ReadFile("/proc/" + std::to_string(registry_pid) + "/cmdline").find("docker-registry") !=
          std::string::npos)
      << "the embedded registry was left running";
  EXPECT_EQ(Br2k(run_dir, "down --purge").status, 0);
  EXPECT_FALSE(std::filesystem::exists(run_dir));
}

}  // namespace
}  // namespace br2k
