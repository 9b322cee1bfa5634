// Deploying a DeploymentSpec on a PodRuntime and waiting until it serves: the one path that
// `br2k deploy`, `br2k up --containers` and the manager's recovery share.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/deploy/pod_runtime.h"
#include "br2k/deploy/spec.h"

namespace br2k::deploy {

// Progress lines for a terminal ("applied 10 objects", "pods ready 2/3: logserver-2 Pending").
using ProgressFn = std::function<void(const std::string&)>;

struct DeployOutcome {
  std::vector<PodStatus> pods;  // as last seen
  size_t applied = 0;           // objects applied
  std::chrono::milliseconds took{0};
};

// Renders `spec` (RenderManifests), applies it, then waits until `min_ready` pods (0 = all) are
// ready. Errors: INVALID_ARGUMENT (spec), those of PodRuntime::Apply, DEADLINE_EXCEEDED naming
// the pods that are not ready and why (their phase and detail).
Result<DeployOutcome> DeployAndWait(PodRuntime& runtime, const DeploymentSpec& spec,
                                    size_t min_ready, const ProgressFn& progress,
                                    Deadline deadline);

// Waits until `min_ready` pods (0 = all) of `spec` are ready. Same errors as above.
Result<std::vector<PodStatus>> WaitReady(PodRuntime& runtime, const DeploymentSpec& spec,
                                         size_t min_ready, const ProgressFn& progress,
                                         Deadline deadline);

// Whether node i's app answers GET /health 200 on 127.0.0.1:<AppPort(i)> within `timeout`
// (capped by `deadline`): the readiness the local runtimes (podman, process) judge themselves.
// When not, `detail` (if given) says why.
bool AppHealthy(const DeploymentSpec& spec, size_t i, std::chrono::milliseconds timeout,
                Deadline deadline, std::string* detail);

// "logserver-0 Running ready, logserver-1 Missing" for messages.
std::string DescribePods(const std::vector<PodStatus>& pods);

}  // namespace br2k::deploy
