// Keeps one etcd lease alive from a background thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "br2k/etcd/client.h"

namespace br2k::etcd {

// Refreshes `lease_id` every ttl/3 through Client::LeaseKeepAliveOnce. When the server says the
// lease is gone (NOT_FOUND), or no refresh succeeded for a whole TTL, the lease counts as lost:
// lost() turns true and stays true (as etcd's Session.Done()). The client must outlive the keeper.
// Thread-safe; the destructor stops the thread (it does not revoke the lease).
class LeaseKeeper {
 public:
  LeaseKeeper(Client& client, int64_t lease_id, std::chrono::seconds ttl);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  int64_t lease_id() const { return lease_id_; }
  bool lost() const { return lost_.load(); }
  // Number of successful refreshes so far.
  int64_t refreshes() const { return refreshes_.load(); }

 private:
  void Run();

  Client& client_;
  const int64_t lease_id_;
  const std::chrono::seconds ttl_;
  std::atomic<bool> lost_{false};
  std::atomic<int64_t> refreshes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace br2k::etcd
