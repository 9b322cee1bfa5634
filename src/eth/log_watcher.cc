#include "br2k/eth/log_watcher.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace br2k::eth {
namespace {

// Sleeps up to `d`, waking early on a stop request.
void SleepFor(std::chrono::milliseconds d, std::stop_token stop, Deadline deadline) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> l(mu);
  auto until = std::min(Deadline::Clock::now() + d, deadline.when());
  cv.wait_until(l, stop, until, [] { return false; });
}

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
         s.code() == StatusCode::kInternal || s.code() == StatusCode::kDataLoss;
}

}  // namespace

LogWatcher::LogWatcher(std::shared_ptr<RpcClient> client, LogFilter filter, Options options)
    : client_(std::move(client)),
      filter_(std::move(filter)),
      options_(options),
      next_block_(filter_.from_block) {}

Status LogWatcher::PollOnce(const std::function<Status(const Log&)>& on_log, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(uint64_t head, client_->BlockNumber(deadline));
  if (head + 1 < options_.confirmations) return Status::Ok();
  uint64_t safe = head + 1 - options_.confirmations;  // blocks < safe are deliverable
  if (safe == 0 || next_block_ > safe - 1) return Status::Ok();
  LogFilter f = filter_;
  f.from_block = next_block_;
  f.to_block = safe - 1;
  BR2K_ASSIGN_OR_RETURN(std::vector<Log> logs, client_->GetLogs(f, deadline));
  for (const Log& l : logs) {
    if (l.removed) continue;
    BR2K_RETURN_IF_ERROR(on_log(l));
  }
  next_block_ = safe;
  return Status::Ok();
}

Status LogWatcher::Run(const std::function<Status(const Log&)>& on_log, std::stop_token stop,
                       Deadline deadline) {
  subscribed_ = false;
  int failures = 0;
  while (!stop.stop_requested()) {
    if (deadline.expired()) return DeadlineExceededError("log watcher: deadline passed");
    Status s = PollOnce(on_log, deadline.Cap(std::chrono::seconds(30)));
    if (!s.ok()) {
      if (!Transient(s)) return s;
      // The node is down or flaky: keep the cursor, back off a little, try again. The HTTP
      // transport reconnects on the next call.
      ++failures;
      if (failures == 1 || failures % 20 == 0) {
        spdlog::warn("log watcher: {} (retrying)", s.ToString());
      }
      SleepFor(options_.poll_interval * std::min(failures, 8), stop, deadline);
      continue;
    }
    failures = 0;
    SleepFor(options_.poll_interval, stop, deadline);
  }
  return Status::Ok();
}

}  // namespace br2k::eth
