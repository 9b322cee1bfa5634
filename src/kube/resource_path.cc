#include "br2k/kube/resource_path.h"

#include <array>

namespace br2k::kube {
namespace {

// Plurals and scopes as the API serves them (kubectl api-resources on Kubernetes 1.29).
constexpr std::array kTypes = {
    ResourceType{"", "Pod", "pods", true},
    ResourceType{"", "Service", "services", true},
    ResourceType{"", "Secret", "secrets", true},
    ResourceType{"", "ConfigMap", "configmaps", true},
    ResourceType{"", "PersistentVolumeClaim", "persistentvolumeclaims", true},
    ResourceType{"", "ServiceAccount", "serviceaccounts", true},
    ResourceType{"", "Endpoints", "endpoints", true},
    ResourceType{"", "Event", "events", true},
    ResourceType{"", "Namespace", "namespaces", false},
    ResourceType{"", "Node", "nodes", false},
    ResourceType{"", "PersistentVolume", "persistentvolumes", false},
    ResourceType{"apps", "StatefulSet", "statefulsets", true},
    ResourceType{"apps", "Deployment", "deployments", true},
    ResourceType{"apps", "ReplicaSet", "replicasets", true},
    ResourceType{"apps", "DaemonSet", "daemonsets", true},
    ResourceType{"batch", "Job", "jobs", true},
    ResourceType{"policy", "PodDisruptionBudget", "poddisruptionbudgets", true},
    ResourceType{"networking.k8s.io", "NetworkPolicy", "networkpolicies", true},
    ResourceType{"storage.k8s.io", "StorageClass", "storageclasses", false},
    ResourceType{"rbac.authorization.k8s.io", "Role", "roles", true},
    ResourceType{"rbac.authorization.k8s.io", "RoleBinding", "rolebindings", true},
    ResourceType{"rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false},
    ResourceType{"rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false},
};

bool IsAlnumLower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// RFC 1123 label: at most 63 of [a-z0-9-], starting and ending alphanumeric.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || !IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) {
    return false;
  }
  for (char c : s) {
    if (!IsAlnumLower(c) && c != '-') return false;
  }
  return true;
}

// RFC 1123 subdomain: at most 253 characters, labels separated by '.'.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!IsDnsLabel(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Bounded, printable quoting of caller input in messages.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 80)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

}  // namespace

std::span<const ResourceType> KnownResourceTypes() {
  return kTypes;
}

Result<ResourceType> LookupResourceType(std::string_view api_version, std::string_view kind) {
  std::string_view group;
  std::string_view version = api_version;
  if (auto slash = api_version.find('/'); slash != std::string_view::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
    if (group.empty()) return InvalidArgumentError("bad apiVersion " + Quote(api_version));
  }
  if (!IsDnsLabel(version)) return InvalidArgumentError("bad apiVersion " + Quote(api_version));
  for (const ResourceType& t : kTypes) {
    if (t.kind != kind) continue;
    if (t.group != group) {
      return InvalidArgumentError("kind " + Quote(kind) + " is in API group " +
                                  Quote(t.group.empty() ? "core" : t.group) + ", not in " +
                                  Quote(api_version));
    }
    return t;
  }
  return InvalidArgumentError("unknown kind " + Quote(kind) + " (apiVersion " + Quote(api_version) +
                              ")");
}

Result<std::string> ResourcePath(std::string_view api_version, std::string_view kind,
                                 std::string_view ns, std::string_view name) {
  BR2K_ASSIGN_OR_RETURN(ResourceType type, LookupResourceType(api_version, kind));
  if (!ns.empty() && !type.namespaced) {
    return InvalidArgumentError(std::string(kind) + " is cluster-scoped: no namespace allowed");
  }
  if (type.namespaced && ns.empty() && !name.empty()) {
    return InvalidArgumentError(std::string(kind) + " " + Quote(name) + " needs a namespace");
  }
  if (!ns.empty() && !IsDnsLabel(ns)) {
    return InvalidArgumentError("bad namespace " + Quote(ns) + " (not a DNS-1123 label)");
  }
  if (!name.empty() && !IsDnsSubdomain(name)) {
    return InvalidArgumentError("bad name " + Quote(name) + " (not a DNS-1123 subdomain)");
  }
  std::string path = type.group.empty() ? "/api/" : "/apis/";
  path += api_version;
  if (!ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += '/';
  path += type.plural;
  if (!name.empty()) {
    path += '/';
    path += name;
  }
  return path;
}

}  // namespace br2k::kube
