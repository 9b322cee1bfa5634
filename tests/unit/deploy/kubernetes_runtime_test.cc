// KubernetesRuntime against the in-process FakeKubeServer (HTTPS on loopback). The fake runs no
// pods: tests set the pods' status on its stored objects (FakeKubeServer::SetStatus).
#include "br2k/deploy/kubernetes_runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "br2k/deploy/manifests.h"
#include "fake_kube_server.h"
#include "test_specs.h"

namespace br2k::deploy {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using FakeKubeServer = br2k::testing::FakeKubeServer;

constexpr const char* kNs = "br2k-test";

Deadline Soon() {
  return Deadline::After(10s);
}

std::string PodPath(const std::string& name) {
  return std::string("/api/v1/namespaces/") + kNs + "/pods/" + name;
}

json RunningReady(bool ready = true) {
  return {{"phase", "Running"},
          {"conditions",
           {{{"type", "PodScheduled"}, {"status", "True"}},
            {{"type", "Ready"}, {"status", ready ? "True" : "False"}}}},
          {"containerStatuses",
           {{{"name", "app"},
             {"ready", ready},
             {"restartCount", 0},
             {"state", {{"running", json::object()}}}}}}};
}

class KubernetesRuntimeTest : public ::testing::Test {
 protected:
  KubernetesRuntimeTest() {
    spec_ = testing::ServicesSpec();
    spec_.namespace_name = kNs;
  }
  kube::ApiClient Client(const std::string& token) const {
    return kube::ApiClient(
        kube::ApiEndpoint{.server = server_.Url(), .ca_pem = server_.CaPem(), .token = token});
  }
  KubernetesRuntime Runtime() const {
    return KubernetesRuntime(Client(server_.token()), kNs, {.delete_poll = 20ms});
  }
  std::vector<json> Objects() const {
    auto o = RenderManifests(spec_);
    EXPECT_TRUE(o.ok()) << o.status();
    return o.ok() ? *o : std::vector<json>{};
  }
  size_t Count(const std::string& method, const std::string& path) const {
    size_t n = 0;
    for (const auto& r : server_.Requests()) n += r.method == method && r.path == path;
    return n;
  }

  FakeKubeServer server_;
  DeploymentSpec spec_;
};

TEST_F(KubernetesRuntimeTest, Apply_createsEveryObjectAtItsPath) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  std::vector<std::string> paths = {std::string("/api/v1/namespaces/") + kNs +
                                    "/secrets/logserver-keys"};
  for (int i = 0; i < 3; ++i) {
    std::string pod = "logserver-" + std::to_string(i);
    std::string ns = std::string("/api/v1/namespaces/") + kNs;
    paths.push_back(ns + "/persistentvolumeclaims/" + pod + "-etcd");
    paths.push_back(ns + "/persistentvolumeclaims/" + pod + "-data");
    paths.push_back(ns + "/services/" + pod);
    paths.push_back(ns + "/pods/" + pod);
  }
  for (const auto& p : paths) {
    auto o = server_.Object(p);
    ASSERT_TRUE(o.has_value()) << p;
    EXPECT_EQ((*o)["metadata"]["namespace"], kNs) << p;
    EXPECT_EQ(Count("PATCH", p), 1u) << p;
  }
  for (const auto& r : server_.Requests()) {
    if (r.method != "PATCH") continue;
    EXPECT_EQ(r.query.at("fieldManager"), "br2k");
    EXPECT_EQ(r.content_type, "application/apply-patch+yaml");
  }
  auto pod = server_.Object(PodPath("logserver-1"));
  EXPECT_EQ((*pod)["metadata"]["labels"]["app.kubernetes.io/name"], "logserver");
}

TEST_F(KubernetesRuntimeTest, Apply_setsTheRuntimesNamespace) {
  spec_.namespace_name = "elsewhere";
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  EXPECT_TRUE(server_.Object(PodPath("logserver-0")).has_value());
  EXPECT_FALSE(server_.Object("/api/v1/namespaces/elsewhere/pods/logserver-0").has_value());
}

