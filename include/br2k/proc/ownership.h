// Whether a recorded pid is still the process we started: the one rule every part of br2k uses
// before it signals a pid read from a state file (`br2k up/status/down`, the manager's local
// backend, the embedded container registry). Pids get reused, so a pid alone proves nothing.
//
// The rule (IsOurs): the pid exists and is not a zombie, AND the basename of its executable
// (/proc/<pid>/exe) equals the basename of the executable we started, AND its command line
// (/proc/<pid>/cmdline) equals the argv we started it with exactly (element by element, never a
// substring), AND, when a start time was recorded, its start time (field 22 of /proc/<pid>/stat,
// clock ticks since boot) equals the recorded one. A reused pid has another start time; a record
// without one (state files of older versions) falls back to executable + exact argv. A record
// without argv cannot be verified and is never ours.
//
// Everything reads a proc file system below `proc_root` ("/proc" in production; a fake tree
// <root>/<pid>/{stat,cmdline,exe} in unit tests). Functions never throw and are thread-safe
// (they only read files).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::proc {

inline const std::filesystem::path kProcRoot = "/proc";

// What identifies a process we started.
struct ProcessIdentity {
  pid_t pid = 0;
  // The executable: the resolved /proc/<pid>/exe path (or just its basename). "" = unknown: the
  // basename of argv[0] is expected instead.
  std::string exe;
  std::vector<std::string> argv;  // the command line as started (argv[0] included)
  uint64_t start_time = 0;        // clock ticks since boot; 0 = unknown (not compared)

  bool operator==(const ProcessIdentity&) const = default;
};

// Reads the identity of the running process `pid` (exe resolved, with a " (deleted)" suffix of a
// replaced binary removed). NOT_FOUND when there is no such process or it is a zombie;
// PERMISSION_DENIED when its executable cannot be read (another user's process).
Result<ProcessIdentity> CaptureIdentity(pid_t pid,
                                        const std::filesystem::path& proc_root = kProcRoot);

// The identity to record right after spawning `pid` with `argv`: CaptureIdentity when it shows
// exactly `argv`; otherwise (the process already exited, or `pid` came from a fake launcher) just
// {pid, "", argv, 0}, which IsOurs then checks without a start time. Never fails.
ProcessIdentity IdentityAfterSpawn(pid_t pid, const std::vector<std::string>& argv,
                                   const std::filesystem::path& proc_root = kProcRoot);

// True only when `recorded.pid` still runs what `recorded` describes (the rule above). False for
// pid <= 0, an empty argv, a missing, zombie or unreadable process.
bool IsOurs(const ProcessIdentity& recorded, const std::filesystem::path& proc_root = kProcRoot);

}  // namespace br2k::proc
