#include "br2k/proc/ownership.h"

#include <charconv>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string_view>

namespace br2k::proc {
namespace {

std::filesystem::path PidDir(const std::filesystem::path& root, pid_t pid) {
  return root / std::to_string(pid);
}

std::optional<std::string> ReadAll(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

struct StatFields {
  char state = 0;
  uint64_t start_time = 0;
};

// /proc/<pid>/stat: "pid (comm) S ppid ...". comm may hold spaces and parentheses, so the fields
// are counted from the last ')'; the state is field 3 and starttime field 22.
std::optional<StatFields> ReadStat(const std::filesystem::path& root, pid_t pid) {
  auto text = ReadAll(PidDir(root, pid) / "stat");
  if (!text) return std::nullopt;
  auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text->substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3
  for (std::string f; rest >> f && fields.size() < 20;) fields.push_back(f);
  if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
  StatFields out;
  out.state = fields[0][0];
  const std::string& st = fields[19];
  auto [end, ec] = std::from_chars(st.data(), st.data() + st.size(), out.start_time);
  if (ec != std::errc() || end != st.data() + st.size()) return std::nullopt;
  return out;
}

// NUL-separated arguments; a last argument without its NUL counts too.
std::optional<std::vector<std::string>> ReadCmdline(const std::filesystem::path& root, pid_t pid) {
  auto raw = ReadAll(PidDir(root, pid) / "cmdline");
  if (!raw) return std::nullopt;
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < raw->size(); ++i) {
    if ((*raw)[i] == '\0') {
      args.push_back(raw->substr(start, i - start));
      start = i + 1;
    }
  }
  if (start < raw->size()) args.push_back(raw->substr(start));
  return args;
}

// The resolved executable, without the " (deleted)" the kernel appends once the file was
// replaced (a rebuilt binary still runs the process we started).
std::optional<std::string> ReadExe(const std::filesystem::path& root, pid_t pid) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink(PidDir(root, pid) / "exe", ec);
  if (ec) return std::nullopt;
  std::string exe = target.string();
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.ends_with(kDeleted)) exe.resize(exe.size() - kDeleted.size());
  return exe;
}

std::string Basename(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

bool Running(const StatFields& st) {
  return st.state != 'Z' && st.state != 'X' && st.state != 'x';
}

}  // namespace

Result<ProcessIdentity> CaptureIdentity(pid_t pid, const std::filesystem::path& proc_root) {
  if (pid <= 0) return InvalidArgumentError("no process has pid " + std::to_string(pid));
  auto st = ReadStat(proc_root, pid);
  if (!st || !Running(*st)) return NotFoundError("no process " + std::to_string(pid));
  auto exe = ReadExe(proc_root, pid);
  if (!exe) {
    return PermissionDeniedError("cannot read the executable of process " + std::to_string(pid));
  }
  auto argv = ReadCmdline(proc_root, pid);
  if (!argv) return NotFoundError("no process " + std::to_string(pid));
  return ProcessIdentity{
      .pid = pid, .exe = *exe, .argv = std::move(*argv), .start_time = st->start_time};
}

ProcessIdentity IdentityAfterSpawn(pid_t pid, const std::vector<std::string>& argv,
                                   const std::filesystem::path& proc_root) {
  auto seen = CaptureIdentity(pid, proc_root);
  if (seen.ok() && seen->argv == argv) return *seen;
  return ProcessIdentity{.pid = pid, .exe = "", .argv = argv, .start_time = 0};
}

bool IsOurs(const ProcessIdentity& recorded, const std::filesystem::path& proc_root) {
  if (recorded.pid <= 0 || recorded.argv.empty()) return false;
  auto st = ReadStat(proc_root, recorded.pid);
  if (!st || !Running(*st)) return false;
  if (recorded.start_time != 0 && st->start_time != recorded.start_time) return false;
  auto exe = ReadExe(proc_root, recorded.pid);
  const std::string expected = Basename(recorded.exe.empty() ? recorded.argv[0] : recorded.exe);
  if (!exe || expected.empty() || Basename(*exe) != expected) return false;
  auto argv = ReadCmdline(proc_root, recorded.pid);
  return argv && *argv == recorded.argv;
}

}  // namespace br2k::proc
