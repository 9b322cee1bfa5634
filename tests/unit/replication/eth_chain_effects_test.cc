// EthChainEffects against an in-memory node: what signing asks of the chain (it runs on the
// leader's pipeline, so every round trip there delays the batch).
#include "br2k/replication/eth_chain_effects.h"

#include <gtest/gtest.h>

#include "br2k/eth/bytes.h"
#include "br2k/eth/transaction.h"
#include "fake_eth_node.h"

namespace br2k::replication {
namespace {

using namespace std::chrono_literals;
using eth::U256;
using eth::testing::FakeNode;
using nlohmann::json;

// Anvil's well-known development key 4 (mnemonic "test test ... junk"), as the service key.
constexpr char kServiceKey[] = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";

// A London chain 31337 whose service account has sent 5 transactions; base fee 10 gwei (the
// first fee reading) or 20 gwei (later ones), tip 2 gwei.
std::shared_ptr<FakeNode> Node() {
  auto fee_reads = std::make_shared<int>(0);
  return std::make_shared<FakeNode>([fee_reads](const std::string& m, const json&) -> Result<json> {
    if (m == "eth_chainId") return json("0x7a69");
    if (m == "eth_getTransactionCount") return json("0x5");
    if (m == "eth_getBlockByNumber") {
      return json{{"number", "0x10"},
                  {"baseFeePerGas",
                   U256((*fee_reads)++ == 0 ? 10'000'000'000 : 20'000'000'000).ToQuantity()}};
    }
    if (m == "eth_maxPriorityFeePerGas") return json(U256(2'000'000'000).ToQuantity());
    if (m == "eth_gasPrice") return json(U256(12'000'000'000).ToQuantity());
    return UnavailableError("fake: unexpected " + m);
  });
}

std::unique_ptr<EthChainEffects> Effects(std::shared_ptr<FakeNode> node,
                                         std::chrono::milliseconds fees_ttl) {
  auto key = eth::PrivateKey::FromHex(kServiceKey);
  EXPECT_TRUE(key.ok()) << key.status();
  return std::make_unique<EthChainEffects>(std::make_shared<eth::RpcClient>(std::move(node)), *key,
                                           31337, fees_ttl);
}

eth::Transaction Decoded(const SignedTx& s) {
  auto raw = eth::FromHex(s.raw);
  EXPECT_TRUE(raw.ok()) << raw.status();
  auto tx = eth::DecodeSignedTransaction(*raw);
  EXPECT_TRUE(tx.ok()) << tx.status();
  return tx.ok() ? tx->tx : eth::Transaction{};
}

const ChainCall kCall{.to = "", .data = "0x1234", .value = "0", .gas_limit = 60000};

TEST(EthChainEffects, SigningReadsTheNonceOnceAndTheFeesOncePerTtl) {
  auto node = Node();
  auto fx = Effects(node, 3600s);
  std::vector<SignedTx> signed_txs;
  for (int i = 0; i < 3; ++i) {
    auto s = fx->Sign(kCall, Deadline::After(5s));
    ASSERT_TRUE(s.ok()) << s.status();
    signed_txs.push_back(*s);
  }
  EXPECT_EQ(node->calls("eth_getTransactionCount"), 1);
  EXPECT_EQ(node->calls("eth_getBlockByNumber"), 1);
  EXPECT_EQ(node->calls("eth_estimateGas"), 0);  // the call gives its gas limit
  for (size_t i = 0; i < signed_txs.size(); ++i) {
    eth::Transaction tx = Decoded(signed_txs[i]);
    EXPECT_EQ(tx.nonce, 5 + i);
    EXPECT_EQ(signed_txs[i].nonce, 5 + i);
    EXPECT_EQ(tx.gas_limit, 60000u);
    // 2 x base fee + tip, from the one reading.
    EXPECT_EQ(tx.max_fee_per_gas, U256(22'000'000'000));
    EXPECT_EQ(tx.max_priority_fee_per_gas, U256(2'000'000'000));
  }
}

TEST(EthChainEffects, FeesAreReadAgainOnceTheirTtlHasPassed) {
  auto node = Node();
  auto fx = Effects(node, 0ms);
  auto first = fx->Sign(kCall, Deadline::After(5s));
  auto second = fx->Sign(kCall, Deadline::After(5s));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(node->calls("eth_getBlockByNumber"), 2);
  EXPECT_EQ(Decoded(*first).max_fee_per_gas, U256(22'000'000'000));
  EXPECT_EQ(Decoded(*second).max_fee_per_gas, U256(42'000'000'000));
}

TEST(EthChainEffects, UnreachableChainAtFirstSignIsUnavailable) {
  auto node = std::make_shared<FakeNode>(
      [](const std::string&, const json&) -> Result<json> { return UnavailableError("down"); });
  auto fx = Effects(node, 3600s);
  auto s = fx->Sign(kCall, Deadline::After(5s));
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status();
}

}  // namespace
}  // namespace br2k::replication
