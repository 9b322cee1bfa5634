// Where rendered manifests run: the one interface of the deployment library's platforms.
// Implementations: PodmanRuntime (podman_runtime.h, `podman kube play` on this machine) and
// KubernetesRuntime (kubernetes_runtime.h, the Kubernetes REST API of a cluster context).
//
// Every call is bounded by its deadline. Implementations are thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/deploy/spec.h"

namespace br2k::deploy {

// One pod of a deployment, as the platform sees it.
struct PodStatus {
  std::string name;    // "<name>-<i>"
  std::string phase;   // "Running", "Pending", "Failed", "Succeeded", "Missing" (no such pod)
  bool ready = false;  // its app answers /health (podman) or its Ready condition is True
  std::string detail;  // e.g. "container app exited (137)"
};

class PodRuntime {
 public:
  virtual ~PodRuntime() = default;

  // "podman" or "kubernetes".
  virtual std::string Kind() const = 0;

  // Creates what is missing and updates what differs, in the order given (Secrets and claims
  // before pods). A pod that exists and runs is left alone; a pod that exists but does not run
  // is replaced. Claims (persistent volumes) and their data are never deleted here.
  // Errors: UNAVAILABLE (platform unreachable, image pull failed), PERMISSION_DENIED /
  // UNAUTHENTICATED (credentials), ABORTED (conflict), INVALID_ARGUMENT (rejected object),
  // DEADLINE_EXCEEDED. What was created before an error stays and is reported by Pods().
  virtual Status Apply(const std::vector<nlohmann::json>& objects, Deadline deadline) = 0;

  // The pods of `spec` (one entry per node, "Missing" for an absent pod), in node order.
  virtual Result<std::vector<PodStatus>> Pods(const DeploymentSpec& spec, Deadline deadline) = 0;

  // Deletes node i's pod (its claims stay): what a crashed machine looks like.
  virtual Status DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) = 0;

  // Deletes every object of `spec`: pods and services, and with `purge` also its claims (the
  // data) and its Secret. OK when nothing was there.
  virtual Status Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) = 0;
};

}  // namespace br2k::deploy
