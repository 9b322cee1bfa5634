#include "br2k/manager/outcome_reporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "br2k/common/log_escape.h"

namespace br2k::manager {

namespace {
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

OutcomeReporter::OutcomeReporter(OutcomeReporterOptions options) : options_(std::move(options)) {
  options_.max_queued = std::max<size_t>(options_.max_queued, 1);
  thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
}

OutcomeReporter::~OutcomeReporter() {
  thread_.request_stop();
  cv_.notify_all();
  thread_.join();
  if (!queue_.empty())
    spdlog::warn("manager: stopping with {} outcome report(s) not delivered", queue_.size());
}

ClaimReport OutcomeReporter::ReportOf(const ManagerAction& a, const eth::Address& registry) {
  ClaimReport r;
  r.registry = Lower(registry.ToChecksum());
  r.service = a.service.ToHex();
  r.claim = a.claim_tx.ToHex() + ":" + std::to_string(a.claim_log_index);
  r.claim_block = a.claim_block;
  r.action = ManagerActionKindName(a.kind);
  r.detail = a.detail;
  if (r.detail.size() > kMaxClaimReportDetail) {
    // Cut at a character boundary: never inside a UTF-8 sequence.
    size_t n = kMaxClaimReportDetail;
    while (n > 0 && (static_cast<unsigned char>(r.detail[n]) & 0xC0) == 0x80) --n;
    r.detail.resize(n);
  }
  r.handled_at_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  r.recovery_ms = static_cast<uint64_t>(std::max<int64_t>(a.recovery_time.count(), 0));
  r.handling_ms = static_cast<uint64_t>(std::max<int64_t>(a.handling_time.count(), 0));
  return r;
}

void OutcomeReporter::Report(const ManagerAction& a) {
  auto signed_report = SignClaimReport(ReportOf(a, options_.registry), options_.key);
  if (!signed_report.ok()) {  // a detail that is not UTF-8: its escaped form instead
    ClaimReport r = ReportOf(a, options_.registry);
    r.detail = EscapeForLog(r.detail, 200).substr(0, kMaxClaimReportDetail);
    signed_report = SignClaimReport(std::move(r), options_.key);
  }
  if (!signed_report.ok()) {
    spdlog::warn("manager: cannot report the outcome of claim {}: {}", a.claim_tx.ToHex(),
                 signed_report.status().ToString());
    std::lock_guard lock(mu_);
    ++counters_.dropped;
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      spdlog::warn("manager: outcome report queue full; dropped the report of claim {}",
                   queue_.front().claim);
      queue_.pop_front();
      ++counters_.dropped;
    }
    queue_.push_back(std::move(*signed_report));
  }
  cv_.notify_all();
}

OutcomeReporterCounters OutcomeReporter::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void OutcomeReporter::Loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    ClaimReport next;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait(lock, stop, [&] { return !queue_.empty(); })) return;
      next = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    Deliver(next, stop);
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

bool OutcomeReporter::WaitIdle(Deadline deadline) {
  std::unique_lock lock(mu_);
  while (!queue_.empty() || busy_) {
    if (deadline.expired()) return false;
    cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(
                           deadline.remaining(), std::chrono::milliseconds(100)));
  }
  return true;
}

void OutcomeReporter::Deliver(const ClaimReport& report, std::stop_token stop) {
  const Deadline deadline = Deadline::After(options_.report_timeout);
  const std::string path = "/api/services/" + report.service + "/outcomes";
  const std::string body = EncodeClaimReport(report);
  std::string last_error = "no attempt";
  while (!stop.stop_requested() && !deadline.expired()) {
    const Deadline attempt = Deadline::After(std::min<std::chrono::steady_clock::duration>(
        deadline.remaining(), options_.attempt_timeout));
    auto status = options_.send ? options_.send(path, body, attempt)
                                : Result<int>(FailedPreconditionError("no sender"));
    if (status.ok() && *status >= 200 && *status < 300) {
      std::lock_guard lock(mu_);
      ++counters_.delivered;
      return;
    }
    if (status.ok() && *status >= 400 && *status < 500) {
      spdlog::warn("manager: the dashboard refused the report of claim {} (HTTP {})", report.claim,
                   *status);
      std::lock_guard lock(mu_);
      ++counters_.refused;
      return;
    }
    last_error = status.ok() ? "HTTP " + std::to_string(*status) : status.status().ToString();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, options_.retry_interval, [] { return false; });
  }
  spdlog::warn("manager: gave up reporting claim {} to the dashboard: {}", report.claim,
               EscapeForLog(last_error));
  std::lock_guard lock(mu_);
  ++counters_.dropped;
}

}  // namespace br2k::manager
