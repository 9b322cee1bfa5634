// A Kubernetes Secret as a directory of files, for the runtimes that have no Secret store of
// their own that a container can read as plain files: the process runtime (its pods are local
// processes) and podman (4.3 mounts a Secret's values still base64-encoded, which etcd cannot read
// as a certificate, and ignores a volume's `items`).
//
// The directory is written complete next to its final place and then renamed into it (an
// existing one is moved aside first and removed after), so it never holds a partial set of
// files; it is 0700 and every file 0600 (the `defaultMode` of the manifests is at least as
// strict). Names are plain file names (no '/', '.' or '..'). A directory that a running
// container mounts must not be replaced (the container would keep the removed one): both
// runtimes write a Secret only when it does not exist, and a pod's copy only while the pod is
// not running.
//
// Thread-compatible: callers serialise writes to one directory (both runtimes hold a lock or a
// single thread while applying).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

#include "br2k/common/status.h"

namespace br2k::deploy {

// Writes `secret`'s `data` (base64 values) as files of the directory `dir`, replacing it when it
// exists. INVALID_ARGUMENT naming the file for a non-plain file name or a value that is not
// base64; INTERNAL on I/O errors (nothing is left half-written at `dir`).
Status WriteSecretFiles(const nlohmann::json& secret, const std::filesystem::path& dir);

// Writes into the directory `to` (replaced) the files of the Secret directory `from` that a
// secret volume's `items` ([{"key","path"}]) select, each under its `path`; with no `items`,
// every file. FAILED_PRECONDITION when `from` does not exist or lacks a selected key (as a pod
// that mounts a missing Secret does not start); INVALID_ARGUMENT for a non-plain key or path.
Status WriteSecretItems(const std::filesystem::path& from, const nlohmann::json& items,
                        const std::filesystem::path& to);

}  // namespace br2k::deploy
