// Starting, signalling and reaping child processes, behind an interface so that tests can
// inject failures (a launcher that refuses to start, a child that dies at once).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"

namespace br2k::proc {

struct SpawnSpec {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH when it has no '/'
  std::filesystem::path log_file;          // stdout and stderr are appended here ("" = inherit)
  std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environment
  std::filesystem::path cwd;               // "" = inherit
  // true: the child gets its own session and outlives this process (`br2k up --detach`).
  // false: the child is sent SIGKILL when this process dies (PR_SET_PDEATHSIG).
  bool detach = false;
};

// How a process ended.
struct ExitInfo {
  int exit_code = -1;  // >= 0 when it exited
  int signal = 0;      // > 0 when a signal killed it
  std::string ToString() const;
};

// Thread-safe.
class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts the process. NOT_FOUND when argv[0] cannot be executed (reported synchronously),
  // INTERNAL for other failures.
  virtual Result<pid_t> Spawn(const SpawnSpec& spec) = 0;
  // Sends `sig`. NOT_FOUND when there is no such process.
  virtual Status Signal(pid_t pid, int sig) = 0;
  // True while `pid` exists and is not a zombie.
  virtual bool Alive(pid_t pid) = 0;
  // Waits until `pid` is gone (reaping it when it is our child). DEADLINE_EXCEEDED otherwise.
  // For a non-child the exit information is unknown (exit_code -1).
  virtual Result<ExitInfo> Wait(pid_t pid, Deadline deadline) = 0;
};

// The real thing: fork/exec with close-on-exec hygiene. A process-wide singleton is fine.
std::shared_ptr<Launcher> PosixLauncher();

// SIGTERM, then SIGKILL when it has not gone after `grace`. OK when the process is gone.
Status Terminate(Launcher& launcher, pid_t pid, std::chrono::milliseconds grace);

// Waits until `pid` is stopped (a SIGSTOP is delivered asynchronously: the process may run on
// for a moment after kill() returned). NOT_FOUND when it is gone; DEADLINE_EXCEEDED.
Status WaitStopped(pid_t pid, Deadline deadline);

// A free TCP port on `host` for a server started later: chosen at random below the kernel's
// ephemeral port range (so no outbound connection can take it meanwhile), checked by a bind,
// and never handed out twice by one process. Another process may still bind it first, which
// callers handle by retrying. Thread-safe.
Result<int> FreePort(const std::string& host = "127.0.0.1");

// The last `lines` lines of a text file, each prefixed with `indent` and ended by a newline
// ("" when it cannot be read): for error messages that point at a child's log.
std::string TailOfFile(const std::filesystem::path& file, size_t lines,
                       const std::string& indent = "");

}  // namespace br2k::proc
