// Executable images: what a process deployment runs instead of a container image. An executable
// on this machine is pinned by the SHA-256 of its bytes, in the same "<repository>@sha256:<64
// hex>" form as an OCI image reference, with the file's absolute path as its repository and
// "file://" as its registry:
//
//   file:///usr/bin/etcd@sha256:<64 hex>
//
// so a DeploymentSpec, the manifests and the on-chain recovery information name a process
// deployment's binaries exactly as they name a container deployment's images, and a redeploy
// runs the very bytes that were deployed (or refuses to).
//
// Pure file reads; thread-safe.
#pragma once

#include <filesystem>
#include <string>

#include "br2k/common/status.h"

namespace br2k::deploy {

// The registry of executable images (ContainerRecovery::container_registry of a process
// deployment).
inline constexpr const char* kExecutableRegistry = "file://";

// "file://<absolute path>@sha256:<hex>" for the file `executable` as it is now (symlinks
// resolved). NOT_FOUND when it does not exist; FAILED_PRECONDITION when it is not a regular
// executable file.
Result<std::string> PinExecutable(const std::filesystem::path& executable);

// Whether `reference` has the executable-image form (it says nothing of the file).
bool IsExecutableImage(const std::string& reference);

// The path of the executable `reference` names, after checking that the file still has the
// pinned digest. INVALID_ARGUMENT when `reference` is not an executable image; NOT_FOUND when the
// file is gone; FAILED_PRECONDITION naming both digests when the file changed since it was
// pinned (a rebuilt binary: deploy again to pin the new one).
Result<std::filesystem::path> OpenExecutableImage(const std::string& reference);

// Whether this machine holds the image `reference` names, as a deployment backend asks it: OK
// when OpenExecutableImage succeeds; NOT_FOUND (with its message) for anything else, since a
// changed or missing executable is a digest this machine does not hold.
Status CheckExecutableImage(const std::string& reference);

}  // namespace br2k::deploy
