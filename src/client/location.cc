#include "br2k/client/location.h"

#include <cctype>
#include <charconv>

namespace br2k::client {
namespace {

std::string Quote(std::string_view s) {
  // Keep messages printable and short even for hostile input.
  std::string out;
  for (char c : s.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > 200) out += "...";
  return "'" + out + "'";
}

bool HasControlOrSpace(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return true;
  }
  return false;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && Lower(s.substr(0, prefix.size())) == prefix;
}

bool ValidHost(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

// "host:port" with nothing else.
Result<Endpoint> ParseAuthority(std::string_view auth, std::string_view whole) {
  if (auth.find('@') != std::string_view::npos) {
    return InvalidArgumentError("location " + Quote(whole) + ": user info is not supported");
  }
  if (!auth.empty() && auth.front() == '[') {
    return InvalidArgumentError("location " + Quote(whole) + ": IPv6 addresses are not supported");
  }
  auto colon = auth.rfind(':');
  if (colon == std::string_view::npos) {
    return InvalidArgumentError("location " + Quote(whole) + ": expected host:port");
  }
  std::string_view host = auth.substr(0, colon);
  std::string_view port = auth.substr(colon + 1);
  if (!ValidHost(host)) {
    return InvalidArgumentError("location " + Quote(whole) + ": bad host");
  }
  int p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p <= 0 ||
      p > 65535) {
    return InvalidArgumentError("location " + Quote(whole) + ": bad port");
  }
  return Endpoint{Lower(host), p};
}

// Splits "scheme://authority/rest" (scheme optional) into authority and rest ("" or "/...").
Status SplitUrl(std::string_view url, std::string_view& auth, std::string_view& rest) {
  std::string_view u = url;
  auto sep = u.find("://");
  if (sep != std::string_view::npos) {
    std::string scheme = Lower(u.substr(0, sep));
    if (scheme != "http") {
      return InvalidArgumentError("location " + Quote(url) + ": scheme " + Quote(scheme) +
                                  " is not supported (only http)");
    }
    u.remove_prefix(sep + 3);
  }
  auto slash = u.find_first_of("/?#");
  auth = u.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : u.substr(slash);
  return Status::Ok();
}

}  // namespace

std::string Endpoint::base_url() const {
  return "http://" + host + ":" + std::to_string(port);
}

Result<Endpoint> ParseLocation(std::string_view location) {
  if (location.empty()) return InvalidArgumentError("empty location");
  if (HasControlOrSpace(location)) {
    return InvalidArgumentError("location " + Quote(location) +
                                ": contains whitespace or control characters");
  }
  std::string_view auth, rest;
  BR2K_RETURN_IF_ERROR(SplitUrl(location, auth, rest));
  if (!rest.empty() && rest != "/") {
    return InvalidArgumentError("location " + Quote(location) +
                                ": a location is http://host:port (no path, query or fragment)");
  }
  return ParseAuthority(auth, location);
}

Result<std::string> NormalizeLocation(std::string_view location) {
  BR2K_ASSIGN_OR_RETURN(Endpoint e, ParseLocation(location));
  return e.base_url();
}

bool ValidTarget(std::string_view target) {
  if (target.empty() || target.front() != '/' || target.size() > 8192) return false;
  if (HasControlOrSpace(target)) return false;
  return target.find('#') == std::string_view::npos;
}

Result<RedirectTarget> ResolveRedirect(std::string_view from_base_url, std::string_view location,
                                       std::string_view original_target) {
  if (location.empty()) return InvalidArgumentError("redirect without a location");
  if (HasControlOrSpace(location)) {
    return InvalidArgumentError("redirect location " + Quote(location) +
                                ": contains whitespace or control characters");
  }
  if (location.front() == '/') {
    if (location.size() > 1 && location[1] == '/') {
      return InvalidArgumentError("redirect location " + Quote(location) +
                                  ": scheme-relative URLs are not supported");
    }
    if (!ValidTarget(location)) {
      return InvalidArgumentError("redirect location " + Quote(location) + ": bad target");
    }
    BR2K_ASSIGN_OR_RETURN(std::string base, NormalizeLocation(from_base_url));
    return RedirectTarget{base, std::string(location)};
  }
  if (!StartsWithNoCase(location, "http://")) {
    return InvalidArgumentError("redirect location " + Quote(location) +
                                ": expected http://host:port/path or /path");
  }
  std::string_view auth, rest;
  BR2K_RETURN_IF_ERROR(SplitUrl(location, auth, rest));
  BR2K_ASSIGN_OR_RETURN(Endpoint e, ParseAuthority(auth, location));
  std::string target;
  if (rest.empty() || rest.front() != '/') {
    // "http://h:p" or "http://h:p?x": no path; keep the original request.
    if (!rest.empty()) {
      return InvalidArgumentError("redirect location " + Quote(location) + ": bad target");
    }
    target = std::string(original_target);
  } else {
    target = std::string(rest);
  }
  if (!ValidTarget(target)) {
    return InvalidArgumentError("redirect location " + Quote(location) + ": bad target");
  }
  return RedirectTarget{e.base_url(), std::move(target)};
}

}  // namespace br2k::client
