// A deployment's own public-key infrastructure: one certificate authority per deployment, and
// the certificates it issues to the deployment's etcd members and replicas. etcd requires a
// client certificate signed by this CA (--client-cert-auth, --peer-client-cert-auth), so only
// processes holding a certificate of this deployment can read or write its keys.
//
// Keys are EC P-256; certificates are X.509 v3 signed with SHA-256, built with OpenSSL 3's
// EVP/X509 APIs. Everything is returned as PEM text (the CA's and each leaf's private key as
// unencrypted PKCS#8 "PRIVATE KEY"): the caller decides where it goes (a Secret, files 0600).
// Rotation is issuing a new CA and new certificates (a redeploy does it); nothing is revoked.
//
// Pure functions of their inputs and fresh randomness; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::deploy {

// PEM text of a certificate and its private key. The key is a secret: whoever holds it can act
// as the certificate's subject.
struct CertificateAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// The longest validity accepted (a deployment rotates by redeploying, long before this).
inline constexpr std::chrono::hours kMaxCertificateValidity{24 * 3650};

struct CaOptions {
  std::string common_name = "br2k deployment CA";  // 1..64 characters
  std::chrono::hours validity{24 * 365};           // 1 hour .. kMaxCertificateValidity
};

struct LeafOptions {
  std::string common_name;  // 1..64 characters, e.g. "etcd-0" or "logserver-1"
  // Subject alternative names. IP addresses in text form (IPv4 or IPv6); DNS names of letters,
  // digits, '-', '.' and a leading "*." (at most 253 characters). At least one name in all.
  std::vector<std::string> ip_addresses{"127.0.0.1"};
  std::vector<std::string> dns_names;
  std::chrono::hours validity{24 * 365};  // 1 hour .. kMaxCertificateValidity
};

// A new CA: a fresh key and a self-signed certificate (basicConstraints CA:TRUE, pathlen 0;
// keyUsage keyCertSign, cRLSign), valid from 5 minutes ago (clock skew) for `validity`.
// INVALID_ARGUMENT for options out of range; INTERNAL when OpenSSL fails.
Result<CertificateAndKey> GenerateCa(const CaOptions& options);

// A new key and a certificate for it, signed by `ca` (as GenerateCa returned it, or read back
// from PEM): CA:FALSE, keyUsage digitalSignature, extendedKeyUsage serverAuth and clientAuth
// (etcd members are both servers and clients of each other), the SANs of `options`, and a
// validity that ends no later than the CA's. INVALID_ARGUMENT for options out of range or when
// `ca` is not a parsable CA certificate and matching private key; INTERNAL when OpenSSL fails.
Result<CertificateAndKey> IssueCertificate(const CertificateAndKey& ca, const LeafOptions& options);

}  // namespace br2k::deploy
