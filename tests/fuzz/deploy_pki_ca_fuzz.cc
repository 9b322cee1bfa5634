// Fuzz target: the CA that IssueCertificate reads back from PEM (a deployment's CA files could be
// damaged or replaced). Input: the CA certificate PEM, a NUL byte, the CA key PEM. Whatever the
// bytes, the result is a certificate or INVALID_ARGUMENT, never a crash or another code.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "br2k/deploy/pki.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t nul = text.find('\0');
  br2k::deploy::CertificateAndKey ca;
  ca.cert_pem = std::string(text.substr(0, nul));
  if (nul != std::string_view::npos) ca.key_pem = std::string(text.substr(nul + 1));
  auto leaf = br2k::deploy::IssueCertificate(ca, {.common_name = "fuzz"});
  if (leaf.ok()) {
    if (leaf->cert_pem.empty() || leaf->key_pem.empty()) std::abort();
  } else if (leaf.status().code() != br2k::StatusCode::kInvalidArgument) {
    std::abort();
  }
  return 0;
}
