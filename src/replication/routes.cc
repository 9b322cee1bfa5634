#include "br2k/replication/routes.h"

#include <set>
#include <utility>

namespace br2k::replication {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsParam(std::string_view seg) {
  return seg.size() >= 3 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

const char* RequestTypeName(RequestType t) {
  switch (t) {
    case RequestType::kReplication:
      return "Replication";
    case RequestType::kNormal:
      return "Normal";
    case RequestType::kExternalTxn:
      return "External_TXN";
    case RequestType::kReadOnly:
      return "ReadOnly";
  }
  return "?";
}

Result<RequestType> ParseRequestType(std::string_view name) {
  for (auto t : {RequestType::kReplication, RequestType::kNormal, RequestType::kExternalTxn,
                 RequestType::kReadOnly}) {
    if (name == RequestTypeName(t)) return t;
  }
  return InvalidArgumentError("unknown request type '" + std::string(name) + "'");
}

Result<RouteTable> RouteTable::Create(std::vector<Route> routes) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : routes) {
    if (r.method.empty()) return InvalidArgumentError("route with an empty method");
    if (r.pattern.empty() || r.pattern[0] != '/') {
      return InvalidArgumentError("route pattern '" + r.pattern + "' must start with '/'");
    }
    if (!seen.insert({r.method, r.pattern}).second) {
      return InvalidArgumentError("duplicate route " + r.method + " " + r.pattern);
    }
  }
  RouteTable t;
  t.routes_ = std::move(routes);
  return t;
}

std::optional<RouteTable::Match> RouteTable::Find(std::string_view method,
                                                  std::string_view path) const {
  auto segs = Segments(path);
  for (const auto& r : routes_) {
    if (r.method != method) continue;
    auto pat = Segments(r.pattern);
    if (pat.size() != segs.size()) continue;
    Match m;
    bool ok = true;
    for (size_t i = 0; i < pat.size() && ok; ++i) {
      if (IsParam(pat[i])) {
        m.params[std::string(pat[i].substr(1, pat[i].size() - 2))] = std::string(segs[i]);
      } else {
        ok = pat[i] == segs[i];
      }
    }
    if (ok) {
      m.route = &r;
      return m;
    }
  }
  return std::nullopt;
}

bool RouteTable::PathKnown(std::string_view path) const {
  for (const auto& r : routes_) {
    if (Find(r.method, path)) return true;
  }
  return false;
}

}  // namespace br2k::replication
