#include "br2k/proc/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

extern char** environ;

namespace br2k::proc {
namespace {

Status ErrnoStatus(const std::string& what, int err) {
  return InternalError(what + ": " + std::strerror(err));
}

// True when /proc says the process is a zombie (exited, not yet reaped by its parent).
// The state letter of /proc/<pid>/stat ('R', 'S', 'T', 'Z', ...), or 0 when it cannot be read.
char ProcState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : 0;
}

bool IsZombie(pid_t pid) {
  return ProcState(pid) == 'Z';
}

class Posix final : public Launcher {
 public:
  Result<pid_t> Spawn(const SpawnSpec& spec) override {
    if (spec.argv.empty()) return InvalidArgumentError("spawn: empty argv");
    // Everything the child needs is prepared before fork: only async-signal-safe calls after.
    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char** e = environ; *e; ++e) {
      std::string kv(*e);
      auto eq = kv.find('=');
      if (eq != std::string::npos && spec.env.count(kv.substr(0, eq))) continue;
      env_storage.push_back(std::move(kv));
    }
    for (const auto& [k, v] : spec.env) env_storage.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);

    int log_fd = -1;
    if (!spec.log_file.empty()) {
      log_fd = ::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log_fd < 0) return ErrnoStatus("open log " + spec.log_file.string(), errno);
    }
    // A pipe that closes on exec tells the parent whether exec succeeded.
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      if (log_fd >= 0) ::close(log_fd);
      return ErrnoStatus("pipe", errno);
    }
    const pid_t parent = ::getpid();
    const std::string cwd = spec.cwd.string();
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      ::close(pipefd[0]);
      ::close(pipefd[1]);
      if (log_fd >= 0) ::close(log_fd);
      return ErrnoStatus("fork", err);
    }
    if (pid == 0) {
      if (spec.detach) {
        ::setsid();
      } else {
        ::setpgid(0, 0);  // own group: a terminal's Ctrl-C reaches the parent, which stops us
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
      }
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
        int err = errno;
        (void)!::write(pipefd[1], &err, sizeof err);
        ::_exit(127);
      }
      ::execvpe(argv[0], argv.data(), envp.data());
      int err = errno;
      (void)!::write(pipefd[1], &err, sizeof err);
      ::_exit(127);
    }
    ::close(pipefd[1]);
    if (log_fd >= 0) ::close(log_fd);
    int child_err = 0;
    ssize_t n;
    do {
      n = ::read(pipefd[0], &child_err, sizeof child_err);
    } while (n < 0 && errno == EINTR);
    ::close(pipefd[0]);
    if (n == static_cast<ssize_t>(sizeof child_err)) {
      ::waitpid(pid, nullptr, 0);
      if (child_err == ENOENT || child_err == EACCES) {
        return NotFoundError("cannot execute '" + spec.argv[0] + "': " + std::strerror(child_err));
      }
      return ErrnoStatus("exec " + spec.argv[0], child_err);
    }
    return pid;
  }

  Status Signal(pid_t pid, int sig) override {
    if (pid <= 0) return InvalidArgumentError("signal: bad pid " + std::to_string(pid));
    if (::kill(pid, sig) != 0) {
      if (errno == ESRCH) return NotFoundError("no process " + std::to_string(pid));
      return ErrnoStatus("kill " + std::to_string(pid), errno);
    }
    return Status::Ok();
  }

  bool Alive(pid_t pid) override {
    if (pid <= 0) return false;
    // Reap it if it is our child and has exited.
    int st;
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) {
      Remember(pid, st);
      return false;
    }
    if (::kill(pid, 0) != 0) return errno == EPERM;
    return !IsZombie(pid);
  }

  Result<ExitInfo> Wait(pid_t pid, Deadline deadline) override {
    auto pause = std::chrono::milliseconds(2);
    while (true) {
      int st;
      pid_t r = ::waitpid(pid, &st, WNOHANG);
      if (r == pid) return Remember(pid, st);
      if (r < 0 && errno == ECHILD) {
        // Not our child (or already reaped): poll for its disappearance.
        if (auto known = Recall(pid)) return *known;
        if (::kill(pid, 0) != 0 && errno == ESRCH) return ExitInfo{};
        if (IsZombie(pid)) return ExitInfo{};
      }
      if (deadline.expired()) {
        return DeadlineExceededError("process " + std::to_string(pid) + " still running");
      }
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }

 private:
  ExitInfo Remember(pid_t pid, int st) {
    ExitInfo info;
    if (WIFEXITED(st)) info.exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) info.signal = WTERMSIG(st);
    std::lock_guard lock(mu_);
    reaped_[pid] = info;
    return info;
  }
  std::optional<ExitInfo> Recall(pid_t pid) {
    std::lock_guard lock(mu_);
    auto it = reaped_.find(pid);
    if (it == reaped_.end()) return std::nullopt;
    return it->second;
  }
  std::mutex mu_;
  std::map<pid_t, ExitInfo> reaped_;
};

}  // namespace

