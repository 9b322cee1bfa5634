// Service locations as the client handles them: every location is kept as a normalized base URL
// "http://host:port" (the form replicas advertise and the registry stores), and a redirect's
// Location header is resolved against the URL that answered.
//
// These functions read external input (registry records, response headers): they never throw,
// and malformed input is INVALID_ARGUMENT with a message naming the offending text. Pure
// functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k::client {

struct Endpoint {
  std::string host;  // "127.0.0.1", or a host name (resolved when connecting)
  int port = 0;      // 1..65535
  // "http://<host>:<port>"
  std::string base_url() const;
};

// Parses a location: "http://host:port", "host:port" (the scheme is optional; the registry may
// hold either), with an optional trailing "/". The scheme and host are case-insensitive and
// come back lower-cased. INVALID_ARGUMENT for: an empty location, another scheme (https is not
// supported: no TLS here), a missing or bad port, user info, IPv6 literals, a path other than
// "/", a query or fragment, whitespace or control characters.
Result<Endpoint> ParseLocation(std::string_view location);

// ParseLocation(location)->base_url().
Result<std::string> NormalizeLocation(std::string_view location);

// Where a redirect points.
struct RedirectTarget {
  std::string base_url;  // normalized "http://host:port"
  std::string target;    // request target to send there ("/logs?x=1")
};

// Resolves a redirect answered by `from_base_url` for a request to `original_target`:
//   - `location` is an absolute URL "http://host:port/path?query": its base and its target
//     (the original target when it has no path);
//   - `location` is an absolute path "/path": the same base, that target;
//   - `location` is empty: INVALID_ARGUMENT.
// Other forms (relative paths, other schemes, malformed URLs, control characters) are
// INVALID_ARGUMENT.
Result<RedirectTarget> ResolveRedirect(std::string_view from_base_url, std::string_view location,
                                       std::string_view original_target);

// True when `target` is a request target the client may send: starts with '/', at most 8 KiB,
// no whitespace, control characters or '#'.
bool ValidTarget(std::string_view target);

}  // namespace br2k::client
