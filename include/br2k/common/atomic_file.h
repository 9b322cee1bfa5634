// Durable, atomic replacement of a small file.
#pragma once

#include <filesystem>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k {

// Writes `contents` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: readers see the old or the new contents, never a mix, and a crash
// after return keeps the new contents. INTERNAL (with the errno text) on failure; `path` is then
// unchanged. Thread-safe for different paths.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace br2k
