// Per-claimant rate limiting of Claim events: anyone may send claims (each costs the claimant
// gas, but a claim makes the manager probe the service and maybe redeploy it), so a claimant gets
// at most `max_per_window` claims acted on per sliding `window`; the excess is ignored.
//
// Thread-safe. Time is passed in (steady clock), so tests need no sleeping.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>

#include "br2k/eth/address.h"

namespace br2k::manager {

class ClaimRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::milliseconds window{std::chrono::minutes(1)};
    int max_per_window = 1;  // >= 1
    // Claimants remembered at most; beyond it the ones whose last admitted claim is oldest are
    // forgotten (memory stays bounded whatever number of accounts send claims).
    size_t max_tracked = 10000;
  };

  explicit ClaimRateLimiter(Options options);

  // True when a claim by `claimant` at `now` may be acted on, and then counts it; false when the
  // claimant already had `max_per_window` admitted claims in (now - window, now]. Rejected
  // claims do not count (a flood does not extend the claimant's ban). `now` should not go
  // backwards; if it does, the claim is judged against the admissions recorded so far.
  bool Admit(const eth::Address& claimant, Clock::time_point now);

  // Claimants currently remembered.
  size_t tracked() const;
  const Options& options() const { return options_; }

 private:
  void Prune(Clock::time_point now);  // requires mu_

  Options options_;
  mutable std::mutex mu_;
  std::map<eth::Address, std::deque<Clock::time_point>> admitted_;  // ascending times
};

}  // namespace br2k::manager
