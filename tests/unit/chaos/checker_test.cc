// The history checker against hand-made histories: a clean one passes, and each kind of
// violation fails with its evidence.
#include "br2k/chaos/checker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace br2k::chaos {
namespace {

using client::HistoryRecord;
using client::RecordType;
using replication::EntryState;
using ::testing::HasSubstr;

constexpr int64_t kSec = 1'000'000'000;

// Builds a history, replica states and an etcd log that agree, then lets a test break them.
class Scenario {
 public:
  // A write of `client` with `seq` (value "<client>.<seq>") invoked at `t0` seconds and ended
  // at `t1` with `type`; an ok one is appended to the log (index = position + 1).
  void Write(const std::string& client, uint64_t seq, double t0, double t1,
             RecordType type = RecordType::kOk, bool applied = true) {
    std::string value = client + "." + std::to_string(seq);
    HistoryRecord inv;
    inv.type = RecordType::kInvoke;
    inv.client = client;
    inv.op = seq;
    inv.seq = seq;
    inv.mono_ns = static_cast<int64_t>(t0 * kSec);
    inv.method = "POST";
    inv.path = "/logs";
    inv.body = R"({"user":")" + value + R"("})";
    history.push_back(inv);
    HistoryRecord fin = inv;
    fin.type = type;
    fin.mono_ns = static_cast<int64_t>(t1 * kSec);
    fin.method.clear();
    fin.path.clear();
    fin.body.clear();
    if (applied) {
      uint64_t pos = values.size();
      values.push_back(value);
      EtcdEntry e;
      e.index = pos + 1;
      e.method = "POST";
      e.path = "/logs";
      e.body = inv.body;
      e.client = client;
      e.seq = seq;
      e.state = EntryState::kSuccess;
      e.status = 200;
      etcd.push_back(e);
      if (type == RecordType::kOk) {
        fin.status = 200;
        fin.index = pos + 1;
        fin.response =
            R"({"index":)" + std::to_string(pos) + R"(,"size":)" + std::to_string(pos + 1) + "}";
      }
    } else if (type == RecordType::kFail) {
      fin.status = 400;
    }
    history.push_back(fin);
  }

  CheckInput Input(int replicas = 3) const {
    CheckInput in;
    in.history = history;
    for (int i = 0; i < replicas; ++i) {
      ReplicaState r;
      r.id = "node-" + std::to_string(i);
      r.values = values;
      r.lpi = values.size();
      in.replicas.push_back(r);
    }
    in.etcd.read = true;
    in.etcd.entries = etcd;
    in.etcd.log_size = etcd.size();
    in.etcd.ssi = etcd.size();
    return in;
  }

  std::vector<HistoryRecord> history;
  std::vector<std::string> values;
  std::vector<EtcdEntry> etcd;
};

Scenario Clean() {
  Scenario s;
  s.Write("a", 1, 0.0, 0.1);
  s.Write("b", 1, 0.05, 0.2);
  s.Write("a", 2, 0.3, 0.4);
  s.Write("b", 2, 0.35, 0.5, RecordType::kFail, false);    // a definite failure
  s.Write("a", 3, 0.6, 5.0, RecordType::kUnknown, true);   // unknown, applied once
  s.Write("b", 3, 0.7, 5.0, RecordType::kUnknown, false);  // unknown, never applied
  return s;
}

std::string Dump(const CheckResult& r) {
  return r.ToText();
}

// The first violation of `k` (a test asserts its count first).
const Violation& First(const CheckResult& r, ViolationKind k) {
  for (const auto& v : r.violations) {
    if (v.kind == k) return v;
  }
  static const Violation kNone;
  return kNone;
}

TEST(CheckerTest, Check_cleanHistoryPasses) {
  auto r = Check(Clean().Input());
  EXPECT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.stats.writes, 6u);
  EXPECT_EQ(r.stats.ok, 3u);
  EXPECT_EQ(r.stats.fail, 1u);
  EXPECT_EQ(r.stats.unknown, 2u);
  EXPECT_EQ(r.stats.unknown_applied, 1u);
  EXPECT_EQ(r.stats.applied, 4u);
  EXPECT_EQ(r.stats.replicas_checked, 3u);
  EXPECT_THAT(r.ToText(), HasSubstr("PASS"));
}

