// The Kubernetes pod runtime: rendered manifests (Addressing::kServices) applied to one namespace
// of a cluster through its REST API (kube/api_client.h), with server-side apply under the field
// manager "br2k".
//
// What each kind becomes, and how this runtime mirrors PodmanRuntime's semantics:
//   Secret                 applied (created by the first deploy; re-applying the same data is a
//                          no-op). Remove(purge) deletes it.
//   PersistentVolumeClaim  applied; its data stays across Apply, DeletePod and Remove(false).
//   Service                applied.
//   Pod                    created when missing; left alone when it exists in phase Running,
//                          Pending or Unknown (a Pod's spec is mostly immutable: the API answers
//                          422 to changes); deleted and re-created when in phase Failed or
//                          Succeeded, or while it is being deleted (waiting, within the
//                          deadline, until the old one is gone).
// Every object is applied with metadata.namespace set to the runtime's namespace.
//
// Errors name the object ("Pod logserver-0: kubernetes API: HTTP 403 Forbidden: ...") and keep
// the client's codes (UNAUTHENTICATED, PERMISSION_DENIED, ABORTED, UNAVAILABLE, ...). The
// bearer token never appears in any message (the client redacts it).
//
// Thread-safe: the state is immutable after construction and ApiClient is thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "br2k/deploy/contexts.h"
#include "br2k/deploy/pod_runtime.h"
#include "br2k/kube/api_client.h"

namespace br2k::deploy {

struct KubernetesOptions {
  // How often Apply looks whether a Pod it deleted is gone.
  std::chrono::milliseconds delete_poll{std::chrono::milliseconds(200)};
};

class KubernetesRuntime final : public PodRuntime {
 public:
  // `namespace_name` must be a DNS-1123 label (checked by the API client on each call:
  // INVALID_ARGUMENT). Does no I/O.
  KubernetesRuntime(kube::ApiClient client, std::string namespace_name,
                    KubernetesOptions options = {});

  std::string Kind() const override { return "kubernetes"; }
  // PodRuntime::Apply, as described above. Objects of kinds the client does not know are
  // refused (INVALID_ARGUMENT) when reached; those before stay applied.
  Status Apply(const std::vector<nlohmann::json>& objects, Deadline deadline) override;
  // Lists the namespace's pods labelled app.kubernetes.io/name=<spec.name> (one call).
  // `ready` is the Ready condition being "True"; `detail` says why not (container waiting
  // reasons, last terminations with exit codes, an unschedulable pod's message).
  Result<std::vector<PodStatus>> Pods(const DeploymentSpec& spec, Deadline deadline) override;
  // Deletes the Pod "<name>-<node>" (the API's graceful deletion: it may show as terminating
  // for a while). OK when it did not exist.
  Status DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) override;
  // Deletes the Pods and Services of every node, and with `purge` the claims and the Secret
  // "<name>-keys". Absent objects are fine. Does not wait for the deletions to finish.
  Status Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) override;

  const std::string& namespace_name() const { return namespace_; }

 private:
  Status ApplyPod(const nlohmann::json& pod, Deadline deadline);
  Status WaitGone(const std::string& pod, Deadline deadline);
  Status DeleteIfExists(const char* kind, const std::string& name, Deadline deadline);

  kube::ApiClient client_;
  std::string namespace_;
  KubernetesOptions options_;
};

// The API endpoint of a kubernetes context (its server, CA, token and TLS flag); the CA is
// context.ca_pem, or the contents of context.ca_file read now. The result carries the token
// (SECRET). FAILED_PRECONDITION for a podman context; NOT_FOUND when ca_file cannot be read.
// Thread-safe (reads only `context` and the CA file).
Result<kube::ApiEndpoint> ApiEndpointOf(const Context& context);

}  // namespace br2k::deploy
