// A client of the Kubernetes REST API, for what br2k needs to deploy a service: server-side
// apply, get, list by label, delete, and a reachability check. HTTPS only (Boost.Beast over
// OpenSSL); objects are nlohmann::json values as the API serves them.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/kube/api_errors.h"     // StatusFromApiError
#include "br2k/kube/resource_path.h"  // ResourcePath

namespace br2k::kube {

// Where a Kubernetes API server is and how to trust and authenticate to it (what a br2k
// context holds for Kubernetes; the fields of a kubeconfig cluster and user).
struct ApiEndpoint {
  // "https://host[:port][/path-prefix]"; port 443 by default; host may be a DNS name, an IPv4
  // address or a bracketed IPv6 address. Any other scheme is refused (INVALID_ARGUMENT from
  // every call): the bearer token never travels in clear.
  std::string server;
  // PEM of the CA(s) that sign the API server's certificate (kubeconfig's
  // certificate-authority-data, decoded). "" = the system's default trust store.
  std::string ca_pem;
  // Bearer token sent as "Authorization: Bearer <token>"; "" = none. It never appears in logs
  // or in any Status this client returns (also redacted from server messages quoting it).
  std::string token;
  // As kubeconfig's insecure-skip-tls-verify: accept any certificate for any host name. Both
  // the chain and the host name checks are off, so anyone on the path can read the token.
  // For throw-away test clusters only.
  bool insecure_skip_tls_verify = false;
};

// The name br2k applies with (fieldManager of server-side apply).
inline constexpr std::string_view kFieldManager = "br2k";

// Thread-safe: any number of threads may call any method at once. Each call opens its own
// HTTPS connection (no pooling: br2k's deploy traffic is a handful of calls) and returns by its
// Deadline, also against a server that accepts and never answers (DEADLINE_EXCEEDED). A DNS
// name is resolved on a helper thread that may outlive a call that timed out while resolving.
//
// Errors common to every call:
//   INVALID_ARGUMENT     bad `server` URL or a bad CA PEM in the endpoint; bad arguments
//   DEADLINE_EXCEEDED    the deadline passed (resolving, connecting, TLS, writing or reading)
//   UNAVAILABLE          cannot resolve or connect, connection broken, HTTP 429 or 5xx
//   FAILED_PRECONDITION  TLS verification failed (wrong CA, host name mismatch); the message
//                        says "TLS verification" and OpenSSL's reason
//   otherwise            the API's answer mapped by StatusFromApiError (UNAUTHENTICATED,
//                        PERMISSION_DENIED, NOT_FOUND, ABORTED, ...)
//   INTERNAL             a 2xx answer whose body is not the JSON expected
class ApiClient {
 public:
  // Checks the URL and loads the CA now; a bad endpoint makes every call return the error.
  explicit ApiClient(ApiEndpoint endpoint);
  // Copies share the endpoint and TLS configuration (cheap).
  ApiClient(const ApiClient&) = default;
  ApiClient& operator=(const ApiClient&) = default;
  ~ApiClient();

  // Server-side apply (https://kubernetes.io/docs/reference/using-api/server-side-apply/):
  // PATCH <ResourcePath(object)>?fieldManager=br2k&force=true with Content-Type
  // application/apply-patch+yaml and the object as JSON (which is YAML). Creates the object or
  // updates the fields br2k manages, taking over fields other managers own (force). The path
  // comes from the object's apiVersion, kind, metadata.namespace and metadata.name
  // (INVALID_ARGUMENT when missing or invalid; see ResourcePath). Returns the object as stored.
  Result<nlohmann::json> Apply(const nlohmann::json& object, Deadline deadline) const;

  // GET one object. NOT_FOUND when it does not exist.
  Result<nlohmann::json> Get(std::string_view api_version, std::string_view kind,
                             std::string_view ns, std::string_view name, Deadline deadline) const;

  // GET the collection ("" ns for a namespaced kind = all namespaces), filtered by a label
  // selector ("app=web,tier!=db"; "" = all), following `continue` pages. Returns the items array
  // (a JSON array, possibly empty).
  Result<nlohmann::json> List(std::string_view api_version, std::string_view kind,
                              std::string_view ns, std::string_view label_selector,
                              Deadline deadline) const;

  // DELETE one object with propagationPolicy=Background (dependents such as a StatefulSet's pods
  // are removed by the garbage collector afterwards). OK when the server accepted the deletion
  // (it may still be finalizing); NOT_FOUND when the object did not exist: callers wanting an
  // idempotent delete treat NOT_FOUND as done.
  Status Delete(std::string_view api_version, std::string_view kind, std::string_view ns,
                std::string_view name, Deadline deadline) const;

  // GET /version: {"major":"1","minor":"29","gitVersion":...}. A cheap check that the server is
  // reachable, trusted, and (with a token) that the token is accepted.
  Result<nlohmann::json> Version(Deadline deadline) const;

  // The endpoint's server URL (never the token).
  const std::string& server() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace br2k::kube
