// The container deployment backend of the manager: a service whose on-chain recovery
// information names a container deployment (deploy/recovery.h) is checked and redeployed on a
// PodRuntime (podman here, or a Kubernetes cluster), from the chain's information alone: the
// context kind, name, API location and namespace, the replica count, the container registry and
// the images by digest all come from the chain; only the credentials of the named context and
// what the chain must not hold (resources, the chain endpoint as pods reach it) are local.
//
// Check refuses, before anything changes (FAILED_PRECONDITION naming the field): a deploy
// context of another kind than this backend's runtime, a context name this manager does not
// know, a Kubernetes context whose API server differs from the chain's, an image the registry
// does not hold (a missing digest) or a registry that cannot be reached.
//
// Thread-safe: the runtime and the registry checks are.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "br2k/deploy/container_env.h"
#include "br2k/deploy/pod_runtime.h"
#include "br2k/deploy/recovery.h"
#include "br2k/deploy/spec.h"
#include "br2k/manager/deployment_backend.h"
#include "br2k/manager/registry_gateway.h"
#include "br2k/proc/command.h"

namespace br2k::manager {

struct ContainerBackendOptions {
  std::shared_ptr<deploy::PodRuntime> runtime;  // required
  // The context this manager deploys to: its name must be the chain's; for kubernetes its API
  // server too.
  std::string context_name;
  std::string context_server;  // kubernetes: "https://..."; podman: ""
  // What the chain does not carry (chain flags as pods reach the node, resources, timings).
  deploy::DeploymentSpec base;
  // The name each managed service's replicas publish their location under (--service-name),
  // by registry id (ServiceId::ToHex()): a manager of several services redeploys each under its
  // own name. A service not in the map publishes under base.chain.service_name.
  std::map<std::string, std::string> service_names;
  // Reads a service's record (for Endpoints, which is given no recovery information).
  std::shared_ptr<RegistryGateway> registry;  // required
  // Checks that an image is in its registry; default: deploy::CheckImageInRegistry (skopeo)
  // with `env` and `runner`.
  std::function<Status(const std::string& reference, Deadline)> image_exists;
  deploy::ContainerEnv env;
  std::shared_ptr<proc::CommandRunner> runner;  // default proc::PosixCommandRunner()
  std::string authfile;
};

class ContainerBackend final : public DeploymentBackend {
 public:
  static Result<std::shared_ptr<ContainerBackend>> Create(ContainerBackendOptions options);

  std::string Name() const override { return options_.runtime->Kind(); }
  // The replicas' URLs as the recovery information places them (DeploymentSpec::AppUrl).
  Result<std::vector<std::string>> Endpoints(const eth::ServiceId& service,
                                             Deadline deadline) override;
  Status Check(const eth::ServiceId& service, const eth::RecoveryInfo& info,
               Deadline deadline) override;
  // Check, then applies the manifests for the recovery information (pods that run are left
  // alone; claims keep their data; the keys' Secret must still exist) and waits until a
  // majority of pods answer /health. The replicas publish under the service's name from
  // service_names.
  Result<DeployReport> Deploy(const eth::ServiceId& service, const eth::RecoveryInfo& info,
                              Deadline deadline) override;

 private:
  explicit ContainerBackend(ContainerBackendOptions options) : options_(std::move(options)) {}
  // The spec that recovers `service` from `r`: SpecForRecovery on base, with the service's name.
  deploy::DeploymentSpec SpecFor(const eth::ServiceId& service,
                                 const deploy::ContainerRecovery& r) const;
  ContainerBackendOptions options_;
};

}  // namespace br2k::manager
