#include "etcd_contract.h"

#include <thread>

#include "br2k/etcd/lease_keeper.h"
#include "test_env.h"

namespace br2k::etcd::contract {

using namespace std::chrono_literals;

void EtcdContract::SetUp() {
  client_ = GetParam()->make();
  ASSERT_NE(client_, nullptr);
  prefix_ =
      "/contract/" +
      br2k::testing::UniqueName(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
      "/";
}

void EtcdContract::TearDown() {
  if (client_) {
    (void)client_->Delete(DeleteRequest{.key = prefix_, .range_end = PrefixEnd(prefix_)},
                          Deadline::After(5s));
  }
}

namespace {

Deadline D() {
  return Deadline::After(10s);
}

// Collects watch events until `n` have arrived or the deadline passes.
std::vector<Event> Collect(Watcher& w, size_t n, Deadline deadline) {
  std::vector<Event> out;
  while (out.size() < n && !deadline.expired()) {
    auto b = w.Next(deadline);
    if (!b.ok()) {
      if (b.status().code() == StatusCode::kDeadlineExceeded) break;
      ADD_FAILURE() << "watch failed: " << b.status();
      break;
    }
    for (auto& e : b->events) out.push_back(std::move(e));
  }
  return out;
}

TEST_P(EtcdContract, Put_thenGetReturnsValueAndRevisions) {
  auto rev = client_->Put(Key("a"), "1", D());
  ASSERT_TRUE(rev.ok()) << rev.status();
  auto got = client_->Get(Key("a"), D());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "1");
  EXPECT_EQ((*got)->version, 1);
  EXPECT_EQ((*got)->create_revision, *rev);
  EXPECT_EQ((*got)->mod_revision, *rev);

  auto rev2 = client_->Put(Key("a"), "2", D());
  ASSERT_TRUE(rev2.ok());
  EXPECT_GT(*rev2, *rev);
  got = client_->Get(Key("a"), D());
  EXPECT_EQ((*got)->value, "2");
  EXPECT_EQ((*got)->version, 2);
  EXPECT_EQ((*got)->create_revision, *rev);
  EXPECT_EQ((*got)->mod_revision, *rev2);

  auto missing = client_->Get(Key("nope"), D());
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(EtcdContract, Put_prevKvReturnsTheOldValue) {
  ASSERT_TRUE(client_->Put(Key("k"), "old", D()).ok());
  auto r = client_->Put(PutRequest{.key = Key("k"), .value = "new", .prev_kv = true}, D());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->prev_kv.has_value());
  EXPECT_EQ(r->prev_kv->value, "old");
  auto first = client_->Put(PutRequest{.key = Key("fresh"), .value = "x", .prev_kv = true}, D());
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->prev_kv.has_value());
}

TEST_P(EtcdContract, Put_emptyKeyIsInvalidArgument) {
  auto r = client_->Put(PutRequest{.key = "", .value = "x"}, D());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
}

TEST_P(EtcdContract, Range_prefixLimitCountAndMore) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Put(Key("p/" + std::to_string(i)), std::to_string(i), D()).ok());
  }
  ASSERT_TRUE(client_->Put(Key("q"), "outside", D()).ok());
  auto all = client_->GetPrefix(Key("p/"), D());
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*all)[i].value, std::to_string(i));

  RangeRequest req = RangeRequest::Prefix(Key("p/"));
  req.limit = 2;
  auto limited = client_->Range(req, D());
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->kvs.size(), 2u);
  EXPECT_TRUE(limited->more);
  EXPECT_EQ(limited->count, 5);

  req.limit = 0;
  req.sort_order = SortOrder::kDescend;
  auto desc = client_->Range(req, D());
  ASSERT_TRUE(desc.ok());
  ASSERT_EQ(desc->kvs.size(), 5u);
  EXPECT_EQ(desc->kvs.front().value, "4");

  req.sort_order = SortOrder::kNone;
  req.count_only = true;
  auto counted = client_->Range(req, D());
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ(counted->count, 5);
  EXPECT_TRUE(counted->kvs.empty());
}

