// Splitting endpoint URLs (private to src/eth).
#pragma once

#include <string>

#include "br2k/common/status.h"

namespace br2k::eth::internal {

struct Url {
  std::string scheme;  // "http", "ws", ...
  std::string host;
  std::string port;
  std::string target;  // "/" when absent
};

inline Result<Url> ParseUrl(const std::string& url) {
  auto sep = url.find("://");
  if (sep == std::string::npos) return InvalidArgumentError("invalid URL '" + url + "': no scheme");
  Url u;
  u.scheme = url.substr(0, sep);
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (hostport.empty()) return InvalidArgumentError("invalid URL '" + url + "': no host");
  if (hostport[0] == '[') {  // [::1]:8545
    auto close = hostport.find(']');
    if (close == std::string::npos) return InvalidArgumentError("invalid URL '" + url + "'");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':')
      u.port = hostport.substr(close + 2);
  } else {
    auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) u.port = hostport.substr(colon + 1);
  }
  if (u.port.empty()) u.port = (u.scheme == "https" || u.scheme == "wss") ? "443" : "80";
  for (char c : u.port) {
    if (c < '0' || c > '9') return InvalidArgumentError("invalid URL '" + url + "': bad port");
  }
  return u;
}

}  // namespace br2k::eth::internal
