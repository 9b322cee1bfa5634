// Rendering a DeploymentSpec into Kubernetes objects, and printing them as kubectl does.
//
// The same objects run on Kubernetes (`kubectl apply -f`) and on podman (`podman kube play`);
// docs/deploy-manifests.md draws one pod, lists the objects and ports, and says what podman
// ignores and how br2k makes up for it.
//
// Pure functions of their input: no I/O, deterministic (object keys sorted, lists in a fixed
// order), thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/deploy/spec.h"

namespace br2k::deploy {

// The objects of `spec`, in apply order:
//   1. Secret "<name>-keys" (type Opaque, base64 `data`), only when spec.secrets.files is
//      non-empty; mounted read-only at /etc/br2k/keys, each pod projecting (`items`) only its
//      own files and the shared ones (SecretSpec).
//   2. per node i: PersistentVolumeClaim "<name>-<i>-etcd" and "<name>-<i>-data".
//   3. per node i: Service "<name>-<i>" (app and etcd-peer ports, publishNotReadyAddresses).
//   4. per node i: Pod "<name>-<i>" with containers "etcd" and "app".
// With spec.EtcdTls() the etcd containers serve clients and peers over https:// with their node's
// certificate and require client certificates of the deployment's CA (--client-cert-auth,
// --peer-client-cert-auth); the app gets https:// etcd URLs and --etcd-ca/--etcd-cert/--etcd-key.
// Every object carries metadata.namespace = spec.namespace_name and the labels
// app.kubernetes.io/name=<name>, app.kubernetes.io/managed-by=br2k.
// INVALID_ARGUMENT (spec.Validate()'s status) when the spec is invalid.
// The Secret holds spec.secrets.files' contents: treat the result as secret material.
Result<std::vector<nlohmann::json>> RenderManifests(const DeploymentSpec& spec);

// Multi-document YAML, "---" between documents, as `kubectl create --dry-run=client -o yaml`
// prints several objects. Strings that YAML would read as another type ("true", "12", "1.5",
// "null", "") are quoted, so parsing the text gives back exactly `objects`. Empty input gives "".
std::string ToYaml(const std::vector<nlohmann::json>& objects);

// One JSON document: {"apiVersion": "v1", "kind": "List", "items": [...], "metadata": {...}}, as
// `kubectl get -o json` prints several objects; 4-space indentation, trailing newline.
std::string ToJson(const std::vector<nlohmann::json>& objects);

}  // namespace br2k::deploy
