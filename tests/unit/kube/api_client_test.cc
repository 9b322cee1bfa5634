// ApiClient against the in-process FakeKubeServer (HTTPS on loopback), and the pure parts:
// ResourcePath and StatusFromApiError.
#include "br2k/kube/api_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <thread>

#include "fake_kube_server.h"

namespace br2k::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeKubeServer;
using ::testing::HasSubstr;
using ::testing::Not;

Deadline Soon() {
  return Deadline::After(10s);
}

json ConfigMap(const std::string& name, json data, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "br2k"}, {"labels", std::move(labels)}}},
          {"data", std::move(data)}};
}

class KubeApiClient : public ::testing::Test {
 protected:
  ApiClient Client(const std::string& token) const {
    return ApiClient(
        ApiEndpoint{.server = server_.Url(), .ca_pem = server_.CaPem(), .token = token});
  }
  ApiClient Client() const { return Client(server_.token()); }

  FakeKubeServer server_;
};

TEST_F(KubeApiClient, Apply_createsThenReapplyUpdates) {
  ApiClient client = Client();
  auto created = client.Apply(ConfigMap("cfg", {{"a", "1"}}), Soon());
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string rv1 = (*created)["metadata"]["resourceVersion"];
  const std::string uid = (*created)["metadata"]["uid"];
  EXPECT_FALSE(rv1.empty());
  EXPECT_FALSE(uid.empty());
  EXPECT_EQ((*created)["metadata"]["managedFields"][0]["manager"], "br2k");

  auto updated = client.Apply(ConfigMap("cfg", {{"a", "2"}}), Soon());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], rv1);
  EXPECT_EQ((*updated)["metadata"]["uid"], uid);
  EXPECT_EQ((*updated)["data"]["a"], "2");
  auto stored = server_.Object("/api/v1/namespaces/br2k/configmaps/cfg");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ((*stored)["data"]["a"], "2");

  auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_EQ(r.path, "/api/v1/namespaces/br2k/configmaps/cfg");
    EXPECT_EQ(r.query.at("fieldManager"), "br2k");
    EXPECT_EQ(r.query.at("force"), "true");
    EXPECT_EQ(r.content_type, "application/apply-patch+yaml");
    EXPECT_TRUE(r.auth_ok);
  }
}

TEST_F(KubeApiClient, Apply_namedGroupPath) {
  json sts = {{"apiVersion", "apps/v1"},
              {"kind", "StatefulSet"},
              {"metadata", {{"name", "logserver"}, {"namespace", "br2k"}}},
              {"spec", {{"replicas", 3}}}};
  auto r = Client().Apply(sts, Soon());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server_.Requests().at(0).path, "/apis/apps/v1/namespaces/br2k/statefulsets/logserver");
}

TEST_F(KubeApiClient, Apply_refusesObjectWithoutName) {
  json bad = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::object()}};
  auto r = Client().Apply(bad, Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_.Requests().empty());
}

TEST_F(KubeApiClient, Get_returnsObjectAndNotFoundWhenAbsent) {
  ApiClient client = Client();
  ASSERT_TRUE(client.Apply(ConfigMap("cfg", {{"k", "v"}}), Soon()).ok());
  auto got = client.Get("v1", "ConfigMap", "br2k", "cfg", Soon());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["data"]["k"], "v");

  auto missing = client.Get("v1", "Pod", "br2k", "nope", Soon());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("pods \"nope\" not found"));
}

TEST_F(KubeApiClient, List_filtersByLabelSelector) {
  ApiClient client = Client();
  ASSERT_TRUE(client.Apply(ConfigMap("a", {}, {{"app", "web"}, {"tier", "x"}}), Soon()).ok());
  ASSERT_TRUE(client.Apply(ConfigMap("b", {}, {{"app", "web"}, {"tier", "y"}}), Soon()).ok());
  ASSERT_TRUE(client.Apply(ConfigMap("c", {}, {{"app", "db"}}), Soon()).ok());
  server_.ClearRequests();

  auto web = client.List("v1", "ConfigMap", "br2k", "app=web,tier=y", Soon());
  ASSERT_TRUE(web.ok()) << web.status();
  ASSERT_TRUE(web->is_array());
  ASSERT_EQ(web->size(), 1u);
  EXPECT_EQ((*web)[0]["metadata"]["name"], "b");
  auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/api/v1/namespaces/br2k/configmaps");
  EXPECT_EQ(requests[0].query.at("labelSelector"), "app=web,tier=y");

  auto all = client.List("v1", "ConfigMap", "br2k", "", Soon());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 3u);
  auto none = client.List("v1", "ConfigMap", "other", "", Soon());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST_F(KubeApiClient, Delete_removesThenNotFound) {
  ApiClient client = Client();
  ASSERT_TRUE(client.Apply(ConfigMap("cfg", {}), Soon()).ok());
  Status st = client.Delete("v1", "ConfigMap", "br2k", "cfg", Soon());
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_FALSE(server_.Object("/api/v1/namespaces/br2k/configmaps/cfg").has_value());
  EXPECT_EQ(server_.Requests().back().method, "DELETE");
  EXPECT_EQ(client.Delete("v1", "ConfigMap", "br2k", "cfg", Soon()).code(), StatusCode::kNotFound);
}