TEST(CheckerTest, Check_lostAckFailsWithTheWrite) {
  auto in = Clean().Input();
  for (auto& rep : in.replicas) rep.values.erase(rep.values.begin() + 1);  // b.1 lost
  in.etcd.read = false;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kLostAck), 1u) << Dump(r);
  // The later writes' answered positions no longer match either.
  EXPECT_EQ(r.Count(ViolationKind::kIndexMismatch), 1u) << Dump(r);
  const auto& v = First(r, ViolationKind::kLostAck);
  EXPECT_THAT(v.message, HasSubstr("\"b.1\""));
  EXPECT_THAT(v.message, HasSubstr("index 2"));
  EXPECT_EQ(v.evidence.at("client"), "b");
  EXPECT_EQ(v.evidence.at("seq"), "1");
  EXPECT_EQ(v.evidence.at("final_s"), "0.200");
}

TEST(CheckerTest, Check_duplicateFailsWithPositions) {
  auto in = Clean().Input();
  for (auto& rep : in.replicas) rep.values.push_back("a.2");
  in.etcd.read = false;
  auto r = Check(in);
  ASSERT_GE(r.Count(ViolationKind::kDuplicate), 1u) << Dump(r);
  bool found = false;
  for (const auto& v : r.violations) {
    if (v.kind != ViolationKind::kDuplicate) continue;
    found = true;
    EXPECT_EQ(v.evidence.at("value"), "a.2");
    EXPECT_EQ(v.evidence.at("positions"), "2,4");
  }
  EXPECT_TRUE(found);
}

TEST(CheckerTest, Check_unknownAppliedTwiceIsDuplicate) {
  auto in = Clean().Input();
  for (auto& rep : in.replicas) rep.values.push_back("a.3");
  in.etcd.read = false;
  auto r = Check(in);
  EXPECT_EQ(r.Count(ViolationKind::kDuplicate), 1u) << Dump(r);
  EXPECT_THAT(r.violations[0].message, HasSubstr("(unknown)"));
}

TEST(CheckerTest, Check_phantomFails) {
  auto in = Clean().Input();
  for (auto& rep : in.replicas) rep.values.push_back("mallory.1");
  in.etcd.read = false;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kPhantom), 1u) << Dump(r);
  EXPECT_EQ(r.violations[0].evidence.at("value"), "mallory.1");
  EXPECT_EQ(r.violations[0].evidence.at("position"), "4");
}

TEST(CheckerTest, Check_failedWriteAppliedFails) {
  auto in = Clean().Input();
  for (auto& rep : in.replicas) rep.values.push_back("b.2");
  in.etcd.read = false;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kFailedApplied), 1u) << Dump(r);
  EXPECT_THAT(r.violations[0].message, HasSubstr("HTTP 400"));
  EXPECT_EQ(r.violations[0].evidence.at("position"), "4");
}

TEST(CheckerTest, Check_orderViolationFailsWithBothWrites) {
  // c.1 acknowledged at 1.0 s; d.1 invoked at 2.0 s; yet d.1 comes first.
  Scenario s;
  s.Write("d", 1, 2.0, 2.1);
  s.Write("c", 1, 0.5, 1.0);
  auto in = s.Input();
  in.etcd.read = false;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kOrder), 1u) << Dump(r);
  const auto& v = r.violations[0];
  EXPECT_EQ(v.evidence.at("first_value"), "c.1");
  EXPECT_EQ(v.evidence.at("second_value"), "d.1");
  EXPECT_EQ(v.evidence.at("first_acked_s"), "0.500");  // times are relative to the first record
  EXPECT_EQ(v.evidence.at("second_invoked_s"), "1.500");
  EXPECT_THAT(v.message, HasSubstr("position 1 > 0"));
}

TEST(CheckerTest, Check_concurrentWritesMayBeInAnyOrder) {
  Scenario s;
  s.Write("d", 1, 0.9, 2.1);  // invoked before c.1 was acknowledged
  s.Write("c", 1, 0.5, 1.0);
  auto in = s.Input();
  auto r = Check(in);
  EXPECT_TRUE(r.ok()) << Dump(r);
}

