// Deployment contexts: where `br2k deploy` puts a service (protocol.md section 7, the extended
// Truffle's list of Kubernetes contexts, one active).
//
// A context names a Kubernetes API (server, CA, namespace, bearer token) or the local podman, and
// the resources a deployer may use there: worker nodes, endpoints as seen from inside the pods
// (e.g. "rpc" -> the chain's JSON-RPC URL), a StorageClass.
//
// On disk (ContextStore), in one directory (mode 0700):
//   contexts.json         {"version": 1, "active": "<name>", "contexts": [...]}, never a token
//   tokens/<name>.token   the bearer token of context <name>, mode 0600 (directory 0700)
//   contexts.lock         flock(2) taken by every read-modify-write
//
// SECRECY: a token appears in no error message, no log line, no Show()/Redacted() output and
// never in contexts.json. Only Context::token (from Get()/Active()) carries it, for the deployer.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::deploy {

enum class ContextKind { kKubernetes, kPodman };

// "kubernetes" / "podman".
const char* ContextKindName(ContextKind kind);
// INVALID_ARGUMENT for any other spelling.
Result<ContextKind> ParseContextKind(std::string_view text);

// A worker node a deployer may place pods on, with the labels it carries (or should carry).
struct Worker {
  std::string name;
  std::map<std::string, std::string> labels;
  friend bool operator==(const Worker&, const Worker&) = default;
};

struct Context {
  std::string name;  // [A-Za-z0-9._:@-], 1..253 characters, not starting with '.'
  ContextKind kind = ContextKind::kPodman;

  // Kubernetes only.
  std::string server;   // "https://host:port" of the API server
  std::string ca_pem;   // CA bundle (PEM) the server's certificate must chain to; or
  std::string ca_file;  // a path to one (at most one of the two)
  std::string token;    // bearer token. SECRET: see the header comment.
  bool insecure_skip_tls_verify = false;

  // Both kinds.
  std::string namespace_name = "default";
  std::vector<Worker> workers;
  std::map<std::string, std::string> external_endpoints;  // name -> URL seen from the pods
  std::string storage_class;                              // "" = the cluster's default

  // OK, or INVALID_ARGUMENT naming the first bad field ("context \"x\": server: ..."): a name out
  // of its alphabet, kubernetes without an https:// server, podman with a server/token/CA,
  // ca_pem that is not PEM, both ca_pem and ca_file, a namespace that is not a DNS-1123 label,
  // a token with whitespace or control characters (the message never quotes it), a worker
  // without a name or twice, an endpoint that is not a URL.
  Status Validate() const;

  // Everything but the token, which shows as "token": "<set>" or "<none>"; ca_pem shows as
  // "<N bytes>". Safe to print.
  nlohmann::json Redacted() const;

  friend bool operator==(const Context&, const Context&) = default;
};

// The context that exists when none is configured: kind podman, name "podman", namespace
// "default". `br2k deploy --dry-run` renders for it out of the box.
Context BuiltinPodmanContext();

// contexts.json, parsed (tokens are not in it: Context::token stays empty).
struct ContextsFile {
  std::optional<std::string> active;
  std::vector<Context> contexts;  // sorted by name, names unique
};

// Parses contexts.json. INVALID_ARGUMENT naming the JSON path of the first problem
// ("contexts[2].kind: ...") for malformed JSON, unknown versions, wrong types, a context that
// fails Validate(), a duplicate name, an active name that is not defined, or a "token" member
// (tokens live in tokens/<name>.token; its value is not quoted). Pure; never throws.
Result<ContextsFile> ParseContextsJson(std::string_view text);
// The text ParseContextsJson reads back to `file` (minus tokens); 2-space indented.
std::string ContextsJsonText(const ContextsFile& file);

// The context directory on disk.
//
// Thread safety: every method takes an exclusive flock on <dir>/contexts.lock around its
// read-modify-write, so concurrent callers in any number of threads or processes serialize and
// never lose each other's changes; readers see contexts.json either before or after a change
// (atomic replacement). The object holds only the path: copyable, cheap.
class ContextStore {
 public:
  // $BR2K_HOME/contexts when BR2K_HOME is set, else $HOME/.br2k/contexts.
  // FAILED_PRECONDITION when neither variable is set.
  static Result<std::filesystem::path> DefaultDir();

  // Does no I/O; the directory (mode 0700) is created by the first change.
  explicit ContextStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // Adds `context` (validated first) and writes its token file when it has a token. ALREADY_EXISTS
  // when the name is taken, unless `replace` (then the old one, token file included, is
  // replaced; it stays active if it was). The first context added becomes active.
  Status Add(const Context& context, bool replace = false);

  // Reads a kubeconfig (kubeconfig.h) and Adds its context `kube_context` ("" = its
  // current-context) under the name `as` ("" = the kubeconfig's context name). Returns the
  // context as stored. Errors: those of LoadKubeconfigContext and Add.
  Result<Context> ImportKubeconfig(const std::filesystem::path& kubeconfig,
                                   const std::string& kube_context, const std::string& as,
                                   bool replace = false);

  // Makes `name` the active context. NOT_FOUND when it is not defined ("podman" is accepted while
  // no context is configured and is then added as BuiltinPodmanContext()).
  Status Use(const std::string& name);

  // All contexts sorted by name, tokens left out (Context::token empty); only
  // BuiltinPodmanContext() when none is configured.
  Result<std::vector<Context>> List() const;

  // The active context's name; BuiltinPodmanContext().name when none is configured;
  // FAILED_PRECONDITION when contexts exist but none is active (after removing the active one).
  Result<std::string> ActiveName() const;

  // One context with its token (for the deployer). NOT_FOUND when not defined.
  Result<Context> Get(const std::string& name) const;
  // The active one with its token (see ActiveName for the errors).
  Result<Context> Active() const;
  // Get(name).Redacted() plus "active": bool. Never contains the token.
  Result<nlohmann::json> Show(const std::string& name) const;

  // Removes a context and its token file; removing the active one leaves none active.
  // NOT_FOUND when not defined.
  Status Remove(const std::string& name);

  // Errors of every method: INVALID_ARGUMENT when contexts.json is corrupt (see
  // ParseContextsJson), INTERNAL (with the errno text) for file system failures,
  // DEADLINE_EXCEEDED when the lock is held by another process for more than 10 s.

 private:
  std::filesystem::path dir_;
};

}  // namespace br2k::deploy
