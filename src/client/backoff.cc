#include "br2k/client/backoff.h"

#include <algorithm>
#include <cmath>

namespace br2k::client {

Status ValidateBackoff(const BackoffPolicy& p) {
  if (p.base.count() <= 0) return InvalidArgumentError("backoff base must be positive");
  if (p.max < p.base) return InvalidArgumentError("backoff max must be >= base");
  if (!(p.multiplier >= 1.0) || !std::isfinite(p.multiplier)) {
    return InvalidArgumentError("backoff multiplier must be >= 1");
  }
  if (!(p.jitter >= 0.0 && p.jitter <= 1.0)) {
    return InvalidArgumentError("backoff jitter must be in [0, 1]");
  }
  return Status::Ok();
}

std::chrono::milliseconds BackoffDelay(const BackoffPolicy& p, uint32_t round, double u) {
  if (round == 0) round = 1;
  const double max = static_cast<double>(p.max.count());
  // Computed in floating point and capped before it can overflow.
  double d = static_cast<double>(p.base.count());
  for (uint32_t i = 1; i < round && d < max; ++i) d *= p.multiplier;
  d = std::min(d, max);
  u = std::clamp(u, 0.0, 1.0);
  d *= 1.0 + p.jitter * (2.0 * u - 1.0);
  d = std::clamp(d, 0.0, max);
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(d)));
}

std::chrono::milliseconds Backoff::Next() {
  ++round_;
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  return BackoffDelay(policy_, round_, dist(rng_));
}

}  // namespace br2k::client
