#include "br2k/common/numbers.h"

#include <charconv>
#include <string>

#include "br2k/common/log_escape.h"

namespace br2k {

Result<uint64_t> ParseDecimalU64(std::string_view text, std::string_view what) {
  auto refuse = [&](const char* why) {
    return InvalidArgumentError(std::string(what) + " must be a decimal integer from 0 to " +
                                "18446744073709551615 (" + why + "), got '" +
                                EscapeForLog(text, 64) + "'");
  };
  if (text.empty()) return refuse("empty");
  for (char c : text) {
    if (c < '0' || c > '9') return refuse("digits only");
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) return refuse("too large");
  if (ec != std::errc() || end != text.data() + text.size()) return refuse("not a number");
  return v;
}

}  // namespace br2k