TEST_F(KubernetesRuntimeTest, Apply_leavesARunningOrPendingPodAlone) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(server_.SetStatus(PodPath("logserver-0"), RunningReady()));
  ASSERT_TRUE(server_.SetStatus(PodPath("logserver-1"), {{"phase", "Pending"}}));
  auto uid = (*server_.Object(PodPath("logserver-0")))["metadata"]["uid"];
  server_.ClearRequests();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Count("PATCH", PodPath("logserver-" + std::to_string(i))), 0u) << i;
    EXPECT_EQ(Count("DELETE", PodPath("logserver-" + std::to_string(i))), 0u) << i;
  }
  EXPECT_EQ((*server_.Object(PodPath("logserver-0")))["metadata"]["uid"], uid);
  // The other objects are applied again (idempotent).
  EXPECT_EQ(Count("PATCH", std::string("/api/v1/namespaces/") + kNs + "/services/logserver-0"), 1u);
}

TEST_F(KubernetesRuntimeTest, Apply_replacesAFailedPod) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(
      server_.SetStatus(PodPath("logserver-2"), {{"phase", "Failed"}, {"reason", "Evicted"}}));
  ASSERT_TRUE(server_.SetStatus(PodPath("logserver-1"), {{"phase", "Succeeded"}}));
  auto uid = (*server_.Object(PodPath("logserver-2")))["metadata"]["uid"];
  server_.ClearRequests();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  for (const char* pod : {"logserver-1", "logserver-2"}) {
    EXPECT_EQ(Count("DELETE", PodPath(pod)), 1u) << pod;
    EXPECT_EQ(Count("PATCH", PodPath(pod)), 1u) << pod;
  }
  auto replaced = server_.Object(PodPath("logserver-2"));
  ASSERT_TRUE(replaced.has_value());
  EXPECT_NE((*replaced)["metadata"]["uid"], uid);
  EXPECT_FALSE(replaced->contains("status"));
  EXPECT_EQ(Count("DELETE", PodPath("logserver-0")), 0u);
}

TEST_F(KubernetesRuntimeTest, Apply_podBeingDeletedOutlivingTheDeadline_isDeadlineExceeded) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(server_.MarkDeleting(PodPath("logserver-0")));
  Status st = runtime.Apply(Objects(), Deadline::After(300ms));
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st;
  EXPECT_THAT(st.message(), HasSubstr("Pod logserver-0"));
}