TEST_P(EtcdContract, Range_atAnOldRevisionSeesTheOldValue) {
  auto r1 = client_->Put(Key("h"), "v1", D());
  auto r2 = client_->Put(Key("h"), "v2", D());
  ASSERT_TRUE(r1.ok() && r2.ok());
  RangeRequest req = RangeRequest::Key(Key("h"));
  req.revision = *r1;
  auto old = client_->Range(req, D());
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_EQ(old->kvs.size(), 1u);
  EXPECT_EQ(old->kvs[0].value, "v1");

  req.revision = *r2 + 1000000;
  auto future = client_->Range(req, D());
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.status().code(), StatusCode::kOutOfRange) << future.status();
}

TEST_P(EtcdContract, Range_serializableReadAnswers) {
  ASSERT_TRUE(client_->Put(Key("s"), "v", D()).ok());
  RangeRequest req = RangeRequest::Key(Key("s"));
  req.serializable = true;
  auto r = client_->Range(req, D());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->header.member_id, 0u);
}

TEST_P(EtcdContract, Delete_rangeReturnsCountAndPrevKvs) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(client_->Put(Key("d/" + std::to_string(i)), "x", D()).ok());
  auto r = client_->Delete(
      DeleteRequest{.key = Key("d/"), .range_end = PrefixEnd(Key("d/")), .prev_kv = true}, D());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->deleted, 3);
  EXPECT_EQ(r->prev_kvs.size(), 3u);
  auto left = client_->GetPrefix(Key("d/"), D());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  auto none = client_->Delete(DeleteRequest{.key = Key("d/0")}, D());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->deleted, 0);
}

TEST_P(EtcdContract, Txn_compareValueTakesSuccessBranch) {
  ASSERT_TRUE(client_->Put(Key("leader"), "r1", D()).ok());
  TxnRequest txn{.compare = {Compare::Value(Key("leader"), CompareOp::kEqual, "r1")},
                 .success = {Op::Put(Key("log"), "entry"), Op::Get(Key("leader"))},
                 .failure = {Op::Get(Key("leader"))}};
  auto r = client_->Txn(txn, D());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 2u);
  ASSERT_NE(r->responses[0].put(), nullptr);
  ASSERT_NE(r->responses[1].range(), nullptr);
  // A read inside the transaction sees the transaction's own earlier state.
  EXPECT_EQ(r->responses[1].range()->kvs.at(0).value, "r1");
  EXPECT_EQ((*client_->Get(Key("log"), D()))->value, "entry");
}

TEST_P(EtcdContract, Txn_failedCompareTakesFailureBranchAndWritesNothing) {
  ASSERT_TRUE(client_->Put(Key("leader"), "r2", D()).ok());
  TxnRequest txn{.compare = {Compare::Value(Key("leader"), CompareOp::kEqual, "r1")},
                 .success = {Op::Put(Key("log"), "entry")},
                 .failure = {Op::Get(Key("leader"))}};
  auto r = client_->Txn(txn, D());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 1u);
  ASSERT_NE(r->responses[0].range(), nullptr);
  EXPECT_EQ(r->responses[0].range()->kvs.at(0).value, "r2");
  EXPECT_FALSE((*client_->Get(Key("log"), D())).has_value());
}

