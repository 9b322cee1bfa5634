// Classifying a request by its route (method + path pattern).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/replication/application.h"

namespace br2k::replication {

// An immutable table of routes. Thread-safe for concurrent Match() after construction.
class RouteTable {
 public:
  // INVALID_ARGUMENT for an empty method, a pattern that does not start with '/', or a
  // duplicate (method, pattern).
  static Result<RouteTable> Create(std::vector<Route> routes);

  struct Match {
    const Route* route = nullptr;  // points into the table; valid while the table lives
    std::map<std::string, std::string> params;
  };
  // The first route whose method and pattern match; std::nullopt when none does.
  std::optional<Match> Find(std::string_view method, std::string_view path) const;
  // True when some route has this path but another method (for 405 answers).
  bool PathKnown(std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace br2k::replication
