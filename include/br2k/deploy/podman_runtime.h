// The local pod runtime: the rendered manifests run through `podman kube play` on this machine,
// in br2k's own container environment (container_env.h). Manifests must be rendered with
// Addressing::kLoopback (host networking, every node on 127.0.0.1 with its own ports).
//
// What podman (4.3) does with the manifests, and how this runtime makes up for it:
//   Service           ignored by podman: not played (nodes reach each other on loopback ports).
//   affinity          ignored: one machine.
//   probes            podman would turn them into healthchecks, which need systemd timers that
//                     do not exist here, so they never run: Pods() probes GET /health itself.
//   Secret            not a podman secret (podman 4.3 mounts its values still base64-encoded,
//                     which etcd cannot read as a certificate, and ignores a volume's `items`):
//                     its files are written once below <root>/secrets/<name> (0700 / 0600,
//                     secret_files.h); an existing one is left as it is (Remove(purge) removes
//                     it, to rotate keys). Each pod's secret volume becomes a host path with a
//                     copy of only the files its `items` select (<root>/pod-secrets/<pod>/).
//   PersistentVolumeClaim  a named podman volume; an existing one (with its data) is kept.
//   Pod               played when missing; replaced when it exists but is not running.
// Images are pulled by digest; loopback registries over plain HTTP.
//
// Thread-safe (every call runs podman; podman locks its own storage).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "br2k/deploy/container_env.h"
#include "br2k/deploy/pod_runtime.h"
#include "br2k/proc/command.h"

namespace br2k::deploy {

struct PodmanOptions {
  std::string authfile;  // containers auth file for pulls ("" = the tools' default)
  // GET /health timeout per replica in Pods().
  std::chrono::milliseconds health_timeout{std::chrono::milliseconds(800)};
};

class PodmanRuntime final : public PodRuntime {
 public:
  PodmanRuntime(ContainerEnv env, std::shared_ptr<proc::CommandRunner> runner,
                PodmanOptions options = {});

  std::string Kind() const override { return "podman"; }
  Status Apply(const std::vector<nlohmann::json>& objects, Deadline deadline) override;
  Result<std::vector<PodStatus>> Pods(const DeploymentSpec& spec, Deadline deadline) override;
  Status DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) override;
  Status Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) override;

  // The state podman reports for a pod ("Running", "Degraded", "Exited", ...); NOT_FOUND when
  // there is none.
  Result<std::string> PodState(const std::string& pod, Deadline deadline);

 private:
  Result<proc::CommandResult> Podman(std::vector<std::string> args, Deadline deadline,
                                     const std::string& input = "");
  Status Play(const nlohmann::json& object, Deadline deadline);
  // Where a Secret's files are: <root>/secrets/<name> (secret_files.h).
  std::filesystem::path SecretDir(const std::string& secret) const;
  // `pod` with each secret volume replaced by a host path holding the files its items select
  // (<root>/pod-secrets/<pod>/<volume>). FAILED_PRECONDITION when its Secret does not exist.
  Result<nlohmann::json> WithSecretsAsHostPaths(const nlohmann::json& pod) const;

  ContainerEnv env_;
  std::shared_ptr<proc::CommandRunner> runner_;
  PodmanOptions options_;
};

// Port bases for a loopback deployment of `nodes` nodes: three ranges of `nodes` consecutive
// ports (app, etcd client, etcd peer), each free on 127.0.0.1 now (checked by a bind) and below
// the kernel's ephemeral range. Sets them in `spec`. UNAVAILABLE when none are found.
Status PickLoopbackPorts(DeploymentSpec& spec);

}  // namespace br2k::deploy