TEST_F(KubeApiClient, Version_reachableWithToken) {
  auto v = Client().Version(Soon());
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)["major"], "1");
  EXPECT_TRUE(server_.Requests().at(0).has_auth);
}

TEST_F(KubeApiClient, WrongToken_unauthenticatedWithoutTheToken) {
  const std::string secret = "s3cr3t-wrong-token-value";
  auto r = Client(secret).Get("v1", "Pod", "br2k", "p", Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(r.status().ToString(), Not(HasSubstr(secret)));
  EXPECT_TRUE(server_.Requests().at(0).has_auth);
  EXPECT_FALSE(server_.Requests().at(0).auth_ok);
}

TEST_F(KubeApiClient, ServerEchoingTheToken_isRedacted) {
  const std::string path = "/api/v1/namespaces/br2k/pods/p";
  server_.Inject(path, 1,
                 {.status = 401,
                  .reason = "Unauthorized",
                  .message = "token " + server_.token() + " rejected"});
  auto r = Client().Get("v1", "Pod", "br2k", "p", Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(r.status().message(), Not(HasSubstr(server_.token())));
  EXPECT_THAT(r.status().message(), HasSubstr("<redacted>"));
}

TEST_F(KubeApiClient, Forbidden_permissionDenied) {
  const std::string path = "/api/v1/namespaces/br2k/secrets/s";
  server_.Inject(path, 1,
                 {.status = 403,
                  .reason = "Forbidden",
                  .message = "secrets \"s\" is forbidden: User cannot get"});
  auto r = Client().Get("v1", "Secret", "br2k", "s", Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("is forbidden"));
}

TEST_F(KubeApiClient, ApplyConflict_aborted) {
  server_.Inject("/api/v1/namespaces/br2k/configmaps/cfg", 1,
                 {.status = 409,
                  .reason = "Conflict",
                  .message = "Apply failed with 1 conflict: conflict with \"kubectl\": .data.a"});
  auto r = Client().Apply(ConfigMap("cfg", {{"a", "1"}}), Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
  EXPECT_THAT(r.status().message(), HasSubstr("field manager conflict"));
  // The injection is used up: the next apply goes through.
  EXPECT_TRUE(Client().Apply(ConfigMap("cfg", {{"a", "1"}}), Soon()).ok());
}

TEST_F(KubeApiClient, ServerErrors_unavailable) {
  server_.Inject("/version", 1, {.status = 500, .reason = "InternalError", .message = "boom"});
  server_.Inject("/version", 1, {.status = 503, .reason = "ServiceUnavailable", .message = "busy"});
  server_.Inject("/version", 1,
                 {.status = 429, .reason = "TooManyRequests", .message = "slow down"});
  ApiClient client = Client();
  for (int i = 0; i < 3; ++i) {
    auto r = client.Version(Soon());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << i << ": " << r.status();
  }
  EXPECT_TRUE(client.Version(Soon()).ok());
}

TEST_F(KubeApiClient, NeverAnswers_deadlineExceeded) {
  server_.Inject("/version", 1, {.never_answer = true});
  auto start = std::chrono::steady_clock::now();
  auto r = Client().Version(Deadline::After(300ms));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(took, 5s);                       // generous: it returned, near its deadline
  EXPECT_EQ(server_.Requests().size(), 1u);  // the request did arrive
}

TEST(KubeApiClientTimeout, ListenerThatNeverHandshakes_deadlineExceeded) {
  // The kernel completes TCP connections to a listening socket nobody accepts from: the client
  // connects, sends its TLS ClientHello and hears nothing back.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  ApiClient client(
      ApiEndpoint{.server = "https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()),
                  .ca_pem = FakeKubeServer::UnrelatedCaPem()});
  auto start = std::chrono::steady_clock::now();
  auto r = client.Version(Deadline::After(300ms));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(KubeApiClient, ExpiredDeadline_noRequest) {
  auto r = Client().Version(Deadline::After(0ms));
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(KubeApiClient, WrongCa_failsTlsVerification) {
  ApiClient client(ApiEndpoint{.server = server_.Url(),
                               .ca_pem = FakeKubeServer::UnrelatedCaPem(),
                               .token = server_.token()});
  auto r = client.Version(Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("TLS verification"));
  EXPECT_TRUE(server_.Requests().empty());  // the token was never sent
}

TEST(KubeApiClientTls, HostNameMismatch_failsTlsVerification) {
  // A certificate from the trusted CA, but for another name than the 127.0.0.1 we dial.
  FakeKubeServer other({.subject_alt_names = "DNS:kube.example.com"});
  ApiClient client(
      ApiEndpoint{.server = other.Url(), .ca_pem = other.CaPem(), .token = other.token()});
  auto r = client.Version(Soon());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("TLS verification"));
  EXPECT_TRUE(other.Requests().empty());
}

TEST_F(KubeApiClient, DnsName_resolvedAndMatchedAgainstDnsSan) {
  ApiClient client(ApiEndpoint{.server = "https://localhost:" + std::to_string(server_.port()),
                               .ca_pem = server_.CaPem(),
                               .token = server_.token()});
  // localhost may resolve to ::1 first (nothing listens there): the client tries each address.
  auto r = client.Version(Soon());
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(KubeApiClient, InsecureSkipVerify_acceptsUnknownCa) {
  ApiClient client(ApiEndpoint{.server = server_.Url(),
                               .ca_pem = FakeKubeServer::UnrelatedCaPem(),
                               .token = server_.token(),
                               .insecure_skip_tls_verify = true});
  auto r = client.Version(Soon());
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(KubeApiClient, BadEndpoints_invalidArgument) {
  for (const char* server : {"http://127.0.0.1:6443", "127.0.0.1:6443", "https://", "https://h:0",
                             "https://h:99999", "https://user@h:1", "https://[::1"}) {
    ApiClient client(ApiEndpoint{.server = server, .ca_pem = server_.CaPem()});
    EXPECT_EQ(client.Version(Soon()).status().code(), StatusCode::kInvalidArgument) << server;
  }
  ApiClient bad_pem(ApiEndpoint{.server = server_.Url(), .ca_pem = "not a certificate"});
  EXPECT_EQ(bad_pem.Version(Soon()).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KubeApiClient, ConcurrentCalls_allSucceed) {
  ApiClient client = Client();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 5; ++j) {
        auto name = "cm-" + std::to_string(i) + "-" + std::to_string(j);
        if (client.Apply(ConfigMap(name, {}), Soon()).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
  auto all = client.List("v1", "ConfigMap", "", "", Soon());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 20u);
}

// ---- ResourcePath ----

TEST(ResourcePath, Table_coreAppsClusterScoped) {
  struct Case {
    const char *api_version, *kind, *ns, *name, *want;
  } cases[] = {
      {"v1", "Pod", "br2k", "p-0", "/api/v1/namespaces/br2k/pods/p-0"},
      {"v1", "Service", "br2k", "svc", "/api/v1/namespaces/br2k/services/svc"},
      {"v1", "Secret", "br2k", "s", "/api/v1/namespaces/br2k/secrets/s"},
      {"v1", "ConfigMap", "br2k", "c", "/api/v1/namespaces/br2k/configmaps/c"},
      {"v1", "PersistentVolumeClaim", "br2k", "data-0",
       "/api/v1/namespaces/br2k/persistentvolumeclaims/data-0"},
      {"v1", "Namespace", "", "br2k", "/api/v1/namespaces/br2k"},
      {"v1", "Node", "", "node-1.example.com", "/api/v1/nodes/node-1.example.com"},
      {"v1", "PersistentVolume", "", "pv", "/api/v1/persistentvolumes/pv"},
      {"apps/v1", "StatefulSet", "br2k", "ls", "/apis/apps/v1/namespaces/br2k/statefulsets/ls"},
      {"apps/v1", "Deployment", "br2k", "d", "/apis/apps/v1/namespaces/br2k/deployments/d"},
      {"storage.k8s.io/v1", "StorageClass", "", "fast",
       "/apis/storage.k8s.io/v1/storageclasses/fast"},
      {"v1", "Pod", "br2k", "", "/api/v1/namespaces/br2k/pods"},
      {"v1", "Pod", "", "", "/api/v1/pods"},
      {"v1", "Namespace", "", "", "/api/v1/namespaces"},
  };
  for (const auto& c : cases) {
    auto p = ResourcePath(c.api_version, c.kind, c.ns, c.name);
    ASSERT_TRUE(p.ok()) << c.kind << ": " << p.status();
    EXPECT_EQ(*p, c.want);
  }
}

TEST(ResourcePath, Invalid_unknownKindWrongGroupBadNames) {
  struct Case {
    const char *api_version, *kind, *ns, *name;
  } cases[] = {
      {"v1", "Widget", "br2k", "w"},          // unknown kind
      {"v1", "Deployment", "br2k", "d"},      // Deployment is in apps
      {"apps/v1", "Pod", "br2k", "p"},        // Pod is in the core group
      {"", "Pod", "br2k", "p"},               // no version
      {"/v1", "Pod", "br2k", "p"},            // empty group
      {"v1", "Namespace", "br2k", "x"},       // cluster-scoped with a namespace
      {"v1", "Pod", "", "p"},                 // namespaced without a namespace
      {"v1", "Pod", "br2k", "../secrets/x"},  // path injection
      {"v1", "Pod", "br2k", "a?b"},
      {"v1", "Pod", "Br2k", "p"},  // upper case
      {"v1", "Pod", "a.b", "p"},   // a namespace is a label, no dots
      {"v1", "Pod", "br2k", "-p"},
  };
  for (const auto& c : cases) {
    auto p = ResourcePath(c.api_version, c.kind, c.ns, c.name);
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument)
        << c.api_version << " " << c.kind << " " << c.ns << " " << c.name;
  }
}

// ---- StatusFromApiError ----

TEST(StatusFromApiError, Codes_mappedFromHttpStatusAndReason) {
  auto body = [](const char* reason) {
    return json{{"kind", "Status"}, {"status", "Failure"}, {"reason", reason}, {"message", "m"}}
        .dump();
  };
  EXPECT_TRUE(StatusFromApiError(200, "{}").ok());
  EXPECT_TRUE(StatusFromApiError(201, "").ok());
  EXPECT_EQ(StatusFromApiError(400, body("BadRequest")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromApiError(422, body("Invalid")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromApiError(401, body("Unauthorized")).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(StatusFromApiError(403, body("Forbidden")).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusFromApiError(404, body("NotFound")).code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusFromApiError(409, body("AlreadyExists")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromApiError(409, body("Conflict")).code(), StatusCode::kAborted);
  EXPECT_THAT(StatusFromApiError(409, body("Conflict")).message(),
              HasSubstr("field manager conflict"));
  EXPECT_EQ(StatusFromApiError(429, body("TooManyRequests")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromApiError(500, body("InternalError")).code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromApiError(503, "").code(), StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromApiError(302, "").code(), StatusCode::kUnknown);
  EXPECT_THAT(StatusFromApiError(404, body("NotFound")).message(),
              HasSubstr("HTTP 404 NotFound: m"));
}

TEST(StatusFromApiError, MalformedBodies_noCrashBoundedPrintable) {
  std::string huge(100000, 'x');
  std::string binary("\x00\x01\xff\xfe{\"kind\":", 12);
  std::string long_message =
      json{{"kind", "Status"}, {"message", std::string(5000, 'm') + "\n\x1b[31m"}}.dump();
  for (const std::string& b :
       {std::string(), std::string("{"), std::string("[1,2"), std::string("null"),
        std::string("{\"kind\":\"Status\",\"message\":42,\"reason\":{}}"),
        std::string("{\"kind\":5}"), std::string("<html>502 Bad Gateway</html>"), huge, binary,
        long_message, std::string(10000, '[')}) {
    Status st = StatusFromApiError(502, b);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_LT(st.message().size(), 700u);
    for (char c : st.message()) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c);
    }
  }
  EXPECT_THAT(StatusFromApiError(502, "<html>bad gateway</html>").message(),
              HasSubstr("<html>bad gateway</html>"));
}

TEST(EscapeForMessage, EscapesAndCaps) {
  EXPECT_EQ(EscapeForMessage("a\nb\\c\"d"), "a\\x0ab\\\\c\"d");
  EXPECT_EQ(EscapeForMessage("\xc3\xa9"), "\\xc3\\xa9");
  EXPECT_EQ(EscapeForMessage(std::string(600, 'a')), std::string(512, 'a') + "...");
  EXPECT_EQ(EscapeForMessage("ab\n", 4), "ab...");  // never splits an escape
}

}  // namespace
}  // namespace br2k::kube
