// Where the manager daemon (re)deploys a service: the interface between the Claim-handling logic
// (manager.h) and a concrete platform. The local backend (local_backend.h) restarts child
// processes on this machine; a Kubernetes backend will apply manifests to a cluster context.
//
// A backend is given the service's on-chain recovery information (eth::RecoveryInfo: deploy
// context, replica count, container registry, images) and must refuse, with a clear
// FAILED_PRECONDITION, what it cannot deploy, before anything changes.
//
// Implementations must be thread-safe: the manager may call them from several worker threads
// (one per service being handled) at once. Every call is bounded by its deadline.
#pragma once

#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/service_registry.h"

namespace br2k::manager {

// What a Deploy did.
struct DeployReport {
  std::vector<std::string> started;          // replicas (re)started, e.g. "node-0 (pid 123)"
  std::vector<std::string> already_running;  // replicas left alone
  std::vector<std::string> warnings;         // e.g. "etcd member etcd-1 is not running"
};

class DeploymentBackend {
 public:
  virtual ~DeploymentBackend() = default;

  // A short name for logs ("local", "kubernetes").
  virtual std::string Name() const = 0;

  // The URLs ("http://host:port") of the replicas of `service`, to probe with GET /health and
  // /leader. NOT_FOUND when this backend does not deploy `service`; FAILED_PRECONDITION when
  // the deployment's description is missing or unreadable.
  virtual Result<std::vector<std::string>> Endpoints(const eth::ServiceId& service,
                                                     Deadline deadline) = 0;

  // Whether `info` asks for something this backend can deploy for `service`. Nothing changes.
  // OK, NOT_FOUND (not a service of this backend) or FAILED_PRECONDITION naming the mismatch.
  virtual Status Check(const eth::ServiceId& service, const eth::RecoveryInfo& info,
                       Deadline deadline) = 0;

  // (Re)starts whatever part of `service` is not running, as described by `info`, keeping each
  // replica's identity, address and durable state, and returns once the started replicas answer
  // (not necessarily with a leader elected: the manager waits for that). Idempotent: replicas
  // that run are left alone. Errors: those of Check (nothing changed), UNAVAILABLE when a
  // replica could not be started or exited at once (the message names its log),
  // DEADLINE_EXCEEDED. A partial deployment is recorded (so it can be stopped) before an error
  // is returned.
  virtual Result<DeployReport> Deploy(const eth::ServiceId& service, const eth::RecoveryInfo& info,
                                      Deadline deadline) = 0;
};

}  // namespace br2k::manager
