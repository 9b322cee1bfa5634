#include "service_deployment.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "br2k/common/atomic_file.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/etcd_tls.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/deploy/process_runtime.h"
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

// The application's executable: $BR2K_<NAME>_BIN (BR2K_LOGSERVER_BIN for br2k-logserver), else
// next to this br2k.
std::filesystem::path AppBinary(const std::string& name) {
  std::string var = name.starts_with("br2k-") ? name.substr(5) : name;
  for (auto& c : var) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
  var = "BR2K_" + var + "_BIN";
  if (const char* env = std::getenv(var.c_str()); env && *env) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return self.parent_path() / name;
}

// `name` as the shell finds it: a path when it has a '/', else the first match in PATH.
std::filesystem::path FindExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    auto candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

std::filesystem::path EtcdBinary(const std::string& flag) {
  if (const char* env = std::getenv("BR2K_ETCD_BIN"); env && *env) return env;
  return FindExecutable(flag.empty() ? "etcd" : flag);
}

Result<std::shared_ptr<deploy::ProcessRuntime>> ProcessRuntimeOf(const ContainerState& c,
                                                                 bool detach) {
  return deploy::ProcessRuntime::Create({.root = c.root, .detach = detach});
}

}  // namespace

Result<std::shared_ptr<deploy::PodRuntime>> RuntimeOf(const ContainerState& c, bool detach) {
  if (c.kind == "process") {
    auto rt = ProcessRuntimeOf(c, detach);
    if (!rt.ok()) return rt.status();
    return std::shared_ptr<deploy::PodRuntime>(*rt);
  }
  if (c.kind == "podman") {
    // br2k's own container environment, never podman's defaults.
    auto env = deploy::ContainerEnv::Prepare(c.root);
    if (!env.ok()) return Status(StatusCode::kFailedPrecondition, env.status().message());
    return std::shared_ptr<deploy::PodRuntime>(
        std::make_shared<deploy::PodmanRuntime>(*env, proc::PosixCommandRunner()));
  }
  return Status(StatusCode::kInvalidArgument, "no local runtime for a " + c.kind + " deployment");
}

deploy::DeploymentSpec SpecOf(const ContainerState& c, const std::optional<ChainState>& chain) {
  deploy::DeploymentSpec spec;
  spec.name = c.name;
  spec.namespace_name = c.namespace_name;
  spec.nodes = static_cast<size_t>(c.nodes);
  spec.addressing =
      c.kind == "kubernetes" ? deploy::Addressing::kServices : deploy::Addressing::kLoopback;
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
    // The files FillEtcdTls put in the Secret: etcd runs with TLS on every runtime (hardening
    // item 11; on podman the Secret's files are host paths, podman_runtime.h).
    spec.secrets.existing.push_back(deploy::kEtcdCaFile);
    for (size_t i = 0; i < spec.nodes; ++i) {
      spec.secrets.existing.push_back(deploy::EtcdCertFile(i));
      spec.secrets.existing.push_back(deploy::EtcdKeyFile(i));
    }
  }
  return spec;
}

