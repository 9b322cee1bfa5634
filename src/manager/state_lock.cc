#include "br2k/manager/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace br2k::manager {

namespace {

Status ErrnoError(const std::string& what, int err) {
  return InternalError(what + ": " + std::strerror(err));
}

}  // namespace

std::filesystem::path StateLockFile(const std::filesystem::path& run_dir) {
  return run_dir / "state.lock";
}

Result<StateLock> StateLock::Acquire(const std::filesystem::path& run_dir, Deadline deadline) {
  std::error_code ec;
  if (!std::filesystem::is_directory(run_dir, ec)) {
    return NotFoundError("run directory " + run_dir.string() + " does not exist");
  }
  const auto file = StateLockFile(run_dir);
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open " + file.string(), errno);
  // flock(2) has no timeout: poll with LOCK_NB so the deadline holds.
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return StateLock(fd);
    int err = errno;
    if (err != EWOULDBLOCK && err != EINTR) {
      ::close(fd);
      return ErrnoError("flock " + file.string(), err);
    }
    if (deadline.expired()) {
      ::close(fd);
      return DeadlineExceededError("another process holds " + file.string());
    }
    std::this_thread::sleep_for(std::min<Deadline::Clock::duration>(pause, deadline.remaining()));
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

StateLock::StateLock(StateLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

StateLock::~StateLock() {
  Release();
}

void StateLock::Release() {
  // Closing the only descriptor of the open file description drops the flock.
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

Status UpdateRunState(const std::filesystem::path& run_dir,
                      const std::function<Status(RunState&)>& modify, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto lock, StateLock::Acquire(run_dir, deadline));
  const auto file = run_dir / "state.json";
  BR2K_ASSIGN_OR_RETURN(auto state, RunState::Load(file));
  BR2K_RETURN_IF_ERROR(modify(state));
  return state.Save(file);
}

}  // namespace br2k::manager
