// Every location the client knows for one service, and the order in which it tries them.
//
// Sources: seed URLs (given at start), the registry's location (read with getServiceLocation or
// learned from a NewLocation event, fenced by its epoch), and redirect targets (a follower's
// 307 names the leader). The try order is:
//   1. the preferred location: the latest of "the location that gave the last final answer",
//      "the latest redirect target" and "a registry location that just changed";
//   2. the registry's location;
//   3. redirect targets learned, most recent first (at most `max_learned`);
//   4. seeds, in the order given.
// Duplicates are dropped (locations are compared as normalized base URLs).
//
// Not thread-safe: the owner (ServiceClient) guards it with its own mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::client {

class LocationSet {
 public:
  explicit LocationSet(size_t max_learned = 16) : max_learned_(max_learned) {}

  // Adds a seed. INVALID_ARGUMENT when it is not a location (see ParseLocation).
  Status AddSeed(const std::string& location);

  // The registry's location with its epoch. Accepted when `epoch` >= the epoch held (a stale
  // read or a late event never moves the client back); an accepted location that differs from
  // the one held becomes the preferred location. Returns true when the location changed.
  // `location` is kept as the registry stores it (raw(), for claims) and tried normalized; a
  // location that does not parse is held for claims but not tried (its parse error is
  // returned through `error` when given). `repaired` (a LocationRepaired event: a manager reset
  // the epoch) accepts a lower epoch too.
  bool SetRegistry(const std::string& location, uint64_t epoch, std::string* error = nullptr,
                   bool repaired = false);

  // A redirect target (normalized base URL): it becomes preferred and is remembered.
  void LearnRedirect(const std::string& base_url);
  // The location (normalized base URL) that gave a final answer: it becomes preferred.
  void MarkAnswered(const std::string& base_url);

  // Every known location, normalized, in try order.
  std::vector<std::string> Order() const;
  bool empty() const { return Order().empty(); }

  // The registry's location as stored ("" when none), its normalized form ("" when it does not
  // parse) and its epoch.
  const std::string& registry_raw() const { return registry_raw_; }
  const std::string& registry_url() const { return registry_url_; }
  uint64_t registry_epoch() const { return registry_epoch_; }
  bool has_registry() const { return has_registry_; }
  const std::string& preferred() const { return preferred_; }

 private:
  size_t max_learned_;
  std::string preferred_;
  bool has_registry_ = false;
  std::string registry_raw_;
  std::string registry_url_;
  uint64_t registry_epoch_ = 0;
  std::deque<std::string> learned_;  // most recent first
  std::vector<std::string> seeds_;
};

}  // namespace br2k::client
