// The JSON-RPC client and the transaction sender against a real anvil: locally signed
// transactions from a fresh key, concurrent senders on one key, replacement of a stuck
// transaction, batches, chunked logs, and clear errors.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "anvil.h"
#include "br2k/eth/keccak.h"
#include "br2k/eth/log_watcher.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/tx_sender.h"
#include "br2k/proc/process.h"

namespace br2k::eth {
namespace {

Deadline Soon() {
  return Deadline::After(std::chrono::seconds(60));
}

class RpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto a = testing::Anvil::Start("eth-rpc");
    ASSERT_TRUE(a.ok()) << a.status();
    anvil_ = std::move(*a).release();
  }
  static void TearDownTestSuite() { delete anvil_; }

  std::unique_ptr<TxSender> Funder() {
    auto s = TxSender::Create(anvil_->client(), *PrivateKey::FromHex(testing::kAnvilKey1),
                              testing::kAnvilChainId, Soon());
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }

  static testing::Anvil* anvil_;
};
testing::Anvil* RpcTest::anvil_ = nullptr;

TEST_F(RpcTest, LocallySignedFromFreshKey_isMined) {
  PrivateKey key = PrivateKey::Random();
  auto funder = Funder();
  SendOptions fund;
  fund.value = *U256::FromDecimal("2000000000000000000");
  ASSERT_TRUE(funder->SendAndWait(key.address(), {}, fund, Soon()).ok());
  EXPECT_EQ(*anvil_->client()->GetBalance(key.address(), Soon()), fund.value);

  auto sender = TxSender::Create(anvil_->client(), key, testing::kAnvilChainId, Soon());
  ASSERT_TRUE(sender.ok());
  Address sink = PrivateKey::Random().address();
  for (bool legacy : {false, true}) {
    SendOptions opts;
    opts.value = U256(12345);
    opts.legacy = legacy;
    auto tx = (*sender)->Prepare(sink, {}, opts, Soon());
    ASSERT_TRUE(tx.ok()) << tx.status();
    EXPECT_EQ(*tx->Sender(), key.address());
    auto h = (*sender)->Broadcast(*tx, Soon());
    ASSERT_TRUE(h.ok()) << h.status();
    auto r = anvil_->client()->WaitForReceipt(*h, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->success);
    EXPECT_EQ(r->from, key.address());
    EXPECT_EQ(r->transaction_hash, tx->hash);
    // The node's view of the transaction matches what we signed.
    auto j = anvil_->client()->Call("eth_getTransactionByHash",
                                    nlohmann::json::array({tx->hash.ToHex()}), Soon());
    ASSERT_TRUE(j.ok());
    EXPECT_EQ((*j)["type"], legacy ? "0x0" : "0x2");
    // Re-broadcasting the same bytes is harmless.
    auto again = anvil_->client()->SendRawTransaction(tx->raw, Soon());
    EXPECT_TRUE(!again.ok() || *again == tx->hash);
  }
  EXPECT_EQ(*anvil_->client()->GetBalance(sink, Soon()), U256(24690));
}

