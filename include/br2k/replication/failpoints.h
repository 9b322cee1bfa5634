// Crash points for tests: a replica kills itself with SIGKILL at a chosen step of the leader
// pipeline. Disabled unless configured (flag --failpoint or environment BR2K_FAILPOINT), so
// production never crashes on purpose.
//
// Spec syntax: "<name>" or "<name>:<n>" (fire on the n-th time the point is reached, default 1).
// Names: after_append, after_inprocess, mid_apply, after_result, after_broadcast.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "br2k/common/status.h"

namespace br2k::replication {

enum class Failpoint {
  kNone,
  kAfterAppend,
  kAfterInProcess,
  kMidApply,
  kAfterResult,
  kAfterBroadcast,  // a Normal request's recorded transaction was broadcast, not yet settled
};

// Thread-safe.
class Failpoints {
 public:
  Failpoints() = default;
  // INVALID_ARGUMENT for an unknown name or count. "" disables.
  static Result<Failpoint> ParseName(std::string_view name);
  Status Configure(std::string_view spec);
  // Reads BR2K_FAILPOINT when set.
  Status ConfigureFromEnv();
  // Kills the process (SIGKILL, like kill -9) when `p` is the armed point and its count is
  // reached. Otherwise returns.
  void Hit(Failpoint p);
  // For unit tests: instead of dying, count how often the armed point fired.
  void set_test_mode(bool on) { test_mode_ = on; }
  int fired() const { return fired_.load(); }

 private:
  std::atomic<Failpoint> armed_{Failpoint::kNone};
  std::atomic<int> remaining_{0};
  std::atomic<int> fired_{0};
  bool test_mode_ = false;
};

}  // namespace br2k::replication
