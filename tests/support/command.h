// Running a command line in tests (the br2k CLI as a user types it): exit status and output.
#pragma once

#include <string>
#include <vector>

namespace br2k::testing {

struct CommandResult {
  int status = -1;  // exit status; -1 when killed by a signal or not started
  std::string out;  // stdout (with stderr appended when merged)
  std::string err;  // stderr when not merged
};

// 'text' quoted for sh.
std::string ShellQuote(const std::string& text);

// Runs `command` with sh; stderr is merged into `out`.
CommandResult RunShell(const std::string& command);

// Runs argv (each argument quoted) after `env` ("NAME=value ..." or ""); stdout and stderr
// are kept apart.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& env = "");

// Runs the built `br2k` (BinDir()) with `args` (already quoted for sh) and BR2K_RUN_DIR set to
// `run_dir`; stderr is merged into `out`.
CommandResult RunBr2k(const std::string& run_dir, const std::string& args);

}  // namespace br2k::testing
