#include "br2k/manager/claim_rate_limiter.h"

#include <algorithm>

namespace br2k::manager {

ClaimRateLimiter::ClaimRateLimiter(Options options) : options_(options) {
  options_.max_per_window = std::max(options_.max_per_window, 1);
  options_.max_tracked = std::max<size_t>(options_.max_tracked, 1);
}

bool ClaimRateLimiter::Admit(const eth::Address& claimant, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto& times = admitted_[claimant];
  while (!times.empty() && times.front() <= now - options_.window) times.pop_front();
  if (times.size() >= static_cast<size_t>(options_.max_per_window)) return false;
  times.push_back(now);
  if (admitted_.size() > options_.max_tracked) Prune(now);
  return true;
}

size_t ClaimRateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return admitted_.size();
}

void ClaimRateLimiter::Prune(Clock::time_point now) {
  // First drop claimants with nothing inside the window: forgetting them changes no decision.
  for (auto it = admitted_.begin(); it != admitted_.end();) {
    auto& times = it->second;
    while (!times.empty() && times.front() <= now - options_.window) times.pop_front();
    it = times.empty() ? admitted_.erase(it) : std::next(it);
  }
  // Still too many: forget those whose latest admission is oldest.
  while (admitted_.size() > options_.max_tracked) {
    auto oldest = std::min_element(admitted_.begin(), admitted_.end(), [](auto& a, auto& b) {
      return a.second.back() < b.second.back();
    });
    admitted_.erase(oldest);
  }
}

}  // namespace br2k::manager
