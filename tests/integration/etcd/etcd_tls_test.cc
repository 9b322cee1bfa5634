// Hardening item 11: etcd was open to every local user (no TLS, no authentication; a probe as
// `nobody` read /br2k/logserver/* and put and deleted a key). Against a real 3-member etcd with
// TLS and client-certificate authentication for client and peer traffic (LocalCluster with
// tls_ca) and real br2k-logserver replicas: the deployment's own certificate works, a client
// without one or with one from another CA is refused, and nothing it tried reached the store.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/cluster/local_cluster.h"
#include "br2k/deploy/pki.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/http/client.h"
#include "etcd/rpc.grpc.pb.h"
#include "logserver_fleet.h"
#include "test_env.h"

namespace br2k::etcd {
namespace {

using namespace std::chrono_literals;
constexpr int kNodes = 3;
const std::string kProbeKey = "/br2k/logs/probe";

class EtcdTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ca = deploy::GenerateCa({});
    auto other = deploy::GenerateCa({.common_name = "someone else's CA"});
    ASSERT_TRUE(ca.ok() && other.ok());
    ca_ = new deploy::CertificateAndKey(*ca);
    other_ca_ = new deploy::CertificateAndKey(*other);
    dir_ = new br2k::testing::ScratchDir("etcd-tls");
    auto f = br2k::testing::LogserverFleet::Create({.dir = dir_->path(),
                                                    .nodes = kNodes,
                                                    .service = "logs",
                                                    .args = br2k::testing::FastFailoverArgs(),
                                                    .etcd_tls_ca = *ca_},
                                                   Deadline::After(60s));
    ASSERT_TRUE(f.ok()) << f.status();
    fleet_ = std::move(f).value().release();
  }
  static void TearDownTestSuite() {
    delete fleet_;
    delete dir_;
    delete ca_;
    delete other_ca_;
  }
  void SetUp() override { ASSERT_NE(fleet_, nullptr); }

  static cluster::LocalCluster& Cluster() { return fleet_->cluster(); }
  // The member URLs without their scheme (for clients that would not be allowed https://).
  static std::vector<std::string> HostPorts() {
    std::vector<std::string> out;
    for (const auto& u : Cluster().client_urls()) out.push_back(*NormalizeEndpoint(u));
    return out;
  }
  static std::unique_ptr<GrpcClient> Deployment() {
    auto c =
        GrpcClient::Create({.endpoints = Cluster().client_urls(), .tls = Cluster().client_tls()});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // What the deployment's own client sees at `key` (the refused clients must have changed
  // nothing).
  static size_t CountAt(const std::string& key) {
    auto r = Deployment()->Range(RangeRequest::Key(key), Deadline::After(10s));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->kvs.size() : 99;
  }

  static deploy::CertificateAndKey* ca_;
  static deploy::CertificateAndKey* other_ca_;
  static br2k::testing::ScratchDir* dir_;
  static br2k::testing::LogserverFleet* fleet_;
};

deploy::CertificateAndKey* EtcdTls::ca_ = nullptr;
deploy::CertificateAndKey* EtcdTls::other_ca_ = nullptr;
br2k::testing::ScratchDir* EtcdTls::dir_ = nullptr;
br2k::testing::LogserverFleet* EtcdTls::fleet_ = nullptr;

TEST_F(EtcdTls, MembersServeTlsOnlyAndFormAClusterOverTlsPeers) {
  for (const auto& m : Cluster().members()) {
    EXPECT_EQ(m.client_url.rfind("https://", 0), 0u) << m.client_url;
    EXPECT_EQ(m.peer_url.rfind("https://", 0), 0u) << m.peer_url;
  }
  // Peers require each other's certificates (--peer-client-cert-auth): a healthy cluster with
  // one leader proves they accepted the deployment's.
  int leaders = 0;
  for (const auto& h : Cluster().Health(Deadline::After(10s))) {
    EXPECT_TRUE(h.healthy) << h.name << ": " << h.error;
    leaders += h.is_leader;
  }
  EXPECT_EQ(leaders, 1);
  // `br2k status` probes members from the run state: with the run's client certificate they are
  // healthy, without it none is.
  for (const auto& h :
       cluster::ProbeMembers(Cluster().ToState(), Deadline::After(10s), Cluster().client_tls())) {
    EXPECT_TRUE(h.healthy) << h.name << ": " << h.error;
  }
  for (const auto& h : cluster::ProbeMembers(Cluster().ToState(), Deadline::After(10s))) {
    EXPECT_FALSE(h.healthy) << h.name;
  }
  // The client key is the only secret in the run directory's tls/ and is not world-readable.
  auto files = cluster::ClusterClientTlsFiles(dir_->path());
  auto perms = std::filesystem::status(files.key).permissions();
  EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
            std::filesystem::perms::none);
  EXPECT_FALSE(std::filesystem::exists(files.ca.parent_path() / "ca.key"));
}

