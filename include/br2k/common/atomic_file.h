// Durable, atomic replacement of a small file.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k {

// Writes `contents` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: readers see the old or the new contents, never a mix, and a crash
// after return keeps the new contents. The file gets `mode` (less the umask) from its creation
// on: a secret written with 0600 is never readable by others, not even for a moment. INTERNAL
// (with the errno text) on failure; `path` is then unchanged. Thread-safe for different paths.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode = 0644);

}  // namespace br2k
