// The Register role's hook for publishing the leader's location (the on-chain registry update
// is a later issue). Called by the replica that just won Current_Leader, before it serves.
#pragma once

#include <cstdint>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"

namespace br2k::replication {

// Implementations must be thread-safe and must honour the deadline. A non-OK status makes the
// replica give up leadership (it releases Current_Leader and goes back to Follower), so a leader
// never serves from a location nobody can find.
class LocationPublisher {
 public:
  virtual ~LocationPublisher() = default;
  // `url`: the leader's advertised URL. `epoch`: its fencing epoch, the mod_revision of its
  // Current_Leader claim; epochs only grow, so a registry can refuse stale updates.
  virtual Status Publish(const std::string& url, int64_t epoch, Deadline deadline) = 0;
};

// The default: does nothing and succeeds.
class NoopLocationPublisher final : public LocationPublisher {
 public:
  Status Publish(const std::string&, int64_t, Deadline) override { return Status::Ok(); }
};

}  // namespace br2k::replication
