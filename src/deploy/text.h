// Small helpers shared by the deploy sources (not a public API).
#pragma once

#include <filesystem>
#include <optional>
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

// Standard base64 (RFC 4648, '=' padding required, whitespace skipped) decoded; nullopt when `s`
// is not base64. (yaml-cpp 0.7's YAML::DecodeBase64 reads out of bounds on bytes >= 0x80.)
std::optional<std::string> DecodeBase64(std::string_view s);

// `s` without leading and trailing whitespace.
std::string_view Trim(std::string_view s);

}  // namespace br2k::deploy::internal
