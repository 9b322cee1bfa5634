#include "logserver_deployment.h"

#include <thread>

#include "br2k/cluster/local_cluster.h"
#include "br2k/common/etcd_limits.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/replication/node_process.h"

namespace br2k::bench {

Result<std::unique_ptr<LogServerDeployment>> LogServerDeployment::Deploy(
    LogServerDeploymentOptions o) {
  BR2K_ASSIGN_OR_RETURN(auto rt, deploy::ProcessRuntime::Create({.root = o.dir}));
  BR2K_ASSIGN_OR_RETURN(auto app, deploy::PinExecutable(o.bin / "br2k-logserver"));
  BR2K_ASSIGN_OR_RETURN(auto etcd, deploy::PinExecutable("/usr/bin/etcd"));
  deploy::DeploymentSpec spec;
  spec.name = o.name;
  spec.nodes = o.nodes;
  spec.addressing = deploy::Addressing::kLoopback;
  spec.app_image = app;
  spec.etcd_image = etcd;
  if (o.etcd_heartbeat_ms > 0) spec.etcd_heartbeat_ms = o.etcd_heartbeat_ms;
  if (o.etcd_election_ms > 0) spec.etcd_election_ms = o.etcd_election_ms;
  spec.app_args = {"--log-level=warn", EtcdMaxTxnOpsFlag()};
  spec.app_args.insert(spec.app_args.end(), o.app_args.begin(), o.app_args.end());
  BR2K_RETURN_IF_ERROR(deploy::PickLoopbackPorts(spec));
  auto d = std::unique_ptr<LogServerDeployment>(new LogServerDeployment(rt, spec));
  BR2K_RETURN_IF_ERROR(d->Restore());
  return d;
}

LogServerDeployment::~LogServerDeployment() {
  (void)runtime_->Remove(spec_, /*purge=*/true, Deadline::After(std::chrono::seconds(60)));
}

Status LogServerDeployment::Restore() {
  return deploy::DeployAndWait(*runtime_, spec_, 0, nullptr,
                               Deadline::After(std::chrono::seconds(120)))
      .status();
}

std::vector<std::string> LogServerDeployment::EtcdEndpoints() const {
  std::vector<EtcdMemberState> members;
  std::vector<std::string> urls;
  for (size_t i = 0; i < spec_.nodes; ++i) {
    urls.push_back("http://127.0.0.1:" + std::to_string(spec_.EtcdClientPort(i)));
    members.push_back({.name = spec_.PodName(i), .client_url = urls.back()});
  }
  auto health = cluster::ProbeMembers(members, Deadline::After(std::chrono::seconds(5)));
  for (size_t i = 0; i < health.size(); ++i)
    if (health[i].is_leader) std::swap(urls[0], urls[i]);
  return urls;
}

std::optional<size_t> LogServerDeployment::LeaderIndex(std::chrono::milliseconds wait) const {
  const Deadline until = Deadline::After(wait);
  do {
    for (size_t i = 0; i < spec_.nodes; ++i) {
      auto p = replication::ProbeReplica(spec_.AppUrl(i),
                                         Deadline::After(std::chrono::milliseconds(500)));
      if (p.ok() && p->role == "Leader") return i;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (!until.expired());
  return std::nullopt;
}

pid_t LogServerDeployment::Pid(size_t i, const std::string& container) const {
  for (const auto& p : runtime_->Processes(spec_.PodName(i))) {
    if (p.container == container && p.running) return p.identity.pid;
  }
  return 0;
}

}  // namespace br2k::bench
