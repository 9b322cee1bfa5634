// An in-process Kubernetes API server for unit tests: HTTPS on 127.0.0.1 (an ephemeral port)
// with a certificate from its own freshly generated CA, serving the REST paths of the kinds in
// br2k::kube::KnownResourceTypes() from memory.
//
// What it implements, faithfully enough for the client:
//   GET /version
//   PATCH <object path> with Content-Type application/apply-patch+yaml and a fieldManager query
//     parameter (server-side apply; the body must be JSON): creates the object (201) or merges
//     into it (200). The merge is simplified: each top-level field of the patch replaces the
//     stored one, except objects (metadata, spec, ...) whose fields are replaced one level down.
//     Fields a manager stops applying are not removed. Every write sets metadata.resourceVersion
//     (a server-wide counter), and creation sets uid, creationTimestamp and namespace;
//     metadata.managedFields names the manager (operation Apply).
//   GET <object path>: the object, or 404 with a `kind: Status` body (reason NotFound).
//   GET <collection path>[?labelSelector=a=b,c!=d]: a <Kind>List (equality selectors only).
//   DELETE <object path>: removes it and answers a Status Success; 404 when absent.
// Every request needs "Authorization: Bearer <token>" (else 401 with a Status body). Tests can
// inject the next answers for a path and read the requests received.
//
// Thread-safe: the server runs on its own thread; every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace br2k::testing {

struct FakeKubeServerOptions {
  std::string token = "fake-kube-token";  // the bearer token accepted
  // Subject alternative names of the server certificate (OpenSSL's config syntax).
  std::string subject_alt_names = "IP:127.0.0.1,DNS:localhost";
};

class FakeKubeServer {
 public:
  // Generates the CA and server certificate, binds 127.0.0.1:0 and starts serving. Aborts the
  // test program when any of this fails (a broken test environment, not a test outcome).
  FakeKubeServer() : FakeKubeServer(FakeKubeServerOptions{}) {}
  explicit FakeKubeServer(FakeKubeServerOptions options);
  // Stops serving, closing every connection (also those held by kNeverAnswer).
  ~FakeKubeServer();
  FakeKubeServer(const FakeKubeServer&) = delete;
  FakeKubeServer& operator=(const FakeKubeServer&) = delete;

  // "https://127.0.0.1:<port>".
  std::string Url() const;
  uint16_t port() const { return port_; }
  // PEM of the CA that signed the server certificate.
  const std::string& CaPem() const { return ca_pem_; }
  const std::string& token() const { return token_; }

  // An answer to force instead of the normal handling.
  struct Injected {
    int status = 500;           // HTTP status of the Status body
    std::string reason;         // Status.reason ("Forbidden", "Conflict", ...); "" = none
    std::string message;        // Status.message
    bool never_answer = false;  // accept the request, keep the connection, never reply
    std::string raw_body;       // when set: this body verbatim instead of a Status object
  };
  // The next `count` requests whose path (without query) is `path` ("" = any path) get `answer`.
  // Injections are consumed in the order they were added.
  void Inject(std::string path, int count, Injected answer);

  struct Request {
    std::string method;                        // "PATCH"
    std::string path;                          // "/api/v1/namespaces/ns/pods/a"
    std::map<std::string, std::string> query;  // decoded
    std::string content_type;
    std::string body;
    bool has_auth = false;  // an Authorization header was present
    bool auth_ok = false;   // ... and it carried the right bearer token
  };
  std::vector<Request> Requests() const;
  void ClearRequests();

  // The stored object at an object path, if any.
  std::optional<nlohmann::json> Object(const std::string& path) const;

  // Sets the `status` of the stored object at an object path, as a kubelet or controller would
  // (the fake runs no pods: tests say what phase and conditions a Pod has). Bumps
  // metadata.resourceVersion. Returns false when there is no object at `path`.
  bool SetStatus(const std::string& path, nlohmann::json status);
  // Marks the stored object as being deleted (sets metadata.deletionTimestamp) without removing
  // it, as a Pod in its termination grace period; a later DELETE removes it. False when absent.
  bool MarkDeleting(const std::string& path);

  // PEM of a CA unrelated to any server (for wrong-CA tests).
  static std::string UnrelatedCaPem();

  struct Impl;

 private:
  std::string token_;
  std::string ca_pem_;
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace br2k::testing
