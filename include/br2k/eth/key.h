// secp256k1 private keys: signing (recoverable, low-s, RFC 6979 deterministic nonces, through
// libsecp256k1), public key recovery, and loading keys from a hex file, an environment variable or
// a Web3 Secret Storage v3 keystore (scrypt or pbkdf2, aes-128-ctr, through Crypto++).
//
// PrivateKey is a value type; its bytes are wiped on destruction. All functions are thread-safe
// (one libsecp256k1 context, created once, is shared read-only).
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>

#include "br2k/common/status.h"
#include "br2k/eth/address.h"
#include "br2k/eth/bytes.h"
#include "br2k/eth/u256.h"

namespace br2k::eth {

// A recoverable signature: r, s (low-s normalised) and the recovery id (0 or 1, the parity of
// the y coordinate of the nonce point).
struct Signature {
  U256 r;
  U256 s;
  uint8_t recovery_id = 0;
};

class PrivateKey {
 public:
  // INVALID_ARGUMENT unless 32 bytes forming a valid secret (0 < k < n).
  static Result<PrivateKey> FromBytes(BytesView b);
  // 64 hex digits, with or without 0x (surrounding whitespace ignored).
  static Result<PrivateKey> FromHex(std::string_view hex);
  // A fresh random key (from the operating system's CSPRNG via Crypto++).
  static PrivateKey Random();

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  const Address& address() const { return address_; }
  // Uncompressed public key, 64 bytes X||Y.
  Bytes PublicKey() const;
  // Signs a 32-byte digest.
  Signature Sign(const Hash& digest) const;
  BytesView secret() const { return BytesView(secret_.data(), secret_.size()); }

 private:
  PrivateKey() = default;
  std::array<uint8_t, 32> secret_{};
  Address address_;
};

// The address that signed `digest`. INVALID_ARGUMENT for an invalid signature (r or s out of
// range, high s, recovery id > 1, no such point).
Result<Address> RecoverAddress(const Hash& digest, const Signature& sig);

// A file holding the key as hex (one line), or that hex base64-encoded (a Kubernetes Secret's
// `data` value as podman 4.3 mounts it). NOT_FOUND / PERMISSION_DENIED / INVALID_ARGUMENT.
Result<PrivateKey> LoadKeyFile(const std::filesystem::path& path);
// An environment variable holding the key as hex. NOT_FOUND when unset.
Result<PrivateKey> LoadKeyFromEnv(const std::string& variable);

// Decrypts a Web3 Secret Storage v3 keystore (JSON text). PERMISSION_DENIED on a wrong password
// (MAC mismatch), INVALID_ARGUMENT for a malformed or unsupported keystore (only aes-128-ctr
// with scrypt or pbkdf2/hmac-sha256 exist in practice). scrypt parameters are bounded (128*N*r <=
// 256 MiB, p <= 16) so a hostile file cannot exhaust memory.
Result<PrivateKey> DecryptKeystore(std::string_view json_text, std::string_view password);
// Reads and decrypts a keystore file.
Result<PrivateKey> LoadKeystoreFile(const std::filesystem::path& path, std::string_view password);

// Where to find a signing key, as the CLI flags name it. Exactly one source must be set.
struct KeySource {
  std::string private_key;  // hex
  std::string key_file;     // file holding hex
  std::string key_env;      // environment variable holding hex
  std::string keystore;     // v3 keystore file, with password or password_file
  std::string password;
  std::string password_file;  // first line is the password
};
// INVALID_ARGUMENT when none or several sources are set; otherwise as the loaders above.
Result<PrivateKey> LoadKey(const KeySource& source);

struct ScryptParams {
  uint64_t n = 262144;  // 2^18, as geth's "standard" parameters
  uint32_t r = 8;
  uint32_t p = 1;
};
// Encrypts `key` into a v3 keystore (scrypt, aes-128-ctr, random salt, iv and id).
std::string EncryptKeystore(const PrivateKey& key, std::string_view password,
                            ScryptParams params = {});

}  // namespace br2k::eth
