// Running a tool to completion and capturing what it printed (buildah, podman, skopeo, ldd), with
// a deadline, behind an interface so that tests can inject a tool's answers and failures.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"

namespace br2k::proc {

struct CommandSpec {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH when it has no '/'
  std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environment
  std::filesystem::path cwd;               // "" = inherit
  std::string input;                       // written to the child's stdin, which is then closed
  size_t max_output = 16 << 20;  // bytes kept of stdout and of stderr each (the rest dropped)
};

struct CommandResult {
  int exit_code = -1;  // >= 0 when it exited
  int signal = 0;      // > 0 when a signal ended it
  std::string out;     // stdout (at most max_output bytes)
  std::string err;     // stderr (at most max_output bytes)
  bool ok() const { return exit_code == 0; }
  // "exit 1: <last `lines` non-empty lines of stderr (or stdout)>" for error messages.
  std::string Summary(size_t lines = 1) const;
};

// Thread-safe.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs the command to completion. The result carries the exit status whatever it is (a
  // non-zero exit is not an error of Run). NOT_FOUND when argv[0] cannot be executed;
  // DEADLINE_EXCEEDED when it did not finish in time (it is then killed, with its process
  // group); INTERNAL for pipe/fork failures.
  virtual Result<CommandResult> Run(const CommandSpec& spec, Deadline deadline) = 0;
};

// The real thing: fork/exec in a new process group, stdout/stderr read through pipes with poll,
// SIGKILL to the group at the deadline. A process-wide singleton is fine.
std::shared_ptr<CommandRunner> PosixCommandRunner();

// Runs `spec` and turns a non-zero exit into an error: the code `on_failure`, naming argv[0]
// and the last lines of stderr. OK results carry the whole CommandResult.
Result<CommandResult> RunChecked(CommandRunner& runner, const CommandSpec& spec, Deadline deadline,
                                 StatusCode on_failure = StatusCode::kInternal);

}  // namespace br2k::proc
