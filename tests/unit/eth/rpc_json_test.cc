// JSON-RPC response parsing: ids, errors, batches, quantities, logs and receipts.
#include "br2k/eth/rpc_json.h"

#include <gtest/gtest.h>

namespace br2k::eth {
namespace {

TEST(RpcJson, ParseResponse_resultErrorAndIdMismatch) {
  auto r = ParseRpcResponse(R"({"jsonrpc":"2.0","id":7,"result":"0x1"})", 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->result, "0x1");
  EXPECT_FALSE(r->error);
  r = ParseRpcResponse(
      R"({"jsonrpc":"2.0","id":7,"error":{"code":3,"message":"execution reverted","data":"0x08c379a0"}})",
      7);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->error);
  EXPECT_EQ(r->error->code, 3);
  EXPECT_EQ(ToHex(*r->error->RevertData()), "0x08c379a0");
  EXPECT_EQ(ParseRpcResponse(R"({"jsonrpc":"2.0","id":8,"result":1})", 7).status().code(),
            StatusCode::kDataLoss);
  EXPECT_FALSE(ParseRpcResponse("<html>", 1).ok());
  EXPECT_FALSE(ParseRpcResponse(R"({"jsonrpc":"1.0","id":1,"result":1})", 1).ok());
  EXPECT_FALSE(ParseRpcResponse(R"({"jsonrpc":"2.0","id":1})", 1).ok());
}

TEST(RpcJson, ParseBatch_reordersAndDetectsMissing) {
  auto b = ParseRpcBatchResponse(
      R"([{"jsonrpc":"2.0","id":2,"result":"b"},{"jsonrpc":"2.0","id":1,"result":"a"}])", {1, 2});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)[0].result, "a");
  EXPECT_EQ((*b)[1].result, "b");
  EXPECT_FALSE(ParseRpcBatchResponse(R"([{"jsonrpc":"2.0","id":2,"result":"b"}])", {1, 2}).ok());
  EXPECT_FALSE(
      ParseRpcBatchResponse(
          R"([{"jsonrpc":"2.0","id":1,"result":1},{"jsonrpc":"2.0","id":1,"result":1}])", {1})
          .ok());
  auto whole = ParseRpcBatchResponse(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"too big"}})", {1, 2});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ((*whole)[1].error->message, "too big");
}

TEST(RpcJson, Quantities_areStrict) {
  EXPECT_EQ(*ParseQuantityU64("0x1a"), 26u);
  EXPECT_EQ(*ParseQuantityU64("0x0"), 0u);
  EXPECT_FALSE(ParseQuantity("0x").ok());
  EXPECT_FALSE(ParseQuantity("0x01").ok());
  EXPECT_FALSE(ParseQuantity("1a").ok());
  EXPECT_FALSE(ParseQuantity(26).ok());
  EXPECT_FALSE(ParseQuantityU64("0x10000000000000000").ok());
}

TEST(RpcJson, ParseReceipt_withLogs) {
  auto j = nlohmann::json::parse(R"({
    "transactionHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
    "blockNumber":"0x5","blockHash":"0x2222222222222222222222222222222222222222222222222222222222222222",
    "status":"0x1","gasUsed":"0x5208","effectiveGasPrice":"0x3b9aca00",
    "from":"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed","to":null,
    "contractAddress":"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
    "logs":[{"address":"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
             "topics":["0x3333333333333333333333333333333333333333333333333333333333333333"],
             "data":"0x","blockNumber":"0x5","logIndex":"0x0","removed":false,
             "transactionHash":"0x1111111111111111111111111111111111111111111111111111111111111111",
             "blockHash":"0x2222222222222222222222222222222222222222222222222222222222222222"}]})");
  auto r = ParseReceipt(j);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->success);
  EXPECT_EQ(r->gas_used, 21000u);
  EXPECT_FALSE(r->to);
  ASSERT_TRUE(r->contract_address);
  ASSERT_EQ(r->logs.size(), 1u);
  EXPECT_EQ(r->logs[0].block_number, 5u);
  j["logs"][0]["topics"] = nlohmann::json::array({1, 2});
  EXPECT_FALSE(ParseReceipt(j).ok());
}

}  // namespace
}  // namespace br2k::eth
