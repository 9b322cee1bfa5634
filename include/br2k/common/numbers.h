// Strict parsing of numbers given by people (command-line flags): no saturation, no wrap-around.
#pragma once

#include <cstdint>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k {

// `text` as an unsigned 64-bit integer: decimal digits only (no sign, no spaces, no "0x"), at most
// 18446744073709551615. INVALID_ARGUMENT otherwise; the message names `what` and quotes the text
// (escaped and capped). Pure function; thread-safe.
Result<uint64_t> ParseDecimalU64(std::string_view text, std::string_view what);

}  // namespace br2k
