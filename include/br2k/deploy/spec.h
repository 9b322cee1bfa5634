// What a containerised br2k deployment consists of, independent of where it runs: the input of
// manifest rendering (manifests.h) and of every deployer (deployer.h).
//
// One pod per node, named "<name>-<i>" (i = 0..nodes-1), each holding the application container
// (a br2k app such as br2k-logserver) and an etcd container. etcd serves clients on the pod's
// localhost only; members reach each other at their node's address. Ports differ per node
// (base + i), so the same manifests also run with host networking on one machine (podman).
//
// Plain data; copyable; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::deploy {

// How pods find each other.
enum class Addressing {
  // Kubernetes: one Service per pod, named "<name>-<i>"; a node's address is that Service's DNS
  // name "<name>-<i>.<namespace>.svc". Pods use the cluster network (hostNetwork false).
  kServices,
  // One machine (podman kube play): hostNetwork true, every node at 127.0.0.1 on its own ports.
  // Services are still rendered (they validate and document the shape) but podman ignores them.
  kLoopback,
};

// The chain side a replica needs to publish its location (all optional: empty rpc_url = none).
struct ChainSpec {
  std::string rpc_url;       // as reachable from inside the pod
  uint64_t chain_id = 0;     // 0 = ask the node
  std::string registry;      // 0x-address of the ServiceRegistry
  std::string service_name;  // registry id = keccak256(service_name)
};

// Private material the replicas need, rendered as one Secret "<name>-keys" and mounted read-only
// at /etc/br2k/keys. Keys of `files` are file names ([A-Za-z0-9._-]), values are the contents.
// Expected names: "operator-<i>.key" (one per node), "tx.key" (optional) and etcd's TLS files
// (kEtcdCaFile, EtcdCertFile(i), EtcdKeyFile(i); see etcd_tls.h). Pod i mounts only the files
// that are its own (its operator key, its etcd certificate and key) and the shared ones (tx.key,
// the CA certificate).
// etcd's TLS files in the Secret (hardening item 11): the deployment CA's certificate (never its
// key) and node i's certificate and key, used by its etcd member (server and peer) and by its
// replica (client of the member).
inline constexpr const char* kEtcdCaFile = "etcd-ca.crt";
inline std::string EtcdCertFile(size_t i) {
  return "etcd-" + std::to_string(i) + ".crt";
}
inline std::string EtcdKeyFile(size_t i) {
  return "etcd-" + std::to_string(i) + ".key";
}

struct SecretSpec {
  std::map<std::string, std::string> files;  // file name -> contents: the Secret is rendered
  // Rendering for a recovery: the Secret was created by the first deploy and is still on the
  // platform (pods come and go, Secrets and claims stay); these are its file names, and no
  // Secret object is rendered. Ignored when `files` is not empty.
  std::vector<std::string> existing;
  // The file names pods may mount: the keys of `files`, else `existing`.
  std::vector<std::string> Names() const;
};

struct DeploymentSpec {
  std::string name =
      "logserver";  // DNS-1123 label prefix of every object; also the br2k service id
  std::string namespace_name = "default";
  size_t nodes = 3;  // 1..16

  // Image references as pulled ("127.0.0.1:5000/br2k-logserver@sha256:<64 hex>"), by digest.
  std::string app_image;
  std::string etcd_image;
  // The app binary's path inside its image ("" = AppCommand()'s default) and extra arguments
  // appended to every replica's.
  std::string app_command;
  std::vector<std::string> app_args;
  std::string etcd_command = "/usr/bin/etcd";

  // Per-node ports: node i uses base + i.
  int app_port_base = 18080;
  int etcd_client_port_base = 12379;
  int etcd_peer_port_base = 12380 + 100;  // 12480 + i: clear of the client range

  Addressing addressing = Addressing::kServices;
  // Kubernetes only: the label key/value worker nodes carry to accept br2k pods, e.g.
  // "br2k.io/worker" = "true"; pods require it (node affinity) and repel each other
  // (pod anti-affinity on kubernetes.io/hostname), so each lands on its own worker.
  std::string node_label_key = "br2k.io/worker";
  std::string node_label_value = "true";
  std::string storage_class;  // "" = the cluster's default StorageClass
  std::string storage_size = "1Gi";

  // Resource requests of each container.
  std::string app_cpu = "100m", app_memory = "64Mi";
  std::string etcd_cpu = "100m", etcd_memory = "128Mi";

  int etcd_heartbeat_ms = 100;
  int etcd_election_ms = 1000;

  ChainSpec chain;
  SecretSpec secrets;

  // Whether etcd runs with TLS and client-certificate authentication: the Secret has
  // kEtcdCaFile. Then every node's EtcdCertFile(i) and EtcdKeyFile(i) must be there too.
  bool EtcdTls() const;

  // INVALID_ARGUMENT naming the first bad field (name not a DNS-1123 label, nodes out of range,
  // an image not pinned by digest, a port range past 65535, a secret file name with '/', etcd TLS
  // files for some nodes only).
  Status Validate() const;

  // The address other pods use for node i ("<name>-<i>.<ns>.svc" or "127.0.0.1").
  std::string NodeHost(size_t i) const;
  std::string PodName(size_t i) const { return name + "-" + std::to_string(i); }
  // The app's command: app_command, or else /usr/bin/<the app image's name> (br2k's images hold
  // their binary there, images.h), so one rule serves br2k-logserver, br2k-dashboard and any
  // application image, for `br2k up` and for a recovery from the chain alike.
  std::string AppCommand() const;
  int AppPort(size_t i) const { return app_port_base + static_cast<int>(i); }
  int EtcdClientPort(size_t i) const { return etcd_client_port_base + static_cast<int>(i); }
  int EtcdPeerPort(size_t i) const { return etcd_peer_port_base + static_cast<int>(i); }
  // "http://<NodeHost(i)>:<AppPort(i)>", the replica's advertised URL.
  std::string AppUrl(size_t i) const;
};

}  // namespace br2k::deploy
