// The etcd client's TLS options without a cluster (etcd_tls_test covers them against real etcd):
// the three PEM files go together, unreadable or non-PEM files are named in the error, and the
// endpoints' scheme must agree with the options. Nothing here contacts a member.
#include <gtest/gtest.h>

#include <fstream>

#include "br2k/etcd/grpc_client.h"
#include "br2k/etcd/tls.h"
#include "test_env.h"

namespace br2k::etcd {
namespace {

const char* kPem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

std::string Write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

TEST(EtcdTlsOptions, NoFilesMeansNoTls) {
  auto tls = LoadTlsFiles("", "", "");
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_FALSE(tls->enabled());
}

TEST(EtcdTlsOptions, FilesAreReadTogether) {
  br2k::testing::ScratchDir dir("tls-options");
  auto ca = Write(dir.path() / "ca.crt", kPem);
  auto cert = Write(dir.path() / "c.crt", kPem);
  auto key = Write(dir.path() / "c.key", "-----BEGIN PRIVATE KEY-----\nBBBB\n");
  auto tls = LoadTlsFiles(ca, cert, key);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->enabled());
  EXPECT_EQ(tls->ca_pem, kPem);
  EXPECT_NE(tls->key_pem.find("BBBB"), std::string::npos);

  auto partial = LoadTlsFiles(ca, "", key);
  EXPECT_EQ(partial.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(partial.status().message().find("--etcd-cert"), std::string::npos) << partial.status();
  auto missing = LoadTlsFiles(ca, cert, (dir.path() / "nope").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("--etcd-key"), std::string::npos) << missing.status();
  auto junk = LoadTlsFiles(Write(dir.path() / "junk", "not pem"), cert, key);
  EXPECT_EQ(junk.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(junk.status().message().find("no PEM"), std::string::npos) << junk.status();
  auto huge = LoadTlsFiles(
      Write(dir.path() / "huge", std::string(kPem) + std::string(2 << 20, 'x')), cert, key);
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);
}

TEST(EtcdTlsOptions, PartialOptionsAreRefused) {
  EXPECT_TRUE(EtcdTls{}.Check().ok());
  EXPECT_TRUE((EtcdTls{.ca_pem = kPem, .cert_pem = kPem, .key_pem = kPem}).Check().ok());
  EXPECT_EQ((EtcdTls{.ca_pem = kPem}).Check().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((EtcdTls{.cert_pem = kPem, .key_pem = kPem}).Check().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcClient::Create({.endpoints = {"https://127.0.0.1:2379"}, .tls = {.key_pem = kPem}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST(EtcdTlsOptions, SchemeMustAgreeWithTheOptions) {
  const EtcdTls tls{.ca_pem = kPem, .cert_pem = kPem, .key_pem = kPem};
  // https without certificates would speak plaintext to a TLS port.
  EXPECT_EQ(GrpcClient::Create({.endpoints = {"https://127.0.0.1:2379"}}).status().code(),
            StatusCode::kInvalidArgument);
  // Certificates with an http:// URL: the caller named a plaintext member.
  EXPECT_EQ(
      GrpcClient::Create({.endpoints = {"http://127.0.0.1:2379"}, .tls = tls}).status().code(),
      StatusCode::kInvalidArgument);
  EXPECT_TRUE(GrpcClient::Create({.endpoints = {"https://127.0.0.1:2379"}, .tls = tls}).ok());
  EXPECT_TRUE(GrpcClient::Create({.endpoints = {"127.0.0.1:2379"}, .tls = tls}).ok());
  EXPECT_EQ(*NormalizeEndpoint("https://127.0.0.1:2379/"), "127.0.0.1:2379");
  EXPECT_EQ(NormalizeEndpoint("https://").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace br2k::etcd