TEST_F(RpcTest, EightConcurrentSendersOnOneKey_neverCollide) {
  PrivateKey key = PrivateKey::Random();
  auto funder = Funder();
  SendOptions fund;
  fund.value = *U256::FromDecimal("5000000000000000000");
  ASSERT_TRUE(funder->SendAndWait(key.address(), {}, fund, Soon()).ok());
  auto sender = TxSender::Create(anvil_->client(), key, testing::kAnvilChainId, Soon());
  ASSERT_TRUE(sender.ok());
  constexpr int kThreads = 8, kPerThread = 6;
  std::mutex mu;
  std::vector<uint64_t> nonces;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  Address sink = PrivateKey::Random().address();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        SendOptions opts;
        opts.value = U256(1);
        auto tx = (*sender)->Prepare(sink, {}, opts, Soon());
        if (!tx.ok()) {
          std::lock_guard<std::mutex> l(mu);
          errors.push_back(tx.status().ToString());
          continue;
        }
        auto h = (*sender)->Broadcast(*tx, Soon());
        auto r =
            h.ok() ? anvil_->client()->WaitForReceipt(*h, Soon()) : Result<Receipt>(h.status());
        std::lock_guard<std::mutex> l(mu);
        if (!r.ok() || !r->success) {
          errors.push_back(r.ok() ? "failed" : r.status().ToString());
        } else {
          nonces.push_back(tx->tx.nonce);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::set<uint64_t> distinct(nonces.begin(), nonces.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*distinct.begin(), 0u);
  EXPECT_EQ(*distinct.rbegin(), static_cast<uint64_t>(kThreads * kPerThread - 1));
  EXPECT_EQ(*anvil_->client()->GetTransactionCount(key.address(), "latest", Soon()),
            static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(*anvil_->client()->GetBalance(sink, Soon()), U256(kThreads * kPerThread));
}

TEST_F(RpcTest, Replace_stuckTransactionIsMinedInstead) {
  auto client = anvil_->client();
  ASSERT_TRUE(client->Call("evm_setAutomine", nlohmann::json::array({false}), Soon()).ok());
  auto sender = Funder();
  Address sink = PrivateKey::Random().address();
  SendOptions opts;
  opts.value = U256(7);
  auto stuck = sender->Prepare(sink, {}, opts, Soon());
  ASSERT_TRUE(stuck.ok()) << stuck.status();
  ASSERT_TRUE(sender->Broadcast(*stuck, Soon()).ok());
  auto replacement = sender->Replace(*stuck, Soon());
  ASSERT_TRUE(replacement.ok()) << replacement.status();
  EXPECT_EQ(replacement->tx.nonce, stuck->tx.nonce);
  EXPECT_GT(replacement->tx.max_fee_per_gas, stuck->tx.max_fee_per_gas);
  EXPECT_NE(replacement->hash, stuck->hash);
  ASSERT_TRUE(client->Call("evm_mine", nlohmann::json::array(), Soon()).ok());
  ASSERT_TRUE(client->Call("evm_setAutomine", nlohmann::json::array({true}), Soon()).ok());
  auto r = client->WaitForReceipt(replacement->hash, Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->success);
  auto old = client->GetTransactionReceipt(stuck->hash, Soon());
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
}

TEST_F(RpcTest, Batch_answersEveryCallInOrder) {
  auto b = anvil_->client()->Batch({{"eth_chainId", nlohmann::json::array()},
                                    {"eth_blockNumber", nlohmann::json::array()},
                                    {"no_such_method", nlohmann::json::array()}},
                                   Soon());
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->size(), 3u);
  EXPECT_EQ(*ParseQuantityU64(*(*b)[0]), testing::kAnvilChainId);
  EXPECT_TRUE((*b)[1].ok());
  EXPECT_FALSE((*b)[2].ok());
}

TEST_F(RpcTest, GetLogs_inChunksSeesEveryLog) {
  // A contract whose constructor emits one log (LOG0 of empty data): deploy it 5 times.
  // init code: PUSH1 0 PUSH1 0 LOG0 STOP
  Bytes init = {0x60, 0x00, 0x60, 0x00, 0xa0, 0x00};
  auto sender = Funder();
  uint64_t from = *anvil_->client()->BlockNumber(Soon()) + 1;
  std::vector<Address> created;
  for (int i = 0; i < 5; ++i) {
    SendOptions opts;
    opts.gas_limit = 100000;
    auto r = sender->SendAndWait(std::nullopt, init, opts, Soon());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->logs.size(), 1u);
  }
  LogFilter f;
  f.from_block = from;
  auto logs = anvil_->client()->GetLogs(f, Soon(), /*chunk=*/1);
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(logs->size(), 5u);
  for (size_t i = 1; i < logs->size(); ++i) {
    EXPECT_GT((*logs)[i].block_number, (*logs)[i - 1].block_number);
  }
}

