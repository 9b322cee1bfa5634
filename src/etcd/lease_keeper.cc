#include "br2k/etcd/lease_keeper.h"

#include <spdlog/spdlog.h>

namespace br2k::etcd {

LeaseKeeper::LeaseKeeper(Client& client, int64_t lease_id, std::chrono::seconds ttl)
    : client_(client), lease_id_(lease_id), ttl_(ttl), thread_([this] { Run(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::Run() {
  using Clock = std::chrono::steady_clock;
  const auto period = std::max<Clock::duration>(ttl_ / 3, std::chrono::milliseconds(100));
  auto last_ok = Clock::now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto r = client_.LeaseKeepAliveOnce(lease_id_, Deadline::After(period));
    lock.lock();
    if (stop_) break;
    if (r.ok()) {
      last_ok = Clock::now();
      ++refreshes_;
    } else if (r.status().code() == StatusCode::kNotFound || Clock::now() - last_ok >= ttl_) {
      spdlog::warn("lease {:x} lost: {}", lease_id_, r.status().ToString());
      lost_ = true;
      return;
    }
    // After a failure retry sooner; the lease has at most ttl left since the last success.
    cv_.wait_for(lock, r.ok() ? period : period / 4, [this] { return stop_; });
  }
}

}  // namespace br2k::etcd