TEST_P(EtcdContract, Txn_comparesOnVersionCreateModAndLease) {
  auto created = client_->Put(Key("c"), "1", D());
  auto modified = client_->Put(Key("c"), "2", D());
  ASSERT_TRUE(created.ok() && modified.ok());
  auto check = [&](Compare c) {
    auto r = client_->Txn(TxnRequest{.compare = {std::move(c)}}, D());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->succeeded;
  };
  EXPECT_TRUE(check(Compare::Version(Key("c"), CompareOp::kEqual, 2)));
  EXPECT_FALSE(check(Compare::Version(Key("c"), CompareOp::kEqual, 1)));
  EXPECT_TRUE(check(Compare::Version(Key("c"), CompareOp::kGreater, 1)));
  EXPECT_TRUE(check(Compare::CreateRevision(Key("c"), CompareOp::kEqual, *created)));
  EXPECT_TRUE(check(Compare::ModRevision(Key("c"), CompareOp::kEqual, *modified)));
  EXPECT_TRUE(check(Compare::ModRevision(Key("c"), CompareOp::kLess, *modified + 1)));
  EXPECT_FALSE(check(Compare::ModRevision(Key("c"), CompareOp::kNotEqual, *modified)));
  EXPECT_TRUE(check(Compare::Lease(Key("c"), CompareOp::kEqual, 0)));
  EXPECT_TRUE(check(Compare::Absent(Key("missing"))));
  EXPECT_FALSE(check(Compare::Absent(Key("c"))));
  // As in etcd, a value compare on a missing key is false whatever the operator.
  EXPECT_FALSE(check(Compare::Value(Key("missing"), CompareOp::kEqual, "")));
  EXPECT_FALSE(check(Compare::Value(Key("missing"), CompareOp::kNotEqual, "x")));
}

TEST_P(EtcdContract, Txn_nestedTransactionRuns) {
  ASSERT_TRUE(client_->Put(Key("outer"), "yes", D()).ok());
  TxnRequest inner{.compare = {Compare::Absent(Key("inner"))},
                   .success = {Op::Put(Key("inner"), "created")}};
  TxnRequest outer{.compare = {Compare::Value(Key("outer"), CompareOp::kEqual, "yes")},
                   .success = {Op::Txn(inner)}};
  auto r = client_->Txn(outer, D());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 1u);
  ASSERT_NE(r->responses[0].txn(), nullptr);
  EXPECT_TRUE(r->responses[0].txn()->succeeded);
  EXPECT_EQ((*client_->Get(Key("inner"), D()))->value, "created");
}

TEST_P(EtcdContract, Txn_writesShareOneRevision) {
  auto r = client_->Txn(
      TxnRequest{.success = {Op::Put(Key("x"), "1"), Op::Put(Key("y"), "2"), Op::Delete(Key("z"))}},
      D());
  ASSERT_TRUE(r.ok()) << r.status();
  auto x = client_->Get(Key("x"), D());
  auto y = client_->Get(Key("y"), D());
  EXPECT_EQ((*x)->mod_revision, (*y)->mod_revision);
  EXPECT_EQ((*x)->mod_revision, r->header.revision);
}

TEST_P(EtcdContract, Txn_duplicatePutIsInvalidArgument) {
  auto r =
      client_->Txn(TxnRequest{.success = {Op::Put(Key("x"), "1"), Op::Put(Key("x"), "2")}}, D());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find("duplicate key"), std::string::npos) << r.status();
}

