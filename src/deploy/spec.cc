#include "br2k/deploy/spec.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace br2k::deploy {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// RFC 1123 label as Kubernetes checks it: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// "<repository>@sha256:<64 lowercase hex>": the digest is what makes a redeploy on another
// machine run the very same bytes (protocol.md section 7).
bool IsPinnedImage(std::string_view image) {
  const size_t at = image.find("@sha256:");
  if (at == 0 || at == std::string_view::npos) return false;
  std::string_view digest = image.substr(at + 8);
  if (digest.size() != 64) return false;
  for (char c : digest) {
    if (!IsHex(c)) return false;
  }
  for (char c : image.substr(0, at)) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '@') return false;
  }
  return true;
}

// A Kubernetes resource quantity in the forms br2k renders: "100m", "64Mi", "1Gi", "0.5".
bool IsQuantity(std::string_view q) {
  size_t i = 0;
  size_t digits = 0;
  while (i < q.size() && q[i] >= '0' && q[i] <= '9') ++i, ++digits;
  if (i < q.size() && q[i] == '.') {
    ++i;
    while (i < q.size() && q[i] >= '0' && q[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) return false;
  std::string_view suffix = q.substr(i);
  for (std::string_view ok :
       {"", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}) {
    if (suffix == ok) return true;
  }
  return false;
}

bool IsSecretFileName(std::string_view s) {
  if (s.empty() || s.size() > 253 || s == "." || s == "..") return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsAbsolutePath(std::string_view s) {
  if (s.empty() || s.front() != '/') return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

Status Bad(const std::string& field, const std::string& why) {
  return InvalidArgumentError("deployment spec: " + field + ": " + why);
}

Status CheckPortRange(const std::string& field, int base, size_t nodes) {
  if (base < 1 || base + static_cast<int>(nodes) - 1 > 65535) {
    return Bad(field, std::to_string(base) + " + " + std::to_string(nodes) +
                          " nodes leaves the port range 1..65535");
  }
  return Status::Ok();
}

bool Overlap(int a, int b, size_t n) {
  const int len = static_cast<int>(n);
  return a < b + len && b < a + len;
}

}  // namespace

Status DeploymentSpec::Validate() const {
  // A Service name is an RFC 1035 label (starts with a letter); every object name derives from
  // "<name>-<i>", which must still fit 63 characters.
  if (!IsDns1123Label(name) || !(name.front() >= 'a' && name.front() <= 'z')) {
    return Bad("name", "\"" + name + "\" is not a DNS label ([a-z]([-a-z0-9]*[a-z0-9])?)");
  }
  if (!IsDns1123Label(namespace_name)) {
    return Bad("namespace", "\"" + namespace_name + "\" is not a DNS-1123 label");
  }
  if (nodes < 1 || nodes > 16) return Bad("nodes", std::to_string(nodes) + " is not in 1..16");
  if (PodName(nodes - 1).size() > 63) {
    return Bad("name", "too long: pod names \"<name>-<i>\" must fit 63 characters");
  }
  if (!IsPinnedImage(app_image)) {
    return Bad("app_image",
               "\"" + app_image + "\" is not pinned by digest (<repo>@sha256:<64 hex>)");
  }
  if (!IsPinnedImage(etcd_image)) {
    return Bad("etcd_image",
               "\"" + etcd_image + "\" is not pinned by digest (<repo>@sha256:<64 hex>)");
  }
  if (!app_command.empty() && !IsAbsolutePath(app_command))
    return Bad("app_command", "must be an absolute path");
  if (AppCommand() == "/usr/bin/") return Bad("app_image", "names no image");
  if (!IsAbsolutePath(etcd_command)) return Bad("etcd_command", "must be an absolute path");
  for (size_t i = 0; i < app_args.size(); ++i) {
    for (char c : app_args[i]) {
      if (c == '\0') return Bad("app_args[" + std::to_string(i) + "]", "contains NUL");
    }
  }
  BR2K_RETURN_IF_ERROR(CheckPortRange("app_port_base", app_port_base, nodes));
  BR2K_RETURN_IF_ERROR(CheckPortRange("etcd_client_port_base", etcd_client_port_base, nodes));
  BR2K_RETURN_IF_ERROR(CheckPortRange("etcd_peer_port_base", etcd_peer_port_base, nodes));
  if (Overlap(app_port_base, etcd_client_port_base, nodes) ||
      Overlap(app_port_base, etcd_peer_port_base, nodes) ||
      Overlap(etcd_client_port_base, etcd_peer_port_base, nodes)) {
    return Bad("ports", "the app, etcd client and etcd peer port ranges overlap");
  }
  if (addressing == Addressing::kServices) {
    if (node_label_key.empty()) return Bad("node_label_key", "empty (needed for kServices)");
    if (node_label_value.size() > 63) return Bad("node_label_value", "longer than 63 characters");
  }
  if (!storage_class.empty() && !IsDns1123Label(storage_class) &&
      storage_class.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") !=
          std::string::npos) {
    return Bad("storage_class", "\"" + storage_class + "\" is not a DNS subdomain");
  }
  if (!IsQuantity(storage_size)) return Bad("storage_size", "\"" + storage_size + "\"");
  if (!IsQuantity(app_cpu)) return Bad("app_cpu", "\"" + app_cpu + "\"");
  if (!IsQuantity(app_memory)) return Bad("app_memory", "\"" + app_memory + "\"");
  if (!IsQuantity(etcd_cpu)) return Bad("etcd_cpu", "\"" + etcd_cpu + "\"");
  if (!IsQuantity(etcd_memory)) return Bad("etcd_memory", "\"" + etcd_memory + "\"");
  if (etcd_heartbeat_ms <= 0 || etcd_election_ms < 5 * etcd_heartbeat_ms) {
    return Bad("etcd_election_ms", "must be at least 5 heartbeats (etcd requires it)");
  }
  if (!chain.rpc_url.empty() && chain.rpc_url.rfind("http://", 0) != 0 &&
      chain.rpc_url.rfind("https://", 0) != 0) {
    return Bad("chain.rpc_url", "must start with http:// or https://");
  }
  if (!chain.rpc_url.empty() && chain.registry.empty()) {
    return Bad("chain.registry",
               "needed with chain.rpc_url (replicas publish their location there)");
  }
  if (!chain.registry.empty()) {
    bool ok = chain.registry.size() == 42 && chain.registry.rfind("0x", 0) == 0;
    for (size_t i = 2; ok && i < chain.registry.size(); ++i) {
      const char c = chain.registry[i];
      ok = IsHex(c) || (c >= 'A' && c <= 'F');
    }
    if (!ok) return Bad("chain.registry", "not a 0x-address (0x + 40 hex)");
  }
  const auto names = secrets.Names();
  for (const auto& file : names) {
    if (!IsSecretFileName(file)) {
      return Bad("secrets.files", "\"" + file + "\" is not a file name ([A-Za-z0-9._-])");
    }
  }
  if (EtcdTls()) {
    for (size_t i = 0; i < nodes; ++i) {
      for (const auto& f : {EtcdCertFile(i), EtcdKeyFile(i)}) {
        if (std::find(names.begin(), names.end(), f) == names.end()) {
          return Bad("secrets.files", "etcd TLS is on (" + std::string(kEtcdCaFile) +
                                          ") but node " + std::to_string(i) + " has no " + f);
        }
      }
    }
  }
  return Status::Ok();
}

bool DeploymentSpec::EtcdTls() const {
  const auto names = secrets.Names();
  return std::find(names.begin(), names.end(), kEtcdCaFile) != names.end();
}

std::vector<std::string> SecretSpec::Names() const {
  if (files.empty()) return existing;
  std::vector<std::string> names;
  for (const auto& [file, contents] : files) names.push_back(file);
  return names;
}

std::string DeploymentSpec::NodeHost(size_t i) const {
  if (addressing == Addressing::kLoopback) return "127.0.0.1";
  return PodName(i) + "." + namespace_name + ".svc";
}

std::string DeploymentSpec::AppUrl(size_t i) const {
  return "http://" + NodeHost(i) + ":" + std::to_string(AppPort(i));
}

std::string DeploymentSpec::AppCommand() const {
  if (!app_command.empty()) return app_command;
  // "<registry>/<repo>/<name>[:tag]@sha256:..." or "file:///path/<name>@sha256:...": <name>.
  std::string_view ref = app_image;
  ref = ref.substr(0, ref.find('@'));
  ref = ref.substr(ref.rfind('/') == std::string_view::npos ? 0 : ref.rfind('/') + 1);
  ref = ref.substr(0, ref.find(':'));
  return "/usr/bin/" + std::string(ref);
}

}  // namespace br2k::deploy
