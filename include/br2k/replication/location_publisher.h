// The Register role's hook for publishing the leader's location (for example in the on-chain
// service registry). Called by the replica that just won Current_Leader, before it serves.
#pragma once

#include <cstdint>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"

namespace br2k::replication {

// Implementations must be thread-safe and must honour the deadline.
class LocationPublisher {
 public:
  virtual ~LocationPublisher() = default;
  // `url`: the leader's advertised URL. `epoch`: its fencing epoch, the mod_revision of its
  // Current_Leader claim; epochs only grow, so a registry can refuse stale updates.
  // OK: the replica serves. An implementation whose backend is unreachable may return OK and
  // keep retrying in the background (clients still reach the leader through follower redirects)
  // until Withdraw(epoch). A non-OK status makes the replica resign (release Current_Leader and
  // go back to Follower); return it when serving would be wrong, e.g. ABORTED because a newer
  // epoch is already published.
  virtual Status Publish(const std::string& url, int64_t epoch, Deadline deadline) = 0;
  // The replica stopped leading with `epoch` (step-down, resignation, shutdown): stop any
  // background work for it. Must not block for long. Default: nothing to stop.
  virtual void Withdraw(int64_t /*epoch*/) {}
  // Called by the leader at a bounded rate (ReplicaOptions::location_check_interval) while it
  // leads with `epoch` and nothing is pending: checks that the backend still shows `url`, and
  // restores it (publishes again) when someone else changed it at `epoch` or below.
  //  OK: it shows `url`, it was restored (or is being restored in the background), or the
  //      backend could not be read (the next check tries again).
  //  ABORTED: the backend holds another location that cannot be overwritten at `epoch` (a
  //      higher epoch, or `epoch` itself written by another account). The replica resigns; a
  //      fresh claim has a newer epoch and publishes over it.
  // Must honour the deadline. Default: nothing to check.
  virtual Status Check(const std::string& /*url*/, int64_t /*epoch*/, Deadline /*deadline*/) {
    return Status::Ok();
  }
};

// The default: does nothing and succeeds.
class NoopLocationPublisher final : public LocationPublisher {
 public:
  Status Publish(const std::string&, int64_t, Deadline) override { return Status::Ok(); }
};

}  // namespace br2k::replication
