#include "br2k/proc/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace br2k::proc {

std::string CommandResult::Summary(size_t lines) const {
  std::string s = signal > 0 ? "killed by signal " + std::to_string(signal)
                             : "exit " + std::to_string(exit_code);
  // The last non-empty lines of stderr (or stdout) say what went wrong in most tools.
  const std::string& text = err.empty() ? out : err;
  std::vector<std::string> tail;
  size_t end = text.size();
  while (tail.size() < lines && end > 0) {
    size_t nl = text.rfind('\n', end - 1);
    size_t begin = nl == std::string::npos ? 0 : nl + 1;
    std::string line = text.substr(begin, end - begin);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) {
      if (line.size() > 400) line = line.substr(0, 400) + "...";
      tail.insert(tail.begin(), line);
    }
    if (nl == std::string::npos) break;
    end = nl;
  }
  for (size_t i = 0; i < tail.size(); ++i) s += (i == 0 ? ": " : " | ") + tail[i];
  return s;
}

namespace {

Status Errno(const char* what) {
  return Status(StatusCode::kInternal, std::string(what) + ": " + std::strerror(errno));
}

void SetNonBlocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

class PosixRunner final : public CommandRunner {
 public:
  Result<CommandResult> Run(const CommandSpec& spec, Deadline deadline) override {
    if (spec.argv.empty()) return Status(StatusCode::kInvalidArgument, "empty command");
    int in[2], out[2], err[2], exec_err[2];
    if (pipe2(in, O_CLOEXEC) != 0) return Errno("pipe");
    if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe");
    if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe");
    if (pipe2(exec_err, O_CLOEXEC) != 0) return Errno("pipe");

    // Everything the child needs is built before fork (no allocation after it).
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos && spec.env.count(kv.substr(0, eq))) continue;
      env_strings.push_back(std::move(kv));
    }
    for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string cwd = spec.cwd.string();

    pid_t pid = fork();
    if (pid < 0) return Errno("fork");
    if (pid == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
        int e = errno;
        (void)!write(exec_err[1], &e, sizeof e);
        _exit(127);
      }
      execvpe(argv[0], argv.data(), envp.data());
      int e = errno;
      (void)!write(exec_err[1], &e, sizeof e);
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    close(exec_err[1]);
    int child_errno = 0;
    ssize_t got = read(exec_err[0], &child_errno, sizeof child_errno);
    close(exec_err[0]);
    if (got == sizeof child_errno) {
      close(in[1]);
      close(out[0]);
      close(err[0]);
      waitpid(pid, nullptr, 0);
      return Status(child_errno == ENOENT || child_errno == EACCES ? StatusCode::kNotFound
                                                                   : StatusCode::kInternal,
                    "cannot run " + spec.argv[0] + ": " + std::strerror(child_errno));
    }

    CommandResult result;
    SetNonBlocking(in[1]);
    SetNonBlocking(out[0]);
    SetNonBlocking(err[0]);
    size_t written = 0;
    int in_fd = in[1];
    if (spec.input.empty()) {
      close(in_fd);
      in_fd = -1;
    }
    int out_fd = out[0], err_fd = err[0];
    bool timed_out = false;
    char buf[65536];
    while (out_fd >= 0 || err_fd >= 0) {
      pollfd fds[3];
      int n = 0;
      if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
      if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
      if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.remaining());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      int r = poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      if (r < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        if (!fds[i].revents) continue;
        int fd = fds[i].fd;
        if (fd == in_fd) {
          ssize_t w = write(fd, spec.input.data() + written, spec.input.size() - written);
          if (w > 0) written += static_cast<size_t>(w);
          if (w < 0 && errno != EAGAIN) written = spec.input.size();
          if (written >= spec.input.size()) {
            close(in_fd);
            in_fd = -1;
          }
          continue;
        }
        ssize_t k = read(fd, buf, sizeof buf);
        if (k > 0) {
          std::string& dst = fd == out_fd ? result.out : result.err;
          size_t room = spec.max_output > dst.size() ? spec.max_output - dst.size() : 0;
          dst.append(buf, std::min(static_cast<size_t>(k), room));
        } else if (k == 0 || errno != EAGAIN) {
          close(fd);
          (fd == out_fd ? out_fd : err_fd) = -1;
        }
      }
    }
    if (in_fd >= 0) close(in_fd);
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
    if (timed_out) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return Status(StatusCode::kDeadlineExceeded,
                    spec.argv[0] + " did not finish before its deadline (killed)");
    }
    // Output closed: the process has exited or closed its pipes; wait for it within the
    // deadline too (a tool may close stdout and keep running).
    int wstatus = 0;
    while (true) {
      pid_t w = waitpid(pid, &wstatus, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) return Errno("waitpid");
      if (deadline.expired()) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        return Status(StatusCode::kDeadlineExceeded,
                      spec.argv[0] + " did not exit before its deadline (killed)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(wstatus)) result.exit_code = WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) result.signal = WTERMSIG(wstatus);
    return result;
  }
};

}  // namespace

std::shared_ptr<CommandRunner> PosixCommandRunner() {
  static auto runner = std::make_shared<PosixRunner>();
  return runner;
}

Result<CommandResult> RunChecked(CommandRunner& runner, const CommandSpec& spec, Deadline deadline,
                                 StatusCode on_failure) {
  auto r = runner.Run(spec, deadline);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    std::string name = spec.argv.empty() ? "command" : spec.argv[0];
    std::string verb = spec.argv.size() > 1 ? " " + spec.argv[1] : "";
    return Status(on_failure, name + verb + " failed (" + r->Summary() + ")");
  }
  return r;
}

}  // namespace br2k::proc
