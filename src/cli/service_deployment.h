// The replicated sample service as `br2k up` deploys it, on the deployment library's pod
// runtimes: the same manifests (one pod per node: etcd + br2k-logserver), the same DeployAndWait
// and the same on-chain recovery information, whichever runtime runs them:
//   kind "process"  the pods as local processes (deploy::ProcessRuntime, below the run
//                   directory); the images are the executables on this machine, pinned by digest.
//   kind "podman"   `br2k up --containers`: images built and pushed to a container registry (the
//                   embedded one), pods played on the local podman context.
// The CLI keeps only flags and printing; the work is the deploy library's.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/run_state.h"
#include "br2k/deploy/pod_runtime.h"
#include "br2k/deploy/spec.h"
#include "br2k/etcd/tls.h"

namespace br2k::cli {

struct ServiceUpOptions {
  std::string kind = "process";   // "process" or "podman"
  std::filesystem::path run_dir;  // the runtime's files (process) or images.json, registry.json,
                                  // containers/, registry/ (podman) go here
  std::string service_name = "logserver";  // the registry name and the deployment's name
  // The replicated application's executable, next to br2k (br2k-logserver or br2k-dashboard; an
  // environment variable BR2K_LOGSERVER_BIN / BR2K_DASHBOARD_BIN overrides the path).
  std::string app_binary = "br2k-logserver";
  size_t nodes = 3;
  int heartbeat_ms = 100;
  int election_ms = 1000;
  std::string etcd_binary = "etcd";  // process: the etcd executable (looked up in PATH)
  std::string registry;              // podman: "" = the embedded container registry
  bool detach = false;               // the processes (or the embedded registry) outlive `up`
  // > 0: the replicas first raise etcd's revision above it (br2k-logserver --revision-floor):
  // the epoch a reused registry holds from an earlier etcd cluster.
  uint64_t revision_floor = 0;
  std::vector<std::string> extra_args;  // appended to every replica's command line
  std::function<void(const std::string&)> progress;
};

// The deployment spec of a recorded deployment (+ the chain the replicas publish to). Secrets are
// the existing Secret's file names (no key material is read).
deploy::DeploymentSpec SpecOf(const ContainerState& c, const std::optional<ChainState>& chain);

// `chain` as a further service of the run uses it: its name and its own operator and tx keys
// (the chain, registry, owner and manager are the run's).
ChainState ChainForService(const ChainState& chain, const ServiceState& service);

// The replicas and etcd members of a deployment as the run state lists them. For kind process
// with their log files, data directories and (RefreshProcesses) pids; for podman pid 0 (not our
// children) and `podman logs` hints.
std::vector<ReplicaState> ReplicasOf(const ContainerState& c);
std::vector<EtcdMemberState> EtcdMembersOf(const ContainerState& c);

// Kind process: the pids, argv and start times of the replicas and etcd members of `s` (the
// first service and the dashboard) as the runtime records them now (the manager may have
// restarted pods since `up`). Nothing otherwise.
void RefreshProcesses(RunState& s);

// The runtime a recorded deployment runs on. FAILED_PRECONDITION when its environment cannot be
// prepared; INVALID_ARGUMENT for an unknown kind.
Result<std::shared_ptr<deploy::PodRuntime>> RuntimeOf(const ContainerState& c, bool detach);

// The deployment before anything runs: kind, context ("local" or "podman"), name, nodes, the
// runtime's root and free loopback port ranges. UNAVAILABLE when no free ports are found.
Result<ContainerState> PlanService(const ServiceUpOptions& o);

// Step "images": process: pins o.app_binary and etcd by digest; podman: builds and pushes both
// images (of br2k-logserver only) (cached, starting the embedded registry when needed). Fills the
// images and registry fields of `out`.
Status PublishImages(const ServiceUpOptions& o, ContainerState& out, Deadline deadline);

// Generates the deployment's etcd CA and certificates into spec.secrets.files
// (deploy::AddEtcdTls) and writes the operator's client certificate to
// EtcdClientFilesOf(run_dir, spec.name); run_dir empty: no client files.
Status FillEtcdTls(const std::filesystem::path& run_dir, deploy::DeploymentSpec& spec);

// Reads the chain's operator keys (one per node of `spec`) and tx key into spec.secrets.files
// ("operator-<i>.key", "tx.key"): the Secret a first deploy creates. NOT_FOUND naming a key file
// that cannot be read.
Status FillKeySecrets(const ChainState& chain, deploy::DeploymentSpec& spec);

// Where `br2k up` keeps the operator's etcd client certificate of deployment `name` (for
// `br2k status`): <run_dir>/etcd-tls/<name>/{ca.crt,client.crt,client.key}.
struct EtcdClientFiles {
  std::filesystem::path ca, cert, key;
};
EtcdClientFiles EtcdClientFilesOf(const std::filesystem::path& run_dir, const std::string& name);
// Reads them; an EtcdTls that is not enabled when the deployment has none (NOT_FOUND otherwise
// only for a file that vanished).
Result<etcd::EtcdTls> LoadEtcdClientTls(const std::filesystem::path& run_dir,
                                        const std::string& name);

// Step "pods": renders the deployment planned in `out` for `chain` (operator and tx keys become
// the Secret, with a fresh etcd CA and per-node certificates: deploy::AddEtcdTls), runs it on its
// runtime from empty volumes and waits until every pod answers /health; then writes the recovery
// information on chain (with the owner key). The operator's client certificate goes to
// EtcdClientFilesOf(o.run_dir, name) (the key 0600).
Status DeployPods(const ServiceUpOptions& o, const ChainState& chain, ContainerState& out,
                  Deadline deadline);

// Removes the pods (and with `purge` their volumes and Secret) and stops the embedded registry.
// OK when nothing was there.
Status StopService(const ContainerState& c, bool purge);

}  // namespace br2k::cli
