// Sends the manager's decisions about claims (ManagerActions) as signed claim reports
// (claim_report.h) to a dashboard, off the manager's threads: Report() only queues; one thread
// signs and sends, retrying each report until `report_timeout`, then drops it with a log line.
// The manager never waits for the dashboard, and a dashboard that is down loses reports, never
// claims (the chain keeps the claims and the state changes; the report is the explanation).
//
// Each report goes to POST /api/services/{service id}/outcomes through `send`, which returns the
// HTTP status of the final answer (the CLI passes a client::ServiceClient of the dashboard, so
// the report is one exactly-once write found through the registry and its redirects).
// A 2xx is delivered; 4xx is refused for good (logged, not retried); anything else is retried.
//
// Thread safety: Report and counters are thread-safe. The destructor stops the thread: the report
// being sent is abandoned when its attempt ends (at most `attempt_timeout`); reports still queued
// are dropped (logged).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/address.h"
#include "br2k/eth/key.h"
#include "br2k/manager/claim_report.h"
#include "br2k/manager/manager.h"

namespace br2k::manager {

struct OutcomeReporterOptions {
  eth::Address registry;
  eth::PrivateKey key;  // the manager's; the report's signer
  // Sends `body` to `path`; returns the final HTTP status, or an error when none came.
  std::function<Result<int>(const std::string& path, const std::string& body, Deadline)> send;
  size_t max_queued = 256;  // beyond this the oldest report is dropped (logged)
  std::chrono::milliseconds report_timeout{std::chrono::seconds(60)};   // per report, all tries
  std::chrono::milliseconds attempt_timeout{std::chrono::seconds(10)};  // per try
  std::chrono::milliseconds retry_interval{std::chrono::seconds(1)};
};

struct OutcomeReporterCounters {
  uint64_t delivered = 0;
  uint64_t refused = 0;  // a 4xx answer
  uint64_t dropped = 0;  // queue full, report_timeout passed, or it could not be signed
};

class OutcomeReporter {
 public:
  explicit OutcomeReporter(OutcomeReporterOptions options);
  ~OutcomeReporter();
  OutcomeReporter(const OutcomeReporter&) = delete;
  OutcomeReporter& operator=(const OutcomeReporter&) = delete;

  // Queues the report of `a` (never blocks on I/O).
  void Report(const ManagerAction& a);
  OutcomeReporterCounters counters() const;
  // Waits until every queued report was delivered, refused or dropped. False at `deadline`.
  bool WaitIdle(Deadline deadline);

  // The unsigned report of `a` for `registry` (exposed for tests).
  static ClaimReport ReportOf(const ManagerAction& a, const eth::Address& registry);

 private:
  void Loop(std::stop_token stop);
  void Deliver(const ClaimReport& report, std::stop_token stop);

  OutcomeReporterOptions options_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<ClaimReport> queue_;     // guarded by mu_
  bool busy_ = false;                 // a report is being delivered; guarded by mu_
  OutcomeReporterCounters counters_;  // guarded by mu_
  std::jthread thread_;               // last: stopped and joined first
};

}  // namespace br2k::manager