TEST_F(EtcdTls, DeploymentClientPutsGetsAndWatches) {
  auto c = Deployment();
  ASSERT_NE(c, nullptr);
  auto watch = c->Watch({.key = "/br2k/logs/watched"}, Deadline::After(10s));
  ASSERT_TRUE(watch.ok()) << watch.status();
  auto put = c->Put(PutRequest{.key = "/br2k/logs/watched", .value = "v1"}, Deadline::After(10s));
  ASSERT_TRUE(put.ok()) << put.status();
  auto r = c->Range(RangeRequest::Key("/br2k/logs/watched"), Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].value, "v1");
  auto ev = (*watch)->Next(Deadline::After(10s));
  ASSERT_TRUE(ev.ok()) << ev.status();
  ASSERT_FALSE(ev->events.empty());
  EXPECT_EQ(ev->events[0].kv.value, "v1");
  // EndpointStatus opens its own channel per member: it too must use the certificate.
  for (const auto& u : Cluster().client_urls()) {
    EXPECT_TRUE(c->EndpointStatus(u, Deadline::After(5s)).ok()) << u;
  }
}

TEST_F(EtcdTls, ClientWithoutCertificateIsRefused) {
  // Plaintext, as the probe of the report did.
  auto plain = GrpcClient::Create({.endpoints = HostPorts()});
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto put = (*plain)->Put(PutRequest{.key = kProbeKey, .value = "x"}, Deadline::After(5s));
  EXPECT_FALSE(put.ok());
  auto read = (*plain)->Range(RangeRequest::Prefix("/br2k/"), Deadline::After(5s));
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable) << read.status();
  // TLS that trusts the member's certificate but presents none (our client refuses to be built
  // so, hence gRPC directly).
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_->cert_pem;
  for (const auto& target : HostPorts()) {
    auto channel = grpc::CreateChannel(target, grpc::SslCredentials(ssl));
    auto kv = etcdserverpb::KV::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    etcdserverpb::PutRequest in;
    in.set_key(kProbeKey);
    in.set_value("x");
    etcdserverpb::PutResponse out;
    grpc::Status s = kv->Put(&ctx, in, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << target << ": " << s.error_message();
  }
  EXPECT_EQ(CountAt(kProbeKey), 0u);
  // A client that asks for TLS must bring all three parts.
  EXPECT_EQ(
      GrpcClient::Create({.endpoints = Cluster().client_urls(), .tls = {.ca_pem = ca_->cert_pem}})
          .status()
          .code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(GrpcClient::Create({.endpoints = Cluster().client_urls()}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(EtcdTls, ClientWithCertificateFromAnotherCaIsRefused) {
  auto intruder = deploy::IssueCertificate(*other_ca_, {.common_name = "br2k-client"});
  ASSERT_TRUE(intruder.ok()) << intruder.status();
  // Trusting the members (the deployment's CA is public) but holding someone else's certificate.
  auto c = GrpcClient::Create(
      {.endpoints = Cluster().client_urls(),
       .tls = {
           .ca_pem = ca_->cert_pem, .cert_pem = intruder->cert_pem, .key_pem = intruder->key_pem}});
  ASSERT_TRUE(c.ok()) << c.status();
  auto put = (*c)->Put(PutRequest{.key = kProbeKey, .value = "x"}, Deadline::After(5s));
  EXPECT_FALSE(put.ok());
  auto read = (*c)->Range(RangeRequest::Prefix("/br2k/"), Deadline::After(5s));
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable) << read.status();
  auto del = (*c)->Delete(DeleteRequest{.key = "/br2k/logs/watched"}, Deadline::After(5s));
  EXPECT_FALSE(del.ok());
  EXPECT_EQ(CountAt(kProbeKey), 0u);
  // And the deployment's client does not talk to members with another CA's certificate: it
  // trusts only its own CA (here the members look foreign because it trusts only other_ca_).
  auto own = deploy::IssueCertificate(*other_ca_, {.common_name = "x"});
  ASSERT_TRUE(own.ok());
  auto wrong_trust = GrpcClient::Create(
      {.endpoints = Cluster().client_urls(),
       .tls = {.ca_pem = other_ca_->cert_pem, .cert_pem = own->cert_pem, .key_pem = own->key_pem}});
  ASSERT_TRUE(wrong_trust.ok());
  EXPECT_EQ((*wrong_trust)->Range(RangeRequest::Key("x"), Deadline::After(5s)).status().code(),
            StatusCode::kUnavailable);
}

// A member that restarts is reached again over TLS: the client replaces a channel that stopped
// connecting (GrpcClient::Impl::NoteConnectFailure) with one that keeps the certificate.
TEST_F(EtcdTls, ClientReconnectsToARestartedMemberWithItsCertificate) {
  const std::string url = Cluster().members()[2].client_url;
  auto c = GrpcClient::Create({.endpoints = {url}, .tls = Cluster().client_tls()});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->EndpointStatus(url, Deadline::After(5s)).ok());
  ASSERT_TRUE(Cluster().KillMember(2).ok());
  // Fail for longer than the stuck-channel limit (2 s), so the channel is replaced.
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE((*c)->Range(RangeRequest::Key("k"), Deadline::After(500ms)).ok());
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(Cluster().RestartMember(2, Deadline::After(30s)).ok());
  Status last(StatusCode::kUnknown, "not tried");
  for (int i = 0; i < 100 && !last.ok(); ++i) {
    last = (*c)->Range(RangeRequest::Key("k"), Deadline::After(1s)).status();
    if (!last.ok()) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(last.ok()) << last;
}

TEST_F(EtcdTls, ReplicaWithTheDeploymentCertificateServesRequests) {
  for (int i = 0; i < kNodes; ++i) {
    Status st = fleet_->Start(i);
    if (!st.ok()) fleet_->DumpLogs(std::cerr);
    ASSERT_TRUE(st.ok()) << st;
  }
  int leader = fleet_->WaitLeader({0, 1, 2}, Deadline::After(30s));
  ASSERT_GE(leader, 0);
  auto post = http::Call(fleet_->Url(leader), "POST", "/logs", R"({"user":"tls"})", {},
                         Deadline::After(10s));
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(post->status, 200) << post->body;
  auto get = http::Call(fleet_->Url(leader), "GET", "/logs", "", {}, Deadline::After(10s));
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(nlohmann::json::parse(get->body)["logs"], nlohmann::json({"tls"})) << get->body;
  // The entry went through etcd: the replicas' keys are there for the deployment's client.
  auto r = Deployment()->Range(RangeRequest::Prefix("/br2k/logs/"), Deadline::After(10s));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->kvs.size(), 0u);
  fleet_->StopAll();
}

}  // namespace
}  // namespace br2k::etcd
