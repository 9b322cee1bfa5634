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

// Pushed logs, handed from the transport's reader thread to Run's thread.
struct Inbox {
  std::mutex mu;
  std::condition_variable_any cv;
  std::deque<Log> logs;
  bool disconnected = false;
  std::string subscription;
};

}  // namespace

LogWatcher::LogWatcher(std::shared_ptr<RpcClient> client, LogFilter filter, Options options)
    : client_(std::move(client)),
      filter_(std::move(filter)),
      options_(options),
      next_block_(filter_.from_block) {}

// Delivers logs strictly after the (block, index) cursor, so a log seen both by a poll and by a
// subscription push is delivered once.
#define BR2K_DELIVER(on_log, l)                                       \
  do {                                                                \
    if (!(l).removed && has_cursor_ &&                                \
        std::make_pair((l).block_number, (l).log_index) <= cursor_) { \
      break;                                                          \
    }                                                                 \
    if (!(l).removed) {                                               \
      cursor_ = {(l).block_number, (l).log_index};                    \
      has_cursor_ = true;                                             \
    }                                                                 \
    BR2K_RETURN_IF_ERROR(on_log(l));                                  \
  } while (0)

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
    BR2K_DELIVER(on_log, l);
  }
  next_block_ = safe;
  return Status::Ok();
}

Status LogWatcher::Run(const std::function<Status(const Log&)>& on_log, std::stop_token stop,
                       Deadline deadline) {
  subscribed_ = false;
  auto* sub = options_.use_subscription && options_.confirmations == 0
                  ? dynamic_cast<SubscribingTransport*>(&client_->transport())
                  : nullptr;
  auto inbox = std::make_shared<Inbox>();
  if (sub != nullptr) {
    sub->SetHandlers(
        [inbox](std::string_view params) {
          auto j = nlohmann::json::parse(params, nullptr, false);
          if (!j.is_object() || !j.contains("result")) return;
          auto log = ParseLog(j["result"]);
          if (!log.ok()) return;
          std::lock_guard<std::mutex> l(inbox->mu);
          if (j.value("subscription", "") != inbox->subscription) return;
          inbox->logs.push_back(std::move(*log));
          inbox->cv.notify_all();
        },
        [inbox](const Status&) {
          std::lock_guard<std::mutex> l(inbox->mu);
          inbox->disconnected = true;
          inbox->cv.notify_all();
        });
  }
  struct ClearHandlers {
    SubscribingTransport* t;
    ~ClearHandlers() {
      if (t) t->SetHandlers(nullptr, nullptr);
    }
  } clear{sub};

  int failures = 0;
  while (!stop.stop_requested()) {
    if (deadline.expired()) return DeadlineExceededError("log watcher: deadline passed");
    Deadline step = deadline.Cap(options_.step_timeout);
    Status s = subscribed_ ? Status::Ok() : PollOnce(on_log, step);
    if (s.ok() && sub != nullptr && !subscribed_) {
      // Subscribe, then poll once more to close the gap between the poll and the subscription
      // (the cursor drops what both report).
      if (!sub->Connected()) {
        s = sub->Reconnect(step);
      }
      if (s.ok()) {
        nlohmann::json f = filter_.ToJson();
        f.erase("fromBlock");
        f.erase("toBlock");
        {
          std::lock_guard<std::mutex> l(inbox->mu);
          inbox->logs.clear();
          inbox->disconnected = false;
          inbox->subscription = "";
        }
        auto id = client_->Call("eth_subscribe", nlohmann::json::array({"logs", f}), step);
        if (id.ok() && id->is_string()) {
          {
            std::lock_guard<std::mutex> l(inbox->mu);
            inbox->subscription = id->get<std::string>();
          }
          subscribed_ = true;
          s = PollOnce(on_log, step);
        } else if (!id.ok()) {
          spdlog::info("log watcher: no subscription ({}); polling", id.status().ToString());
          sub = nullptr;  // the node does not do eth_subscribe: poll from now on
        }
      }
    }
    if (!s.ok()) {
      if (!Transient(s)) return s;
      // The node is down or flaky: keep the cursor, back off a little, try again. The HTTP
      // transport reconnects on the next call; the WebSocket one through Reconnect above.
      ++failures;
      if (failures == 1 || failures % 20 == 0) {
        spdlog::warn("log watcher: {} (retrying)", s.ToString());
      }
      SleepFor(options_.poll_interval * std::min(failures, 8), stop, deadline);
      continue;
    }
    failures = 0;
    if (!subscribed_) {
      SleepFor(options_.poll_interval, stop, deadline);
      continue;
    }
    // Subscribed: deliver pushes as they come.
    std::deque<Log> batch;
    bool lost = false;
    {
      std::unique_lock<std::mutex> l(inbox->mu);
      inbox->cv.wait_until(l, stop, deadline.when(),
                           [&] { return !inbox->logs.empty() || inbox->disconnected; });
      batch.swap(inbox->logs);
      lost = inbox->disconnected;
    }
    for (const Log& log : batch) {
      BR2K_DELIVER(on_log, log);
      if (!log.removed && log.block_number >= next_block_) next_block_ = log.block_number;
    }
    if (lost) {
      spdlog::warn("log watcher: subscription lost; polling until the node is back");
      subscribed_ = false;
    }
  }
  return Status::Ok();
}

#undef BR2K_DELIVER

}  // namespace br2k::eth