TEST_P(EtcdContract, Watch_deliversEveryEventInOrder) {
  auto w = client_->Watch(
      WatchOptions{.key = Key("w/"), .range_end = PrefixEnd(Key("w/")), .prev_kv = true}, D());
  ASSERT_TRUE(w.ok()) << w.status();
  constexpr int kPuts = 150;
  std::vector<int64_t> revisions;
  for (int i = 0; i < kPuts; ++i) {
    auto rev = client_->Put(Key("w/" + std::to_string(i % 7)), std::to_string(i), D());
    ASSERT_TRUE(rev.ok()) << rev.status();
    revisions.push_back(*rev);
  }
  auto del = client_->Delete(DeleteRequest{.key = Key("w/0")}, D());
  ASSERT_TRUE(del.ok());
  ASSERT_TRUE(client_->Put(Key("other"), "not watched", D()).ok());
  auto events = Collect(**w, kPuts + 1, D());
  ASSERT_EQ(events.size(), static_cast<size_t>(kPuts + 1));
  for (int i = 0; i < kPuts; ++i) {
    EXPECT_EQ(events[i].type, Event::Type::kPut);
    EXPECT_EQ(events[i].kv.value, std::to_string(i));
    EXPECT_EQ(events[i].kv.mod_revision, revisions[i]);
    if (i >= 7) {
      ASSERT_TRUE(events[i].prev_kv.has_value());
      EXPECT_EQ(events[i].prev_kv->value, std::to_string(i - 7));
    }
  }
  EXPECT_EQ(events.back().type, Event::Type::kDelete);
  EXPECT_EQ(events.back().kv.key, Key("w/0"));
  EXPECT_EQ(events.back().kv.mod_revision, del->header.revision);
  EXPECT_EQ((*w)->last_revision(), del->header.revision);
  // Nothing else arrives (the unrelated key is outside the range).
  auto extra = (*w)->Next(Deadline::After(200ms));
  EXPECT_EQ(extra.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_P(EtcdContract, Watch_fromStartRevisionReplaysHistory) {
  auto r1 = client_->Put(Key("h"), "1", D());
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(client_->Put(Key("h"), "2", D()).ok());
  ASSERT_TRUE(client_->Put(Key("h"), "3", D()).ok());
  auto w = client_->Watch(WatchOptions{.key = Key("h"), .start_revision = *r1}, D());
  ASSERT_TRUE(w.ok()) << w.status();
  auto events = Collect(**w, 3, D());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[2].kv.value, "3");
}

TEST_P(EtcdContract, Watch_compactedStartRevisionIsOutOfRange) {
  auto r1 = client_->Put(Key("c"), "1", D());
  ASSERT_TRUE(r1.ok());
  auto r2 = client_->Put(Key("c"), "2", D());
  ASSERT_TRUE(r2.ok());
  auto compacted = client_->Compact(*r2, /*physical=*/true, D());
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  auto w = client_->Watch(WatchOptions{.key = Key("c"), .start_revision = *r1}, D());
  Status err = w.ok() ? (*w)->Next(D()).status() : w.status();
  EXPECT_EQ(err.code(), StatusCode::kOutOfRange) << err;
  EXPECT_NE(err.message().find("compacted"), std::string::npos) << err;
  if (w.ok()) {
    EXPECT_EQ((*w)->compact_revision(), *r2);
  }
  // A range read below the compaction point fails the same way.
  RangeRequest old = RangeRequest::Key(Key("c"));
  old.revision = *r1;
  EXPECT_EQ(client_->Range(old, D()).status().code(), StatusCode::kOutOfRange);
  // A second compaction at the same revision is refused.
  EXPECT_EQ(client_->Compact(*r2, false, D()).status().code(), StatusCode::kOutOfRange);
  // The current value survives compaction.
  EXPECT_EQ((*client_->Get(Key("c"), D()))->value, "2");
}

TEST_P(EtcdContract, Watch_cancelEndsNextWithCancelled) {
  auto w = client_->Watch(WatchOptions{.key = Key("x")}, D());
  ASSERT_TRUE(w.ok()) << w.status();
  std::thread canceller([&] {
    std::this_thread::sleep_for(100ms);
    (*w)->Cancel();
  });
  auto r = (*w)->Next(D());
  canceller.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status();
}

TEST_P(EtcdContract, Watch_progressRequestReportsCurrentRevision) {
  auto w = client_->Watch(WatchOptions{.key = Key("x")}, D());
  ASSERT_TRUE(w.ok()) << w.status();
  auto rev = client_->Put(Key("unwatched"), "v", D());
  ASSERT_TRUE(rev.ok());
  (*w)->RequestProgress();
  auto b = (*w)->Next(D());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->progress);
  EXPECT_TRUE(b->events.empty());
  EXPECT_GE(b->header.revision, *rev);
}

