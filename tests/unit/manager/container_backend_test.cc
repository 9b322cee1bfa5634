// The container backend redeploys each managed service under its own name: a manager watching
// the log server and the dashboard (`br2k up`) must start a redeployed dashboard's replicas with
// --service-name=dashboard, or they would publish their location as the log server's.
#include "br2k/manager/container_backend.h"

#include <gtest/gtest.h>

#include <mutex>

#include "br2k/deploy/recovery.h"

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;

// A runtime that records what is applied and reports every pod of a spec running and ready.
class RecordingRuntime : public deploy::PodRuntime {
 public:
  std::string Kind() const override { return "process"; }
  Status Apply(const std::vector<nlohmann::json>& objects, Deadline) override {
    std::lock_guard l(mu);
    for (const auto& o : objects) applied += o.dump() + "\n";
    return Status::Ok();
  }
  Result<std::vector<deploy::PodStatus>> Pods(const deploy::DeploymentSpec& spec,
                                              Deadline) override {
    std::vector<deploy::PodStatus> out;
    for (size_t i = 0; i < spec.nodes; ++i)
      out.push_back({.name = spec.PodName(i), .phase = "Running", .ready = true});
    return out;
  }
  Status DeletePod(const deploy::DeploymentSpec&, size_t, Deadline) override {
    return Status::Ok();
  }
  Status Remove(const deploy::DeploymentSpec&, bool, Deadline) override { return Status::Ok(); }

  std::string Applied() {
    std::lock_guard l(mu);
    return applied;
  }
  void Clear() {
    std::lock_guard l(mu);
    applied.clear();
  }

 private:
  std::mutex mu;
  std::string applied;
};

// A registry that knows nothing (Deploy is given the recovery information).
class NoRegistry : public RegistryGateway {
 public:
  Result<uint64_t> HeadBlock(Deadline) override { return 1; }
  Result<eth::ServiceRecord> GetService(const eth::ServiceId&, Deadline) override {
    return NotFoundError("UnknownService");
  }
  Status UpdateState(const eth::ServiceId&, eth::ServiceState, Deadline) override {
    return Status::Ok();
  }
  Result<std::vector<eth::RegistryEvent>> PastClaims(const std::vector<eth::ServiceId>&, uint64_t,
                                                     uint64_t, Deadline) override {
    return std::vector<eth::RegistryEvent>{};
  }
  Status WatchClaims(const std::vector<eth::ServiceId>&, uint64_t,
                     const std::function<Status(const eth::RegistryEvent&)>&,
                     std::stop_token) override {
    return Status::Ok();
  }
};

// The recovery information `br2k up` writes for deployment `name` (process kind).
eth::RecoveryInfo RecoveryFor(const std::string& name, int port_base, const std::string& app) {
  deploy::DeploymentSpec spec;
  spec.name = name;
  spec.nodes = 3;
  spec.app_port_base = port_base;
  spec.etcd_client_port_base = port_base + 100;
  spec.etcd_peer_port_base = port_base + 200;
  spec.app_image = "file:///opt/br2k/" + app + "@sha256:" + std::string(64, 'a');
  spec.etcd_image = "file:///usr/bin/etcd@sha256:" + std::string(64, 'b');
  spec.secrets.existing = {"operator-0.key", "operator-1.key", "operator-2.key", "tx.key"};
  return deploy::EncodeRecovery(deploy::RecoveryOf(spec, "process", "local", "", "file://"));
}

TEST(ContainerBackend, Deploy_eachServiceIsRedeployedUnderItsOwnName) {
  auto runtime = std::make_shared<RecordingRuntime>();
  ContainerBackendOptions o;
  o.runtime = runtime;
  o.context_name = "local";
  o.registry = std::make_shared<NoRegistry>();
  o.image_exists = [](const std::string&, Deadline) { return Status::Ok(); };
  o.base.chain = {.rpc_url = "http://127.0.0.1:8545",
                  .chain_id = 31337,
                  .registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                  .service_name = "logserver"};
  const auto logserver = eth::ServiceIdFromName("logserver");
  const auto dashboard = eth::ServiceIdFromName("dashboard");
  o.service_names = {{logserver.ToHex(), "logserver"}, {dashboard.ToHex(), "dashboard"}};
  auto backend = ContainerBackend::Create(o);
  ASSERT_TRUE(backend.ok()) << backend.status();

  auto report = (*backend)->Deploy(dashboard, RecoveryFor("dashboard", 18090, "br2k-dashboard"),
                                   Deadline::After(10s));
  ASSERT_TRUE(report.ok()) << report.status();
  std::string applied = runtime->Applied();
  EXPECT_NE(applied.find("--service-name=dashboard"), std::string::npos) << applied;
  EXPECT_EQ(applied.find("--service-name=logserver"), std::string::npos) << applied;
  EXPECT_NE(applied.find("br2k-dashboard@sha256:"), std::string::npos);
  EXPECT_NE(applied.find("--service=dashboard"), std::string::npos);

  runtime->Clear();
  report = (*backend)->Deploy(logserver, RecoveryFor("logserver", 18080, "br2k-logserver"),
                              Deadline::After(10s));
  ASSERT_TRUE(report.ok()) << report.status();
  applied = runtime->Applied();
  EXPECT_NE(applied.find("--service-name=logserver"), std::string::npos) << applied;
  EXPECT_EQ(applied.find("--service-name=dashboard"), std::string::npos) << applied;

  // A service the map does not name publishes under the base's name, as before.
  runtime->Clear();
  report = (*backend)->Deploy(eth::ServiceIdFromName("other"),
                              RecoveryFor("other", 18070, "br2k-logserver"), Deadline::After(10s));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_NE(runtime->Applied().find("--service-name=logserver"), std::string::npos);
}

}  // namespace
}  // namespace br2k::manager
