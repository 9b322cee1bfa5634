// A live watch on a key range. Created by Client::Watch.
#pragma once

#include <cstdint>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/etcd/types.h"

namespace br2k::etcd {

// Delivers the events of one key range in revision order, exactly once each, even when the
// member it is connected to dies (a real client resumes on another endpoint from the next
// revision). Thread safety: Next() must be called from one thread at a time; Cancel() and
// RequestProgress() may be called from any thread, concurrently with Next().
class Watcher {
 public:
  virtual ~Watcher() = default;

  // Waits for the next batch.
  // Errors:
  //   DEADLINE_EXCEEDED  nothing arrived before `deadline`; the watch is intact, call again.
  //   OUT_OF_RANGE       the requested revision was compacted (compact_revision() tells where);
  //                      terminal.
  //   CANCELLED          Cancel() was called; terminal.
  //   other              the server cancelled the watch (message from etcd); terminal.
  virtual Result<WatchBatch> Next(Deadline deadline) = 0;

  // Asks for a progress notification (an empty batch carrying the current revision).
  virtual void RequestProgress() = 0;

  // Stops the watch; a blocked Next() returns CANCELLED. Idempotent.
  virtual void Cancel() = 0;

  // Revision of the last event delivered (0 if none yet).
  virtual int64_t last_revision() const = 0;

  // After OUT_OF_RANGE: the revision the store was compacted at; 0 otherwise.
  virtual int64_t compact_revision() const = 0;

  // True while the watch has a live stream to some member (always true for the fake unless
  // made unavailable).
  virtual bool connected() const = 0;
};

}  // namespace br2k::etcd
