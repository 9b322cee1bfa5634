// br2k's own environment for the container tools (buildah, podman, skopeo): its own
// containers.conf (runc, cgroupfs, low explicit rlimits), its own storage root, never /etc.
//
// Why: podman's defaults do not run on every host (crun refuses a hybrid cgroup layout, the
// default nofile/nproc limits are refused in some sandboxes), and a user's own images and
// containers must never be touched by a br2k run. Everything lives under one root directory:
//   <root>/containers.conf, <root>/storage.conf, <root>/storage/{graph,run}, <root>/tmp
// Credentials for registries come from the standard containers auth file (REGISTRY_AUTH_FILE,
// else $XDG_RUNTIME_DIR/containers/auth.json), which this environment passes through unchanged.
//
// Value type; thread-compatible. Prepare writes files; everything else is pure.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::deploy {

class ContainerEnv {
 public:
  // Creates <root> and its configuration files (rewritten when they differ). INTERNAL on I/O
  // errors.
  static Result<ContainerEnv> Prepare(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  // CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, TMPDIR for every tool invocation.
  std::map<std::string, std::string> Env() const;
  // The argv prefix of a tool ("podman", "buildah", "skopeo"): its name plus the global flags
  // that keep it inside this environment.
  std::vector<std::string> Tool(const std::string& name) const;

 private:
  std::filesystem::path root_;
};

// True for a registry on this machine ("127.0.0.1:5000", "localhost:5000", "[::1]:5000"), which
// br2k talks to over plain HTTP (TLS verification off); every other registry is verified.
bool IsLoopbackRegistry(const std::string& registry_host);

// The registry host of an image reference ("127.0.0.1:5000/br2k/app@sha256:..." ->
// "127.0.0.1:5000"); "" when the reference has no registry part ("app:1").
std::string RegistryHostOf(const std::string& reference);

}  // namespace br2k::deploy