TEST_F(RpcTest, Errors_areClear) {
  // Wrong chain id.
  auto wrong = TxSender::Create(anvil_->client(), PrivateKey::Random(), 1, Soon());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("wrong chain id"), std::string::npos);
  // Unreachable node: a port nobody listens on.
  auto port = proc::FreePort("127.0.0.1");
  ASSERT_TRUE(port.ok());
  auto t = MakeHttpTransport("http://127.0.0.1:" + std::to_string(*port));
  ASSERT_TRUE(t.ok());
  RpcClient dead(*t);
  auto id = dead.ChainId(Deadline::After(std::chrono::seconds(5)));
  EXPECT_EQ(id.status().code(), StatusCode::kUnavailable) << id.status();
  // Revert with a reason: eth_call to init code that reverts with Error("no").
  auto err = *ParseFunctionSignature("Error(string)");
  Bytes payload = *err.EncodeCall({AbiValue::Str("no")});
  // Code: CODECOPY the payload (appended after the 12-byte prologue) and REVERT with it.
  Bytes code = {0x60, static_cast<uint8_t>(payload.size()), 0x60, 0x0c, 0x60, 0x00, 0x39,
                0x60, static_cast<uint8_t>(payload.size()), 0x60, 0x00, 0xfd};
  code.insert(code.end(), payload.begin(), payload.end());
  CallRequest req{std::nullopt, std::nullopt, code, U256(), std::nullopt};
  auto out = anvil_->client()->EthCall(req, Soon());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->reverted);
  EXPECT_EQ(out->revert.ToString(), "execution reverted: no");
  auto gas = anvil_->client()->EstimateGas(req, Soon());
  EXPECT_EQ(gas.status().code(), StatusCode::kAborted);
  EXPECT_NE(gas.status().message().find("no"), std::string::npos) << gas.status();
  // No code at an address.
  EXPECT_EQ(anvil_->client()->RequireCode(PrivateKey::Random().address(), Soon()).code(),
            StatusCode::kFailedPrecondition);
  // https is refused up front.
  EXPECT_EQ(MakeHttpTransport("https://example.invalid").status().code(),
            StatusCode::kUnimplemented);
}

TEST_F(RpcTest, WebSocket_callsAndLogSubscription) {
  std::string ws_url = "ws" + anvil_->url().substr(4);  // anvil serves ws on the same port
  auto t = MakeWebSocketTransport(ws_url, Soon());
  ASSERT_TRUE(t.ok()) << t.status();
  auto client = std::make_shared<RpcClient>(*t);
  EXPECT_EQ(*client->ChainId(Soon()), testing::kAnvilChainId);
  auto b = client->Batch(
      {{"eth_chainId", nlohmann::json::array()}, {"eth_blockNumber", nlohmann::json::array()}},
      Soon());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)[1].ok());

  // A watcher over the WebSocket subscribes and receives pushed logs, once each.
  auto sender = Funder();
  Bytes init = {0x60, 0x00, 0x60, 0x00, 0xa0, 0x00};  // constructor emits LOG0
  LogFilter f;
  f.from_block = *client->BlockNumber(Soon()) + 1;
  LogWatcher::Options opts;
  opts.poll_interval = std::chrono::milliseconds(20);
  LogWatcher w(client, f, opts);
  std::mutex mu;
  std::vector<uint64_t> blocks;
  std::stop_source stop;
  std::atomic<bool> subscribed{false};
  std::thread watcher([&] {
    Status s = w.Run(
        [&](const Log& l) {
          subscribed = w.subscribed();
          std::lock_guard<std::mutex> g(mu);
          blocks.push_back(l.block_number);
          if (blocks.size() == 4) stop.request_stop();
          return Status::Ok();
        },
        stop.get_token(), Soon());
    EXPECT_TRUE(s.ok()) << s;
  });
  for (int i = 0; i < 4; ++i) {
    SendOptions o;
    o.gas_limit = 100000;
    ASSERT_TRUE(sender->SendAndWait(std::nullopt, init, o, Soon()).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  watcher.join();
  ASSERT_EQ(blocks.size(), 4u);
  for (size_t i = 1; i < blocks.size(); ++i) EXPECT_GT(blocks[i], blocks[i - 1]);
  EXPECT_TRUE(subscribed.load());
}

}  // namespace
}  // namespace br2k::eth