TEST(CheckerTest, Check_divergingReplicasFailWithFirstDifference) {
  auto in = Clean().Input();
  in.replicas[2].values[1] = "a.3";
  in.replicas[2].values[3] = "b.1";
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kReplicaDiverged), 1u) << Dump(r);
  const Violation* v = nullptr;
  for (const auto& x : r.violations) {
    if (x.kind == ViolationKind::kReplicaDiverged) v = &x;
  }
  EXPECT_EQ(v->evidence.at("replica"), "node-2");
  EXPECT_EQ(v->evidence.at("position"), "1");
  EXPECT_THAT(v->message, HasSubstr("\"a.3\" vs \"b.1\""));
}

TEST(CheckerTest, Check_laggingReplicaIsDiverged) {
  auto in = Clean().Input();
  in.replicas[1].values.pop_back();
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kReplicaDiverged), 1u) << Dump(r);
  EXPECT_THAT(r.violations[0].message, HasSubstr("(end)"));
}

TEST(CheckerTest, Check_answeredIndexMismatchFails) {
  auto s = Clean();
  // a.2's answer claims log index 1 (which holds a.1) and position 0.
  for (auto& rec : s.history) {
    if (rec.client == "a" && rec.seq == 2 && rec.type == RecordType::kOk) {
      rec.index = 1;
      rec.response = R"({"index":0,"size":1})";
    }
  }
  auto r = Check(s.Input());
  ASSERT_EQ(r.Count(ViolationKind::kIndexMismatch), 2u) << Dump(r);
  std::string all = r.ToText();
  EXPECT_THAT(all, HasSubstr("answered position 0 but is at position 2"));
  EXPECT_THAT(all, HasSubstr("etcd entry 1 is a seq 1 in state Success"));
}

TEST(CheckerTest, Check_inProcessLeftFails) {
  auto in = Clean().Input();
  in.etcd.entries[3].state = EntryState::kInProcess;  // a.3
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kUnfinished), 1u) << Dump(r);
  EXPECT_EQ(r.violations[0].evidence.at("index"), "4");
  EXPECT_EQ(r.violations[0].evidence.at("state"), "InProcess");
  // The replicas then hold a value etcd does not count as Success.
  EXPECT_EQ(r.Count(ViolationKind::kEtcdMismatch), 1u);
}

TEST(CheckerTest, Check_nullLeftFails) {
  auto in = Clean().Input();
  EtcdEntry e = in.etcd.entries.back();
  e.index = 5;
  e.client = "b";
  e.seq = 3;
  e.body = R"({"user":"b.3"})";
  e.state = EntryState::kNull;
  in.etcd.entries.push_back(e);
  in.etcd.log_size = 5;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kUnfinished), 1u) << Dump(r);
  EXPECT_EQ(r.violations[0].evidence.at("state"), "Null");
}

TEST(CheckerTest, Check_ignoredEntryIsFine) {
  auto in = Clean().Input();
  EtcdEntry e = in.etcd.entries.back();
  e.index = 5;
  e.client = "b";
  e.seq = 3;
  e.body = R"({"user":"b.3"})";
  e.state = EntryState::kIgnore;
  in.etcd.entries.push_back(e);
  in.etcd.log_size = 5;
  auto r = Check(in);
  EXPECT_TRUE(r.ok()) << Dump(r);
}

TEST(CheckerTest, Check_doubleSuccessInEtcdFails) {
  auto in = Clean().Input();
  EtcdEntry e = in.etcd.entries[0];  // a.1 again
  e.index = 5;
  in.etcd.entries.push_back(e);
  in.etcd.log_size = 5;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kDoubleSuccess), 1u) << Dump(r);
  EXPECT_EQ(r.violations[0].evidence.at("indexes"), "1,5");
}

