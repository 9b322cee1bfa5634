// Exactly-once chain transactions of Normal requests, end to end: a real 3-member etcd cluster,
// three br2k-logserver processes with --rpc-url/--tx-key-file (one shared service key), and a
// real anvil. POST /anchor sends one transaction; a retry sends nothing; a leader killed right
// after broadcasting (failpoint after_broadcast) leaves the entry InProcess with its recorded
// raw transaction, and the next leader re-broadcasts that same transaction and settles RS from
// the receipt: exactly one transaction on chain, RS Success, the client's retry answered with
// the mined hash.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "anvil.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/http/client.h"
#include "br2k/replication/chain_effects.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/log_entry.h"
#include "logserver_fleet.h"
#include "test_env.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using eth::testing::Anvil;
using nlohmann::json;
constexpr int kNodes = 3;
constexpr char kService[] = "anchors";

class ChainTxIT : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = testing::LogserverFleet::Create({.dir = dir_.path(),
                                              .nodes = kNodes,
                                              .service = kService,
                                              .args = testing::FastFailoverArgs(300)},
                                             Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value();
    auto a = Anvil::Start("chain-tx");
    ASSERT_TRUE(a.ok()) << a.status();
    anvil_ = std::move(*a);
    tx_key_file_ = dir_.path() / "service-tx.key";
    std::ofstream(tx_key_file_) << eth::testing::kAnvilKey4 << "\n";
    tx_address_ = eth::PrivateKey::FromHex(eth::testing::kAnvilKey4)->address();
    auto etcd = etcd::GrpcClient::Create({.endpoints = fleet_->cluster().client_urls()});
    ASSERT_TRUE(etcd.ok());
    etcd_ = std::move(*etcd);
  }

  void TearDown() override {
    if (!fleet_) return;
    fleet_->StopAll();
    if (HasFailure()) fleet_->DumpLogs(std::cerr);
  }

  std::string Url(int i) const { return fleet_->Url(i); }

  void StartNode(int i, const std::string& failpoint = "") {
    std::vector<std::string> extra = {"--rpc-url=" + anvil_->url(),
                                      "--tx-key-file=" + tx_key_file_.string()};
    if (!failpoint.empty()) extra.push_back("--failpoint=" + failpoint);
    Status s = fleet_->Start(i, extra);
    ASSERT_TRUE(s.ok()) << s;
  }

  int WaitLeader(std::set<int> among) { return fleet_->WaitLeader(among, Deadline::After(40s)); }

  // POST /anchor as (client, seq) through the nodes in `via`, following redirects and retrying
  // on 503/connection errors until a final answer or the bound.
  Result<http::ClientResponse> Anchor(std::vector<int> via, uint64_t seq) {
    auto until = Deadline::After(60s);
    Status last = UnavailableError("no attempt");
    while (!until.expired()) {
      for (int i : via) {
        std::string url = Url(i);
        for (int hop = 0; hop < 3; ++hop) {
          auto r = http::Call(url, "POST", "/anchor", "{}",
                              testing::SessionHeaders("anchor-it", seq), Deadline::After(10s));
          if (!r.ok()) {
            last = r.status();
            break;
          }
          if (r->status == 307) {
            auto loc = r->headers.find("x-br2k-leader-url");
            if (loc == r->headers.end() || loc->second.empty()) break;
            url = loc->second;
            continue;
          }
          if (r->status == 503) {
            last = UnavailableError(r->body);
            break;
          }
          return *r;
        }
      }
      std::this_thread::sleep_for(100ms);
    }
    return last;
  }

  uint64_t MinedNonce() {
    auto n = anvil_->client()->GetTransactionCount(tx_address_, "latest", Deadline::After(5s));
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : 0;
  }

  std::string Value(const std::string& key) {
    auto kv = etcd_->Get(key, Deadline::After(5s));
    return kv.ok() && *kv ? (*kv)->value : "";
  }

  testing::ScratchDir dir_{"br2k-chain-tx-it"};
  std::unique_ptr<testing::LogserverFleet> fleet_;
  std::unique_ptr<Anvil> anvil_;
  std::shared_ptr<etcd::GrpcClient> etcd_;
  std::filesystem::path tx_key_file_;
  eth::Address tx_address_;
};

TEST_F(ChainTxIT, AnchorSendsOneTransactionAndARetrySendsNone) {
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  ASSERT_GE(WaitLeader({0, 1, 2}), 0);
  auto r = Anchor({0, 1, 2}, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  json body = json::parse(r->body);
  EXPECT_EQ(body.at("status"), "success");
  const std::string hash = body.at("tx");
  auto receipt =
      anvil_->client()->GetTransactionReceipt(*eth::Hash::FromHex(hash), Deadline::After(5s));
  ASSERT_TRUE(receipt.ok() && receipt->has_value());
  EXPECT_TRUE((*receipt)->success);
  EXPECT_EQ((*receipt)->from, tx_address_);
  EXPECT_EQ(MinedNonce(), 1u);
  auto again = Anchor({2, 1, 0}, 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->headers["x-br2k-duplicate"], "true");
  EXPECT_EQ(json::parse(again->body).at("tx"), hash);
  EXPECT_EQ(MinedNonce(), 1u);  // nothing sent again
}

TEST_F(ChainTxIT, LeaderKilledAfterBroadcastNewLeaderSettlesTheSameTransaction) {
  // Node 0 alone first, armed to die right after broadcasting; it becomes the leader.
  StartNode(0, "after_broadcast");
  ASSERT_EQ(WaitLeader({0}), 0);
  StartNode(1);
  StartNode(2);
  // The request kills node 0 after its transaction left; the client keeps retrying the same
  // (client, seq) through the other nodes until the new leader has settled it.
  auto r = Anchor({0, 1, 2}, 7);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(fleet_->Alive(0)) << "the failpoint did not fire";
  json body = json::parse(r->body);
  EXPECT_EQ(body.at("status"), "success");
  const uint64_t index = body.at("index");
  const std::string hash = body.at("tx");
  // Exactly one transaction from the service key, and it is the recorded one.
  EXPECT_EQ(MinedNonce(), 1u);
  KeyLayout k(kService);
  auto rec = DecodeSignedTx(Value(k.tx(index)));
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->hash, hash);
  EXPECT_EQ(Value(k.tx_pending(index)), "");
  auto rs = DecodeEntryStatus(Value(k.rs(index)));
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(rs->state, EntryState::kSuccess);
  // The old leader comes back as a follower and sends nothing.
  fleet_->Forget(0);
  StartNode(0);
  auto later = Anchor({0, 1, 2}, 8);
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_EQ(later->status, 200) << later->body;
  EXPECT_EQ(json::parse(later->body).at("nonce"), 1);
  EXPECT_EQ(MinedNonce(), 2u);
}

}  // namespace
}  // namespace br2k::replication