std::string ExitInfo::ToString() const {
  if (signal > 0) return std::string("killed by signal ") + ::strsignal(signal);
  if (exit_code >= 0) return "exited with code " + std::to_string(exit_code);
  return "gone";
}

std::shared_ptr<Launcher> PosixLauncher() {
  static std::shared_ptr<Launcher> instance = std::make_shared<Posix>();
  return instance;
}

Status Terminate(Launcher& launcher, pid_t pid, std::chrono::milliseconds grace) {
  if (!launcher.Alive(pid)) {
    (void)launcher.Wait(pid, Deadline::After(std::chrono::milliseconds(10)));
    return Status::Ok();
  }
  launcher.Signal(pid, SIGCONT).ok();  // a stopped process cannot handle SIGTERM
  Status st = launcher.Signal(pid, SIGTERM);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  if (launcher.Wait(pid, Deadline::After(grace)).ok()) return Status::Ok();
  st = launcher.Signal(pid, SIGKILL);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  auto waited = launcher.Wait(pid, Deadline::After(std::chrono::seconds(5)));
  return waited.ok() ? Status::Ok() : waited.status();
}

namespace {

// The kernel's ephemeral range (outbound connections take their local port from it).
std::pair<int, int> EphemeralRange() {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 32768, hi = 60999;
  if (!(f >> lo >> hi) || lo < 1 || hi > 65535 || lo > hi) return {32768, 60999};
  return {lo, hi};
}

// Tries to bind `port` on `addr` (without SO_REUSEADDR, so a port with lingering connections
// is refused too). Returns the errno, 0 when it was free.
int TryBind(sockaddr_in addr, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int err = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

}  // namespace

Status WaitStopped(pid_t pid, Deadline deadline) {
  for (;;) {
    const char s = ProcState(pid);
    if (s == 'T' || s == 't') return Status::Ok();
    if (s == 0 || s == 'Z' || s == 'X') {
      return NotFoundError("process " + std::to_string(pid) + " is gone");
    }
    if (deadline.expired()) {
      return DeadlineExceededError("process " + std::to_string(pid) + " did not stop (state " +
                                   std::string(1, s) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Result<int> FreePort(const std::string& host) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("not an IPv4 address: " + host);
  }
  // Listening ports are picked below the ephemeral range: a port picked from inside it can be
  // taken by any outbound connection (an etcd peer, a gRPC or HTTP client) between the pick and
  // the server's bind, which made a replica of `br2k up` fail to start under a busy test run.
  // Ports are handed out at most once per process, in a random order across processes.
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  const auto [eph_lo, eph_hi] = EphemeralRange();
  int lo = 10000, hi = eph_lo - 1;
  if (hi - lo < 1000) {  // an unusual range setting: fall back above it, or let the kernel pick
    lo = eph_hi + 1;
    hi = 65535;
  }
  if (hi - lo >= 1000) {
    std::lock_guard<std::mutex> lock(mu);
    std::uniform_int_distribution<int> pick(lo, hi);
    for (int tries = 0; tries < 200; ++tries) {
      int port = pick(rng);
      if (handed_out.count(port) != 0) continue;
      int err = TryBind(addr, port);
      if (err == 0) {
        handed_out.insert(port);
        return port;
      }
      if (err != EADDRINUSE && err != EACCES) return ErrnoStatus("bind " + host, err);
    }
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Status st = ErrnoStatus("bind " + host, errno);
    ::close(fd);
    return st;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string TailOfFile(const std::filesystem::path& file, size_t lines, const std::string& indent) {
  std::ifstream in(file);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += indent + l + "\n";
  return out;
}

}  // namespace br2k::proc
