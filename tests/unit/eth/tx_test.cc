// Transactions and keys against EIP-155, ethereumjs EIP-1559 vectors and the Web3 Secret Storage
// test vectors.
#include <cryptopp/base64.h>
#include <cryptopp/filters.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "br2k/eth/key.h"
#include "br2k/eth/rlp.h"
#include "br2k/eth/transaction.h"
#include "test_env.h"
#include "vectors.h"

namespace br2k::eth {
namespace {

TEST(Transaction, Eip155Example) {
  auto j = testing::ReadJsonVector("eip155.json");
  Transaction tx;
  tx.type = Transaction::Type::kLegacy;
  tx.chain_id = j["chainId"];
  tx.nonce = j["nonce"];
  tx.gas_price = *U256::FromDecimal(j["gasPrice"].get<std::string>());
  tx.gas_limit = j["gasLimit"];
  tx.to = *Address::Parse(j["to"].get<std::string>());
  tx.value = *U256::FromDecimal(j["value"].get<std::string>());
  EXPECT_EQ(ToHex(tx.SigningPayload()), j["signingData"].get<std::string>());
  EXPECT_EQ(tx.SigningHash().ToHex(), j["signingHash"].get<std::string>());

  auto key = PrivateKey::FromHex(j["privateKey"].get<std::string>());
  ASSERT_TRUE(key.ok());
  SignedTransaction st = SignTransaction(tx, *key);
  EXPECT_EQ(st.V(), j["v"].get<uint64_t>());
  EXPECT_EQ(st.signature.r.ToDecimal(), j["r"].get<std::string>());
  EXPECT_EQ(st.signature.s.ToDecimal(), j["s"].get<std::string>());
  EXPECT_EQ(ToHex(st.raw), j["signedTx"].get<std::string>());

  auto dec = DecodeSignedTransaction(st.raw);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(dec->tx, tx);
  EXPECT_EQ(dec->hash, st.hash);
  EXPECT_EQ(*dec->Sender(), key->address());
}

TEST(Transaction, EthereumJsEip1559Vectors) {
  auto cases = testing::ReadJsonVector("eip1559.json");
  ASSERT_EQ(cases.size(), 4u);
  for (const auto& c : cases) {
    // The file wraps each signed transaction in an RLP string; unwrap it.
    auto wrapped = RlpDecode(*FromHex(c["signedTransactionRLP"].get<std::string>()));
    ASSERT_TRUE(wrapped.ok());
    const Bytes& raw = wrapped->bytes;
    auto dec = DecodeSignedTransaction(raw);
    ASSERT_TRUE(dec.ok()) << dec.status();
    Transaction tx;
    tx.type = Transaction::Type::kEip1559;
    tx.chain_id = dec->tx.chain_id;  // not in the JSON fields; it is the vectors' network
    tx.nonce = c["nonce"];
    tx.value = U256(c["value"].get<uint64_t>());
    tx.gas_limit = c["gasLimit"];
    tx.max_priority_fee_per_gas = U256(c["maxInclusionFeePerGas"].get<uint64_t>());
    tx.max_fee_per_gas = U256(c["maxFeePerGas"].get<uint64_t>());
    tx.to = *Address::Parse(c["to"].get<std::string>());
    EXPECT_EQ(dec->tx, tx);
    auto key = PrivateKey::FromHex(c["privateKey"].get<std::string>());
    ASSERT_TRUE(key.ok());
    SignedTransaction st = SignTransaction(tx, *key);
    EXPECT_EQ(ToHex(st.raw), ToHex(raw)) << "nonce " << tx.nonce;
    EXPECT_EQ(*dec->Sender(), key->address());
  }
}

TEST(Transaction, Decode_rejectsMalformed) {
  EXPECT_FALSE(DecodeSignedTransaction({}).ok());
  EXPECT_EQ(DecodeSignedTransaction(Bytes{0x01, 0xc0}).status().code(), StatusCode::kUnimplemented);
  EXPECT_FALSE(DecodeSignedTransaction(Bytes{0x02, 0xc0}).ok());
  EXPECT_FALSE(DecodeSignedTransaction(Bytes{0xc0}).ok());
}

TEST(Transaction, ContractCreationAndAccessList_roundTrip) {
  auto key = PrivateKey::Random();
  Transaction tx;
  tx.chain_id = 31337;
  tx.nonce = 3;
  tx.max_priority_fee_per_gas = U256(1);
  tx.max_fee_per_gas = U256(1000);
  tx.gas_limit = 100000;
  tx.data = {0x60, 0x00};
  tx.access_list.push_back(
      {*Address::Parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), {Hash{}}});
  SignedTransaction st = SignTransaction(tx, key);
  auto dec = DecodeSignedTransaction(st.raw);
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_EQ(dec->tx, tx);
  EXPECT_EQ(*dec->Sender(), key.address());
}

TEST(Key, SignaturesAreLowSAndRecover) {
  auto key = PrivateKey::Random();
  static const U256 kHalfN =
      *U256::FromHex("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
  for (int i = 0; i < 32; ++i) {
    Hash digest;
    digest.bytes[0] = static_cast<uint8_t>(i);
    Signature s = key.Sign(digest);
    EXPECT_LE(s.s, kHalfN);
    EXPECT_EQ(*RecoverAddress(digest, s), key.address());
  }
  Signature bad = key.Sign(Hash{});
  bad.s = U256::Max();
  EXPECT_FALSE(RecoverAddress(Hash{}, bad).ok());
}

TEST(Key, FromHex_rejectsZeroAndShort) {
  EXPECT_FALSE(PrivateKey::FromHex(std::string(64, '0')).ok());
  EXPECT_FALSE(PrivateKey::FromHex("0x1234").ok());
}

TEST(Keystore, Web3SecretStorageVectors) {
  auto j = testing::ReadJsonVector("keystore_v3.json");
  for (const char* kdf : {"pbkdf2", "scrypt"}) {
    auto key = DecryptKeystore(j[kdf].dump(), j["password"].get<std::string>());
    ASSERT_TRUE(key.ok()) << kdf << ": " << key.status();
    EXPECT_EQ(ToHex(key->secret(), false), j["secret"].get<std::string>());
    auto wrong = DecryptKeystore(j[kdf].dump(), "nope");
    EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied) << kdf;
  }
}

TEST(Keystore, EncryptDecrypt_roundTripAndHostileParams) {
  auto key = PrivateKey::Random();
  std::string ks = EncryptKeystore(key, "pw", ScryptParams{1024, 8, 1});
  auto back = DecryptKeystore(ks, "pw");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->address(), key.address());
  auto j = nlohmann::json::parse(ks);
  j["crypto"]["kdfparams"]["n"] = uint64_t{1} << 30;
  EXPECT_EQ(DecryptKeystore(j.dump(), "pw").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(DecryptKeystore("not json", "pw").ok());
  EXPECT_FALSE(DecryptKeystore(R"({"version":3,"crypto":7})", "pw").ok());
}

TEST(Key, LoadFromFileAndEnv) {
  br2k::testing::ScratchDir dir("eth-key");
  auto key = PrivateKey::Random();
  auto path = dir.path() / "key.hex";
  std::ofstream(path) << ToHex(key.secret()) << "\n";
  EXPECT_EQ(LoadKeyFile(path)->address(), key.address());
  EXPECT_EQ(LoadKeyFile(dir.path() / "missing").status().code(), StatusCode::kNotFound);
  ::setenv("BR2K_TEST_ETH_KEY", ToHex(key.secret(), false).c_str(), 1);
  EXPECT_EQ(LoadKeyFromEnv("BR2K_TEST_ETH_KEY")->address(), key.address());
  ::unsetenv("BR2K_TEST_ETH_KEY");
  EXPECT_EQ(LoadKeyFromEnv("BR2K_TEST_ETH_KEY").status().code(), StatusCode::kNotFound);
}

TEST(Key, LoadFromFile_acceptsASecretValueMountedStillBase64Encoded) {
  // podman 4.3 mounts a Kubernetes Secret's `data` value without decoding it.
  br2k::testing::ScratchDir dir("eth-key-b64");
  auto key = PrivateKey::Random();
  std::string hex = ToHex(key.secret());
  std::string b64;
  CryptoPP::StringSource(hex, true,
                         new CryptoPP::Base64Encoder(new CryptoPP::StringSink(b64), false));
  std::ofstream(dir.path() / "op.key") << b64;
  auto loaded = LoadKeyFile(dir.path() / "op.key");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->address(), key.address());
  // Base64 of something that is not a key is still refused, with the hex parser's error.
  std::ofstream(dir.path() / "bad.key") << "aGVsbG8=";
  auto bad = LoadKeyFile(dir.path() / "bad.key");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace br2k::eth
