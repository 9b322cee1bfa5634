// Keccak-256, EIP-55 addresses, uint256 and RLP against published vectors.
#include <gtest/gtest.h>

#include <sstream>

#include "br2k/eth/address.h"
#include "br2k/eth/keccak.h"
#include "br2k/eth/rlp.h"
#include "br2k/eth/u256.h"
#include "vectors.h"

namespace br2k::eth {
namespace {

using testing::ReadJsonVector;
using testing::ReadVector;

TEST(Keccak256, KnownAnswersFromKeccakTeam) {
  std::istringstream in(ReadVector("keccak256_kat.txt"));
  std::string line, msg;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("Msg = ")) msg = line.substr(6);
    if (line.starts_with("Msg =") && line.size() <= 6) msg = "";
    if (line.starts_with("MD = ")) {
      auto bytes = FromHex(msg);
      ASSERT_TRUE(bytes.ok()) << msg;
      std::string md = line.substr(5);
      for (auto& c : md) c = static_cast<char>(std::tolower(c));
      EXPECT_EQ(Keccak256(*bytes).ToHex(), "0x" + md) << "msg " << msg;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 33);
}

TEST(Keccak256, DiffersFromSha3Padding) {
  // keccak256("") as Ethereum uses it; SHA3-256("") would be 0xa7ffc6f8...
  EXPECT_EQ(Keccak256(std::string_view("")).ToHex(),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
}

TEST(Address, Eip55Vectors) {
  std::istringstream in(ReadVector("eip55.txt"));
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string lower = line;
    for (auto& c : lower) c = static_cast<char>(std::tolower(c));
    auto a = Address::Parse(lower);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->ToChecksum(), line);
    ASSERT_TRUE(Address::Parse(line).ok()) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(Address, Parse_rejectsBadChecksumAndLength) {
  EXPECT_FALSE(Address::Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").ok());
  EXPECT_FALSE(Address::Parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea").ok());
  EXPECT_FALSE(Address::Parse("0xzaaeb6053f3e94c9b9a09f33669435e7ef1beaed").ok());
  EXPECT_TRUE(Address::Parse("0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").ok());
}

TEST(U256, DecimalHexRoundTrip) {
  auto max = U256::FromDecimal(
      "115792089237316195423570985008687907853269984665640564039457584007913129639935");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, U256::Max());
  EXPECT_EQ(max->ToQuantity(), "0x" + std::string(64, 'f'));
  EXPECT_FALSE(U256::FromDecimal(
                   "115792089237316195423570985008687907853269984665640564039457584007913129639936")
                   .ok());
  EXPECT_EQ(U256::FromHex("0x0")->ToQuantity(), "0x0");
  EXPECT_EQ(U256::FromSignedString("-1")->ToSignedDecimal(), "-1");
  EXPECT_EQ(*U256::FromSignedString("-1"), U256::Max());
  EXPECT_EQ((U256(7) * U256(6)).ToDecimal(), "42");
  EXPECT_FALSE(U256::Max().CheckedAdd(U256(1)).ok());
  EXPECT_FALSE(U256::Max().CheckedMul(U256(2)).ok());
}

RlpItem FromJson(const nlohmann::json& j) {
  if (j.is_array()) {
    RlpItem list = RlpItem::List({});
    for (const auto& e : j) list.items.push_back(FromJson(e));
    return list;
  }
  if (j.is_number()) return RlpItem::Uint(U256(j.get<uint64_t>()));
  std::string s = j.get<std::string>();
  if (s.starts_with("#")) return RlpItem::Uint(*U256::FromDecimal(s.substr(1)));
  if (s.starts_with("0x")) return RlpItem::String(*FromHex(s));
  return RlpItem::String(ToBytes(s));
}

TEST(Rlp, EthereumTestsValidVectors) {
  auto j = ReadJsonVector("rlptest.json");
  ASSERT_GE(j.size(), 20u);
  for (const auto& [name, c] : j.items()) {
    if (name == "bigint") {
      // 2^256 does not fit a uint256: encode its bytes directly.
      Bytes b(33, 0);
      b[0] = 1;
      EXPECT_EQ(ToHex(RlpEncode(RlpItem::String(b))), c["out"].get<std::string>());
      continue;
    }
    RlpItem item = FromJson(c["in"]);
    Bytes enc = RlpEncode(item);
    EXPECT_EQ(ToHex(enc), c["out"].get<std::string>()) << name;
    auto dec = RlpDecode(enc);
    ASSERT_TRUE(dec.ok()) << name << ": " << dec.status();
    EXPECT_EQ(*dec, item) << name;
  }
}

TEST(Rlp, EthereumTestsInvalidVectorsAreRejected) {
  auto j = ReadJsonVector("invalidRLPTest.json");
  ASSERT_EQ(j.size(), 17u);
  for (const auto& [name, c] : j.items()) {
    auto bytes = FromHex(c["out"].get<std::string>());
    ASSERT_TRUE(bytes.ok()) << name;
    EXPECT_FALSE(RlpDecode(*bytes).ok()) << name;
  }
}

TEST(Rlp, Decode_rejectsTrailingBytesAndDeepNesting) {
  EXPECT_FALSE(RlpDecode(*FromHex("0x8000")).ok());
  RlpItem nested = RlpItem::List({});
  for (int i = 0; i < 300; ++i) nested = RlpItem::List({nested});
  Bytes deep = RlpEncode(nested);
  EXPECT_FALSE(RlpDecode(deep).ok());
}

TEST(Rlp, Integers_rejectLeadingZeros) {
  EXPECT_FALSE(RlpToU256(RlpItem::String({0x00, 0x01})).ok());
  EXPECT_EQ(*RlpToU64(RlpItem::String({0x04, 0x00})), 1024u);
}

TEST(Address, CreateAddressMatchesKnownDeployment) {
  // Widely published example: sender 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0.
  auto sender = *Address::Parse("0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0");
  EXPECT_EQ(ToHex(CreateAddress(sender, 0).view()), "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d");
  EXPECT_EQ(ToHex(CreateAddress(sender, 1).view()), "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8");
}

}  // namespace
}  // namespace br2k::eth
