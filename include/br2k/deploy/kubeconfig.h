// Reading a kubeconfig (the file kubectl uses, ~/.kube/config) into a deploy Context.
//
// Supported: clusters[].cluster.{server, certificate-authority-data (base64 PEM),
// certificate-authority (a file, relative to the kubeconfig's directory),
// insecure-skip-tls-verify}; users[].user.{token, tokenFile}; contexts[].context.{cluster, user,
// namespace}; current-context. YAML or JSON (JSON is YAML).
// Not supported: client certificates (client-certificate[-data]), exec and auth-provider plugins,
// username/password: FAILED_PRECONDITION when the chosen context's user relies on them.
//
// Never throws. Error messages name the offending path ("contexts[1].context.cluster ...") and
// never quote a token.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/deploy/contexts.h"

namespace br2k::deploy {

struct KubeCluster {
  std::string name;
  std::string server;
  std::string ca_data;  // certificate-authority-data, decoded (PEM)
  std::string ca_file;  // certificate-authority, as written (maybe relative)
  bool insecure_skip_tls_verify = false;
};

struct KubeUser {
  std::string name;
  std::string token;       // SECRET
  std::string token_file;  // as written (maybe relative)
  // The first unsupported authentication method the user has ("client certificates", "an exec
  // plugin", "an auth-provider plugin", "username/password"), or "".
  std::string unsupported;
};

struct KubeContext {
  std::string name;
  std::string cluster;
  std::string user;
  std::string namespace_name;  // "" when the kubeconfig sets none
};

struct Kubeconfig {
  std::string current_context;
  std::vector<KubeCluster> clusters;
  std::vector<KubeUser> users;
  std::vector<KubeContext> contexts;
};

// Parses kubeconfig text. INVALID_ARGUMENT naming the path for malformed YAML, wrong types
// (`clusters[0].cluster.server: expected a string`), an entry without a name, and undecodable
// certificate-authority-data. No I/O; pure.
Result<Kubeconfig> ParseKubeconfig(std::string_view text);

// The deploy Context (kind kubernetes) for kubeconfig context `context_name` ("" = the
// current-context). Relative ca_file/token_file paths are resolved against `base_dir`; both files
// are read now, so the result holds the CA PEM and the token themselves (a rotating tokenFile is
// read once, at import). The namespace defaults to "default". The result is not validated
// (ContextStore::Add validates it, after a possible rename).
// Errors: NOT_FOUND when the context is not defined (or "" and no current-context is set);
// INVALID_ARGUMENT naming the path when it references an undefined cluster or user
// (`contexts[1].context.cluster "x" is not defined`) or the cluster has no server;
// FAILED_PRECONDITION when the user authenticates only by an
// unsupported method, or by nothing; NOT_FOUND/INTERNAL when a referenced file cannot be read.
Result<Context> KubeconfigToContext(const Kubeconfig& config, const std::string& context_name,
                                    const std::filesystem::path& base_dir);

// Reads `path` and does the two steps above with base_dir = the file's directory.
Result<Context> LoadKubeconfigContext(const std::filesystem::path& path,
                                      const std::string& context_name);

}  // namespace br2k::deploy
