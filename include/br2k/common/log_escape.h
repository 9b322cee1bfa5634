// Untrusted text (from the chain, from requests, from peers) made safe for one log line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace br2k {

// `s` as one printable log line: control characters are written as escapes (\n \r \t \\ and
// \xHH for the rest, ESC as \x1b), and so are bytes that are not well-formed UTF-8; well-formed
// non-ASCII text is kept except the characters that change how a line reads (C1 controls, line
// and paragraph separators, bidirectional overrides and isolates), written as \u{XXXX}. The
// result is at most about `max_chars` characters: longer text is cut at a character boundary and
// ends with "...(N bytes)", N being the size of `s`. So a forged newline, a terminal escape or a
// 50 KB reason cannot reach the log as such. Pure function; thread-safe.
std::string EscapeForLog(std::string_view s, size_t max_chars = 256);

}  // namespace br2k
