#include "command.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_env.h"

namespace br2k::testing {
namespace {

CommandResult Run(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

std::string ShellQuote(const std::string& text) {
  std::string q = "'";
  for (char c : text) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q.push_back(c);
    }
  }
  return q + "'";
}

CommandResult RunShell(const std::string& command) {
  return Run(command + " 2>&1");
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& env) {
  ScratchDir dir("command");
  const auto err_file = dir.path() / "err";
  std::string cmd = env;
  for (const auto& a : argv) cmd += " " + ShellQuote(a);
  CommandResult r = Run(cmd + " 2>" + ShellQuote(err_file.string()));
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

CommandResult RunBr2k(const std::string& run_dir, const std::string& args) {
  return RunShell("BR2K_RUN_DIR=" + ShellQuote(run_dir) + " " +
                  ShellQuote((BinDir() / "br2k").string()) + " " + args);
}

}  // namespace br2k::testing
