// The cross-process lock on a run directory's state.json.
//
// Every process that changes <run dir>/state.json (`br2k up`, `br2k down`, the manager daemon's
// local deployment backend) does load-modify-save while holding an exclusive flock(2) on
// <run dir>/state.lock, so two writers never lose each other's changes (e.g. the manager
// writing the pids of restarted replicas while `br2k down` stops them). Readers need no lock:
// state.json is replaced atomically (RunState::Save).
//
// Usage:
//   BR2K_ASSIGN_OR_RETURN(auto lock, manager::StateLock::Acquire(run_dir, Deadline::After(10s)));
//   ... RunState::Load, change, Save ...
//   // released when `lock` goes out of scope
// or simply UpdateRunState(run_dir, [](RunState& s) { ...; return Status::Ok(); }, deadline).
#pragma once

#include <filesystem>
#include <functional>

#include "br2k/common/deadline.h"
#include "br2k/common/run_state.h"
#include "br2k/common/status.h"

namespace br2k::manager {

// <run dir>/state.lock (an empty file; only its flock matters).
std::filesystem::path StateLockFile(const std::filesystem::path& run_dir);

// An exclusive flock on <run dir>/state.lock, held until destruction or Release(). Movable, not
// copyable. The lock belongs to this object's open file description, so two StateLocks exclude
// each other even within one process (threads included); it is not re-entrant (acquiring it
// again while holding it waits until the deadline). The kernel releases it if the process dies.
class StateLock {
 public:
  // Creates the lock file if needed (mode 0644) and takes the lock, retrying until `deadline`.
  // NOT_FOUND when `run_dir` does not exist; DEADLINE_EXCEEDED when another holder keeps the lock
  // past the deadline; INTERNAL (with the errno text) for other failures.
  static Result<StateLock> Acquire(const std::filesystem::path& run_dir, Deadline deadline);

  StateLock(StateLock&& other) noexcept;
  StateLock& operator=(StateLock&& other) noexcept;
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  ~StateLock();

  // Releases the lock now (idempotent).
  void Release();
  bool held() const { return fd_ >= 0; }

 private:
  explicit StateLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Load-modify-save of <run dir>/state.json under the StateLock. `modify` runs with the lock held
// and must not block for long; when it returns non-OK nothing is saved and its status is
// returned. Errors: those of StateLock::Acquire, RunState::Load (NOT_FOUND when there is no
// state.json, INVALID_ARGUMENT when it is corrupt) and RunState::Save (INTERNAL).
Status UpdateRunState(const std::filesystem::path& run_dir,
                      const std::function<Status(RunState&)>& modify, Deadline deadline);

}  // namespace br2k::manager
