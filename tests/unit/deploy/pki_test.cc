// The deployment CA: what it issues verifies against it (OpenSSL's own chain verification) and
// against no other CA, carries the SANs asked for, and bad options or a bad CA are refused.
#include "br2k/deploy/pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <set>

namespace br2k::deploy {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert Parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Cert c(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return c;
}

// X509_verify_cert of `leaf` with `ca` as the only trusted certificate, for `purpose`
// (X509_PURPOSE_SSL_SERVER / _CLIENT). Returns the verification error (X509_V_OK on success).
int Verify(const std::string& ca_pem, const std::string& leaf_pem, int purpose) {
  Cert ca = Parse(ca_pem);
  Cert leaf = Parse(leaf_pem);
  if (!ca || !leaf) return -1;
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  int ok = X509_verify_cert(ctx);
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return err;
}

TEST(Pki, LeafVerifiesAgainstItsCaAsServerAndClient) {
  auto ca = GenerateCa({});
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto leaf = IssueCertificate(*ca, {.common_name = "etcd-0", .dns_names = {"etcd-0.svc"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(Verify(ca->cert_pem, leaf->cert_pem, X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(ca->cert_pem, leaf->cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(leaf->key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(leaf->key_pem.find(ca->key_pem), std::string::npos);
}

TEST(Pki, LeafDoesNotVerifyAgainstAnotherCa) {
  auto ca = GenerateCa({});
  auto other = GenerateCa({});
  ASSERT_TRUE(ca.ok() && other.ok());
  auto leaf = IssueCertificate(*other, {.common_name = "intruder"});
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  EXPECT_EQ(Verify(other->cert_pem, leaf->cert_pem, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(Verify(ca->cert_pem, leaf->cert_pem, X509_PURPOSE_SSL_CLIENT),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(Pki, LeafIsNotACaAndCannotIssue) {
  auto ca = GenerateCa({});
  ASSERT_TRUE(ca.ok());
  auto leaf = IssueCertificate(*ca, {.common_name = "logserver-0"});
  ASSERT_TRUE(leaf.ok());
  Cert c = Parse(leaf->cert_pem);
  ASSERT_TRUE(c);
  EXPECT_EQ(X509_check_ca(c.get()), 0);
  auto sub = IssueCertificate(*leaf, {.common_name = "sub"});
  EXPECT_EQ(sub.status().code(), StatusCode::kInvalidArgument) << sub.status();
}

TEST(Pki, SubjectAltNamesAreThoseAskedFor) {
  auto ca = GenerateCa({});
  ASSERT_TRUE(ca.ok());
  auto leaf = IssueCertificate(
      *ca, {.common_name = "etcd-1",
            .ip_addresses = {"127.0.0.1", "::1"},
            .dns_names = {"etcd-1.demo.svc.cluster.local", "*.demo", "localhost"}});
  ASSERT_TRUE(leaf.ok()) << leaf.status();
  Cert c = Parse(leaf->cert_pem);
  ASSERT_TRUE(c);
  EXPECT_EQ(X509_check_ip_asc(c.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(c.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(c.get(), "10.0.0.1", 0), 0);
  EXPECT_EQ(X509_check_host(c.get(), "etcd-1.demo.svc.cluster.local", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(c.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(c.get(), "etcd-2.demo.svc.cluster.local", 0, 0, nullptr), 0);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(c.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_GENERAL_NAME_num(names), 5);
  GENERAL_NAMES_free(names);
}

TEST(Pki, LeafValidityEndsNoLaterThanTheCa) {
  auto ca = GenerateCa({.validity = std::chrono::hours(2)});
  ASSERT_TRUE(ca.ok());
  auto leaf = IssueCertificate(*ca, {.common_name = "x", .validity = std::chrono::hours(48)});
  ASSERT_TRUE(leaf.ok());
  Cert a = Parse(ca->cert_pem);
  Cert b = Parse(leaf->cert_pem);
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notAfter(a.get()), X509_get0_notAfter(b.get())),
            1);
  EXPECT_EQ(days, 0);
  EXPECT_EQ(secs, 0);
}

TEST(Pki, EachCertificateHasItsOwnKeyAndSerial) {
  auto ca = GenerateCa({});
  ASSERT_TRUE(ca.ok());
  std::set<std::string> keys, serials;
  for (int i = 0; i < 3; ++i) {
    auto leaf = IssueCertificate(*ca, {.common_name = "n"});
    ASSERT_TRUE(leaf.ok());
    keys.insert(leaf->key_pem);
    Cert c = Parse(leaf->cert_pem);
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c.get()), nullptr);
    char* hex = BN_bn2hex(bn);
    serials.insert(hex);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(serials.size(), 3u);
}

TEST(Pki, BadOptionsAreRefused) {
  EXPECT_EQ(GenerateCa({.common_name = ""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateCa({.validity = std::chrono::hours(0)}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      GenerateCa({.validity = kMaxCertificateValidity + std::chrono::hours(1)}).status().code(),
      StatusCode::kInvalidArgument);
  auto ca = GenerateCa({});
  ASSERT_TRUE(ca.ok());
  for (const char* bad : {"", "a,DNS:evil", "a..b", ".a", "a b", "*."}) {
    EXPECT_EQ(IssueCertificate(*ca, {.common_name = "x", .dns_names = {bad}}).status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(IssueCertificate(*ca, {.common_name = "x", .ip_addresses = {"1.2.3"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueCertificate(*ca, {.common_name = "x", .ip_addresses = {}}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Pki, UnreadableOrMismatchedCaIsRefused) {
  auto ca = GenerateCa({});
  auto other = GenerateCa({});
  ASSERT_TRUE(ca.ok() && other.ok());
  LeafOptions o{.common_name = "x"};
  EXPECT_EQ(IssueCertificate({.cert_pem = "junk", .key_pem = ca->key_pem}, o).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueCertificate({.cert_pem = ca->cert_pem, .key_pem = "junk"}, o).status().code(),
            StatusCode::kInvalidArgument);
  auto mixed = IssueCertificate({.cert_pem = ca->cert_pem, .key_pem = other->key_pem}, o);
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.status().message().find("does not match"), std::string::npos);
}

}  // namespace
}  // namespace br2k::deploy