std::vector<ReplicaState> ReplicasOf(const ContainerState& c) {
  const auto spec = SpecOf(c, std::nullopt);
  auto rt =
      c.kind == "process"
          ? ProcessRuntimeOf(c, false)
          : Result<std::shared_ptr<deploy::ProcessRuntime>>(Status(StatusCode::kNotFound, ""));
  std::vector<ReplicaState> out;
  for (size_t i = 0; i < spec.nodes; ++i) {
    const std::string pod = spec.PodName(i);
    ReplicaState r{.id = "node-" + std::to_string(i), .url = spec.AppUrl(i), .etcd_member = pod};
    if (rt.ok()) {
      r.data_dir = (*rt)->VolumeDir(pod + "-data").string();
      r.log_file = (*rt)->LogFile(pod, "app").string();
    } else {
      r.data_dir = "volume " + pod + "-data";
      r.log_file = "podman logs " + pod + "-app";
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<EtcdMemberState> EtcdMembersOf(const ContainerState& c) {
  const auto spec = SpecOf(c, std::nullopt);
  auto rt =
      c.kind == "process"
          ? ProcessRuntimeOf(c, false)
          : Result<std::shared_ptr<deploy::ProcessRuntime>>(Status(StatusCode::kNotFound, ""));
  std::vector<EtcdMemberState> out;
  for (size_t i = 0; i < spec.nodes; ++i) {
    const std::string pod = spec.PodName(i);
    const std::string scheme = "https://";
    EtcdMemberState m{.name = pod,
                      .client_url = scheme + "127.0.0.1:" + std::to_string(spec.EtcdClientPort(i)),
                      .peer_url = scheme + "127.0.0.1:" + std::to_string(spec.EtcdPeerPort(i))};
    if (rt.ok()) {
      m.data_dir = ((*rt)->VolumeDir(pod + "-etcd") / "data").string();
      m.log_file = (*rt)->LogFile(pod, "etcd").string();
    } else {
      m.data_dir = "volume " + pod + "-etcd";
      m.log_file = "podman logs " + pod + "-etcd";
    }
    out.push_back(std::move(m));
  }
  return out;
}

namespace {

void RefreshPods(const ContainerState& c, std::vector<ReplicaState>& replicas,
                 std::vector<EtcdMemberState>& etcd) {
  if (c.kind != "process") return;
  auto rt = ProcessRuntimeOf(c, false);
  if (!rt.ok()) return;
  const auto spec = SpecOf(c, std::nullopt);
  for (size_t i = 0; i < spec.nodes; ++i) {
    for (const auto& p : (*rt)->Processes(spec.PodName(i))) {
      if (p.container == "app" && i < replicas.size()) {
        replicas[i].pid = p.identity.pid;
        replicas[i].argv = p.identity.argv;
        replicas[i].start_time = p.identity.start_time;
      } else if (p.container == "etcd" && i < etcd.size()) {
        etcd[i].pid = p.identity.pid;
        etcd[i].argv = p.identity.argv;
        etcd[i].start_time = p.identity.start_time;
      }
    }
  }
}

}  // namespace

void RefreshProcesses(RunState& s) {
  if (s.containers) RefreshPods(*s.containers, s.replicas, s.etcd);
  if (s.dashboard) RefreshPods(s.dashboard->deployment, s.dashboard->replicas, s.dashboard->etcd);
}

ChainState ChainForService(const ChainState& chain, const ServiceState& service) {
  ChainState c = chain;
  c.service_name = service.name;
  c.tx_key_file = service.tx_key_file;
  c.operator_key_files = service.operator_key_files;
  return c;
}

Status PublishImages(const ServiceUpOptions& o, ContainerState& out, Deadline deadline) {
  if (o.kind == "process") {
    auto app = deploy::PinExecutable(AppBinary(o.app_binary));
    if (!app.ok()) return app.status();
    auto etcd = deploy::PinExecutable(EtcdBinary(o.etcd_binary));
    if (!etcd.ok()) return etcd.status();
    out.container_registry = deploy::kExecutableRegistry;
    out.images = {*app, *etcd};
    if (o.progress) {
      o.progress("app  " + *app);
      o.progress("etcd " + *etcd);
    }
    return Status::Ok();
  }
  deploy::PublishOptions po;
  po.work_dir = o.run_dir;
  po.app_binary = AppBinary(o.app_binary);
  // The image is named after its binary (br2k-logserver, br2k-dashboard), which it holds at
  // /usr/bin/<name>: the pods' command (DeploymentSpec::AppCommand) follows from the image.
  po.app_image_name = po.app_binary.filename().string();
  po.etcd_binary = EtcdBinary("/usr/bin/etcd");
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

Result<ContainerState> PlanService(const ServiceUpOptions& o) {
  if (o.kind != "process" && o.kind != "podman")
    return Status(StatusCode::kInvalidArgument, "unknown deployment kind " + o.kind);
  ContainerState out;
  out.kind = o.kind;
  out.context = o.kind == "process" ? "local" : "podman";
  if (o.kind == "process") out.root = o.run_dir.string();
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

EtcdClientFiles EtcdClientFilesOf(const std::filesystem::path& run_dir, const std::string& name) {
  const auto dir = run_dir / "etcd-tls" / name;
  return {.ca = dir / "ca.crt", .cert = dir / "client.crt", .key = dir / "client.key"};
}

Result<etcd::EtcdTls> LoadEtcdClientTls(const std::filesystem::path& run_dir,
                                        const std::string& name) {
  const auto files = EtcdClientFilesOf(run_dir, name);
  if (!std::filesystem::exists(files.ca)) return etcd::EtcdTls{};
  return etcd::LoadTlsFiles(files.ca.string(), files.cert.string(), files.key.string());
}

Status FillEtcdTls(const std::filesystem::path& run_dir, deploy::DeploymentSpec& spec) {
  auto client = deploy::AddEtcdTls(spec);
  if (!client.ok()) return client.status();
  if (run_dir.empty()) return Status::Ok();
  const auto files = EtcdClientFilesOf(run_dir, spec.name);
  std::error_code ec;
  std::filesystem::create_directories(files.ca.parent_path(), ec);
  if (ec) return InternalError("cannot create " + files.ca.parent_path().string());
  std::filesystem::permissions(files.ca.parent_path(), std::filesystem::perms::owner_all, ec);
  if (Status st = WriteFileAtomically(files.ca, client->ca_pem); !st.ok()) return st;
  if (Status st = WriteFileAtomically(files.cert, client->client.cert_pem); !st.ok()) return st;
  return WriteFileAtomically(files.key, client->client.key_pem, 0600);
}

Status DeployPods(const ServiceUpOptions& o, const ChainState& chain, ContainerState& out,
                  Deadline deadline) {
  deploy::DeploymentSpec spec = SpecOf(out, chain);
  spec.etcd_heartbeat_ms = o.heartbeat_ms;
  spec.etcd_election_ms = o.election_ms;
  spec.app_args = o.extra_args;
  if (o.revision_floor > 0)
    spec.app_args.push_back("--revision-floor=" + std::to_string(o.revision_floor));
  if (Status st = FillKeySecrets(chain, spec); !st.ok()) return st;
  if (Status st = FillEtcdTls(o.run_dir, spec); !st.ok()) return st;
  auto runtime = RuntimeOf(out, o.detach);
  if (!runtime.ok()) return runtime.status();
  // A fresh `up` starts a fresh service history on a fresh chain: the volumes and Secret an
  // earlier run of this name left behind (`br2k down` keeps them) would hold an etcd cluster of
  // other ports and another history.
  if (Status st = (*runtime)->Remove(spec, /*purge=*/true, deadline); !st.ok()) return st;
  auto deployed = deploy::DeployAndWait(**runtime, spec, 0, o.progress, deadline);
  if (!deployed.ok()) return deployed.status();
  auto recovery = deploy::RecoveryOf(spec, out.kind, out.context, "", out.container_registry);
  return WriteRecoveryInfo(chain, deploy::EncodeRecovery(recovery), deadline);
}

Status StopService(const ContainerState& c, bool purge) {
  Status first;
  if (c.nodes > 0 && !c.root.empty()) {
    auto runtime = RuntimeOf(c, false);
    first = runtime.ok() ? (*runtime)->Remove(SpecOf(c, std::nullopt), purge, Deadline::After(120s))
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
