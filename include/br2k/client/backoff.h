// Exponential backoff with jitter between retry rounds.
//
// The delay before retry round n (n >= 1) is min(max, base * multiplier^(n-1)), scaled by a
// random factor in [1 - jitter, 1 + jitter] and clamped to [0, max]. Jitter spreads the retries
// of many clients that failed at the same moment (a leader crash) so they do not arrive at the
// new leader in lock step.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "br2k/common/status.h"

namespace br2k::client {

struct BackoffPolicy {
  std::chrono::milliseconds base{50};
  std::chrono::milliseconds max{2000};
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction, in [0, 1]
};

// INVALID_ARGUMENT unless base > 0, max >= base, multiplier >= 1 and 0 <= jitter <= 1.
Status ValidateBackoff(const BackoffPolicy& p);

// The delay before round `round` (>= 1; 0 is taken as 1) for a uniform draw `u` in [0, 1):
// u = 0.5 gives the unjittered delay. Deterministic; `p` must be valid.
std::chrono::milliseconds BackoffDelay(const BackoffPolicy& p, uint32_t round, double u);

// A backoff sequence with its own random source. Not thread-safe (one per retry loop).
class Backoff {
 public:
  Backoff(BackoffPolicy p, uint64_t seed) : policy_(p), rng_(seed) {}
  // The delay before the next round; each call advances one round.
  std::chrono::milliseconds Next();
  // Back to round 1 (after a success).
  void Reset() { round_ = 0; }
  uint32_t round() const { return round_; }

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  uint32_t round_ = 0;
};

}  // namespace br2k::client
