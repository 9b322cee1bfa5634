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
#include "br2k/cluster/local_cluster.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/http/client.h"
#include "br2k/proc/process.h"
#include "br2k/replication/chain_effects.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/log_entry.h"
#include "br2k/replication/node_process.h"
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
    auto c = cluster::LocalCluster::Start(cluster::LocalClusterOptions::TestProfile(dir_.path()),
                                          Deadline::After(60s));
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(c).value();
    auto a = Anvil::Start("chain-tx");
    ASSERT_TRUE(a.ok()) << a.status();
    anvil_ = std::move(*a);
    tx_key_file_ = dir_.path() / "service-tx.key";
    std::ofstream(tx_key_file_) << eth::testing::kAnvilKey4 << "\n";
    tx_address_ = eth::PrivateKey::FromHex(eth::testing::kAnvilKey4)->address();
    for (int i = 0; i < kNodes; ++i) {
      auto port = proc::FreePort();
      ASSERT_TRUE(port.ok());
      ports_.push_back(*port);
      pids_.push_back(0);
    }
    auto etcd = etcd::GrpcClient::Create({.endpoints = cluster_->client_urls()});
    ASSERT_TRUE(etcd.ok());
    etcd_ = std::move(*etcd);
  }

  void TearDown() override {
    for (int i = 0; i < kNodes; ++i) StopNode(i);
    if (HasFailure()) {
      for (int i = 0; i < kNodes; ++i) {
        std::ifstream in(dir_.path() / ("node-" + std::to_string(i) + ".log"));
        std::string all((std::istreambuf_iterator<char>(in)), {});
        if (all.size() > 4000) all = all.substr(all.size() - 4000);
        std::cerr << "---- node " << i << " log tail ----\n" << all << "\n";
      }
    }
  }

  std::string Url(int i) const { return "http://127.0.0.1:" + std::to_string(ports_[i]); }

  void StartNode(int i, const std::string& failpoint = "") {
    LogserverNode n{.id = "node-" + std::to_string(i),
                    .service = kService,
                    .listen_port = ports_[i],
                    .etcd_urls = cluster_->client_urls(),
                    .local_etcd_url = cluster_->members()[i].client_url,
                    .data_dir = dir_.path() / ("data-" + std::to_string(i))};
    n.extra_args = {"--leader-ttl=1",
                    "--takeover-grace-ms=300",
                    "--step-down-ms=1500",
                    "--request-timeout-ms=5000",
                    "--rpc-url=" + anvil_->url(),
                    "--tx-key-file=" + tx_key_file_.string()};
    if (!failpoint.empty()) n.extra_args.push_back("--failpoint=" + failpoint);
    proc::SpawnSpec spec{.argv = LogserverArgv(testing::BinDir() / "br2k-logserver", n),
                         .log_file = dir_.path() / ("node-" + std::to_string(i) + ".log")};
    auto pid = launcher_->Spawn(spec);
    ASSERT_TRUE(pid.ok()) << pid.status();
    pids_[i] = *pid;
    auto until = Deadline::After(20s);
    while (!until.expired() && !ProbeReplica(Url(i), Deadline::After(1s)).ok()) {
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(ProbeReplica(Url(i), Deadline::After(2s)).ok()) << "node " << i << " not up";
  }

  void StopNode(int i) {
    if (pids_[i] > 0) (void)proc::Terminate(*launcher_, pids_[i], 3s);
    pids_[i] = 0;
  }

  int WaitLeader(std::set<int> among) {
    auto until = Deadline::After(40s);
    while (!until.expired()) {
      for (int i : among) {
        auto p = ProbeReplica(Url(i), Deadline::After(1s));
        if (p.ok() && p->role == "Leader") return i;
      }
      std::this_thread::sleep_for(50ms);
    }
    return -1;
  }

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
                              {{"X-Br2k-Client", "anchor-it"}, {"X-Br2k-Seq", std::to_string(seq)}},
                              Deadline::After(10s));
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
  std::unique_ptr<cluster::LocalCluster> cluster_;
  std::unique_ptr<Anvil> anvil_;
  std::shared_ptr<etcd::GrpcClient> etcd_;
  std::shared_ptr<proc::Launcher> launcher_ = proc::PosixLauncher();
  std::filesystem::path tx_key_file_;
  eth::Address tx_address_;
  std::vector<int> ports_;
  std::vector<int> pids_;
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
  EXPECT_FALSE(launcher_->Alive(pids_[0])) << "the failpoint did not fire";
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
  pids_[0] = 0;
  StartNode(0);
  auto later = Anchor({0, 1, 2}, 8);
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_EQ(later->status, 200) << later->body;
  EXPECT_EQ(json::parse(later->body).at("nonce"), 1);
  EXPECT_EQ(MinedNonce(), 2u);
}

}  // namespace
}  // namespace br2k::replication
