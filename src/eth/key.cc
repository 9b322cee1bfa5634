#include "br2k/eth/key.h"

#include <cryptopp/aes.h>
#include <cryptopp/base64.h>
#include <cryptopp/filters.h>
#include <cryptopp/modes.h>
#include <cryptopp/osrng.h>
#include <cryptopp/pwdbased.h>
#include <cryptopp/scrypt.h>
#include <cryptopp/sha.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "br2k/eth/keccak.h"

namespace br2k::eth {
namespace {

// One context for the whole process. libsecp256k1 contexts are safe for concurrent use by
// signing/verification once created (only randomisation mutates them, and it is done here once).
const secp256k1_context* Ctx() {
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c =
        secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    std::array<uint8_t, 32> seed{};
    CryptoPP::AutoSeededRandomPool rng;
    rng.GenerateBlock(seed.data(), seed.size());
    if (!secp256k1_context_randomize(c, seed.data())) {
      // Randomisation only hardens against side channels; signing stays correct without it.
    }
    return c;
  }();
  return ctx;
}

std::string Trimmed(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFoundError("no such file: " + path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) return PermissionDeniedError("cannot read " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<Bytes> HexField(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_string()) {
    return InvalidArgumentError(std::string("keystore: missing field ") + key);
  }
  auto b = FromHex(j[key].get<std::string>());
  if (!b.ok()) return InvalidArgumentError(std::string("keystore: field ") + key + " is not hex");
  return b;
}

Result<PrivateKey> DecryptKeystoreJson(const nlohmann::json& root, std::string_view password) {
  if (!root.is_object()) return InvalidArgumentError("keystore: not a JSON object");
  if (root.value("version", 0) != 3) return InvalidArgumentError("keystore: version is not 3");
  const nlohmann::json& c =
      root.contains("crypto") ? root["crypto"] : root.value("Crypto", nlohmann::json());
  if (!c.is_object()) return InvalidArgumentError("keystore: no crypto section");
  if (c.value("cipher", "") != "aes-128-ctr") {
    return InvalidArgumentError("keystore: unsupported cipher (want aes-128-ctr)");
  }
  BR2K_ASSIGN_OR_RETURN(Bytes ciphertext, HexField(c, "ciphertext"));
  BR2K_ASSIGN_OR_RETURN(Bytes mac, HexField(c, "mac"));
  if (!c.contains("cipherparams")) return InvalidArgumentError("keystore: no cipherparams");
  BR2K_ASSIGN_OR_RETURN(Bytes iv, HexField(c["cipherparams"], "iv"));
  if (iv.size() != 16) return InvalidArgumentError("keystore: iv must be 16 bytes");
  const nlohmann::json& kp = c.value("kdfparams", nlohmann::json::object());
  BR2K_ASSIGN_OR_RETURN(Bytes salt, HexField(kp, "salt"));
  uint64_t dklen = kp.value("dklen", uint64_t{32});
  if (dklen < 32 || dklen > 64) return InvalidArgumentError("keystore: dklen must be 32..64");
  Bytes dk(dklen);
  const auto* pw = reinterpret_cast<const CryptoPP::byte*>(password.data());
  std::string kdf = c.value("kdf", "");
  if (kdf == "scrypt") {
    uint64_t n = kp.value("n", uint64_t{0}), r = kp.value("r", uint64_t{0}),
             p = kp.value("p", uint64_t{0});
    // Memory is 128 * n * r bytes: at most 256 MiB (geth's standard n = 2^18, r = 8).
    if (n < 2 || (n & (n - 1)) != 0 || n > (1u << 20) || r == 0 || r > 64 || n * r > (1u << 21) ||
        p == 0 || p > 16) {
      return InvalidArgumentError("keystore: scrypt parameters out of bounds");
    }
    CryptoPP::Scrypt scrypt;
    scrypt.DeriveKey(dk.data(), dk.size(), pw, password.size(), salt.data(), salt.size(), n,
                     static_cast<CryptoPP::word32>(r), static_cast<CryptoPP::word32>(p));
  } else if (kdf == "pbkdf2") {
    if (kp.value("prf", "") != "hmac-sha256")
      return InvalidArgumentError("keystore: pbkdf2 prf must be hmac-sha256");
    uint64_t iters = kp.value("c", uint64_t{0});
    if (iters == 0 || iters > (1u << 24))
      return InvalidArgumentError("keystore: pbkdf2 count out of bounds");
    CryptoPP::PKCS5_PBKDF2_HMAC<CryptoPP::SHA256> pbkdf2;
    pbkdf2.DeriveKey(dk.data(), dk.size(), 0, pw, password.size(), salt.data(), salt.size(),
                     static_cast<unsigned int>(iters));
  } else {
    return InvalidArgumentError("keystore: unsupported kdf '" + kdf + "'");
  }
  Bytes mac_input(dk.begin() + 16, dk.begin() + 32);
  mac_input.insert(mac_input.end(), ciphertext.begin(), ciphertext.end());
  Hash want = Keccak256(mac_input);
  if (mac.size() != 32 || !std::equal(mac.begin(), mac.end(), want.bytes.begin())) {
    return PermissionDeniedError("keystore: wrong password (MAC mismatch)");
  }
  Bytes plain(ciphertext.size());
  CryptoPP::CTR_Mode<CryptoPP::AES>::Decryption dec(dk.data(), 16, iv.data());
  dec.ProcessData(plain.data(), ciphertext.data(), ciphertext.size());
  auto key = PrivateKey::FromBytes(plain);
  std::fill(plain.begin(), plain.end(), 0);
  std::fill(dk.begin(), dk.end(), 0);
  return key;
}

}  // namespace

PrivateKey::~PrivateKey() {
  volatile uint8_t* p = secret_.data();
  for (size_t i = 0; i < secret_.size(); ++i) p[i] = 0;
}

Result<PrivateKey> PrivateKey::FromBytes(BytesView b) {
  if (b.size() != 32) return InvalidArgumentError("private key must be 32 bytes");
  if (!secp256k1_ec_seckey_verify(Ctx(), b.data())) {
    return InvalidArgumentError("private key out of range");
  }
  PrivateKey k;
  std::copy(b.begin(), b.end(), k.secret_.begin());
  k.address_ = AddressFromPublicKey(k.PublicKey());
  return k;
}

Result<PrivateKey> PrivateKey::FromHex(std::string_view hex) {
  std::string t = Trimmed(std::string(hex));
  auto b = eth::FromHex(t);
  if (!b.ok() || b->size() != 32) return InvalidArgumentError("private key must be 64 hex digits");
  auto k = FromBytes(*b);
  std::fill(b->begin(), b->end(), 0);
  return k;
}

PrivateKey PrivateKey::Random() {
  CryptoPP::AutoSeededRandomPool rng;
  while (true) {
    std::array<uint8_t, 32> s{};
    rng.GenerateBlock(s.data(), s.size());
    auto k = FromBytes(s);
    if (k.ok()) return *k;
  }
}

Bytes PrivateKey::PublicKey() const {
  secp256k1_pubkey pub;
  [[maybe_unused]] int ok = secp256k1_ec_pubkey_create(Ctx(), &pub, secret_.data());
  assert(ok);
  std::array<uint8_t, 65> out{};
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(Ctx(), out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  return Bytes(out.begin() + 1, out.end());
}

Signature PrivateKey::Sign(const Hash& digest) const {
  secp256k1_ecdsa_recoverable_signature sig;
  // Default nonce function: RFC 6979, deterministic. libsecp256k1 always produces low-s.
  [[maybe_unused]] int ok = secp256k1_ecdsa_sign_recoverable(Ctx(), &sig, digest.data(),
                                                             secret_.data(), nullptr, nullptr);
  assert(ok);
  std::array<uint8_t, 64> rs{};
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(Ctx(), rs.data(), &recid, &sig);
  Signature s;
  s.r = *U256::FromBigEndian(BytesView(rs.data(), 32));
  s.s = *U256::FromBigEndian(BytesView(rs.data() + 32, 32));
  s.recovery_id = static_cast<uint8_t>(recid);
  return s;
}

Result<Address> RecoverAddress(const Hash& digest, const Signature& sig) {
  // secp256k1n / 2: signatures with a higher s are malleable and invalid since Homestead.
  static const U256 kHalfN =
      *U256::FromHex("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
  if (sig.recovery_id > 1) return InvalidArgumentError("signature: recovery id must be 0 or 1");
  if (sig.r.IsZero() || sig.s.IsZero() || sig.s > kHalfN) {
    return InvalidArgumentError("signature: r or s out of range");
  }
  std::array<uint8_t, 64> rs{};
  auto r = sig.r.ToBigEndian(), s = sig.s.ToBigEndian();
  std::copy(r.begin(), r.end(), rs.begin());
  std::copy(s.begin(), s.end(), rs.begin() + 32);
  secp256k1_ecdsa_recoverable_signature rsig;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(Ctx(), &rsig, rs.data(),
                                                           sig.recovery_id)) {
    return InvalidArgumentError("signature: r or s out of range");
  }
  secp256k1_pubkey pub;
  if (!secp256k1_ecdsa_recover(Ctx(), &pub, &rsig, digest.data())) {
    return InvalidArgumentError("signature: no public key recovers from it");
  }
  std::array<uint8_t, 65> out{};
  size_t len = out.size();
  secp256k1_ec_pubkey_serialize(Ctx(), out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  return AddressFromPublicKey(BytesView(out.data() + 1, 64));
}

Result<PrivateKey> LoadKeyFile(const std::filesystem::path& path) {
  BR2K_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto k = PrivateKey::FromHex(text);
  if (!k.ok()) {
    // A Kubernetes Secret's `data` value mounted undecoded (podman 4.3's kube play does this):
    // base64 of the hex key. Tried only when the text is not a key itself, and only a decoding
    // that is a valid hex key is taken.
    std::string trimmed = text.substr(0, text.find_last_not_of(" \t\r\n") + 1);
    if (!trimmed.empty() && trimmed.size() <= 256 &&
        trimmed.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
            std::string::npos) {
      std::string decoded;
      CryptoPP::StringSource(trimmed, true,
                             new CryptoPP::Base64Decoder(new CryptoPP::StringSink(decoded)));
      auto from_base64 = PrivateKey::FromHex(decoded);
      if (from_base64.ok()) return from_base64;
    }
    return k.status().WithContext(path.string());
  }
  return k;
}

Result<PrivateKey> LoadKeyFromEnv(const std::string& variable) {
  const char* v = std::getenv(variable.c_str());
  if (v == nullptr || *v == 0)
    return NotFoundError("environment variable " + variable + " is not set");
  auto k = PrivateKey::FromHex(v);
  if (!k.ok()) return k.status().WithContext("$" + variable);
  return k;
}

Result<PrivateKey> DecryptKeystore(std::string_view json_text, std::string_view password) {
  try {
    nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
    if (j.is_discarded()) return InvalidArgumentError("keystore: not JSON");
    return DecryptKeystoreJson(j, password);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(std::string("keystore: ") + e.what());
  }
}

Result<PrivateKey> LoadKeystoreFile(const std::filesystem::path& path, std::string_view password) {
  BR2K_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto k = DecryptKeystore(text, password);
  if (!k.ok()) return k.status().WithContext(path.string());
  return k;
}

Result<PrivateKey> LoadKey(const KeySource& src) {
  int n = !src.private_key.empty() + !src.key_file.empty() + !src.key_env.empty() +
          !src.keystore.empty();
  if (n == 0) {
    return InvalidArgumentError(
        "no signing key: give --private-key, --key-file, --key-env or --keystore");
  }
  if (n > 1)
    return InvalidArgumentError(
        "give only one of --private-key, --key-file, --key-env, --keystore");
  if (!src.private_key.empty()) return PrivateKey::FromHex(src.private_key);
  if (!src.key_file.empty()) return LoadKeyFile(src.key_file);
  if (!src.key_env.empty()) return LoadKeyFromEnv(src.key_env);
  std::string password = src.password;
  if (!src.password_file.empty()) {
    BR2K_ASSIGN_OR_RETURN(std::string text, ReadFile(src.password_file));
    password = text.substr(0, text.find('\n'));
  }
  return LoadKeystoreFile(src.keystore, password);
}

std::string EncryptKeystore(const PrivateKey& key, std::string_view password, ScryptParams params) {
  CryptoPP::AutoSeededRandomPool rng;
  Bytes salt(32), iv(16), uuid(16);
  rng.GenerateBlock(salt.data(), salt.size());
  rng.GenerateBlock(iv.data(), iv.size());
  rng.GenerateBlock(uuid.data(), uuid.size());
  uuid[6] = static_cast<uint8_t>((uuid[6] & 0x0f) | 0x40);
  uuid[8] = static_cast<uint8_t>((uuid[8] & 0x3f) | 0x80);
  Bytes dk(32);
  CryptoPP::Scrypt scrypt;
  scrypt.DeriveKey(dk.data(), dk.size(), reinterpret_cast<const CryptoPP::byte*>(password.data()),
                   password.size(), salt.data(), salt.size(), params.n, params.r, params.p);
  Bytes ct(32);
  CryptoPP::CTR_Mode<CryptoPP::AES>::Encryption enc(dk.data(), 16, iv.data());
  enc.ProcessData(ct.data(), key.secret().data(), 32);
  Bytes mac_input(dk.begin() + 16, dk.end());
  mac_input.insert(mac_input.end(), ct.begin(), ct.end());
  std::string u = ToHex(uuid, false);
  std::string id = u.substr(0, 8) + "-" + u.substr(8, 4) + "-" + u.substr(12, 4) + "-" +
                   u.substr(16, 4) + "-" + u.substr(20);
  nlohmann::json j = {{"version", 3},
                      {"id", id},
                      {"address", ToHex(key.address().view(), false)},
                      {"crypto",
                       {{"cipher", "aes-128-ctr"},
                        {"cipherparams", {{"iv", ToHex(iv, false)}}},
                        {"ciphertext", ToHex(ct, false)},
                        {"kdf", "scrypt"},
                        {"kdfparams",
                         {{"dklen", 32},
                          {"n", params.n},
                          {"r", params.r},
                          {"p", params.p},
                          {"salt", ToHex(salt, false)}}},
                        {"mac", Keccak256(mac_input).ToHex().substr(2)}}}};
  std::fill(dk.begin(), dk.end(), 0);
  return j.dump(2);
}

}  // namespace br2k::eth
