#include "br2k/deploy/recovery.h"

#include <nlohmann/json.hpp>
#include <regex>

#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/executable_image.h"

namespace br2k::deploy {

namespace {

using nlohmann::ordered_json;

Status Bad(const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "recovery information: " + what);
}

bool IsLabel(const std::string& s) {
  static const std::regex re("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  return s.size() <= 63 && std::regex_match(s, re);
}

}  // namespace

ContainerRecovery RecoveryOf(const DeploymentSpec& spec, const std::string& kind,
                             const std::string& context, const std::string& server,
                             const std::string& container_registry) {
  ContainerRecovery r;
  r.kind = kind;
  r.context = context;
  r.server = server;
  r.namespace_name = spec.namespace_name;
  r.name = spec.name;
  r.replicas = static_cast<uint32_t>(spec.nodes);
  r.app_port_base = spec.app_port_base;
  r.etcd_client_port_base = spec.etcd_client_port_base;
  r.etcd_peer_port_base = spec.etcd_peer_port_base;
  r.secret_files = spec.secrets.Names();
  r.container_registry = container_registry;
  r.app_image = spec.app_image;
  r.etcd_image = spec.etcd_image;
  return r;
}

eth::RecoveryInfo EncodeRecovery(const ContainerRecovery& r) {
  ordered_json ctx;
  ctx["v"] = 1;
  ctx["kind"] = r.kind;
  ctx["context"] = r.context;
  if (!r.server.empty()) ctx["server"] = r.server;
  ctx["namespace"] = r.namespace_name;
  ctx["name"] = r.name;
  ctx["ports"] = {{"app", r.app_port_base},
                  {"etcd_client", r.etcd_client_port_base},
                  {"etcd_peer", r.etcd_peer_port_base}};
  ctx["secrets"] = r.secret_files;
  eth::RecoveryInfo info;
  info.deploy_context = ctx.dump();
  info.replicas = r.replicas;
  info.container_registry = r.container_registry;
  info.images = {r.app_image, r.etcd_image};
  return info;
}

Result<ContainerRecovery> DecodeRecovery(const eth::RecoveryInfo& info) {
  if (info.deploy_context.empty() || info.deploy_context[0] != '{')
    return Status(StatusCode::kNotFound, "deploy context \"" + info.deploy_context.substr(0, 64) +
                                             "\" is not a container deployment");
  if (info.deploy_context.size() > 16384) return Bad("deploy context is over 16 KiB");
  auto j = nlohmann::json::parse(info.deploy_context, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Bad("deploy context is not a JSON object");
  auto str = [&](const char* key, std::string* out, bool required) -> Status {
    if (!j.contains(key)) return required ? Bad(std::string(key) + " is missing") : Status::Ok();
    if (!j[key].is_string()) return Bad(std::string(key) + " must be a string");
    *out = j[key].get<std::string>();
    return Status::Ok();
  };
  if (!j.contains("v") || !j["v"].is_number_integer() || j["v"] != 1)
    return Bad("deploy context version must be 1");
  ContainerRecovery r;
  for (auto [key, out, required] : {std::tuple{"kind", &r.kind, true},
                                    {"context", &r.context, true},
                                    {"server", &r.server, false},
                                    {"namespace", &r.namespace_name, true},
                                    {"name", &r.name, true}}) {
    if (auto st = str(key, out, required); !st.ok()) return st;
  }
  if (r.kind != "podman" && r.kind != "kubernetes" && r.kind != "process")
    return Bad("kind \"" + r.kind.substr(0, 32) + "\" is not podman, kubernetes or process");
  if (r.kind == "kubernetes" && !r.server.starts_with("https://"))
    return Bad("server must be an https:// URL for a kubernetes context");
  if (r.context.empty() || r.context.size() > 128) return Bad("context must be 1..128 characters");
  if (!IsLabel(r.namespace_name)) return Bad("namespace is not a DNS-1123 label");
  if (!IsLabel(r.name)) return Bad("name is not a DNS-1123 label");
  if (!j.contains("ports") || !j["ports"].is_object()) return Bad("ports must be an object");
  for (auto [key, out] : {std::pair{"app", &r.app_port_base},
                          {"etcd_client", &r.etcd_client_port_base},
                          {"etcd_peer", &r.etcd_peer_port_base}}) {
    const auto& p = j["ports"];
    if (!p.contains(key) || !p[key].is_number_integer() || p[key].get<int64_t>() < 1 ||
        p[key].get<int64_t>() > 65535 - 16)
      return Bad(std::string("ports.") + key + " must be 1..65519");
    *out = p[key].get<int>();
  }
  if (j.contains("secrets")) {
    if (!j["secrets"].is_array() || j["secrets"].size() > 64)
      return Bad("secrets must be a list of at most 64 names");
    static const std::regex file_re("[A-Za-z0-9._-]{1,128}");
    for (const auto& s : j["secrets"]) {
      if (!s.is_string() || !std::regex_match(s.get<std::string>(), file_re) || s == "." ||
          s == "..")
        return Bad("secrets holds a name that is not a plain file name");
      r.secret_files.push_back(s.get<std::string>());
    }
  }
  if (info.replicas < 1 || info.replicas > 16) return Bad("replicas must be 1..16");
  r.replicas = info.replicas;
  r.container_registry = info.container_registry;
  if (r.container_registry.empty() || r.container_registry.size() > 512)
    return Bad("containerRegistry is empty");
  if (info.images.size() != 2) return Bad("images must be [app image, etcd image]");
  if (r.kind == "process") {
    // Executables on the deploying machine, pinned by digest (executable_image.h).
    if (r.container_registry != kExecutableRegistry)
      return Bad(std::string("containerRegistry of a process deployment must be ") +
                 kExecutableRegistry);
    for (size_t i = 0; i < 2; ++i)
      if (!IsExecutableImage(info.images[i]))
        return Bad("images[" + std::to_string(i) +
                   "] is not an executable image (file:///<path>@sha256:<64 hex>)");
  }
  for (size_t i = 0; i < 2 && r.kind != "process"; ++i) {
    auto ref = ParseDigestReference(info.images[i]);
    if (!ref.ok()) return Bad("images[" + std::to_string(i) + "]: " + ref.status().message());
    if (!ref->repository.starts_with(r.container_registry + "/"))
      return Bad("images[" + std::to_string(i) + "] is not in " + r.container_registry);
  }
  r.app_image = info.images[0];
  r.etcd_image = info.images[1];
  return r;
}

DeploymentSpec SpecForRecovery(const ContainerRecovery& r, DeploymentSpec base) {
  base.name = r.name;
  base.namespace_name = r.namespace_name;
  base.nodes = r.replicas;
  base.app_image = r.app_image;
  base.etcd_image = r.etcd_image;
  base.app_port_base = r.app_port_base;
  base.etcd_client_port_base = r.etcd_client_port_base;
  base.etcd_peer_port_base = r.etcd_peer_port_base;
  base.addressing = r.kind == "kubernetes" ? Addressing::kServices : Addressing::kLoopback;
  base.secrets.files.clear();
  base.secrets.existing = r.secret_files;
  return base;
}

}  // namespace br2k::deploy
