// etcd fills by bytes (hardening item 10): 20 requests of 1 MiB grew etcd from 1.4 MB to
// 22.5 MB, and a log trimmed only by count (10,000 entries) let about 2,000 large requests reach
// etcd's quota, where etcd refuses every write. A real one-member etcd with a small
// --quota-backend-bytes and a real br2k-logserver process:
//  - with trimming by bytes, more bytes than the quota pass through and etcd stays below it;
//  - with trimming off, the quota is reached: the status warns before, the refused request gets
//    a clear 503 ETCD_NOSPACE, and after the operator's recovery (a larger quota, the alarm
//    disarmed) every acknowledged request is there once and the refused one, retried with its
//    (client, seq), once.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "br2k/etcd/grpc_client.h"
#include "br2k/http/client.h"
#include "br2k/replication/keys.h"
#include "logserver_fleet.h"
#include "test_env.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
constexpr char kService[] = "logs";
constexpr uint64_t kMiB = 1 << 20;
constexpr size_t kPad = 512 * 1024;  // bytes of padding per request

std::string QuotaFlag(uint64_t bytes) {
  return "--quota-backend-bytes=" + std::to_string(bytes);
}

class EtcdQuotaIT : public ::testing::Test {
 protected:
  // One etcd member with `quota` bytes and one br2k-logserver node with `args`.
  void StartFleet(uint64_t quota, std::vector<std::string> args) {
    auto base = testing::FastFailoverArgs();
    base.insert(base.end(), args.begin(), args.end());
    base.push_back("--max-body=" + std::to_string(2 * kMiB));
    auto f = testing::LogserverFleet::Create({.dir = dir_.path(),
                                              .nodes = 1,
                                              .service = kService,
                                              .args = base,
                                              .etcd_args = {QuotaFlag(quota)}},
                                             Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    auto e = etcd::GrpcClient::Create({.endpoints = fleet_->cluster().client_urls()});
    ASSERT_TRUE(e.ok()) << e.status();
    etcd_ = std::move(e).value();
    Status s = fleet_->Start(0);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_EQ(fleet_->WaitLeader({0}, Deadline::After(40s)), 0);
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  // POST /logs {"user": user, "pad": <kPad bytes>} as (client, seq).
  Result<http::ClientResponse> PostBig(const std::string& user, const std::string& client,
                                       uint64_t seq) {
    std::string body = json{{"user", user}, {"pad", std::string(kPad, 'x')}}.dump();
    return http::Call(fleet_->Url(0), "POST", "/logs", body, testing::SessionHeaders(client, seq),
                      Deadline::After(15s));
  }

  json StatusJson() {
    auto r = http::Call(fleet_->Url(0), "GET", "/status", "", {}, Deadline::After(3s));
    if (!r.ok() || r->status != 200) return json::object();
    json j = json::parse(r->body, nullptr, false);
    return j.is_object() ? j : json::object();
  }

  etcd::MemberStatus Member() {
    auto st = etcd_->EndpointStatus(fleet_->cluster().client_urls()[0], Deadline::After(5s));
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : etcd::MemberStatus{};
  }

  // Polls the node's /status until `pred` holds (bounded); the last status seen.
  template <typename Pred>
  json WaitStatus(Pred pred, std::chrono::milliseconds bound) {
    const auto until = Deadline::After(bound);
    json j = StatusJson();
    for (int i = 0; i < 400 && !pred(j) && !until.expired(); ++i) {
      std::this_thread::sleep_for(50ms);
      j = StatusJson();
    }
    return j;
  }

  // The users logged, from the leader's GET /logs.
  std::vector<std::string> Logs() {
    auto r = http::Call(fleet_->Url(0), "GET", "/logs", "", {}, Deadline::After(10s));
    EXPECT_TRUE(r.ok() && r->status == 200)
        << (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().ToString());
    if (!r.ok() || r->status != 200) return {};
    return json::parse(r->body).at("logs").get<std::vector<std::string>>();
  }

  testing::ScratchDir dir_{"etcd-quota"};
  std::unique_ptr<testing::LogserverFleet> fleet_;
  std::unique_ptr<etcd::GrpcClient> etcd_;
};

// The regression: a log trimmed by count alone (here it never is: 100000 entries) let large
// requests fill etcd up to its quota. Trimmed by bytes, 48 MiB of requests pass through a
// 32 MiB etcd, which stays below its quota and never refuses a write.
TEST_F(EtcdQuotaIT, LargeRequestsNoLongerFillEtcdToItsQuota) {
  constexpr uint64_t kQuota = 32 * kMiB;
  constexpr uint64_t kTrimBytes = 4 * kMiB;
  ASSERT_NO_FATAL_FAILURE(
      StartFleet(kQuota, {"--trim-threshold=100000", "--trim-bytes=" + std::to_string(kTrimBytes),
                          "--trim-interval-ms=100", "--etcd-quota-bytes=" + std::to_string(kQuota),
                          "--etcd-status-interval-ms=200"}));
  constexpr int kRequests = 96;  // 96 x 512 KiB = 48 MiB, 1.5 x the quota
  static_assert(kRequests * kPad > kQuota);
  int64_t max_db = 0;
  for (int k = 1; k <= kRequests; ++k) {
    auto r = PostBig("u" + std::to_string(k), "big", static_cast<uint64_t>(k));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << "request " << k << ": " << r->body;
    max_db = std::max(max_db, Member().db_size);
  }
  // Every trim leaves at most what came in since: the retained bytes fall below the bound.
  json st =
      WaitStatus([&](const json& j) { return j.value("log_bytes", kQuota) <= kTrimBytes; }, 10s);
  EXPECT_LE(st.value("log_bytes", kQuota), kTrimBytes) << st.dump();
  EXPECT_GT(st.value("trims", 0), 0) << st.dump();
  EXPECT_FALSE(st.value("etcd_nospace", true)) << st.dump();
  EXPECT_EQ(st.value("etcd_nospace_refusals", 1), 0) << st.dump();
  EXPECT_GT(st.value("etcd_db_size", 0), 0) << "the replica reads etcd's db size: " << st.dump();
  const uint64_t start = st.value("log_start", 1);
  EXPECT_GT(start, 1u) << "trimmed by bytes although far below the count bound";
  // etcd itself: below the quota all along, no alarm.
  auto m = Member();
  EXPECT_FALSE(m.nospace_alarm());
  EXPECT_LT(max_db, static_cast<int64_t>(kQuota)) << "etcd's db reached its quota";
  std::cerr << "48 MiB of requests: etcd db at most " << max_db << " bytes (quota " << kQuota
            << "), now " << m.db_size << " (" << m.db_size_in_use << " in use); log starts at "
            << start << "\n";
  // Nothing lost, nothing doubled.
  auto logs = Logs();
  ASSERT_EQ(logs.size(), static_cast<size_t>(kRequests));
  for (int k = 1; k <= kRequests; ++k) EXPECT_EQ(logs[k - 1], "u" + std::to_string(k));
}

// Near the quota the leader trims whatever it may, whatever its bounds: here the bound by count
// is never reached and there is none by bytes, yet 32 MiB of requests pass through a 16 MiB etcd.
TEST_F(EtcdQuotaIT, NearTheQuotaTheLeaderTrimsWhateverItMay) {
  constexpr uint64_t kQuota = 16 * kMiB;
  ASSERT_NO_FATAL_FAILURE(
      StartFleet(kQuota, {"--trim-threshold=100000", "--trim-bytes=0", "--trim-interval-ms=100",
                          "--etcd-quota-bytes=" + std::to_string(kQuota),
                          "--etcd-quota-warn-percent=50", "--etcd-status-interval-ms=100"}));
  constexpr int kRequests = 64;  // 64 x 512 KiB = 32 MiB, 2 x the quota
  int64_t max_db = 0;
  for (int k = 1; k <= kRequests; ++k) {
    auto r = PostBig("u" + std::to_string(k), "big", static_cast<uint64_t>(k));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << "request " << k << ": " << r->body;
    max_db = std::max(max_db, Member().db_size);
  }
  json st = StatusJson();
  EXPECT_TRUE(st.value("etcd_quota_warning", false)) << st.dump();
  EXPECT_GT(st.value("trims", 0), 0) << st.dump();
  EXPECT_GT(st.value("log_start", 1), 1) << st.dump();
  EXPECT_FALSE(Member().nospace_alarm());
  EXPECT_LT(max_db, static_cast<int64_t>(kQuota));
  std::cerr << "32 MiB of requests: etcd db at most " << max_db << " bytes (quota " << kQuota
            << "); log starts at " << st.value("log_start", 1) << "\n";
  auto logs = Logs();
  ASSERT_EQ(logs.size(), static_cast<size_t>(kRequests));
  for (int k = 1; k <= kRequests; ++k) EXPECT_EQ(logs[k - 1], "u" + std::to_string(k));
}

// At the quota: warned before, refused clearly, nothing acknowledged lost, nothing doubled.
TEST_F(EtcdQuotaIT, AtTheQuotaWritesAreRefusedClearlyAndNothingIsLost) {
  constexpr uint64_t kQuota = 16 * kMiB;
  ASSERT_NO_FATAL_FAILURE(StartFleet(
      kQuota, {"--trim-threshold=0", "--trim-bytes=0",
               "--etcd-quota-bytes=" + std::to_string(kQuota), "--etcd-status-interval-ms=100"}));
  std::vector<int> acked;
  int refused = 0;
  bool warned = false;
  std::string refusal;
  for (int k = 1; k <= 64 && refused == 0; ++k) {  // 64 x 512 KiB = 2 x the quota
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto r = PostBig("u" + std::to_string(k), "big", static_cast<uint64_t>(k));
      ASSERT_TRUE(r.ok()) << r.status();
      if (r->status == 200) {
        acked.push_back(k);
        break;
      }
      ASSERT_EQ(r->status, 503) << "request " << k << ": " << r->body;
      if (r->body.find("ETCD_NOSPACE") != std::string::npos) {
        refused = k;
        refusal = r->body;
        break;
      }
      std::this_thread::sleep_for(200ms);  // another 503 (e.g. leadership moving): retry it
    }
    if (refused) break;
    // Above 80% of the quota, the replica's status says so before etcd refuses anything.
    if (!warned && static_cast<double>(Member().db_size) > 0.8 * static_cast<double>(kQuota)) {
      json st = WaitStatus([](const json& j) { return j.value("etcd_quota_warning", false); }, 5s);
      ASSERT_TRUE(st.value("etcd_quota_warning", false))
          << "no warning at " << Member().db_size << " of " << kQuota << ": " << st.dump();
      EXPECT_FALSE(st.value("etcd_nospace", true)) << st.dump();
      warned = true;
    }
  }
  ASSERT_GT(refused, 0) << "the quota was never reached";
  EXPECT_TRUE(warned) << "the warning never showed before the refusal";
  EXPECT_NE(refusal.find("quota"), std::string::npos) << refusal;
  std::cerr << acked.size() << " requests acknowledged, request " << refused
            << " refused: " << refusal << "\n";

  // While the alarm is raised: the status and metrics say so, and writes keep being refused
  // with the same clear error (no replica can take the lead: etcd refuses its lease too).
  json st = WaitStatus([](const json& j) { return j.value("etcd_nospace", false); }, 5s);
  EXPECT_TRUE(st.value("etcd_nospace", false)) << st.dump();
  EXPECT_GE(st.value("etcd_nospace_refusals", 0), 1) << st.dump();
  EXPECT_TRUE(Member().nospace_alarm());
  auto metrics = http::Call(fleet_->Url(0), "GET", "/metrics", "", {}, Deadline::After(3s));
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("br2k_etcd_nospace 1"), std::string::npos);
  auto again = PostBig("later", "other", 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 503) << again->body;
  EXPECT_NE(again->body.find("ETCD_NOSPACE"), std::string::npos) << again->body;
  // Linearizable reads need a leader too: refused with the same cause.
  auto read = http::Call(fleet_->Url(0), "GET", "/logs", "", {}, Deadline::After(5s));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->status, 503) << read->body;
  EXPECT_NE(read->body.find("ETCD_NOSPACE"), std::string::npos) << read->body;

  // The operator's recovery: a larger quota (restart the member with it), then disarm.
  auto& cluster = fleet_->cluster();
  ASSERT_TRUE(cluster.KillMember(0, SIGTERM).ok());
  cluster.set_extra_args({QuotaFlag(4 * kQuota)});
  // The member comes back with its alarm still raised (alarms are stored), which the cluster's
  // health check counts as unhealthy until it is disarmed.
  Status s = cluster.RestartMember(0, Deadline::After(10s));
  ASSERT_TRUE(s.ok() || s.message().find("NOSPACE") != std::string::npos) << s;
  const std::string disarm = "timeout 20 etcdctl --endpoints=" + cluster.client_urls()[0] +
                             " alarm disarm > /dev/null 2>&1";
  ASSERT_EQ(std::system(disarm.c_str()), 0) << disarm;
  s = cluster.WaitHealthy(Deadline::After(20s));
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(Member().nospace_alarm());
  ASSERT_EQ(fleet_->WaitLeader({0}, Deadline::After(40s)), 0) << "no leader after the recovery";

  // The refused request, retried with its (client, seq), runs once; new ones are accepted.
  bool done = false;
  for (int attempt = 0; attempt < 100 && !done; ++attempt) {
    auto r = PostBig("u" + std::to_string(refused), "big", static_cast<uint64_t>(refused));
    ASSERT_TRUE(r.ok()) << r.status();
    done = r->status == 200;
    if (!done) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(done) << "the refused request was not accepted after the recovery";
  for (int attempt = 0; attempt < 3; ++attempt) {  // a duplicate answers from the record
    auto r = PostBig("u" + std::to_string(refused), "big", static_cast<uint64_t>(refused));
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  auto later = PostBig("later", "other", 1);
  ASSERT_TRUE(later.ok() && later->status == 200) << (later.ok() ? later->body : "");
  st = WaitStatus([](const json& j) { return !j.value("etcd_nospace", true); }, 5s);
  EXPECT_FALSE(st.value("etcd_nospace", true)) << st.dump();

  std::vector<std::string> want;
  for (int k : acked) want.push_back("u" + std::to_string(k));
  want.push_back("u" + std::to_string(refused));
  want.push_back("later");
  EXPECT_EQ(Logs(), want) << "an acknowledged request lost, or a request run twice";
}

}  // namespace
}  // namespace br2k::replication
