// The on-chain recovery information of a containerised deployment, and back: what a manager on
// any machine needs to redeploy the service, with nothing from the deployer's files.
//
// The registry contract's Body has four fields (protocol.md section 6); br2k fills them so:
//   deployContext      a JSON object, keys in this order:
//                        {"v":1,"kind":"podman"|"kubernetes"|"process","context":"<context name>",
//                         "server":"https://api:6443" (kubernetes only),"namespace":"default",
//                         "name":"logserver","ports":{"app":18080,"etcd_client":12379,
//                         "etcd_peer":12480},"secrets":["operator-0.key",...,"tx.key"]}
//                      never a token, a CA or any secret content: the chain is public.
//   replicas           the number of nodes
//   containerRegistry  "<registry host>/<repository>" the images were pushed to
//   images             [app image, etcd image], each "<registry>/<repository>/<name>@sha256:<64
//                      hex>", both inside containerRegistry; for kind "process" executable
//                      images "file:///<path>@sha256:<64 hex>" (executable_image.h) and
//                      containerRegistry "file://"
// The manager's own context of that name supplies the credentials; the chain supplies where.
//
// Pure functions, thread-safe. Decode never throws, whatever the chain holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/deploy/spec.h"
#include "br2k/eth/service_registry.h"

namespace br2k::deploy {

struct ContainerRecovery {
  std::string kind;            // "podman" | "kubernetes" | "process"
  std::string context;         // the context's name
  std::string server;          // kubernetes: the API server URL; podman: ""
  std::string namespace_name;  // "default"
  std::string name;            // the deployment's name (DeploymentSpec::name)
  uint32_t replicas = 0;
  int app_port_base = 0, etcd_client_port_base = 0, etcd_peer_port_base = 0;
  std::vector<std::string> secret_files;  // file names of the "<name>-keys" Secret
  std::string container_registry;         // "<host>/<repository>"
  std::string app_image;                  // by digest
  std::string etcd_image;                 // by digest
  friend bool operator==(const ContainerRecovery&, const ContainerRecovery&) = default;
};

// What a deploy writes on chain. The spec's images must be by digest.
ContainerRecovery RecoveryOf(const DeploymentSpec& spec, const std::string& kind,
                             const std::string& context, const std::string& server,
                             const std::string& container_registry);

eth::RecoveryInfo EncodeRecovery(const ContainerRecovery& r);

// INVALID_ARGUMENT naming the field for anything malformed: not JSON, unknown version or kind,
// a name that is not a DNS-1123 label, ports out of range, replicas 0 or over 16, an image not
// by digest or outside containerRegistry, a secret file name with '/'. NOT_FOUND when the
// deploy context is not a container one (e.g. "local", the process backend's).
Result<ContainerRecovery> DecodeRecovery(const eth::RecoveryInfo& info);

// The spec a recovery redeploys: `r` on top of `base` (which carries what the chain does not:
// resources, chain flags, timings); secrets are the existing Secret's file names.
DeploymentSpec SpecForRecovery(const ContainerRecovery& r, DeploymentSpec base);

}  // namespace br2k::deploy
