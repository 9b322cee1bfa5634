// Following the logs that match a filter as blocks arrive: each matching log is delivered once,
// in chain order, across polls and reconnections.
//
// Over a SubscribingTransport (WebSocket) the watcher subscribes with eth_subscribe("logs") and
// falls back to polling eth_getLogs whenever the subscription cannot be made or the connection
// drops (resubscribing once it is back). Over HTTP it polls. Not thread-safe: one Run at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <utility>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/rpc_client.h"

namespace br2k::eth {

class LogWatcher {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{250};
    // Deliver a log only when its block has this many blocks on top (0: as soon as seen).
    // Polling only; subscriptions deliver at once and report reorged logs as removed.
    uint64_t confirmations = 0;
    bool use_subscription = true;  // when the transport supports it
    // Bounds each step (a poll, a subscribe): a hung node holds the watcher, and so a Run that
    // is asked to stop, at most this long.
    std::chrono::milliseconds step_timeout{30000};
  };

  // Starts at filter.from_block; filter.to_block is ignored (the watcher follows the head).
  LogWatcher(std::shared_ptr<RpcClient> client, LogFilter filter, Options options);
  LogWatcher(std::shared_ptr<RpcClient> client, LogFilter filter)
      : LogWatcher(std::move(client), std::move(filter), Options()) {}

  // Delivers logs to `on_log` until `stop` is requested (returns OK) or `deadline` passes
  // (DEADLINE_EXCEEDED). Transient node errors are logged and retried; `on_log` returning a
  // non-OK status ends Run with that status. Logs are delivered on the calling thread.
  Status Run(const std::function<Status(const Log&)>& on_log, std::stop_token stop,
             Deadline deadline);

  // The first block not yet fully delivered (where a later Run resumes).
  uint64_t next_block() const { return next_block_; }
  // True while the last Run was receiving pushes through a subscription.
  bool subscribed() const { return subscribed_; }

 private:
  Status PollOnce(const std::function<Status(const Log&)>& on_log, Deadline deadline);

  std::shared_ptr<RpcClient> client_;
  LogFilter filter_;
  Options options_;
  uint64_t next_block_;
  bool subscribed_ = false;
  // The last delivered (block, log index): logs at or before it are not delivered again.
  std::pair<uint64_t, uint64_t> cursor_{0, 0};
  bool has_cursor_ = false;
};

}  // namespace br2k::eth
