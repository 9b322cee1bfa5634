// RpcClient, NonceManager and LogWatcher against an in-memory node (a scripted RpcTransport):
// error mapping, range halving, idempotent re-broadcast, and watcher delivery across failures.
#include "br2k/eth/rpc_client.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "br2k/eth/keccak.h"
#include "br2k/eth/log_watcher.h"
#include "br2k/eth/tx_sender.h"
#include "fake_eth_node.h"

namespace br2k::eth {
namespace {

using nlohmann::json;
using testing::FakeNode;

json Error(int code, const std::string& msg) {
  return {{"__error", {{"code", code}, {"message", msg}}}};
}

Deadline Soon() {
  return Deadline::After(std::chrono::seconds(10));
}

json LogJson(uint64_t block, uint64_t index) {
  return {{"address", "0x" + std::string(40, 'a')},
          {"topics", json::array({"0x" + std::string(64, '1')})},
          {"data", "0x"},
          {"blockNumber", U256(block).ToQuantity()},
          {"blockHash", "0x" + std::string(64, '2')},
          {"transactionHash", "0x" + std::string(64, '3')},
          {"logIndex", U256(index).ToQuantity()},
          {"removed", false}};
}

TEST(RpcClient, GetLogs_halvesRefusedRangesAndSeesEveryLog) {
  auto node = std::make_shared<FakeNode>([](const std::string& m, const json& p) -> Result<json> {
    if (m != "eth_getLogs") return Error(-32601, "no");
    uint64_t from = *ParseQuantityU64(p[0]["fromBlock"]), to = *ParseQuantityU64(p[0]["toBlock"]);
    if (to - from + 1 > 10) return Error(-32005, "query exceeds max block range 10");
    json logs = json::array();
    for (uint64_t b = from; b <= to; ++b) logs.push_back(LogJson(b, 0));
    return logs;
  });
  RpcClient c(node);
  LogFilter f;
  f.from_block = 5;
  f.to_block = 104;
  auto logs = c.GetLogs(f, Soon(), 64);
  ASSERT_TRUE(logs.ok()) << logs.status();
  ASSERT_EQ(logs->size(), 100u);
  for (size_t i = 0; i < logs->size(); ++i) EXPECT_EQ((*logs)[i].block_number, 5 + i);
}

TEST(RpcClient, Errors_mapToCodes) {
  auto node = std::make_shared<FakeNode>([](const std::string& m, const json&) -> Result<json> {
    if (m == "eth_chainId") return json("0x5");
    if (m == "eth_blockNumber") return UnavailableError("fake: connection refused");
    if (m == "eth_sendRawTransaction") return Error(-32000, "already known");
    if (m == "eth_call") {
      return json{
          {"__error",
           {{"code", 3},
            {"message", "execution reverted"},
            {"data",
             "0x4e487b710000000000000000000000000000000000000000000000000000000000000011"}}}};
    }
    return Error(-32601, "method not found");
  });
  RpcClient c(node);
  EXPECT_EQ(c.CheckChainId(1, Soon()).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(c.CheckChainId(5, Soon()).ok());
  EXPECT_EQ(c.BlockNumber(Soon()).status().code(), StatusCode::kUnavailable);
  Bytes raw = {0x01, 0x02};
  auto h = c.SendRawTransaction(raw, Soon());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, Keccak256(raw));
  auto out = c.EthCall(CallRequest{}, Soon());
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->reverted);
  EXPECT_EQ(out->revert.ToString(), "panic: arithmetic underflow or overflow (0x11)");
  auto gas = c.Call("eth_foo", json::array(), Soon());
  EXPECT_EQ(gas.status().code(), StatusCode::kInternal);
  EXPECT_NE(gas.status().message().find("method not found"), std::string::npos);
}

TEST(NonceManager, ConcurrentReservesAreDistinctAndReleaseReuses) {
  auto node = std::make_shared<FakeNode>([](const std::string& m, const json&) -> Result<json> {
    if (m == "eth_getTransactionCount") return json("0x7");
    return Error(-32601, "no");
  });
  RpcClient c(node);
  NonceManager nm;
  Address a;
  std::mutex mu;
  std::set<uint64_t> got;
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto n = nm.Reserve(c, a, Soon());
        ASSERT_TRUE(n.ok());
        std::lock_guard<std::mutex> l(mu);
        EXPECT_TRUE(got.insert(*n).second) << *n;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(got.size(), 200u);
  EXPECT_EQ(*got.begin(), 7u);
  EXPECT_EQ(node->calls("eth_getTransactionCount"), 1);
  nm.Release(a, 206);
  EXPECT_EQ(*nm.Reserve(c, a, Soon()), 206u);
  nm.Release(a, 100);  // not the last one: resynchronise from the node
  EXPECT_EQ(*nm.Reserve(c, a, Soon()), 7u);
  EXPECT_EQ(node->calls("eth_getTransactionCount"), 2);
}

TEST(LogWatcher, DeliversEachLogOnceAcrossPollsAndNodeOutages) {
  std::mutex mu;
  uint64_t head = 3;
  bool down = false;
  auto node = std::make_shared<FakeNode>([&](const std::string& m, const json& p) -> Result<json> {
    std::lock_guard<std::mutex> l(mu);
    if (down) return UnavailableError("fake: node down");
    if (m == "eth_blockNumber") return json(U256(head).ToQuantity());
    if (m == "eth_getLogs") {
      uint64_t from = *ParseQuantityU64(p[0]["fromBlock"]), to = *ParseQuantityU64(p[0]["toBlock"]);
      json logs = json::array();
      for (uint64_t b = from; b <= to; ++b) {
        logs.push_back(LogJson(b, 0));
        logs.push_back(LogJson(b, 1));
      }
      return logs;
    }
    return Error(-32601, "no");
  });
  auto client = std::make_shared<RpcClient>(node);
  LogFilter f;
  f.from_block = 1;
  LogWatcher::Options opts;
  opts.poll_interval = std::chrono::milliseconds(5);
  LogWatcher w(client, f, opts);
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  std::stop_source stop;
  std::thread t([&] {
    Status s = w.Run(
        [&](const Log& l) {
          std::lock_guard<std::mutex> g(mu);
          seen.emplace_back(l.block_number, l.log_index);
          if (seen.size() == 3 * 2) down = true;  // the node goes away after block 3
          if (seen.size() == 10 * 2) stop.request_stop();
          return Status::Ok();
        },
        stop.get_token(), Soon());
    EXPECT_TRUE(s.ok()) << s;
  });
  // Let it fail a few times, then bring the node back with more blocks.
  while (node->calls("eth_blockNumber") < 5)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    std::lock_guard<std::mutex> l(mu);
    down = false;
    head = 10;
  }
  t.join();
  ASSERT_EQ(seen.size(), 20u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, 1 + i / 2);
    EXPECT_EQ(seen[i].second, i % 2);
  }
  EXPECT_EQ(w.next_block(), 11u);
}

TEST(LogWatcher, StopsWithTheCallbacksError) {
  auto node = std::make_shared<FakeNode>([](const std::string& m, const json&) -> Result<json> {
    if (m == "eth_blockNumber") return json("0x1");
    if (m == "eth_getLogs") return json::array({LogJson(1, 0)});
    return Error(-32601, "no");
  });
  LogWatcher w(std::make_shared<RpcClient>(node), LogFilter{});
  std::stop_source never;
  Status s = w.Run([](const Log&) { return AbortedError("enough"); }, never.get_token(), Soon());
  EXPECT_EQ(s.code(), StatusCode::kAborted);
}

}  // namespace
}  // namespace br2k::eth
