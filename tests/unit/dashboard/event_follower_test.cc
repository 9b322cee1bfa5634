// The event follower against an in-memory node (FakeNode answering eth_blockNumber and
// eth_getLogs with real registry Claim logs) and a real replica runtime over the in-memory etcd:
// each event is recorded once however often the node returns it, a block holding more events
// than a batch is recorded over several batches, and a replica that is not the leader never asks
// the node for logs.
#include "event_follower.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/etcd/fake_client.h"
#include "br2k/eth/abi.h"
#include "br2k/eth/keccak.h"
#include "dashboard_app.h"
#include "fake_eth_node.h"

namespace br2k::apps::dashboard {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

template <typename F>
bool WaitFor(F cond) {  // bounded: 20 s
  auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Word(const std::string& hex_tail) {  // 0x + 64 digits, left-padded
  return "0x" + std::string(64 - hex_tail.size(), '0') + hex_tail;
}

// A chain with Claim logs of one service, appended by the test.
class Chain {
 public:
  void AddClaim(uint64_t block, uint64_t log_index, const std::string& reason) {
    std::lock_guard l(mu_);
    static const std::string topic =
        eth::Keccak256(std::string_view("Claim(bytes32,address,string,string)")).ToHex();
    auto data = eth::AbiEncode({eth::AbiType::String(), eth::AbiType::String()},
                               {eth::AbiValue::Str("http://svc:1"), eth::AbiValue::Str(reason)});
    logs_.push_back({{"address", "0x5fbdb2315678afecb367f032d93f642f64180aa3"},
                     {"topics", {topic, "0x" + std::string(64, 'a'), Word(std::string(40, 'c'))}},
                     {"data", eth::ToHex(*data)},
                     {"blockNumber", Hex(block)},
                     {"blockHash", Word(std::to_string(block))},
                     {"transactionHash", Word(std::to_string(block * 1000 + log_index))},
                     {"transactionIndex", "0x0"},
                     {"logIndex", Hex(log_index)},
                     {"removed", false}});
    head_ = std::max(head_, block);
  }
  // The next block (empty).
  void Mine() {
    std::lock_guard l(mu_);
    ++head_;
  }
  // A node that returns every log whatever range it is asked for (re-delivery).
  void set_sloppy(bool on) {
    std::lock_guard l(mu_);
    sloppy_ = on;
  }

  Result<json> Answer(const std::string& method, const json& params) {
    std::lock_guard l(mu_);
    if (method == "eth_blockNumber") return json(Hex(head_));
    if (method == "eth_getLogs") {
      uint64_t from = std::stoull(params[0]["fromBlock"].get<std::string>(), nullptr, 16);
      uint64_t to = std::stoull(params[0]["toBlock"].get<std::string>(), nullptr, 16);
      json out = json::array();
      for (const auto& log : logs_) {
        uint64_t b = std::stoull(log["blockNumber"].get<std::string>(), nullptr, 16);
        if (sloppy_ || (b >= from && b <= to)) out.push_back(log);
      }
      return out;
    }
    return json{{"__error", {{"code", -32601}, {"message", "no " + method}}}};
  }

 private:
  std::mutex mu_;
  json logs_ = json::array();
  uint64_t head_ = 1;
  bool sloppy_ = false;
};

struct Node {
  DashboardApp app;
  replication::MemoryStore store;
  std::unique_ptr<replication::Replica> replica;
  std::unique_ptr<EventFollower> follower;
};

class EventFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_shared<eth::testing::FakeNode>(
        [this](const std::string& m, const json& p) { return chain_.Answer(m, p); });
    client_ = std::make_shared<eth::RpcClient>(node_);
  }

  std::unique_ptr<Node> Start(const std::string& id, bool raft_leader) {
    auto n = std::make_unique<Node>();
    replication::ReplicaOptions o;
    o.service_id = "dashboard";
    o.replica_id = id;
    o.advertise_url = "http://127.0.0.1:1/" + id;
    o.local_endpoint = raft_leader ? "fake://etcd" : "";
    o.takeover_grace = raft_leader ? 0ms : 600s;
    o.check_interval = 20ms;
    auto r =
        replication::Replica::Create(o, {.client = &etcd_, .app = &n->app, .store = &n->store});
    EXPECT_TRUE(r.ok()) << r.status();
    n->replica = std::move(*r);
    EXPECT_TRUE(n->replica->Start().ok());
    n->follower = std::make_unique<EventFollower>(
        client_, *eth::Address::Parse("0x5FbDB2315678afecb367f032d93F642f64180aa3"), *n->replica,
        EventFollowerOptions{.poll_interval = 20ms});
    n->follower->Start();
    return n;
  }

  static size_t Claims(Node& n) {
    auto s = DecodeState(n.replica->local_state().snapshot);
    if (!s.ok()) return 0;
    size_t c = 0;
    for (const auto& [_, h] : s->services) {
      for (const auto& e : h.events) c += e.kind == "Claim";
    }
    return c;
  }

  Chain chain_;
  std::shared_ptr<eth::testing::FakeNode> node_;
  std::shared_ptr<eth::RpcClient> client_;
  etcd::FakeClient etcd_;
};

TEST_F(EventFollowerTest, Poll_recordsEachEventOnce) {
  chain_.set_sloppy(true);  // every poll gets every log again
  chain_.AddClaim(5, 0, "first");
  auto leader = Start("a", true);
  auto follower = Start("b", false);
  ASSERT_TRUE(WaitFor([&] { return Claims(*leader) == 1 && Claims(*follower) == 1; }));
  const uint64_t ls = leader->replica->status().ls;
  // New (empty) blocks: each poll reads the same claim again; nothing more is written.
  int polls = node_->calls("eth_getLogs");
  ASSERT_TRUE(WaitFor([&] {
    chain_.Mine();
    return node_->calls("eth_getLogs") >= polls + 5;
  }));
  EXPECT_EQ(Claims(*leader), 1u);
  EXPECT_EQ(leader->replica->status().ls, ls);
  // A new claim in a later block: recorded once too.
  chain_.AddClaim(100, 2, "second");
  ASSERT_TRUE(WaitFor([&] { return Claims(*leader) == 2 && Claims(*follower) == 2; }));
  polls = node_->calls("eth_getLogs");
  ASSERT_TRUE(WaitFor([&] {
    chain_.Mine();
    return node_->calls("eth_getLogs") >= polls + 5;
  }));
  EXPECT_EQ(Claims(*leader), 2u);
}

TEST_F(EventFollowerTest, Poll_blockWithMoreEventsThanABatch) {
  for (uint64_t i = 0; i < kMaxEventsPerBatch + 44; ++i) {
    chain_.AddClaim(7, i, "claim " + std::to_string(i));
  }
  auto leader = Start("a", true);
  ASSERT_TRUE(WaitFor([&] { return Claims(*leader) == kMaxEventsPerBatch + 44; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Claims(*leader), kMaxEventsPerBatch + 44);
  auto s = DecodeState(leader->replica->local_state().snapshot);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->next_block, 8u);
}

TEST_F(EventFollowerTest, NotLeader_neverAsksForLogs) {
  chain_.AddClaim(3, 0, "x");
  auto follower = Start("b", false);  // no leader at all
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(node_->calls("eth_getLogs"), 0);
  EXPECT_EQ(Claims(*follower), 0u);
}

}  // namespace
}  // namespace br2k::apps::dashboard
