#include "container_service.h"

#include <fstream>
#include <sstream>

#include "br2k/deploy/deployer.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/deploy/publish.h"
#include "br2k/deploy/recovery.h"
#include "local_chain.h"

namespace br2k::cli {

using namespace std::chrono_literals;

namespace {

Result<std::string> ReadKey(const std::string& file) {
  std::ifstream in(file);
  if (!in) return Status(StatusCode::kNotFound, "cannot read key file " + file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string k = ss.str();
  while (!k.empty() && (k.back() == '\n' || k.back() == ' ')) k.pop_back();
  return k;
}

std::filesystem::path LogserverBinary() {
  if (const char* env = std::getenv("BR2K_LOGSERVER_BIN"); env && *env) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return self.parent_path() / "br2k-logserver";
}

std::filesystem::path EtcdBinary() {
  if (const char* env = std::getenv("BR2K_ETCD_BIN"); env && *env) return env;
  return "/usr/bin/etcd";
}

// The podman runtime in the deployment's own container environment (never podman's defaults).
Result<deploy::PodmanRuntime> Runtime(const ContainerState& c) {
  auto env = deploy::ContainerEnv::Prepare(c.root);
  if (!env.ok()) return env.status();
  return deploy::PodmanRuntime(*env, proc::PosixCommandRunner());
}

}  // namespace

deploy::DeploymentSpec SpecOf(const ContainerState& c, const std::optional<ChainState>& chain) {
  deploy::DeploymentSpec spec;
  spec.name = c.name;
  spec.namespace_name = c.namespace_name;
  spec.nodes = static_cast<size_t>(c.nodes);
  spec.addressing =
      c.kind == "podman" ? deploy::Addressing::kLoopback : deploy::Addressing::kServices;
  spec.app_port_base = c.app_port_base;
  spec.etcd_client_port_base = c.etcd_client_port_base;
  spec.etcd_peer_port_base = c.etcd_peer_port_base;
  if (c.images.size() == 2) {
    spec.app_image = c.images[0];
    spec.etcd_image = c.images[1];
  }
  if (chain) {
    spec.chain = {.rpc_url = chain->rpc_url,
                  .chain_id = chain->chain_id,
                  .registry = chain->registry,
                  .service_name = chain->service_name};
    for (size_t i = 0; i < spec.nodes; ++i)
      spec.secrets.existing.push_back("operator-" + std::to_string(i) + ".key");
    if (!chain->tx_key_file.empty()) spec.secrets.existing.push_back("tx.key");
  }
  return spec;
}

std::vector<ReplicaState> ReplicasOf(const deploy::DeploymentSpec& spec) {
  std::vector<ReplicaState> out;
  for (size_t i = 0; i < spec.nodes; ++i)
    out.push_back({.id = "node-" + std::to_string(i),
                   .url = spec.AppUrl(i),
                   .pid = 0,
                   .etcd_member = spec.PodName(i),
                   .data_dir = "volume " + spec.PodName(i) + "-data",
                   .log_file = "podman logs " + spec.PodName(i) + "-app"});
  return out;
}

std::vector<EtcdMemberState> EtcdMembersOf(const deploy::DeploymentSpec& spec) {
  std::vector<EtcdMemberState> out;
  for (size_t i = 0; i < spec.nodes; ++i)
    out.push_back({.name = spec.PodName(i),
                   .client_url = "http://127.0.0.1:" + std::to_string(spec.EtcdClientPort(i)),
                   .peer_url = "http://127.0.0.1:" + std::to_string(spec.EtcdPeerPort(i)),
                   .pid = 0,
                   .data_dir = "volume " + spec.PodName(i) + "-etcd",
                   .log_file = "podman logs " + spec.PodName(i) + "-etcd"});
  return out;
}

Status PublishImages(const ContainerUpOptions& o, ContainerState& out, Deadline deadline) {
  deploy::PublishOptions po;
  po.work_dir = o.run_dir;
  po.app_binary = LogserverBinary();
  po.etcd_binary = EtcdBinary();
  po.registry = o.registry;
  po.detach_registry = o.detach;
  auto pub = deploy::BuildAndPublish(po, o.progress, deadline);
  if (!pub.ok()) return pub.status();
  out.root = pub->env.root().string();
  out.container_registry = pub->registry.registry +
                           (pub->registry.repository.empty() ? "" : "/" + pub->registry.repository);
  out.images = {pub->app_reference, pub->etcd_reference};
  if (pub->registry.embedded) {
    out.registry_pid = pub->registry.embedded->pid;
    out.registry_port = pub->registry.embedded->port;
    out.registry_root = pub->registry.embedded->root;
  }
  return Status::Ok();
}

Result<ContainerState> PlanContainers(const ContainerUpOptions& o) {
  ContainerState out;
  out.kind = "podman";
  out.context = "podman";
  out.name = o.service_name;
  out.nodes = static_cast<int>(o.nodes);
  deploy::DeploymentSpec spec = SpecOf(out, std::nullopt);
  if (Status st = deploy::PickLoopbackPorts(spec); !st.ok()) return st;
  out.app_port_base = spec.app_port_base;
  out.etcd_client_port_base = spec.etcd_client_port_base;
  out.etcd_peer_port_base = spec.etcd_peer_port_base;
  return out;
}

Status FillKeySecrets(const ChainState& chain, deploy::DeploymentSpec& spec) {
  // The keys become the Secret's files (never on chain, never printed).
  spec.secrets.existing.clear();
  spec.secrets.files.clear();
  for (size_t i = 0; i < spec.nodes && i < chain.operator_key_files.size(); ++i) {
    auto k = ReadKey(chain.operator_key_files[i]);
    if (!k.ok()) return k.status();
    spec.secrets.files["operator-" + std::to_string(i) + ".key"] = *k;
  }
  if (!chain.tx_key_file.empty()) {
    auto k = ReadKey(chain.tx_key_file);
    if (!k.ok()) return k.status();
    spec.secrets.files["tx.key"] = *k;
  }
  return Status::Ok();
}

Status DeployPods(const ContainerUpOptions& o, const ChainState& chain, ContainerState& out,
                  Deadline deadline) {
  deploy::DeploymentSpec spec = SpecOf(out, chain);
  spec.etcd_heartbeat_ms = o.heartbeat_ms;
  spec.etcd_election_ms = o.election_ms;
  spec.app_args = o.extra_args;
  if (Status st = FillKeySecrets(chain, spec); !st.ok()) return st;
  auto runtime = Runtime(out);
  if (!runtime.ok()) return runtime.status();
  // A fresh `up` starts a fresh service history on a fresh chain (as StartReplicas empties the
  // replicas' data directories): the volumes and Secret an earlier run of this name left behind
  // (`br2k down` keeps them) would hold an etcd cluster of other ports and another history.
  if (Status st = runtime->Remove(spec, /*purge=*/true, deadline); !st.ok()) return st;
  auto deployed = deploy::DeployAndWait(*runtime, spec, 0, o.progress, deadline);
  if (!deployed.ok()) return deployed.status();
  auto recovery = deploy::RecoveryOf(spec, "podman", "podman", "", out.container_registry);
  return WriteRecoveryInfo(chain, deploy::EncodeRecovery(recovery), deadline);
}

Status StopContainerService(const ContainerState& c, bool purge) {
  Status first;
  if (c.nodes > 0 && !c.root.empty()) {
    auto runtime = Runtime(c);
    first = runtime.ok() ? runtime->Remove(SpecOf(c, std::nullopt), purge, Deadline::After(120s))
                         : runtime.status();
  }
  if (c.registry_pid > 0) {
    Status st = deploy::StopEmbeddedRegistry(
        *proc::PosixLauncher(),
        {.pid = c.registry_pid, .port = c.registry_port, .root = c.registry_root});
    if (first.ok()) first = st;
  }
  return first;
}

}  // namespace br2k::cli
