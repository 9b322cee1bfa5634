// AddEtcdTls: a fresh CA per call, each node's certificate names the node's addresses and
// verifies against the CA, each key belongs to its node's certificate, and no CA key is anywhere
// in the Secret.
#include "br2k/deploy/etcd_tls.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "test_specs.h"

namespace br2k::deploy {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct KeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::unique_ptr<X509, X509Free> Cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<X509, X509Free> c(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return c;
}

std::unique_ptr<EVP_PKEY, KeyFree> Key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::unique_ptr<EVP_PKEY, KeyFree> k(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return k;
}

bool SignedBy(X509* leaf, X509* ca) {
  EVP_PKEY* pub = X509_get0_pubkey(ca);
  return X509_verify(leaf, pub) == 1;
}

TEST(AddEtcdTls, EveryNodeGetsItsOwnCertificateOfOneFreshCa) {
  auto spec = testing::ServicesSpec();
  spec.secrets.files.clear();
  spec.secrets.files["operator-0.key"] = "k0";
  auto client = AddEtcdTls(spec);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(spec.EtcdTls());
  ASSERT_TRUE(spec.Validate().ok()) << spec.Validate();
  EXPECT_EQ(spec.secrets.files["operator-0.key"], "k0");  // earlier files are kept
  auto ca = Cert(spec.secrets.files[kEtcdCaFile]);
  ASSERT_TRUE(ca);
  EXPECT_EQ(spec.secrets.files[kEtcdCaFile], client->ca_pem);
  for (size_t i = 0; i < spec.nodes; ++i) {
    auto cert = Cert(spec.secrets.files[EtcdCertFile(i)]);
    auto key = Key(spec.secrets.files[EtcdKeyFile(i)]);
    ASSERT_TRUE(cert && key) << i;
    EXPECT_TRUE(SignedBy(cert.get(), ca.get())) << i;
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1) << i;
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_host(cert.get(), spec.NodeHost(i).c_str(), 0, 0, nullptr), 1)
        << spec.NodeHost(i);
    // Not another node's name: a member cannot pose as its peer.
    EXPECT_EQ(
        X509_check_host(cert.get(), spec.NodeHost((i + 1) % spec.nodes).c_str(), 0, 0, nullptr), 0);
  }
  // Private keys in the Secret: exactly one per node (no CA key), and the operator's client key
  // is not among them.
  size_t keys = 0;
  for (const auto& [name, text] : spec.secrets.files) {
    if (text.find("PRIVATE KEY") != std::string::npos) ++keys;
    EXPECT_NE(text, client->client.key_pem) << name;
  }
  EXPECT_EQ(keys, spec.nodes);
  auto operator_cert = Cert(client->client.cert_pem);
  ASSERT_TRUE(operator_cert);
  EXPECT_TRUE(SignedBy(operator_cert.get(), ca.get()));

  // A second deployment (a redeploy) gets another CA: the old certificates are not trusted.
  auto again = spec;
  ASSERT_TRUE(AddEtcdTls(again).ok());
  auto ca2 = Cert(again.secrets.files[kEtcdCaFile]);
  ASSERT_TRUE(ca2);
  EXPECT_FALSE(SignedBy(Cert(spec.secrets.files[EtcdCertFile(0)]).get(), ca2.get()));
}

}  // namespace
}  // namespace br2k::deploy
