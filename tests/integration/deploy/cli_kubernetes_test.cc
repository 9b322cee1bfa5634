// `br2k context ...` and `br2k deploy --context <kubernetes>` through the real br2k executable,
// against a FakeKubeServer running in this test process (HTTPS on loopback; its CA written to a
// file). The fake runs no pods: while `br2k deploy` waits, the test thread marks every pod it
// created Running and Ready, so the deploy completes as on a cluster.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/deploy/container_registry.h"
#include "command.h"
#include "fake_kube_server.h"
#include "test_env.h"

namespace br2k {
namespace {

using namespace std::chrono_literals;
using testing::CommandResult;
using testing::FakeKubeServer;
using ::testing::HasSubstr;
using ::testing::Not;

void WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

class CliKubernetes : public ::testing::Test {
 protected:
  CliKubernetes() : dir_("cli-k8s") {
    contexts_ = dir_.path() / "contexts";
    WriteFile(dir_.path() / "ca.pem", server_.CaPem());
    WriteFile(dir_.path() / "token", server_.token() + "\n");
  }

  CommandResult Br2k(std::vector<std::string> args, const std::string& env = "") {
    args.insert(args.begin(), (testing::BinDir() / "br2k").string());
    // HOME points into the scratch dir: nothing here touches the user's own store.
    return testing::RunCommand(args,
                               "HOME=" + testing::ShellQuote(dir_.path().string()) + " " + env);
  }

  CommandResult AddK8s(const std::string& name, const std::string& ns = "br2k") {
    return Br2k({"context",
                 "add",
                 name,
                 "--kind",
                 "kubernetes",
                 "--server",
                 server_.Url(),
                 "--ca-file",
                 (dir_.path() / "ca.pem").string(),
                 "--token-file",
                 (dir_.path() / "token").string(),
                 "--namespace",
                 ns,
                 "--storage-class",
                 "fast",
                 "--endpoint",
                 "rpc=http://anvil.br2k.svc:8545",
                 "--worker",
                 "w1:br2k.io/worker=true",
                 "--contexts-dir",
                 contexts_.string()});
  }

  std::string PodPath(const std::string& ns, const std::string& pod) {
    return "/api/v1/namespaces/" + ns + "/pods/" + pod;
  }