TEST(CheckerTest, Check_deadReplicaFailsUnlessKilledByScenario) {
  auto in = Clean().Input();
  in.replicas[1].alive = false;
  in.replicas[1].reachable = false;
  auto r = Check(in);
  ASSERT_EQ(r.Count(ViolationKind::kReplicaDead), 1u) << Dump(r);
  EXPECT_EQ(r.violations[0].evidence.at("replica"), "node-1");
  in.replicas[1].expected_alive = false;
  EXPECT_TRUE(Check(in).ok());
}

TEST(CheckerTest, Check_trimmedLogComparesTheTail) {
  auto in = Clean().Input();
  in.etcd.entries.erase(in.etcd.entries.begin(), in.etcd.entries.begin() + 2);
  in.etcd.log_start = 3;
  EXPECT_TRUE(Check(in).ok()) << Dump(Check(in));
  in.etcd.entries.back().body = R"({"user":"zz"})";
  EXPECT_EQ(Check(in).Count(ViolationKind::kEtcdMismatch), 1u);
}

TEST(CheckerTest, Check_listsAtMostMaxPerKind) {
  auto in = Clean().Input();
  for (int i = 0; i < 30; ++i) {
    for (auto& rep : in.replicas) rep.values.push_back("x." + std::to_string(i));
  }
  in.etcd.read = false;
  auto r = Check(in, 5);
  EXPECT_EQ(r.Count(ViolationKind::kPhantom), 6u);  // 5 listed + "25 more"
  EXPECT_THAT(r.ToText(), HasSubstr("25 more phantom"));
}

TEST(CheckerTest, ToJson_listsViolationsWithEvidence) {
  auto in = Clean().Input();
  for (auto& rep : in.replicas) rep.values.push_back("mallory.1");
  in.etcd.read = false;
  std::string j = Check(in).ToJson();
  EXPECT_THAT(j, HasSubstr("\"kind\": \"phantom\""));
  EXPECT_THAT(j, HasSubstr("\"value\": \"mallory.1\""));
  EXPECT_THAT(j, HasSubstr("\"ok\": false"));
}

TEST(ParseReplicaStateTest, ParseReplicaState_readsTheLogServerAnswer) {
  auto r =
      ParseReplicaState(R"({"id":"node-1","role":"Follower","url":"u","lpi":7,"state":["a","b"]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "node-1");
  EXPECT_EQ(r->lpi, 7u);
  EXPECT_EQ(r->values, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(ParseReplicaState("nope").ok());
  EXPECT_FALSE(ParseReplicaState(R"({"id":"x","lpi":1})").ok());
  EXPECT_FALSE(ParseReplicaState(R"({"id":"x","lpi":1,"state":[1]})").ok());
  EXPECT_FALSE(ParseReplicaState(R"({"id":"x","lpi":-1,"state":[]})").ok());
}

TEST(DecodeEtcdEntryTest, DecodeEtcdEntry_roundTripsTheEngineEncoding) {
  replication::LogEntry le;
  le.request.method = "POST";
  le.request.path = "/logs";
  le.request.body = R"({"user":"a.1"})";
  le.request.client_id = "a";
  le.request.seq = 1;
  replication::EntryStatus st;
  st.state = EntryState::kSuccess;
  st.response = replication::Response{.status = 200, .body = "{}"};
  auto e = DecodeEtcdEntry(3, replication::EncodeLogEntry(le), replication::EncodeEntryStatus(st));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->index, 3u);
  EXPECT_EQ(e->client, "a");
  EXPECT_EQ(e->state, EntryState::kSuccess);
  EXPECT_EQ(e->status, 200);
  auto no_rs = DecodeEtcdEntry(4, replication::EncodeLogEntry(le), "");
  ASSERT_TRUE(no_rs.ok());
  EXPECT_FALSE(no_rs->has_rs);
  EXPECT_FALSE(DecodeEtcdEntry(5, "{", "").ok());
}

TEST(LogServerValueTest, LogServerValue_matchesTheApplication) {
  EXPECT_EQ(LogServerValue(R"({"user":"x"})"), "x");
  EXPECT_EQ(LogServerValue(R"({"user":12})"), "12");
  EXPECT_EQ(LogServerValue(R"({"user":""})"), std::nullopt);
  EXPECT_EQ(LogServerValue("[]"), std::nullopt);
}

}  // namespace
}  // namespace br2k::chaos
