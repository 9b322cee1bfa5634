// The history: its JSON-lines format (the input of the history checker) and its counters.
#include "br2k/client/history.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

namespace br2k::client {
namespace {

HistoryRecord Full() {
  HistoryRecord r;
  r.type = RecordType::kOk;
  r.client = "c-1";
  r.op = 7;
  r.seq = 3;
  r.mono_ns = 123456789;
  r.unix_ns = 1700000000123456789;
  r.method = "POST";
  r.path = "/logs";
  r.body = R"({"user":"alice"})";
  r.status = 200;
  r.response = "{\"index\":0}\n";
  r.index = 12;
  r.state = "Success";
  r.duplicate = true;
  r.attempts = 4;
  r.attempt = 2;
  r.target = "/logs";
  r.outcome = "final";
  r.retry = true;
  r.latency_ns = 999;
  r.url = "http://127.0.0.1:1";
  r.from = "http://127.0.0.1:2";
  r.leader = "node-1";
  r.error = "e";
  r.source = "event";
  r.epoch = 9;
  r.block = 10;
  r.tx = "0xab";
  r.reason = "down";
  return r;
}

TEST(HistoryJson, everyFieldRoundTrips) {
  HistoryRecord r = Full();
  auto back = ParseRecord(RecordToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

TEST(HistoryJson, emptyFieldsAreOmittedAndRestored) {
  HistoryRecord r;
  r.type = RecordType::kInvoke;
  r.client = "c";
  r.op = 1;
  r.mono_ns = 5;
  r.unix_ns = 6;
  r.method = "GET";
  r.path = "/logs";
  std::string line = RecordToJson(r);
  EXPECT_EQ(
      line,
      R"({"client":"c","i":0,"method":"GET","mono_ns":5,"op":1,"path":"/logs","type":"invoke","unix_ns":6})");
  auto back = ParseRecord(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
  EXPECT_FALSE(back->index.has_value());
}

TEST(HistoryJson, indexZeroIsKeptApartFromAbsent) {
  HistoryRecord r;
  r.index = 0;
  auto back = ParseRecord(RecordToJson(r));
  ASSERT_TRUE(back.ok());
  ASSERT_TRUE(back->index.has_value());
  EXPECT_EQ(*back->index, 0u);
}

TEST(HistoryJson, bytesThatAreNotUtf8AreWrittenAsHex) {
  HistoryRecord r;
  r.type = RecordType::kFail;
  r.body = std::string("\xff\x00\x01z", 4);
  r.response = "\xc3\x28";  // invalid 2-byte sequence
  r.error = "caf\xc3\xa9";  // valid UTF-8 stays text
  r.url = "\xed\xa0\x80";   // a UTF-16 surrogate is not UTF-8
  std::string line = RecordToJson(r);
  EXPECT_NE(line.find(R"("body_hex":"ff00017a")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("response_hex":"c328")"), std::string::npos) << line;
  EXPECT_NE(line.find("\"error\":\"caf"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("url_hex":"eda080")"), std::string::npos) << line;
  auto back = ParseRecord(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, r);
}

TEST(HistoryJson, malformedLinesAreRejectedWithTheirLineNumber) {
  for (const char* bad :
       {"", "[]", "{}", R"({"type":"bogus"})", R"({"type":"ok","seq":-1})",
        R"({"type":"ok","status":"200"})", R"({"type":"ok","status":1000})",
        R"({"type":"ok","attempts":4294967296})", R"({"type":"ok","body_hex":"abc"})",
        R"({"type":"ok","body_hex":"zz"})", R"({"type":"ok","duplicate":1})",
        R"({"type":"ok","mono_ns":1.5})", R"({"type":"ok","index":-3})", "{\"type\":\"ok\""}) {
    EXPECT_FALSE(ParseRecord(bad).ok()) << "accepted " << bad;
  }
  auto lines = ParseJsonLines("{\"type\":\"ok\"}\n\n{\"type\":\"nope\"}\n");
  ASSERT_FALSE(lines.ok());
  EXPECT_NE(lines.status().message().find("line 3"), std::string::npos) << lines.status();
}

TEST(HistoryJson, unknownKeysAreIgnored) {
  auto r = ParseRecord(R"({"type":"claim","tx":"0x1","future_field":[1,2]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tx, "0x1");
}

TEST(History, appendStampsOrderAndClocks) {
  History h;
  HistoryRecord a;
  a.type = RecordType::kInvoke;
  auto s1 = h.Append(a);
  auto s2 = h.Append(a);
  EXPECT_EQ(s1.i, 0u);
  EXPECT_EQ(s2.i, 1u);
  EXPECT_GT(s1.mono_ns, 0);
  EXPECT_GE(s2.mono_ns, s1.mono_ns);
  EXPECT_GT(s1.unix_ns, 1600000000LL * 1000000000LL);
  auto snap = h.Snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[1], s2);
}

TEST(History, jsonLinesRoundTripThroughAFile) {
  History h;
  HistoryRecord r = Full();
  r.mono_ns = 0;
  r.unix_ns = 0;
  h.Append(r);
  r.type = RecordType::kAttempt;
  h.Append(r);
  std::string text = h.ToJsonLines();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  auto parsed = ParseJsonLines(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, h.Snapshot());

  auto file = std::filesystem::temp_directory_path() /
              ("br2k-history-" + std::to_string(::getpid()) + ".jsonl");
  ASSERT_TRUE(h.WriteJsonLines(file).ok());
  std::ifstream in(file);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  std::filesystem::remove(file);
  EXPECT_EQ(all, text);
}

TEST(History, countersCountEveryKind) {
  History h;
  auto add = [&](RecordType t, bool flag = false) {
    HistoryRecord r;
    r.type = t;
    r.retry = flag;
    r.duplicate = flag;
    h.Append(r);
  };
  add(RecordType::kInvoke);
  add(RecordType::kInvoke);
  add(RecordType::kInvoke);
  add(RecordType::kAttempt);
  add(RecordType::kAttempt, true);
  add(RecordType::kAttempt, true);
  add(RecordType::kRedirect);
  add(RecordType::kOk, true);
  add(RecordType::kFail);
  add(RecordType::kUnknown);
  add(RecordType::kLocation);
  add(RecordType::kClaim);
  add(RecordType::kClaimFailed);
  add(RecordType::kWatchError);
  HistoryCounters want{.ops = 3,
                       .ok = 1,
                       .fail = 1,
                       .unknown = 1,
                       .attempts = 3,
                       .retries = 2,
                       .redirects = 1,
                       .duplicates = 1,
                       .location_changes = 1,
                       .claims = 1,
                       .claim_failures = 1,
                       .watch_errors = 1,
                       .dropped = 0};
  EXPECT_EQ(h.counters(), want);
}

TEST(History, limitKeepsTheNewestAndCountsTheDropped) {
  History h(3);
  for (int k = 0; k < 10; ++k) {
    HistoryRecord r;
    r.type = RecordType::kAttempt;
    h.Append(r);
  }
  auto snap = h.Snapshot();
  ASSERT_EQ(snap.size(), 3u);
  EXPECT_EQ(snap.front().i, 7u);
  EXPECT_EQ(h.counters().attempts, 10u);
  EXPECT_EQ(h.counters().dropped, 7u);
}

TEST(History, concurrentAppendsGetDistinctPositions) {
  History h;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int k = 0; k < 500; ++k) {
        HistoryRecord r;
        r.type = RecordType::kAttempt;
        h.Append(r);
      }
    });
  }
  for (auto& t : ts) t.join();
  auto snap = h.Snapshot();
  ASSERT_EQ(snap.size(), 2000u);
  for (size_t k = 0; k < snap.size(); ++k) {
    EXPECT_EQ(snap[k].i, k);
    if (k > 0) {
      EXPECT_GE(snap[k].mono_ns, snap[k - 1].mono_ns);
    }
  }
}

}  // namespace
}  // namespace br2k::client
