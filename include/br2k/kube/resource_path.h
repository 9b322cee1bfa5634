// REST paths of Kubernetes resources, from apiVersion and kind, without asking the server's
// discovery API: br2k only manages a fixed set of kinds, listed in KnownResourceTypes().
// Pure functions, thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k::kube {

// One kind the client knows how to address.
struct ResourceType {
  std::string_view group;   // "" for the core group ("v1"), "apps", "storage.k8s.io", ...
  std::string_view kind;    // "StatefulSet"
  std::string_view plural;  // "statefulsets" (the path segment)
  bool namespaced = true;   // false for Namespace, Node, PersistentVolume, StorageClass, ...
};

// Every kind ResourcePath accepts (static storage, never freed).
std::span<const ResourceType> KnownResourceTypes();

// The type of `kind` in the group of `api_version` ("v1" is the core group, "apps/v1" the group
// "apps"). INVALID_ARGUMENT for a malformed api_version, an unknown kind, or a kind in another
// group than the one api_version names (e.g. "v1" with "Deployment").
Result<ResourceType> LookupResourceType(std::string_view api_version, std::string_view kind);

// The REST path of a resource (Kubernetes API concepts, "Resource URIs":
// https://kubernetes.io/docs/reference/using-api/api-concepts/):
//   core group, namespaced:   /api/v1/namespaces/<ns>/<plural>/<name>
//   named group, namespaced:  /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>
//   cluster-scoped kinds:     /api/v1/<plural>/<name>, /apis/<group>/<version>/<plural>/<name>
// An empty `name` gives the collection path (for listing); a namespaced kind with an empty `ns`
// and an empty `name` gives the collection across all namespaces.
// INVALID_ARGUMENT when the kind is unknown (see LookupResourceType), when `ns` is set for a
// cluster-scoped kind, when `name` is set but `ns` is empty for a namespaced kind, or when `ns`
// is not a DNS-1123 label or `name` not a DNS-1123 subdomain (which also keeps '/', '?', '%' and
// ".." out of the path).
Result<std::string> ResourcePath(std::string_view api_version, std::string_view kind,
                                 std::string_view ns, std::string_view name);

}  // namespace br2k::kube