TEST_P(EtcdContract, Lease_keysLiveUntilRevoked) {
  auto lease = client_->LeaseGrant(30, 0, D());
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_GT(lease->id, 0);
  EXPECT_EQ(lease->ttl, 30);
  ASSERT_TRUE(
      client_->Put(PutRequest{.key = Key("l"), .value = "v", .lease = lease->id}, D()).ok());
  auto ttl = client_->LeaseTimeToLive(lease->id, /*keys=*/true, D());
  ASSERT_TRUE(ttl.ok()) << ttl.status();
  EXPECT_GT(ttl->ttl, 0);
  EXPECT_EQ(ttl->granted_ttl, 30);
  ASSERT_EQ(ttl->keys.size(), 1u);
  EXPECT_EQ(ttl->keys[0], Key("l"));
  EXPECT_TRUE(
      client_
          ->Txn(TxnRequest{.compare = {Compare::Lease(Key("l"), CompareOp::kEqual, lease->id)}},
                D())
          ->succeeded);

  ASSERT_TRUE(client_->LeaseRevoke(lease->id, D()).ok());
  EXPECT_FALSE((*client_->Get(Key("l"), D())).has_value());
  EXPECT_EQ(client_->LeaseTimeToLive(lease->id, false, D())->ttl, -1);
  EXPECT_EQ(client_->LeaseRevoke(lease->id, D()).code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->LeaseKeepAliveOnce(lease->id, D()).status().code(), StatusCode::kNotFound);
}

TEST_P(EtcdContract, Lease_putWithUnknownLeaseIsNotFound) {
  auto r = client_->Put(PutRequest{.key = Key("l"), .value = "v", .lease = 0x5eadbeef}, D());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();
  EXPECT_FALSE((*client_->Get(Key("l"), D())).has_value());
}

TEST_P(EtcdContract, Lease_expiryDeletesItsKeys) {
  auto lease = client_->LeaseGrant(1, 0, D());
  ASSERT_TRUE(lease.ok()) << lease.status();
  auto w = client_->Watch(WatchOptions{.key = Key("e")}, D());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(
      client_->Put(PutRequest{.key = Key("e"), .value = "v", .lease = lease->id}, D()).ok());
  // Expect the put, then the deletion by expiry (no keep-alive is sent).
  auto events = Collect(**w, 2, Deadline::After(20s));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, Event::Type::kDelete);
  EXPECT_FALSE((*client_->Get(Key("e"), D())).has_value());
}

TEST_P(EtcdContract, LeaseKeeper_keepsLeaseAlivePastItsTtl) {
  auto lease = client_->LeaseGrant(1, 0, D());
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(
      client_->Put(PutRequest{.key = Key("k"), .value = "v", .lease = lease->id}, D()).ok());
  {
    LeaseKeeper keeper(*client_, lease->id, std::chrono::seconds(lease->ttl));
    std::this_thread::sleep_for(3s);
    EXPECT_FALSE(keeper.lost());
    EXPECT_GE(keeper.refreshes(), 2);
    EXPECT_TRUE((*client_->Get(Key("k"), D())).has_value());
  }
  ASSERT_TRUE(client_->LeaseRevoke(lease->id, D()).ok());
}

TEST_P(EtcdContract, LeaseKeeper_reportsLostLease) {
  auto lease = client_->LeaseGrant(5, 0, D());
  ASSERT_TRUE(lease.ok());
  LeaseKeeper keeper(*client_, lease->id, std::chrono::seconds(lease->ttl));
  ASSERT_TRUE(client_->LeaseRevoke(lease->id, D()).ok());
  Deadline until = Deadline::After(10s);
  while (!keeper.lost() && !until.expired()) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(keeper.lost());
}

TEST_P(EtcdContract, MemberStatus_reportsALeaderAndMembers) {
  auto endpoints = client_->endpoints();
  ASSERT_FALSE(endpoints.empty());
  auto st = client_->EndpointStatus(endpoints[0], D());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_NE(st->leader, 0u);
  EXPECT_NE(st->header.member_id, 0u);
  EXPECT_GT(st->raft_term, 0u);
  EXPECT_FALSE(st->version.empty());
  auto members = client_->MemberList(D());
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_FALSE(members->members.empty());
  bool leader_listed = false;
  for (const auto& m : members->members) leader_listed |= m.id == st->leader;
  EXPECT_TRUE(leader_listed);
}

TEST_P(EtcdContract, AnyCall_expiredDeadlineIsDeadlineExceeded) {
  Deadline past = Deadline::After(-1ms);
  EXPECT_EQ(client_->Put(Key("x"), "v", past).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client_->Get(Key("x"), past).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(client_->Txn(TxnRequest{}, past).status().code(), StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace br2k::etcd::contract