TEST_F(KubernetesRuntimeTest, Pods_mapsPhasesConditionsAndContainerStatuses) {
  auto runtime = Runtime();
  spec_.nodes = 4;
  // A fourth node needs its own etcd certificate (the spec's TLS files cover three).
  spec_.secrets.files[EtcdCertFile(3)] = spec_.secrets.files[EtcdCertFile(0)];
  spec_.secrets.files[EtcdKeyFile(3)] = spec_.secrets.files[EtcdKeyFile(0)];
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(server_.SetStatus(PodPath("logserver-0"), RunningReady()));
  json crashing = RunningReady(false);
  crashing["containerStatuses"] = {
      {{"name", "app"},
       {"restartCount", 3},
       {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}, {"message", "back-off 40s"}}}}},
       {"lastState", {{"terminated", {{"reason", "Error"}, {"exitCode", 2}}}}}}};
  ASSERT_TRUE(server_.SetStatus(PodPath("logserver-1"), crashing));
  ASSERT_TRUE(
      server_.SetStatus(PodPath("logserver-2"), {{"phase", "Pending"},
                                                 {"conditions",
                                                  {{{"type", "PodScheduled"},
                                                    {"status", "False"},
                                                    {"reason", "Unschedulable"},
                                                    {"message", "0/3 nodes are available"}}}}}));
  // logserver-3: no status yet (Pending).
  // A pod of another deployment with the same node name pattern is not listed.
  json other = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", "other-0"},
                  {"namespace", kNs},
                  {"labels", {{"app.kubernetes.io/name", "other"}}}}},
                {"spec", {{"containers", json::array()}}}};
  ASSERT_TRUE(runtime.Apply({other}, Soon()).ok());

  auto pods = runtime.Pods(spec_, Soon());
  ASSERT_TRUE(pods.ok()) << pods.status();
  ASSERT_EQ(pods->size(), 4u);
  EXPECT_EQ((*pods)[0].name, "logserver-0");
  EXPECT_EQ((*pods)[0].phase, "Running");
  EXPECT_TRUE((*pods)[0].ready);
  EXPECT_EQ((*pods)[1].phase, "Running");
  EXPECT_FALSE((*pods)[1].ready);
  EXPECT_THAT((*pods)[1].detail, HasSubstr("CrashLoopBackOff"));
  EXPECT_THAT((*pods)[1].detail, HasSubstr("Error (exit 2)"));
  EXPECT_THAT((*pods)[1].detail, HasSubstr("3 restarts"));
  EXPECT_EQ((*pods)[2].phase, "Pending");
  EXPECT_FALSE((*pods)[2].ready);
  EXPECT_THAT((*pods)[2].detail, HasSubstr("Unschedulable"));
  EXPECT_EQ((*pods)[3].phase, "Pending");

  // The list is one request with the deployment's label selector.
  bool listed = false;
  for (const auto& r : server_.Requests()) {
    if (r.method == "GET" && r.path == std::string("/api/v1/namespaces/") + kNs + "/pods") {
      listed = true;
      EXPECT_EQ(r.query.at("labelSelector"), "app.kubernetes.io/name=logserver");
    }
  }
  EXPECT_TRUE(listed);
}

TEST_F(KubernetesRuntimeTest, Pods_absentPodIsMissing) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(runtime.DeletePod(spec_, 1, Soon()).ok());
  EXPECT_TRUE(runtime.DeletePod(spec_, 1, Soon()).ok()) << "absent is fine";
  auto pods = runtime.Pods(spec_, Soon());
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_EQ((*pods)[1].phase, "Missing");
  EXPECT_FALSE((*pods)[1].ready);
  EXPECT_EQ((*pods)[0].phase, "Pending");
  // Its claims stay.
  EXPECT_TRUE(server_
                  .Object(std::string("/api/v1/namespaces/") + kNs +
                          "/persistentvolumeclaims/logserver-1-data")
                  .has_value());
}

struct ApiErrorCase {
  int http;
  std::string reason;
  StatusCode code;
};

class KubernetesRuntimeErrors : public KubernetesRuntimeTest,
                                public ::testing::WithParamInterface<ApiErrorCase> {};

