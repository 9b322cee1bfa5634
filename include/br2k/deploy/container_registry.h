// Where a service's images live: any OCI registry (CNCF Distribution, Harbor, ...), reached with
// the standard containers auth file; by default an embedded one, Debian's `docker-registry`
// (CNCF Distribution) on a loopback port that br2k starts, checks and stops.
//
// registry.json (`RegistryFile`), written atomically:
//   {"version": 1, "registry": "127.0.0.1:5000", "repository": "br2k",
//    "embedded": {"pid": 123, "port": 5000, "root": "/run/dir/registry"},   (only when embedded)
//    "images": [{"name": "br2k-logserver",
//                "reference": "127.0.0.1:5000/br2k/br2k-logserver@sha256:<64 hex>"}]}
// References are always by digest: what runs is exactly what was pushed.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/deploy/container_env.h"
#include "br2k/deploy/images.h"
#include "br2k/proc/command.h"
#include "br2k/proc/process.h"

namespace br2k::deploy {

struct PushedImage {
  std::string name;       // "br2k-logserver"
  std::string reference;  // "<registry>/<repository>/<name>@sha256:<64 hex>"
  friend bool operator==(const PushedImage&, const PushedImage&) = default;
};

struct EmbeddedRegistry {
  int pid = 0;
  int port = 0;
  std::string root;  // its config file, storage and log live here
  friend bool operator==(const EmbeddedRegistry&, const EmbeddedRegistry&) = default;
};

struct RegistryFile {
  static constexpr int kVersion = 1;
  std::string registry;    // host[:port]
  std::string repository;  // path prefix inside the registry ("br2k"; "" = none)
  std::optional<EmbeddedRegistry> embedded;
  std::vector<PushedImage> images;

  // INVALID_ARGUMENT naming the field (malformed JSON, wrong version, a reference not by digest
  // or not in `registry`). Never throws.
  static Result<RegistryFile> Parse(std::string_view json);
  std::string Serialize() const;
  static Result<RegistryFile> Load(const std::filesystem::path& file);
  Status Save(const std::filesystem::path& file) const;
  const PushedImage* Find(std::string_view name) const;
  void Put(PushedImage image);
};

// "<registry>/<repository>/<name>" (no tag or digest).
std::string RepositoryOf(const std::string& registry, const std::string& repository,
                         const std::string& name);

// Is `reference` "<repo>@sha256:<64 lower-case hex>"? Splits it when it is.
struct DigestReference {
  std::string repository;  // "127.0.0.1:5000/br2k/br2k-logserver"
  std::string digest;      // "sha256:<64 hex>"
};
Result<DigestReference> ParseDigestReference(std::string_view reference);

// The embedded registry: `docker-registry serve` with a config br2k writes under `root`, bound
// to 127.0.0.1:<port>. Start waits until GET /v2/ answers 200. FAILED_PRECONDITION when the
// binary is missing (install Debian's docker-registry), UNAVAILABLE when it exits at once (the
// message holds its log's tail), DEADLINE_EXCEEDED.
Result<EmbeddedRegistry> StartEmbeddedRegistry(proc::Launcher& launcher,
                                               const std::filesystem::path& root, bool detach,
                                               Deadline deadline);
// Stops it when `pid` still runs docker-registry with `root`'s config (pids get reused).
Status StopEmbeddedRegistry(proc::Launcher& launcher, const EmbeddedRegistry& r);
// GET http://<host>/v2/ on a loopback registry: OK on 200 or 401 (it answers, auth aside).
Status CheckRegistryAnswers(const std::string& host, Deadline deadline);

// Pushes `image` (a local image of `env`) to <registry>/<repository>/<name>:<tag> and returns
// its by-digest reference. TLS is verified except for loopback registries. Credentials from the
// standard auth file (`authfile`, "" = the tools' default). UNAVAILABLE when the registry
// cannot be reached or refuses (the tool's message), DEADLINE_EXCEEDED.
Result<PushedImage> PushImage(const ContainerEnv& env, proc::CommandRunner& runner,
                              const ImageRecord& image, const std::string& registry,
                              const std::string& repository, const std::string& authfile,
                              Deadline deadline);

// Whether the registry holds the manifest `reference` names (skopeo inspect --raw). OK;
// NOT_FOUND when the registry answers that it does not; UNAVAILABLE when it cannot be reached.
Status CheckImageInRegistry(const ContainerEnv& env, proc::CommandRunner& runner,
                            const std::string& reference, const std::string& authfile,
                            Deadline deadline);

}  // namespace br2k::deploy
