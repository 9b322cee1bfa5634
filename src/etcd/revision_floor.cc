#include "br2k/etcd/revision_floor.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace br2k::etcd {

Status RaiseRevisionAbove(Client& client, int64_t revision, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(int64_t now, client.Put(kRevisionFloorKey, "", deadline));
  if (now > revision) return Status::Ok();
  if (revision - now > kMaxRevisionRaise) {
    return FailedPreconditionError(
        "the registry holds epoch " + std::to_string(revision) +
        " from an earlier etcd cluster, too far above this cluster's revision " +
        std::to_string(now) + ": register the service under another name");
  }
  std::atomic<int64_t> reached{now};
  std::mutex mu;
  Status first;
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      while (reached.load() <= revision && !deadline.expired()) {
        auto r = client.Put(kRevisionFloorKey, "", deadline);
        if (!r.ok()) {
          std::lock_guard l(mu);
          if (first.ok()) first = r.status();
          return;
        }
        int64_t seen = reached.load();
        while (*r > seen && !reached.compare_exchange_weak(seen, *r)) {
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  if (!first.ok()) return first;
  if (reached.load() <= revision) {
    return DeadlineExceededError("etcd's revision reached " + std::to_string(reached.load()) +
                                 ", not above " + std::to_string(revision) + ", in time");
  }
  return Status::Ok();
}

}  // namespace br2k::etcd