TEST_P(KubernetesRuntimeErrors, Apply_mapsTheCodeAndNamesTheObject) {
  const auto& c = GetParam();
  auto runtime = Runtime();
  std::string svc = std::string("/api/v1/namespaces/") + kNs + "/services/logserver-1";
  server_.Inject(svc, 1,
                 {.status = c.http, .reason = c.reason, .message = "no " + server_.token()});
  Status st = runtime.Apply(Objects(), Soon());
  EXPECT_EQ(st.code(), c.code) << st;
  EXPECT_THAT(st.message(), HasSubstr("Service logserver-1"));
  EXPECT_THAT(st.message(), Not(HasSubstr(server_.token())));
  // What came before stays; nothing after was applied.
  EXPECT_TRUE(server_.Object(std::string("/api/v1/namespaces/") + kNs + "/services/logserver-0")
                  .has_value());
  EXPECT_FALSE(server_.Object(PodPath("logserver-0")).has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Codes, KubernetesRuntimeErrors,
    ::testing::Values(ApiErrorCase{401, "Unauthorized", StatusCode::kUnauthenticated},
                      ApiErrorCase{403, "Forbidden", StatusCode::kPermissionDenied},
                      ApiErrorCase{409, "Conflict", StatusCode::kAborted},
                      ApiErrorCase{503, "ServiceUnavailable", StatusCode::kUnavailable}));

TEST_F(KubernetesRuntimeTest, WrongToken_isUnauthenticatedAndNeverQuoted) {
  const std::string wrong = "wrong-token-0123456789";
  KubernetesRuntime runtime(Client(wrong), kNs);
  Status st = runtime.Apply(Objects(), Soon());
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated) << st;
  EXPECT_THAT(st.message(), HasSubstr("Secret logserver-keys"));
  EXPECT_THAT(st.message(), Not(HasSubstr(wrong)));
  auto pods = runtime.Pods(spec_, Soon());
  ASSERT_FALSE(pods.ok());
  EXPECT_EQ(pods.status().code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(pods.status().message(), Not(HasSubstr(wrong)));
  Status rm = runtime.Remove(spec_, true, Soon());
  EXPECT_EQ(rm.code(), StatusCode::kUnauthenticated);
  EXPECT_THAT(rm.message(), Not(HasSubstr(wrong)));
}

TEST_F(KubernetesRuntimeTest, Pods_errorNeverQuotesTheToken) {
  auto runtime = Runtime();
  server_.Inject(std::string("/api/v1/namespaces/") + kNs + "/pods", 1,
                 {.status = 403,
                  .reason = "Forbidden",
                  .message = "token " + server_.token() + " may not list"});
  auto pods = runtime.Pods(spec_, Soon());
  ASSERT_FALSE(pods.ok());
  EXPECT_EQ(pods.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(pods.status().message(), Not(HasSubstr(server_.token())));
}

TEST_F(KubernetesRuntimeTest, Remove_purgeDeletesClaimsAndSecret) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(runtime.Remove(spec_, /*purge=*/true, Soon()).ok());
  for (const auto& o : Objects()) {
    std::string kind = o["kind"];
    std::string plural = kind == "Pod"       ? "pods"
                         : kind == "Service" ? "services"
                         : kind == "Secret"  ? "secrets"
                                             : "persistentvolumeclaims";
    std::string path = std::string("/api/v1/namespaces/") + kNs + "/" + plural + "/" +
                       o["metadata"]["name"].get<std::string>();
    EXPECT_FALSE(server_.Object(path).has_value()) << path;
  }
  EXPECT_TRUE(runtime.Remove(spec_, true, Soon()).ok()) << "nothing there is fine";
}

TEST_F(KubernetesRuntimeTest, Remove_withoutPurgeKeepsClaimsAndSecret) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  ASSERT_TRUE(runtime.Remove(spec_, /*purge=*/false, Soon()).ok());
  std::string ns = std::string("/api/v1/namespaces/") + kNs;
  for (int i = 0; i < 3; ++i) {
    std::string pod = "logserver-" + std::to_string(i);
    EXPECT_FALSE(server_.Object(ns + "/pods/" + pod).has_value());
    EXPECT_FALSE(server_.Object(ns + "/services/" + pod).has_value());
    EXPECT_TRUE(server_.Object(ns + "/persistentvolumeclaims/" + pod + "-etcd").has_value());
    EXPECT_TRUE(server_.Object(ns + "/persistentvolumeclaims/" + pod + "-data").has_value());
  }
  EXPECT_TRUE(server_.Object(ns + "/secrets/logserver-keys").has_value());
}

TEST_F(KubernetesRuntimeTest, Remove_serverErrorNamesTheObject) {
  auto runtime = Runtime();
  ASSERT_TRUE(runtime.Apply(Objects(), Soon()).ok());
  server_.Inject(std::string("/api/v1/namespaces/") + kNs + "/secrets/logserver-keys", 1,
                 {.status = 403, .reason = "Forbidden", .message = "nope"});
  Status st = runtime.Remove(spec_, true, Soon());
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st;
  EXPECT_THAT(st.message(), HasSubstr("Secret logserver-keys"));
}

}  // namespace
}  // namespace br2k::deploy
