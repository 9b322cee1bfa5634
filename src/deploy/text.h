// Small helpers shared by the deploy sources (not a public API).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k::deploy::internal {

// `s` in double quotes for an error message: control characters as \xNN, at most 80 characters
// (then "..."), so hostile input cannot forge log lines or flood them.
std::string Quote(std::string_view s);

// The whole file. NOT_FOUND when it does not exist, INTERNAL (with the errno text) otherwise.
// At most `limit` bytes (INVALID_ARGUMENT past that): these files are configuration.
Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t limit = 1 << 20);

// `s` without leading and trailing whitespace.
std::string_view Trim(std::string_view s);

}  // namespace br2k::deploy::internal
