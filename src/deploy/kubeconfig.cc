#include "br2k/deploy/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <optional>
#include <set>
#include <string>

#include "text.h"

namespace br2k::deploy {
namespace {

using internal::Quote;

Status Malformed(const std::string& path, const std::string& why) {
  return InvalidArgumentError("kubeconfig: " + path + ": " + why);
}

// node[key] as a string: "" when absent or null; INVALID_ARGUMENT when not a scalar.
Result<std::string> GetString(const YAML::Node& node, const char* key, const std::string& path) {
  const YAML::Node v = node[key];
  if (!v.IsDefined() || v.IsNull()) return std::string();
  if (!v.IsScalar()) return Malformed(path + "." + key, "expected a string");
  return v.Scalar();
}

Result<bool> GetBool(const YAML::Node& node, const char* key, const std::string& path) {
  const YAML::Node v = node[key];
  if (!v.IsDefined() || v.IsNull()) return false;
  bool b = false;
  if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) {
    return Malformed(path + "." + key, "expected true or false");
  }
  return b;
}

// A list member of the root ("clusters", "users", "contexts"): absent or null = empty.
Result<YAML::Node> GetList(const YAML::Node& root, const char* key) {
  const YAML::Node v = root[key];
  if (!v.IsDefined() || v.IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  if (!v.IsSequence()) return Malformed(key, "expected a list");
  return v;
}

// Entry i of a named list: a map with a non-empty "name" and a map (or null) under `inner`.
struct Entry {
  std::string name;
  YAML::Node body;   // a map (empty when the kubeconfig wrote null)
  std::string path;  // "clusters[0].cluster"
};

Result<Entry> GetEntry(const YAML::Node& list, size_t i, const char* list_name, const char* inner) {
  const std::string path = std::string(list_name) + "[" + std::to_string(i) + "]";
  const YAML::Node item = list[i];
  if (!item.IsMap()) return Malformed(path, "expected a map");
  BR2K_ASSIGN_OR_RETURN(std::string name, GetString(item, "name", path));
  if (name.empty()) return Malformed(path + ".name", "missing");
  const YAML::Node body = item[inner];
  if (!body.IsDefined() || body.IsNull()) {
    // An absent body reads as an empty map (assigning to the absent node would throw).
    return Entry{std::move(name), YAML::Node(YAML::NodeType::Map), path + "." + inner};
  }
  if (!body.IsMap()) return Malformed(path + "." + inner, "expected a map");
  return Entry{std::move(name), body, path + "." + inner};
}

Status CheckUnique(std::set<std::string>& seen, const std::string& name, const std::string& path) {
  if (!seen.insert(name).second) return Malformed(path, "name " + Quote(name) + " appears twice");
  return Status::Ok();
}

Result<Kubeconfig> Parse(std::string_view text) {
  const YAML::Node root = YAML::Load(std::string(text));
  if (!root.IsMap()) return InvalidArgumentError("kubeconfig: expected a map at the top level");
  Kubeconfig config;
  BR2K_ASSIGN_OR_RETURN(config.current_context, GetString(root, "current-context", "$"));

  BR2K_ASSIGN_OR_RETURN(YAML::Node clusters, GetList(root, "clusters"));
  std::set<std::string> seen;
  for (size_t i = 0; i < clusters.size(); ++i) {
    BR2K_ASSIGN_OR_RETURN(Entry e, GetEntry(clusters, i, "clusters", "cluster"));
    BR2K_RETURN_IF_ERROR(CheckUnique(seen, e.name, "clusters[" + std::to_string(i) + "]"));
    KubeCluster c;
    c.name = e.name;
    BR2K_ASSIGN_OR_RETURN(c.server, GetString(e.body, "server", e.path));
    BR2K_ASSIGN_OR_RETURN(std::string ca_data,
                          GetString(e.body, "certificate-authority-data", e.path));
    if (!ca_data.empty()) {
      std::optional<std::string> pem = internal::DecodeBase64(ca_data);
      if (!pem || pem->empty()) {
        return Malformed(e.path + ".certificate-authority-data", "not base64");
      }
      c.ca_data = std::move(*pem);
    }
    BR2K_ASSIGN_OR_RETURN(c.ca_file, GetString(e.body, "certificate-authority", e.path));
    BR2K_ASSIGN_OR_RETURN(c.insecure_skip_tls_verify,
                          GetBool(e.body, "insecure-skip-tls-verify", e.path));
    config.clusters.push_back(std::move(c));
  }

  BR2K_ASSIGN_OR_RETURN(YAML::Node users, GetList(root, "users"));
  seen.clear();
  for (size_t i = 0; i < users.size(); ++i) {
    BR2K_ASSIGN_OR_RETURN(Entry e, GetEntry(users, i, "users", "user"));
    BR2K_RETURN_IF_ERROR(CheckUnique(seen, e.name, "users[" + std::to_string(i) + "]"));
    KubeUser u;
    u.name = e.name;
    BR2K_ASSIGN_OR_RETURN(u.token, GetString(e.body, "token", e.path));
    BR2K_ASSIGN_OR_RETURN(u.token_file, GetString(e.body, "tokenFile", e.path));
    const YAML::Node& body = e.body;  // const: lookups must not add members
    if (body["client-certificate-data"] || body["client-certificate"] || body["client-key-data"] ||
        body["client-key"]) {
      u.unsupported = "client certificates";
    } else if (body["exec"]) {
      u.unsupported = "an exec plugin";
    } else if (body["auth-provider"]) {
      u.unsupported = "an auth-provider plugin";
    } else if (body["username"] || body["password"]) {
      u.unsupported = "username/password";
    }
    config.users.push_back(std::move(u));
  }

  BR2K_ASSIGN_OR_RETURN(YAML::Node contexts, GetList(root, "contexts"));
  seen.clear();
  for (size_t i = 0; i < contexts.size(); ++i) {
    BR2K_ASSIGN_OR_RETURN(Entry e, GetEntry(contexts, i, "contexts", "context"));
    BR2K_RETURN_IF_ERROR(CheckUnique(seen, e.name, "contexts[" + std::to_string(i) + "]"));
    KubeContext c;
    c.name = e.name;
    BR2K_ASSIGN_OR_RETURN(c.cluster, GetString(e.body, "cluster", e.path));
    BR2K_ASSIGN_OR_RETURN(c.user, GetString(e.body, "user", e.path));
    BR2K_ASSIGN_OR_RETURN(c.namespace_name, GetString(e.body, "namespace", e.path));
    config.contexts.push_back(std::move(c));
  }
  return config;
}

std::filesystem::path Resolve(const std::filesystem::path& base, const std::string& file) {
  std::filesystem::path p(file);
  return p.is_absolute() ? p : base / p;
}

}  // namespace

Result<Kubeconfig> ParseKubeconfig(std::string_view text) {
  // yaml-cpp reports errors by exceptions (syntax, nesting deeper than its limit, conversions);
  // none may escape.
  try {
    return Parse(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(std::string("kubeconfig: not YAML: ") + e.what());
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("kubeconfig: ") + e.what());
  }
}

Result<Context> KubeconfigToContext(const Kubeconfig& config, const std::string& context_name,
                                    const std::filesystem::path& base_dir) {
  const std::string want = context_name.empty() ? config.current_context : context_name;
  if (want.empty()) {
    return NotFoundError("kubeconfig: no current-context is set: name the context to import");
  }
  size_t ci = 0;
  while (ci < config.contexts.size() && config.contexts[ci].name != want) ++ci;
  if (ci == config.contexts.size()) {
    return NotFoundError("kubeconfig: context " + Quote(want) + " is not defined");
  }
  const KubeContext& kc = config.contexts[ci];
  const std::string path = "contexts[" + std::to_string(ci) + "].context";

  size_t k = 0;
  while (k < config.clusters.size() && config.clusters[k].name != kc.cluster) ++k;
  if (kc.cluster.empty() || k == config.clusters.size()) {
    return Malformed(path + ".cluster", Quote(kc.cluster) + " is not defined");
  }
  const KubeCluster& cluster = config.clusters[k];
  if (cluster.server.empty()) {
    return Malformed("clusters[" + std::to_string(k) + "].cluster.server", "missing");
  }
  if (kc.user.empty()) {
    return FailedPreconditionError("kubeconfig: context " + Quote(want) +
                                   " has no user: br2k needs a bearer token (token or tokenFile)");
  }
  size_t u = 0;
  while (u < config.users.size() && config.users[u].name != kc.user) ++u;
  if (u == config.users.size())
    return Malformed(path + ".user", Quote(kc.user) + " is not defined");
  const KubeUser& user = config.users[u];

  Context ctx;
  ctx.name = kc.name;
  ctx.kind = ContextKind::kKubernetes;
  ctx.server = cluster.server;
  ctx.namespace_name = kc.namespace_name.empty() ? "default" : kc.namespace_name;
  ctx.insecure_skip_tls_verify = cluster.insecure_skip_tls_verify;
  if (!cluster.ca_data.empty()) {
    ctx.ca_pem = cluster.ca_data;
  } else if (!cluster.ca_file.empty()) {
    auto pem = internal::ReadSmallFile(Resolve(base_dir, cluster.ca_file));
    if (!pem.ok()) {
      return pem.status().WithContext("kubeconfig: clusters[" + std::to_string(k) +
                                      "].cluster.certificate-authority");
    }
    ctx.ca_pem = std::move(pem).value();
  }
  if (!user.token.empty()) {
    ctx.token = user.token;
  } else if (!user.token_file.empty()) {
    auto token = internal::ReadSmallFile(Resolve(base_dir, user.token_file), 64 * 1024);
    if (!token.ok()) {
      return token.status().WithContext("kubeconfig: users[" + std::to_string(u) +
                                        "].user.tokenFile");
    }
    ctx.token = std::string(internal::Trim(*token));
    if (ctx.token.empty()) {
      return FailedPreconditionError("kubeconfig: users[" + std::to_string(u) +
                                     "].user.tokenFile: the file is empty");
    }
  } else if (!user.unsupported.empty()) {
    return FailedPreconditionError(
        "kubeconfig: user " + Quote(user.name) + " authenticates with " + user.unsupported +
        ", which br2k does not support: give it a bearer token (token or tokenFile), e.g. a "
        "service account's (kubectl create token <account>)");
  } else {
    return FailedPreconditionError("kubeconfig: user " + Quote(user.name) +
                                   " has no token or tokenFile: br2k needs a bearer token");
  }
  return ctx;
}

Result<Context> LoadKubeconfigContext(const std::filesystem::path& path,
                                      const std::string& context_name) {
  auto text = internal::ReadSmallFile(path);
  if (!text.ok()) return text.status().WithContext("kubeconfig");
  auto config = ParseKubeconfig(*text);
  if (!config.ok()) return config.status().WithContext(path.string());
  std::filesystem::path base = path.parent_path();
  if (base.empty()) base = ".";
  return KubeconfigToContext(*config, context_name, base);
}

}  // namespace br2k::deploy
