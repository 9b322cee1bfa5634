#include "br2k/deploy/kubeconfig.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "br2k/deploy/contexts.h"
#include "test_env.h"

namespace br2k::deploy {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPem = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n-----END CERTIFICATE-----\n";
constexpr const char* kToken = "kube-SECRET-token-0123456789";

std::string B64(const std::string& s) {
  return YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

// A kubeconfig as kubectl writes it: two clusters, a token user, a tokenFile user, a client
// certificate user (kind's default) and an exec plugin user.
std::string Config() {
  return R"(apiVersion: v1
kind: Config
current-context: prod
preferences: {}
clusters:
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: )" +
         B64(kPem) + R"(
- name: lab-cluster
  cluster:
    server: https://lab.example:6443
    certificate-authority: certs/lab-ca.pem
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:40000
    insecure-skip-tls-verify: true
users:
- name: deployer
  user:
    token: )" +
         kToken + R"(
- name: file-user
  user:
    tokenFile: tokens/lab.token
- name: kind-admin
  user:
    client-certificate-data: Zm9v
    client-key-data: YmFy
- name: eks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
contexts:
- name: prod
  context:
    cluster: prod-cluster
    user: deployer
    namespace: br2k
- name: lab
  context:
    cluster: lab-cluster
    user: file-user
- name: kind
  context:
    cluster: dev-cluster
    user: kind-admin
- name: eks
  context:
    cluster: dev-cluster
    user: eks
- name: dev
  context:
    cluster: dev-cluster
    user: deployer
- name: broken
  context:
    cluster: nowhere
    user: deployer
)";
}

Kubeconfig Parsed() {
  auto k = ParseKubeconfig(Config());
  EXPECT_TRUE(k.ok()) << k.status();
  return k.ok() ? *k : Kubeconfig{};
}

TEST(Kubeconfig, CurrentContext_tokenAndCaData) {
  auto c = KubeconfigToContext(Parsed(), "", "/nowhere");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "prod");
  EXPECT_EQ(c->kind, ContextKind::kKubernetes);
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, kPem);
  EXPECT_EQ(c->token, kToken);
  EXPECT_EQ(c->namespace_name, "br2k");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_TRUE(c->Validate().ok()) << c->Validate();
}

TEST(Kubeconfig, NamedContext_namespaceDefaultsToDefault_insecure) {
  auto c = KubeconfigToContext(Parsed(), "dev", "/nowhere");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->namespace_name, "default");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_TRUE(c->ca_pem.empty());
}

TEST(Kubeconfig, CaFileAndTokenFile_relativeToTheKubeconfig) {
  br2k::testing::ScratchDir tmp("kubeconfig");
  fs::create_directories(tmp.path() / "certs");
  fs::create_directories(tmp.path() / "tokens");
  std::ofstream(tmp.path() / "certs/lab-ca.pem") << kPem;
  std::ofstream(tmp.path() / "tokens/lab.token") << "lab-token\n";
  std::ofstream(tmp.path() / "config") << Config();
  auto c = LoadKubeconfigContext(tmp.path() / "config", "lab");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->ca_pem, kPem);
  EXPECT_EQ(c->token, "lab-token");
  EXPECT_EQ(c->server, "https://lab.example:6443");

  fs::remove(tmp.path() / "tokens/lab.token");
  auto missing = LoadKubeconfigContext(tmp.path() / "config", "lab");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("users[1].user.tokenFile"));
}

TEST(Kubeconfig, ImportIntoTheStore_underAnotherName) {
  br2k::testing::ScratchDir tmp("kubeconfig");
  std::ofstream(tmp.path() / "config") << Config();
  ContextStore store(tmp.path() / "contexts");
  auto c = store.ImportKubeconfig(tmp.path() / "config", "", "production");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(store.Get("production")->token, kToken);
  EXPECT_EQ(store.Get("production")->ca_pem, kPem);
  EXPECT_EQ(store.ImportKubeconfig(tmp.path() / "config", "", "production").status().code(),
            StatusCode::kAlreadyExists);
}

