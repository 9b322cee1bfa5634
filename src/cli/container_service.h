// The replicated sample service as `br2k up --containers` runs it: images built and pushed to a
// container registry (the embedded one), pods (app + etcd) played on the local podman context,
// recovery information on chain naming the registry and the images by digest. The counterpart
// of local_service.h for containers; the deployment work itself is the deploy library's.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/run_state.h"
#include "br2k/deploy/spec.h"

namespace br2k::cli {

struct ContainerUpOptions {
  std::filesystem::path run_dir;  // images.json, registry.json, containers/, registry/ go here
  std::string service_name = "logserver";
  size_t nodes = 3;
  int heartbeat_ms = 100;
  int election_ms = 1000;
  std::string registry;  // "" = the embedded registry
  bool detach = false;   // the embedded registry outlives `up` (pods always do: podman runs them)
  std::vector<std::string> extra_args;  // appended to every replica's command line
  std::function<void(const std::string&)> progress;
};

// The deployment spec of a recorded containers section (+ the chain the replicas publish to).
// Secrets are the existing Secret's file names (no key material is read).
deploy::DeploymentSpec SpecOf(const ContainerState& c, const std::optional<ChainState>& chain);

// The replicas and etcd members of `spec` as the run state lists them (pid 0: not our children).
std::vector<ReplicaState> ReplicasOf(const deploy::DeploymentSpec& spec);
std::vector<EtcdMemberState> EtcdMembersOf(const deploy::DeploymentSpec& spec);

// The containers section before anything runs: kind and context (podman), name, nodes and free
// loopback port ranges for the pods. UNAVAILABLE when no free ports are found.
Result<ContainerState> PlanContainers(const ContainerUpOptions& o);

// Step "images": builds and pushes both images (cached). Fills the images and registry fields
// of `out` (and starts the embedded registry when needed).
Status PublishImages(const ContainerUpOptions& o, ContainerState& out, Deadline deadline);

// Reads the chain's operator keys (one per node of `spec`) and tx key into spec.secrets.files
// ("operator-<i>.key", "tx.key"): the Secret a first deploy creates. NOT_FOUND naming a key file
// that cannot be read.
Status FillKeySecrets(const ChainState& chain, deploy::DeploymentSpec& spec);

// Step "pods": renders the deployment planned in `out` for `chain` (operator and tx keys become
// the Secret), plays it on podman and waits until every pod answers /health; then writes the
// recovery information on chain (with the owner key).
Status DeployPods(const ContainerUpOptions& o, const ChainState& chain, ContainerState& out,
                  Deadline deadline);

// Removes the pods (and with `purge` their volumes and Secret) and stops the embedded registry.
// OK when nothing was there.
Status StopContainerService(const ContainerState& c, bool purge);

}  // namespace br2k::cli
