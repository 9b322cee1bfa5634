// The process pod runtime: the rendered manifests run as plain processes on this machine, the
// third PodRuntime beside podman and Kubernetes. `br2k up` (without --containers), the manager's
// process backend, the tests and the bench deploy through it, so a process deployment is the
// same manifests, the same DeployAndWait and the same on-chain recovery information as a
// container one. Manifests must be rendered with Addressing::kLoopback and executable images
// (executable_image.h) as the containers' images.
//
// What it does with each kind of object (a small kubelet):
//   Secret                 a directory <root>/secrets/<name>/ (0700), one file per data key
//                          (decoded, 0600); an existing one is kept (Remove(purge) to rotate).
//   PersistentVolumeClaim  a directory <root>/volumes/<name>/; an existing one keeps its data.
//   Service                nothing: every node is on 127.0.0.1 with its own ports.
//   Pod                    each container is one process: the executable its image pins (the
//                          digest is checked before every start) in place of its command, with
//                          its args; a volume mount becomes the volume's directory: in every
//                          argument, the mount path (where it stands as a whole path or path
//                          prefix, alone or after '=') is replaced by the directory. Output goes
//                          to <root>/logs/<pod>-<container>.log. A container whose process runs
//                          is left alone; one that is gone is started again (restartPolicy Always,
//                          applied at Apply time: nothing supervises between calls).
// The processes of each pod are recorded in <root>/pods/<pod>.json with their identity
// (proc/ownership.h); only processes that are still ours are ever signalled. Readiness is GET
// /health on the app container's port (like the podman runtime).
//
// Thread-safe; calls are serialised, also across processes sharing `root` (a `br2k` CLI and the
// manager), by an exclusive lock on <root>/runtime.lock.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "br2k/deploy/pod_record.h"
#include "br2k/deploy/pod_runtime.h"
#include "br2k/proc/ownership.h"
#include "br2k/proc/process.h"

namespace br2k::deploy {

struct ProcessRuntimeOptions {
  std::filesystem::path root;  // required; created by the first write
  // true: the processes get their own session and outlive the caller (`br2k up --detach`, the
  // manager's redeploys). false: they die with the caller (PR_SET_PDEATHSIG).
  bool detach = false;
  std::shared_ptr<proc::Launcher> launcher;  // default proc::PosixLauncher()
  std::chrono::milliseconds health_timeout{800};
  std::chrono::milliseconds stop_grace{3000};  // Remove: SIGTERM, then SIGKILL after this
};

class ProcessRuntime final : public PodRuntime {
 public:
  // INVALID_ARGUMENT when root is empty. Creates nothing: the directories are made by the first
  // call that writes (Apply, DeletePod, Remove; INTERNAL when they cannot be), so reading a
  // deployment (Pods, Processes) has no side effect.
  static Result<std::shared_ptr<ProcessRuntime>> Create(ProcessRuntimeOptions options);

  std::string Kind() const override { return "process"; }
  // Errors besides PodRuntime's: FAILED_PRECONDITION for an image that is not an executable
  // image or whose file changed, NOT_FOUND for a missing executable, INVALID_ARGUMENT for a
  // mount of an undeclared volume or an object of another kind.
  Status Apply(const std::vector<nlohmann::json>& objects, Deadline deadline) override;
  // Phase "Running" when every container's process runs, "Degraded" when some do, "Failed"
  // when none does but the pod is recorded, "Missing" when it is not. Ready: Running and the
  // app answers GET /health 200.
  Result<std::vector<PodStatus>> Pods(const DeploymentSpec& spec, Deadline deadline) override;
  // SIGKILL to the pod's processes (a crashed machine), then forgets the pod.
  Status DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) override;
  // Stops every pod of `spec` (SIGTERM, SIGKILL after stop_grace); `purge` also deletes its
  // volumes and Secret.
  Status Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) override;

  // The recorded processes of pod `pod` (empty when none), `running` filled in.
  std::vector<ContainerProcess> Processes(const std::string& pod) const;
  std::filesystem::path LogFile(const std::string& pod, const std::string& container) const;
  std::filesystem::path VolumeDir(const std::string& claim) const;
  const std::filesystem::path& root() const { return options_.root; }

 private:
  explicit ProcessRuntime(ProcessRuntimeOptions options) : options_(std::move(options)) {}
  Status ApplyPod(const nlohmann::json& pod);
  Status StopPod(const std::string& pod, std::chrono::milliseconds grace);
  std::filesystem::path RecordFile(const std::string& pod) const;
  Status SaveRecord(const std::string& pod, const std::vector<ContainerProcess>& processes) const;

  ProcessRuntimeOptions options_;
  mutable std::mutex mu_;
};

}  // namespace br2k::deploy
