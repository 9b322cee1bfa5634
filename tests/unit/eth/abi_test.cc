// ABI encoding/decoding against the worked examples of the Solidity ABI specification, plus
// strictness, events and reverts.
#include "br2k/eth/abi.h"

#include <gtest/gtest.h>

#include "br2k/eth/keccak.h"
#include "vectors.h"

namespace br2k::eth {
namespace {

TEST(Abi, SolidityAbiSpecExamples) {
  auto j = testing::ReadJsonVector("abi_spec.json");
  ASSERT_EQ(j["cases"].size(), 5u);
  for (const auto& c : j["cases"]) {
    std::string sig = c["signature"];
    auto f = ParseFunctionSignature(sig);
    ASSERT_TRUE(f.ok()) << sig << ": " << f.status();
    EXPECT_EQ(f->Signature(), sig);
    std::vector<AbiValue> args;
    for (size_t i = 0; i < f->inputs.size(); ++i) {
      auto v = ParseAbiValue(f->inputs[i], c["args"][i].get<std::string>());
      ASSERT_TRUE(v.ok()) << sig << " arg " << i << ": " << v.status();
      args.push_back(*v);
    }
    auto enc = f->EncodeCall(args);
    ASSERT_TRUE(enc.ok()) << enc.status();
    EXPECT_EQ(ToHex(*enc), c["calldata"].get<std::string>()) << sig;
    auto dec = f->DecodeCall(*enc);
    ASSERT_TRUE(dec.ok()) << sig << ": " << dec.status();
    EXPECT_EQ(*dec, args) << sig;
  }
}

TEST(Abi, KnownSelectorsAndTopics) {
  EXPECT_EQ(ToHex(ParseFunctionSignature("transfer(address,uint256)")->Selector()), "0xa9059cbb");
  EXPECT_EQ(
      ParseEventSignature("Transfer(address indexed,address indexed,uint256)")->Topic().ToHex(),
      "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
}

TEST(Abi, ParseType_canonicalisesAliasesAndRejectsJunk) {
  EXPECT_EQ(ParseAbiType("uint")->ToString(), "uint256");
  EXPECT_EQ(ParseAbiType("tuple(int,bytes[2])[]")->ToString(), "(int256,bytes[2])[]");
  // No empty tuples (no Solidity type; their arrays do not encode canonically).
  EXPECT_FALSE(ParseAbiType("()[]").ok());
  EXPECT_FALSE(ParseAbiTypeList("()[][],string[]").ok());
  EXPECT_FALSE(ParseAbiType("uint7").ok());
  EXPECT_FALSE(ParseAbiType("bytes33").ok());
  EXPECT_FALSE(ParseAbiType("uint256[0]").ok());
  EXPECT_FALSE(ParseAbiType("(uint256").ok());
  EXPECT_FALSE(ParseAbiType("strin").ok());
}

TEST(Abi, Decode_rejectsNonCanonicalWords) {
  auto u8 = std::vector<AbiType>{AbiType::Uint(8)};
  Bytes word(32, 0);
  word[31] = 0xff;
  EXPECT_TRUE(AbiDecode(u8, word).ok());
  word[30] = 1;
  EXPECT_FALSE(AbiDecode(u8, word).ok());
  Bytes b(32, 0);
  b[31] = 2;
  EXPECT_FALSE(AbiDecode({AbiType::Bool()}, b).ok());
  Bytes addr(32, 0);
  addr[0] = 1;
  EXPECT_FALSE(AbiDecode({AbiType::Addr()}, addr).ok());
  // int8 -1 must be sign-extended.
  Bytes neg(32, 0xff);
  auto v = AbiDecode({AbiType::Int(8)}, neg);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(FormatAbiValue(AbiType::Int(8), (*v)[0]), "-1");
  neg[0] = 0x7f;
  EXPECT_FALSE(AbiDecode({AbiType::Int(8)}, neg).ok());
}

TEST(Abi, Decode_rejectsOffsetsAndLengthsPastTheInput) {
  Bytes d(64, 0);
  d[31] = 0x40;  // offset 64 == size: length word missing
  EXPECT_FALSE(AbiDecode({AbiType::String()}, d).ok());
  d[31] = 0x20;
  d[63] = 0x40;  // length 64 but nothing follows
  EXPECT_FALSE(AbiDecode({AbiType::String()}, d).ok());
  // A huge array length must not allocate.
  Bytes arr(64, 0);
  arr[31] = 0x20;
  std::fill(arr.begin() + 40, arr.end(), 0xff);
  EXPECT_FALSE(AbiDecode({AbiType::Array(AbiType::Uint())}, arr).ok());
}

TEST(Abi, Encode_rejectsOutOfRangeValues) {
  EXPECT_FALSE(AbiEncode({AbiType::Uint(8)}, {AbiValue::Uint(256)}).ok());
  EXPECT_FALSE(AbiEncode({AbiType::Int(8)}, {AbiValue::Int(128)}).ok());
  EXPECT_TRUE(AbiEncode({AbiType::Int(8)}, {AbiValue::Int(-128)}).ok());
  EXPECT_FALSE(AbiEncode({AbiType::Int(8)}, {AbiValue::Int(-129)}).ok());
  EXPECT_FALSE(
      AbiEncode({AbiType::FixedArray(AbiType::Bool(), 2)}, {AbiValue::List({AbiValue::Bool(true)})})
          .ok());
}

TEST(Abi, TuplesAndNestedArrays_roundTrip) {
  auto t = *ParseAbiType("(uint256,string[],(address,bytes)[2])");
  auto v = ParseAbiValue(t,
                         "(7,[a,\"b, c\"],[(0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed,0x01),"
                         "(0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359,0x)])");
  ASSERT_TRUE(v.ok()) << v.status();
  auto enc = AbiEncode({t}, {*v});
  ASSERT_TRUE(enc.ok());
  auto dec = AbiDecode({t}, *enc);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ((*dec)[0], *v);
  EXPECT_EQ(FormatAbiValue(t, (*dec)[0]),
            "(7, [\"a\", \"b, c\"], [(0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed, 0x01), "
            "(0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359, 0x)])");
}

TEST(Abi, DecodeLog_indexedStaticAndHashedDynamic) {
  auto ev = ParseEventSignature("Claim(bytes32 indexed id, string indexed where, string reason)");
  ASSERT_TRUE(ev.ok());
  Hash id = Keccak256(std::string_view("svc"));
  auto where = IndexedTopic(AbiType::String(), AbiValue::Str("10.0.0.1:80"));
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(*where, Keccak256(std::string_view("10.0.0.1:80")));
  Bytes data = *AbiEncode({AbiType::String()}, {AbiValue::Str("down")});
  auto args = DecodeLog(*ev, {ev->Topic(), id, *where}, data);
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_EQ(args->size(), 3u);
  EXPECT_EQ((*args)[0].value.bytes, id.ToBytes());
  EXPECT_FALSE((*args)[0].hashed);
  EXPECT_TRUE((*args)[1].hashed);
  EXPECT_EQ((*args)[1].value.bytes, where->ToBytes());
  EXPECT_EQ((*args)[2].value.AsString(), "down");
  EXPECT_EQ((*args)[2].name, "reason");
  // Wrong topic count or topic0.
  EXPECT_FALSE(DecodeLog(*ev, {ev->Topic(), id}, data).ok());
  EXPECT_FALSE(DecodeLog(*ev, {id, id, *where}, data).ok());
}

TEST(Abi, DecodeRevert_errorPanicCustomAndUnknown) {
  auto err = *ParseFunctionSignature("Error(string)");
  auto r = DecodeRevert(*err.EncodeCall({AbiValue::Str("no")}));
  EXPECT_EQ(r.kind, RevertReason::Kind::kError);
  EXPECT_EQ(r.ToString(), "execution reverted: no");
  auto panic = *ParseFunctionSignature("Panic(uint256)");
  r = DecodeRevert(*panic.EncodeCall({AbiValue::Uint(0x11)}));
  EXPECT_EQ(r.kind, RevertReason::Kind::kPanic);
  EXPECT_EQ(r.ToString(), "panic: arithmetic underflow or overflow (0x11)");
  auto stale = *ParseFunctionSignature("StaleEpoch(uint64,uint64)");
  Bytes data = *stale.EncodeCall({AbiValue::Uint(3), AbiValue::Uint(5)});
  r = DecodeRevert(data, {stale});
  EXPECT_EQ(r.kind, RevertReason::Kind::kCustom);
  EXPECT_EQ(r.ToString(), "StaleEpoch(3, 5)");
  r = DecodeRevert(data);
  EXPECT_EQ(r.kind, RevertReason::Kind::kUnknown);
  EXPECT_EQ(DecodeRevert({}).ToString(), "execution reverted");
}

TEST(Abi, ParseContractAbi_tupleComponentsAndArrays) {
  const char* json = R"([
    {"type":"function","name":"get","inputs":[{"name":"id","type":"bytes32"}],
     "outputs":[{"name":"","type":"tuple[]","components":[
        {"name":"a","type":"uint64"},{"name":"b","type":"string[]"}]}],"stateMutability":"view"},
    {"type":"event","name":"E","anonymous":false,"inputs":[
        {"name":"id","type":"bytes32","indexed":true},{"name":"x","type":"uint8","indexed":false}]},
    {"type":"error","name":"Nope","inputs":[{"name":"who","type":"address"}]}
  ])";
  auto abi = ParseContractAbi(json);
  ASSERT_TRUE(abi.ok()) << abi.status();
  auto f = abi->Function("get");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->outputs[0].ToString(), "(uint64,string[])[]");
  EXPECT_EQ((*f)->outputs[0].components[0].names[1], "b");
  EXPECT_EQ(abi->events[0].Signature(), "E(bytes32,uint8)");
  EXPECT_EQ(abi->EventByTopic(abi->events[0].Topic()), &abi->events[0]);
  EXPECT_EQ(abi->errors[0].Signature(), "Nope(address)");
  EXPECT_FALSE(ParseContractAbi("{").ok());
  EXPECT_FALSE(ParseContractAbi(R"([{"type":"function","name":7}])").ok());
}

}  // namespace
}  // namespace br2k::eth
