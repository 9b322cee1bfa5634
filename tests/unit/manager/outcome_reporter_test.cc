// The manager's outcome reporter (outcome_reporter.h): signs each action's report, delivers it
// off the caller's thread, retries what failed for a reason that may pass, gives up on a 4xx.
#include "br2k/manager/outcome_reporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace br2k::manager {
namespace {

using namespace std::chrono_literals;

const char* kKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

ManagerAction Action(uint64_t log_index) {
  ManagerAction a;
  a.kind = ManagerAction::Kind::kRedeployed;
  a.service = eth::ServiceIdFromName("logserver");
  a.claim_tx.bytes.fill(0xab);
  a.claim_log_index = log_index;
  a.claim_block = 9;
  a.detail = "a leader serves";
  a.recovery_time = 1500ms;
  return a;
}

struct Sent {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> calls;
};

OutcomeReporterOptions Options(std::shared_ptr<Sent> sent, std::vector<Result<int>> answers) {
  auto left = std::make_shared<std::vector<Result<int>>>(std::move(answers));
  OutcomeReporterOptions o{.registry = *eth::Address::Parse("0x" + std::string(40, '5')),
                           .key = *eth::PrivateKey::FromHex(kKey)};
  o.send = [sent, left](const std::string& path, const std::string& body, Deadline) -> Result<int> {
    std::lock_guard lock(sent->mu);
    sent->calls.emplace_back(path, body);
    if (left->empty()) return 200;
    auto a = left->front();
    left->erase(left->begin());
    return a;
  };
  o.retry_interval = 10ms;
  o.report_timeout = 5s;
  return o;
}

TEST(OutcomeReporter, Report_deliversASignedReportOfTheAction) {
  auto sent = std::make_shared<Sent>();
  OutcomeReporter r(Options(sent, {}));
  r.Report(Action(3));
  ASSERT_TRUE(r.WaitIdle(Deadline::After(10s)));
  EXPECT_EQ(r.counters().delivered, 1u);
  std::lock_guard lock(sent->mu);
  ASSERT_EQ(sent->calls.size(), 1u);
  EXPECT_EQ(sent->calls[0].first,
            "/api/services/" + eth::ServiceIdFromName("logserver").ToHex() + "/outcomes");
  auto report = ParseClaimReport(sent->calls[0].second);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(VerifyClaimReport(*report).ok());
  std::string tx = "0x";
  for (int i = 0; i < 32; ++i) tx += "ab";
  EXPECT_EQ(report->claim, tx + ":3") << "claim key is <tx>:<log index>";
  EXPECT_EQ(report->action, "redeployed");
  EXPECT_EQ(report->recovery_ms, 1500u);
}

TEST(OutcomeReporter, Report_retriesUnavailableAndGivesUpOnARefusal) {
  auto sent = std::make_shared<Sent>();
  OutcomeReporter r(Options(sent, {UnavailableError("no leader"), 503, 200, 403}));
  r.Report(Action(1));  // fails twice, then delivered
  r.Report(Action(2));  // refused: not retried
  ASSERT_TRUE(r.WaitIdle(Deadline::After(10s)));
  auto c = r.counters();
  EXPECT_EQ(c.delivered, 1u);
  EXPECT_EQ(c.refused, 1u);
  EXPECT_EQ(c.dropped, 0u);
  std::lock_guard lock(sent->mu);
  EXPECT_EQ(sent->calls.size(), 4u);
}

TEST(OutcomeReporter, Report_dropsWhatCannotBeDeliveredInTime) {
  auto sent = std::make_shared<Sent>();
  auto o = Options(sent, std::vector<Result<int>>(1000, UnavailableError("down")));
  o.report_timeout = 200ms;
  OutcomeReporter r(o);
  r.Report(Action(1));
  ASSERT_TRUE(r.WaitIdle(Deadline::After(10s)));
  EXPECT_EQ(r.counters().dropped, 1u);
  EXPECT_EQ(r.counters().delivered, 0u);
}

}  // namespace
}  // namespace br2k::manager
