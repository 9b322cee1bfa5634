// Raising an etcd cluster's revision above a floor. br2k's fencing epochs are etcd revisions
// (a leader's lease revision), and the registry contract only accepts a location with an epoch
// at or above the one it holds. A registry entry that outlived its etcd cluster (a fresh
// deployment reusing the registry, a recovery onto empty volumes) holds an epoch the new cluster
// has not reached, so no new leader could publish: the replicas raise the revision above the
// registry's epoch first (br2k-logserver --revision-floor).
//
// Thread-safe as the client is.
#pragma once

#include <cstdint>
#include <string_view>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/etcd/client.h"

namespace br2k::etcd {

// How far RaiseRevisionAbove goes: puts are cheap, but 50,000 of them are about the most a start
// should wait for.
inline constexpr int64_t kMaxRevisionRaise = 50'000;

// The key written (empty values) to move the revision.
inline constexpr std::string_view kRevisionFloorKey = "/br2k-up/revision-floor";

// Writes kRevisionFloorKey (from a few threads, so etcd batches them) until the cluster's
// revision is above `revision`; OK at once when it already is. FAILED_PRECONDITION when it is
// more than kMaxRevisionRaise away (register the service under another name instead);
// DEADLINE_EXCEEDED; the client's errors.
Status RaiseRevisionAbove(Client& client, int64_t revision, Deadline deadline);

}  // namespace br2k::etcd