TEST(Kubeconfig, UnsupportedAuth_failedPreconditionSayingSo) {
  auto cert = KubeconfigToContext(Parsed(), "kind", "/nowhere");
  EXPECT_EQ(cert.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(cert.status().message(), HasSubstr("client certificates"));
  EXPECT_THAT(cert.status().message(), HasSubstr("not support"));
  auto exec = KubeconfigToContext(Parsed(), "eks", "/nowhere");
  EXPECT_EQ(exec.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(exec.status().message(), HasSubstr("exec plugin"));
}

TEST(Kubeconfig, UndefinedReferencesAndContexts) {
  auto broken = KubeconfigToContext(Parsed(), "broken", "/nowhere");
  EXPECT_EQ(broken.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(broken.status().message(),
              HasSubstr("contexts[5].context.cluster: \"nowhere\" is not defined"));
  EXPECT_EQ(KubeconfigToContext(Parsed(), "absent", "/").status().code(), StatusCode::kNotFound);
  Kubeconfig no_current = Parsed();
  no_current.current_context.clear();
  EXPECT_EQ(KubeconfigToContext(no_current, "", "/").status().code(), StatusCode::kNotFound);
}

TEST(Kubeconfig, Json_isAcceptedToo) {
  const std::string json = R"({"apiVersion": "v1", "kind": "Config", "current-context": "c",
    "clusters": [{"name": "k", "cluster": {"server": "https://k:6443"}}],
    "users": [{"name": "u", "user": {"token": "t0k"}}],
    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "ns"}}]})";
  auto k = ParseKubeconfig(json);
  ASSERT_TRUE(k.ok()) << k.status();
  auto c = KubeconfigToContext(*k, "", "/");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "https://k:6443");
  EXPECT_EQ(c->namespace_name, "ns");
  EXPECT_EQ(c->token, "t0k");
}

TEST(Kubeconfig, Malformed_invalidArgumentNamingThePath) {
  struct Case {
    std::string text;
    const char* want;
  };
  const Case cases[] = {
      {"clusters: [", "not YAML"},
      {"- a\n- b\n", "expected a map at the top level"},
      {"clusters: {a: 1}\n", "clusters: expected a list"},
      {"clusters:\n- cluster: {server: https://x}\n", "clusters[0].name: missing"},
      {"clusters:\n- name: a\n  cluster: {server: [1]}\n", "clusters[0].cluster.server: expected"},
      {"clusters:\n- name: a\n  cluster: {certificate-authority-data: '***'}\n",
       "clusters[0].cluster.certificate-authority-data: not base64"},
      {"clusters:\n- name: a\n  cluster: {insecure-skip-tls-verify: maybe}\n",
       "insecure-skip-tls-verify"},
      {"users:\n- name: a\n  user: 5\n", "users[0].user: expected a map"},
      {"contexts:\n- name: a\n- name: a\n", "contexts[1]: name \"a\" appears twice"},
      {"contexts:\n- 7\n", "contexts[0]: expected a map"},
      {std::string(5000, '[') + std::string(5000, ']'), "kubeconfig"},
  };
  for (const auto& c : cases) {
    auto r = ParseKubeconfig(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << r.status();
  }
}

// Regression (found by fuzz_deploy_kubeconfig): yaml-cpp's DecodeBase64 read out of bounds on a
// byte >= 0x80 in certificate-authority-data.
TEST(Kubeconfig, CaDataWithNonAsciiBytes_isInvalidNotACrash) {
  auto r = ParseKubeconfig(
      "clusters:\n- name: a\n  cluster:\n    certificate-authority-data: "
      "\"QUJD\xff\xfe\x80RA==\"\n");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("certificate-authority-data: not base64"));
  // Wrapped base64, as some tools write it, still decodes.
  auto ok = ParseKubeconfig(
      "clusters:\n- name: a\n  cluster:\n    certificate-authority-data: |\n"
      "      " +
      B64(kPem).substr(0, 8) + "\n      " + B64(kPem).substr(8) + "\n");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->clusters[0].ca_data, kPem);
}

TEST(Kubeconfig, TokenNeverInErrors) {
  // The token user on a context whose cluster is missing, and a file of garbage around a token.
  auto broken = KubeconfigToContext(Parsed(), "broken", "/nowhere");
  EXPECT_THAT(broken.status().message(), Not(HasSubstr("SECRET")));
  auto garbage = ParseKubeconfig(std::string("users:\n- name: u\n  user:\n    token: ") + kToken +
                                 "\n    tokenFile: [\n");
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(), Not(HasSubstr("SECRET")));
}

}  // namespace
}  // namespace br2k::deploy
