// A point in time by which a blocking call must return. Every blocking call in br2k takes one.
// Deadlines use the monotonic clock. Value type; thread-compatible.
#pragma once

#include <chrono>

namespace br2k {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // A deadline `d` from now.
  template <typename Rep, typename Period>
  static Deadline After(std::chrono::duration<Rep, Period> d) {
    return Deadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(d));
  }
  static Deadline At(Clock::time_point t) { return Deadline(t); }
  // Practically never expires (about 100 years from now).
  static Deadline Infinite() { return Deadline(Clock::now() + std::chrono::hours(24 * 365 * 100)); }

  Clock::time_point when() const { return when_; }
  bool expired() const { return Clock::now() >= when_; }
  // Time left, never negative.
  Clock::duration remaining() const {
    auto left = when_ - Clock::now();
    return left.count() > 0 ? left : Clock::duration::zero();
  }
  // The earlier of this deadline and `d` from now.
  template <typename Rep, typename Period>
  Deadline Cap(std::chrono::duration<Rep, Period> d) const {
    Deadline other = After(d);
    return other.when_ < when_ ? other : *this;
  }
  // The same instant on the system clock (gRPC takes system_clock deadlines).
  std::chrono::system_clock::time_point ToSystem() const {
    return std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(remaining());
  }

 private:
  explicit Deadline(Clock::time_point t) : when_(t) {}
  Clock::time_point when_;
};

}  // namespace br2k