  FakeKubeServer server_;
  testing::ScratchDir dir_;
  std::filesystem::path contexts_;
};

TEST_F(CliKubernetes, ContextVerbs_addImportUseListShowRemove_neverPrintTheToken) {
  const std::string token = server_.token();
  auto add = AddK8s("k8s");
  ASSERT_EQ(add.status, 0) << add.out << add.err;
  EXPECT_THAT(add.out + add.err, Not(HasSubstr(token)));

  // The token file is the store's, mode 0600; contexts.json has no token.
  struct stat st {};
  ASSERT_EQ(::stat((contexts_ / "tokens" / "k8s.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream json_in(contexts_ / "contexts.json");
  std::string contexts_json((std::istreambuf_iterator<char>(json_in)), {});
  EXPECT_THAT(contexts_json, Not(HasSubstr(token)));

  // Token from stdin.
  auto piped = testing::RunShell("HOME=" + testing::ShellQuote(dir_.path().string()) +
                                 " printf %s " + testing::ShellQuote(token) + " | " +
                                 testing::ShellQuote((testing::BinDir() / "br2k").string()) +
                                 " context add piped --server " + server_.Url() +
                                 " --token-file - --insecure-skip-tls-verify --contexts-dir " +
                                 testing::ShellQuote(contexts_.string()));
  ASSERT_EQ(piped.status, 0) << piped.out;
  std::ifstream piped_token(contexts_ / "tokens" / "piped.token");
  std::string stored((std::istreambuf_iterator<char>(piped_token)), {});
  EXPECT_THAT(stored, HasSubstr(token));

  // A kubeconfig referring to the CA and token files.
  WriteFile(dir_.path() / "kubeconfig",
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            "clusters:\n- name: c\n  cluster:\n    server: " +
                server_.Url() +
                "\n    certificate-authority: ca.pem\n"
                "users:\n- name: u\n  user:\n    tokenFile: token\n"
                "contexts:\n- name: fake\n  context:\n    cluster: c\n    user: u\n    namespace: "
                "imported\n");
  auto imp = Br2k({"context", "import", (dir_.path() / "kubeconfig").string(), "--as", "kc",
                   "--contexts-dir", contexts_.string()});
  ASSERT_EQ(imp.status, 0) << imp.out << imp.err;
  EXPECT_THAT(imp.out, HasSubstr("\"kc\""));
  EXPECT_THAT(imp.out + imp.err, Not(HasSubstr(token)));

  auto list = Br2k({"context", "list", "--contexts-dir", contexts_.string()});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_THAT(list.out, ::testing::ContainsRegex("\\*[ ]+k8s "));  // the first one added is active
  EXPECT_THAT(list.out, HasSubstr("kc "));
  EXPECT_THAT(list.out, HasSubstr("imported"));

  auto use = Br2k({"context", "use", "kc", "--contexts-dir", contexts_.string()});
  ASSERT_EQ(use.status, 0) << use.err;
  list = Br2k({"context", "list", "--contexts-dir", contexts_.string()});
  EXPECT_THAT(list.out, ::testing::ContainsRegex("\\*[ ]+kc "));
  EXPECT_THAT(list.out, Not(::testing::ContainsRegex("\\*[ ]+k8s ")));

  auto show = Br2k({"context", "show", "k8s", "--contexts-dir", contexts_.string()});
  ASSERT_EQ(show.status, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("token: <set>"));
  EXPECT_THAT(show.out, HasSubstr("namespace: br2k"));
  EXPECT_THAT(show.out, HasSubstr("storage_class: fast"));
  EXPECT_THAT(show.out, HasSubstr("rpc: http://anvil.br2k.svc:8545"));
  EXPECT_THAT(show.out, HasSubstr("w1 br2k.io/worker=true"));
  EXPECT_THAT(show.out, Not(HasSubstr(token)));
  EXPECT_THAT(show.out, Not(HasSubstr("BEGIN CERTIFICATE")));
  auto show_active = Br2k({"context", "show", "--json", "--contexts-dir", contexts_.string()});
  ASSERT_EQ(show_active.status, 0) << show_active.err;
  auto j = nlohmann::json::parse(show_active.out);
  EXPECT_EQ(j["name"], "kc");
  EXPECT_EQ(j["active"], true);
  EXPECT_EQ(j["token"], "<set>");

  // BR2K_HOME is honoured when --contexts-dir is not given.
  auto home = Br2k({"context", "list"}, "BR2K_HOME=" + testing::ShellQuote(dir_.path().string()));
  ASSERT_EQ(home.status, 0) << home.err;
  EXPECT_THAT(home.out, HasSubstr("k8s "));

  auto rm = Br2k({"context", "remove", "kc", "--contexts-dir", contexts_.string()});
  ASSERT_EQ(rm.status, 0) << rm.err;
  EXPECT_FALSE(std::filesystem::exists(contexts_ / "tokens" / "kc.token"));
  auto gone = Br2k({"context", "show", "kc", "--contexts-dir", contexts_.string()});
  EXPECT_EQ(gone.status, 1);
  EXPECT_THAT(gone.err, HasSubstr("not defined"));

  // A token never comes from a flag value.
  auto flag = Br2k({"context", "add", "bad", "--server", server_.Url(), "--token", token,
                    "--contexts-dir", contexts_.string()});
  EXPECT_NE(flag.status, 0);
}

TEST_F(CliKubernetes, DeployDryRun_kubernetesContext_rendersServicesInItsNamespace) {
  ASSERT_EQ(AddK8s("k8s", "prod").status, 0);
  auto run_dir = dir_.path() / "run";
  auto r = Br2k({"deploy", "--context", "k8s", "--contexts-dir", contexts_.string(), "--run-dir",
                 run_dir.string(), "--dry-run", "-o", "json", "--nodes", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["items"].size(), 2u * 4);  // no Secret: no chain
  for (const auto& o : doc["items"]) EXPECT_EQ(o["metadata"]["namespace"], "prod") << o.dump();
  for (const auto& o : doc["items"]) {
    if (o["kind"] == "Pod") {
      EXPECT_FALSE(o["spec"].value("hostNetwork", false));
    }
    if (o["kind"] == "PersistentVolumeClaim") {
      EXPECT_EQ(o["spec"]["storageClassName"], "fast");
    }
  }
  EXPECT_TRUE(server_.Requests().empty()) << "a dry run talks to no API";

  // No context configured at all: the built-in podman context (loopback addressing).
  auto none = Br2k({"deploy", "--run-dir", run_dir.string(), "--dry-run", "-o", "json", "--nodes",
                    "1", "--contexts-dir", (dir_.path() / "empty").string()});
  ASSERT_EQ(none.status, 0) << none.err;
  auto podman = nlohmann::json::parse(none.out);
  for (const auto& o : podman["items"]) {
    if (o["kind"] == "Pod") {
      EXPECT_TRUE(o["spec"].value("hostNetwork", false));
    }
  }
}

TEST_F(CliKubernetes, Deploy_kubernetesContext_withoutPushedImages_refuses) {
  ASSERT_EQ(AddK8s("k8s").status, 0);
  auto r = Br2k({"deploy", "--context", "k8s", "--contexts-dir", contexts_.string(), "--run-dir",
                 (dir_.path() / "run").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("no images pushed"));
  EXPECT_TRUE(server_.Requests().empty());
}

TEST_F(CliKubernetes, Deploy_kubernetesContext_appliesAndWaitsForReadyPods) {
  ASSERT_EQ(AddK8s("k8s").status, 0);
  auto run_dir = dir_.path() / "run";
  std::filesystem::create_directories(run_dir);
  deploy::RegistryFile reg;
  reg.registry = "registry.br2k.test:5000";
  reg.repository = "br2k";
  reg.images = {
      {"br2k-logserver",
       "registry.br2k.test:5000/br2k/br2k-logserver@sha256:" + std::string(64, 'a')},
      {"br2k-etcd", "registry.br2k.test:5000/br2k/br2k-etcd@sha256:" + std::string(64, 'e')}};
  ASSERT_TRUE(reg.Save(run_dir / "registry.json").ok());

  // The "kubelet": every pod that appears becomes Running and Ready.
  std::atomic<bool> done{false};
  std::thread kubelet([&] {
    while (!done) {
      for (int i = 0; i < 2; ++i) {
        std::string path = PodPath("br2k", "logserver-" + std::to_string(i));
        auto pod = server_.Object(path);
        if (pod && !pod->contains("status")) {
          server_.SetStatus(path, {{"phase", "Running"},
                                   {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}});
        }
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  auto r = Br2k({"deploy", "--context", "k8s", "--contexts-dir", contexts_.string(), "--run-dir",
                 run_dir.string(), "--nodes", "2", "--timeout", "60"});
  done = true;
  kubelet.join();
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("pods ready 2/2"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(server_.token())));

  for (const std::string kind : {"services", "pods", "persistentvolumeclaims"}) {
    std::string path = "/api/v1/namespaces/br2k/" + kind + "/logserver-1" +
                       (kind == "persistentvolumeclaims" ? "-data" : "");
    EXPECT_TRUE(server_.Object(path).has_value()) << path;
  }
  auto pod = server_.Object(PodPath("br2k", "logserver-0"));
  ASSERT_TRUE(pod.has_value());
  std::string images;
  for (const auto& c : (*pod)["spec"]["containers"]) images += c["image"].get<std::string>() + " ";
  EXPECT_THAT(images, HasSubstr("br2k-logserver@sha256:aaaa"));
  EXPECT_THAT(images, HasSubstr("br2k-etcd@sha256:eeee"));
  auto claim = server_.Object("/api/v1/namespaces/br2k/persistentvolumeclaims/logserver-0-etcd");
  ASSERT_TRUE(claim.has_value());
  EXPECT_EQ((*claim)["spec"]["storageClassName"], "fast");
  for (const auto& req : server_.Requests())
    EXPECT_TRUE(req.auth_ok) << req.method << " " << req.path;

  // Deploying again leaves the running pods alone.
  server_.ClearRequests();
  auto again = Br2k({"deploy", "--context", "k8s", "--contexts-dir", contexts_.string(),
                     "--run-dir", run_dir.string(), "--nodes", "2", "--timeout", "30"});
  ASSERT_EQ(again.status, 0) << again.out << again.err;
  for (const auto& req : server_.Requests())
    EXPECT_FALSE(req.method == "PATCH" && req.path.find("/pods/") != std::string::npos) << req.path;

  // undeploy keeps the claims; with --purge they go, and the Secret too.
  auto undeploy = Br2k({"undeploy", "--context", "k8s", "--contexts-dir", contexts_.string()});
  ASSERT_EQ(undeploy.status, 0) << undeploy.out << undeploy.err;
  EXPECT_FALSE(server_.Object(PodPath("br2k", "logserver-0")).has_value());
  EXPECT_FALSE(server_.Object("/api/v1/namespaces/br2k/services/logserver-1").has_value());
  EXPECT_TRUE(server_.Object("/api/v1/namespaces/br2k/persistentvolumeclaims/logserver-0-etcd")
                  .has_value());
  auto purge =
      Br2k({"undeploy", "--context", "k8s", "--contexts-dir", contexts_.string(), "--purge"});
  ASSERT_EQ(purge.status, 0) << purge.out << purge.err;
  EXPECT_FALSE(server_.Object("/api/v1/namespaces/br2k/persistentvolumeclaims/logserver-0-etcd")
                   .has_value());
}

TEST_F(CliKubernetes, Deploy_kubernetesContext_forbiddenNamesTheObject) {
  ASSERT_EQ(AddK8s("k8s").status, 0);
  auto run_dir = dir_.path() / "run";
  std::filesystem::create_directories(run_dir);
  deploy::RegistryFile reg;
  reg.registry = "registry.br2k.test:5000";
  reg.images = {
      {"br2k-logserver", "registry.br2k.test:5000/br2k-logserver@sha256:" + std::string(64, 'a')},
      {"br2k-etcd", "registry.br2k.test:5000/br2k-etcd@sha256:" + std::string(64, 'e')}};
  ASSERT_TRUE(reg.Save(run_dir / "registry.json").ok());
  server_.Inject("/api/v1/namespaces/br2k/persistentvolumeclaims/logserver-0-etcd", 1,
                 {.status = 403, .reason = "Forbidden", .message = "user cannot create claims"});
  auto r = Br2k({"deploy", "--context", "k8s", "--contexts-dir", contexts_.string(), "--run-dir",
                 run_dir.string(), "--nodes", "1", "--timeout", "20"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("PersistentVolumeClaim logserver-0-etcd"));
  EXPECT_THAT(r.err, HasSubstr("403"));
  EXPECT_THAT(r.err, Not(HasSubstr(server_.token())));
}

}  // namespace
}  // namespace br2k
