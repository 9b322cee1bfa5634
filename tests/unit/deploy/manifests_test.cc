#include "br2k/deploy/manifests.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "test_env.h"
#include "test_specs.h"

namespace br2k::deploy {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::LoopbackSpec;
using ::testing::Not;
using testing::ServicesSpec;

std::vector<json> Render(const DeploymentSpec& spec) {
  auto r = RenderManifests(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<json>{};
}

std::vector<json> OfKind(const std::vector<json>& objects, const std::string& kind) {
  std::vector<json> out;
  for (const auto& o : objects) {
    if (o["kind"] == kind) out.push_back(o);
  }
  return out;
}

const json& Container(const json& pod, const std::string& name) {
  for (const auto& c : pod["spec"]["containers"]) {
    if (c["name"] == name) return c;
  }
  static const json kNone;
  ADD_FAILURE() << "no container " << name;
  return kNone;
}

std::vector<std::string> Args(const json& container) {
  return container["args"].get<std::vector<std::string>>();
}

// --- golden files ---

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CheckGolden(const std::string& file, const std::string& actual) {
  const auto path = br2k::testing::SourceDir() / "tests/unit/deploy/golden" / file;
  const char* update = std::getenv("BR2K_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path) << actual;
    GTEST_SKIP() << "rewrote " << path;
  }
  EXPECT_EQ(ReadFile(path), actual)
      << path << " differs: if the change is intended, rerun with BR2K_UPDATE_GOLDEN=1";
}

TEST(Manifests, Golden_servicesYaml) {
  CheckGolden("services.yaml", ToYaml(Render(ServicesSpec())));
}
TEST(Manifests, Golden_servicesJson) {
  CheckGolden("services.json", ToJson(Render(ServicesSpec())));
}
TEST(Manifests, Golden_loopbackYaml) {
  CheckGolden("loopback.yaml", ToYaml(Render(LoopbackSpec())));
}
TEST(Manifests, Golden_loopbackJson) {
  CheckGolden("loopback.json", ToJson(Render(LoopbackSpec())));
}

// --- YAML and JSON printing ---

// A YAML node as JSON, resolving plain scalars as a YAML 1.1 reader (go-yaml, kubectl) would.
json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      json j = json::object();
      for (const auto& kv : n) j[kv.first.Scalar()] = YamlToJson(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      json j = json::array();
      for (const auto& v : n) j.push_back(YamlToJson(v));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() != "?") return s;  // quoted: a string
      if (s == "true" || s == "false") return s == "true";
      if (!s.empty() && s.find_first_not_of("-0123456789") == std::string::npos) {
        return std::stoll(s);
      }
      return s;
    }
    default:
      return nullptr;
  }
}

TEST(ToYaml, RoundTrip_givesBackEveryObject) {
  for (const auto& spec : {ServicesSpec(), LoopbackSpec()}) {
    const auto objects = Render(spec);
    const std::vector<YAML::Node> docs = YAML::LoadAll(ToYaml(objects));
    ASSERT_EQ(docs.size(), objects.size());
    for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(YamlToJson(docs[i]), objects[i]);
  }
}

TEST(ToYaml, StringsThatLookLikeOtherTypes_areQuoted) {
  const json o = {{"a", "true"}, {"b", "12"},   {"c", "1.5"},  {"d", "null"}, {"e", ""},
                  {"f", "yes"},  {"g", "0x1F"}, {"h", "1:30"}, {"i", "100m"}, {"j", "on"}};
  const std::string text = ToYaml({o});
  for (const char* want : {"a: \"true\"", "b: \"12\"", "c: \"1.5\"", "d: \"null\"", "e: \"\"",
                           "f: \"yes\"", "g: \"0x1F\"", "h: \"1:30\"", "i: 100m", "j: \"on\""}) {
    EXPECT_THAT(text, HasSubstr(want));
  }
  EXPECT_EQ(YamlToJson(YAML::Load(text)), o);
}

TEST(ToYaml, SeveralObjects_areSeparatedByDashes) {
  const std::string text = ToYaml({json{{"kind", "A"}}, json{{"kind", "B"}}});
  EXPECT_EQ(text, "kind: A\n---\nkind: B\n");
  EXPECT_EQ(ToYaml({}), "");
}

TEST(ToJson, IsAv1List) {
  const auto objects = Render(LoopbackSpec());
  const json list = json::parse(ToJson(objects));
  EXPECT_EQ(list["apiVersion"], "v1");
  EXPECT_EQ(list["kind"], "List");
  EXPECT_EQ(list["items"], json(objects));
}

// --- what is rendered ---

TEST(RenderManifests, Services_objectsInApplyOrder) {
  const auto objects = Render(ServicesSpec());
  std::vector<std::string> names;
  for (const auto& o : objects) {
    names.push_back(o["kind"].get<std::string>() + "/" + o["metadata"]["name"].get<std::string>());
    EXPECT_EQ(o["metadata"]["namespace"], "br2k");
    EXPECT_EQ(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "br2k");
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "Secret/logserver-keys",
                       "PersistentVolumeClaim/logserver-0-etcd",
                       "PersistentVolumeClaim/logserver-0-data",
                       "PersistentVolumeClaim/logserver-1-etcd",
                       "PersistentVolumeClaim/logserver-1-data",
                       "PersistentVolumeClaim/logserver-2-etcd",
                       "PersistentVolumeClaim/logserver-2-data",
                       "Service/logserver-0",
                       "Service/logserver-1",
                       "Service/logserver-2",
                       "Pod/logserver-0",
                       "Pod/logserver-1",
                       "Pod/logserver-2",
                   }));
}

TEST(RenderManifests, NoSecrets_noSecretAndNoKeysVolume) {
  const auto objects = Render(LoopbackSpec());
  EXPECT_TRUE(OfKind(objects, "Secret").empty());
  EXPECT_EQ(OfKind(objects, "Pod").size(), 3u);
  for (const auto& pod : OfKind(objects, "Pod")) {
    EXPECT_EQ(pod["spec"]["volumes"].size(), 2u);
    EXPECT_EQ(Container(pod, "app")["volumeMounts"].size(), 1u);
  }
}

TEST(RenderManifests, EachPodsEtcd_servesClientsOnLocalhostOnly) {
  for (const auto& spec : {ServicesSpec(), LoopbackSpec()}) {
    const auto pods = OfKind(Render(spec), "Pod");
    ASSERT_EQ(pods.size(), spec.nodes);
    for (size_t i = 0; i < pods.size(); ++i) {
      const auto args = Args(Container(pods[i], "etcd"));
      const std::string client = (spec.EtcdTls() ? "https" : "http") +
                                 std::string("://127.0.0.1:") +
                                 std::to_string(spec.EtcdClientPort(i));
      EXPECT_THAT(args, Contains("--listen-client-urls=" + client));
      EXPECT_THAT(args, Contains("--advertise-client-urls=" + client));
      EXPECT_THAT(args, Contains("--pre-vote=true"));
      EXPECT_THAT(args, Contains("--max-txn-ops=4096"));
      // The replica talks to its own member only.
      const auto app = Args(Container(pods[i], "app"));
      EXPECT_THAT(app, Contains("--etcd=" + client));
      EXPECT_THAT(app, Contains("--local-etcd=" + client));
      EXPECT_THAT(app, Contains("--id=node-" + std::to_string(i)));
      EXPECT_THAT(app, Contains("--advertise-url=" + spec.AppUrl(i)));
    }
  }
}

TEST(RenderManifests, InitialCluster_namesEveryMemberAtItsNodeHost) {
  const auto pods = OfKind(Render(ServicesSpec()), "Pod");
  const std::string want =
      "--initial-cluster=logserver-0=https://logserver-0.br2k.svc:12480,"
      "logserver-1=https://logserver-1.br2k.svc:12481,logserver-2=https://"
      "logserver-2.br2k.svc:12482";
  for (const auto& pod : pods) {
    EXPECT_THAT(Args(Container(pod, "etcd")), Contains(want));
    EXPECT_THAT(Args(Container(pod, "etcd")), Contains("--listen-peer-urls=https://0.0.0.0:" +
                                                       std::to_string(12480 + (&pod - &pods[0]))));
  }
  const auto loop = OfKind(Render(LoopbackSpec()), "Pod");
  EXPECT_THAT(Args(Container(loop[1], "etcd")),
              Contains("--listen-peer-urls=http://127.0.0.1:12481"));
  EXPECT_THAT(Args(Container(loop[1], "etcd")),
              Contains("--initial-advertise-peer-urls=http://127.0.0.1:12481"));
}

// Hardening item 11: with the etcd TLS files in the Secret, every member requires client and
// peer certificates of the deployment's CA, and each pod sees only its own key.
TEST(RenderManifests, EtcdTls_membersRequireCertificatesAndPodsSeeOnlyTheirOwnKeys) {
  const auto spec = ServicesSpec();
  ASSERT_TRUE(spec.EtcdTls());
  const auto pods = OfKind(Render(spec), "Pod");
  for (size_t i = 0; i < pods.size(); ++i) {
    const std::string n = std::to_string(i);
    const auto etcd = Args(Container(pods[i], "etcd"));
    for (const std::string& flag :
         {std::string("--client-cert-auth"), std::string("--peer-client-cert-auth"),
          "--cert-file=/etc/br2k/keys/etcd-" + n + ".crt",
          "--key-file=/etc/br2k/keys/etcd-" + n + ".key",
          std::string("--trusted-ca-file=/etc/br2k/keys/etcd-ca.crt"),
          "--peer-cert-file=/etc/br2k/keys/etcd-" + n + ".crt",
          "--peer-key-file=/etc/br2k/keys/etcd-" + n + ".key",
          std::string("--peer-trusted-ca-file=/etc/br2k/keys/etcd-ca.crt")}) {
      EXPECT_THAT(etcd, Contains(flag)) << "pod " << i;
    }
    for (const auto& a : etcd) EXPECT_EQ(a.find("http://"), std::string::npos) << a;
    const auto app = Args(Container(pods[i], "app"));
    EXPECT_THAT(app, Contains("--etcd-ca=/etc/br2k/keys/etcd-ca.crt"));
    EXPECT_THAT(app, Contains("--etcd-cert=/etc/br2k/keys/etcd-" + n + ".crt"));
    EXPECT_THAT(app, Contains("--etcd-key=/etc/br2k/keys/etcd-" + n + ".key"));
    // The etcd container mounts the keys (read-only) to read its certificate.
    bool mounted = false;
    for (const auto& m : Container(pods[i], "etcd")["volumeMounts"])
      mounted |= m["name"] == "keys" && m["readOnly"] == true;
    EXPECT_TRUE(mounted);
    // The pod's Secret volume projects its own files and the shared ones, nothing else.
    std::set<std::string> seen;
    for (const auto& v : pods[i]["spec"]["volumes"]) {
      if (!v.contains("secret")) continue;
      for (const auto& item : v["secret"]["items"]) {
        EXPECT_EQ(item["key"], item["path"]);
        seen.insert(item["key"].get<std::string>());
      }
    }
    EXPECT_EQ(seen,
              (std::set<std::string>{"etcd-ca.crt", "etcd-" + n + ".crt", "etcd-" + n + ".key",
                                     "operator-" + n + ".key", "tx.key"}))
        << "pod " << i;
  }
}

TEST(RenderManifests, EtcdTls_partialFilesAreRefused) {
  auto spec = ServicesSpec();
  spec.secrets.files.erase(EtcdKeyFile(1));
  auto r = RenderManifests(spec);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("etcd-1.key"), std::string::npos) << r.status();
}

TEST(RenderManifests, Services_antiAffinityAndNodeAffinity_noHostNetwork) {
  for (const auto& pod : OfKind(Render(ServicesSpec()), "Pod")) {
    const json& spec = pod["spec"];
    EXPECT_EQ(spec["hostNetwork"], false);
    EXPECT_EQ(spec["restartPolicy"], "Always");
    const json& anti =
        spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    ASSERT_EQ(anti.size(), 1u);
    EXPECT_EQ(anti[0]["topologyKey"], "kubernetes.io/hostname");
    EXPECT_EQ(anti[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/name"], "logserver");
    const json& expr =
        spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchExpressions"][0];
    EXPECT_EQ(expr, (json{{"key", "br2k.io/worker"}, {"operator", "In"}, {"values", {"true"}}}));
  }
}

TEST(RenderManifests, Loopback_hostNetworkAndNoAffinity) {
  for (const auto& pod : OfKind(Render(LoopbackSpec()), "Pod")) {
    EXPECT_EQ(pod["spec"]["hostNetwork"], true);
    EXPECT_FALSE(pod["spec"].contains("affinity"));
    EXPECT_EQ(Container(pod, "app")["readinessProbe"]["httpGet"]["host"], "127.0.0.1");
    // podman 4.3 publishes every containerPort and then refuses a host-network pod.
    for (const auto& c : pod["spec"]["containers"]) EXPECT_FALSE(c.contains("ports"));
  }
  for (const auto& pod : OfKind(Render(ServicesSpec()), "Pod")) {
    EXPECT_EQ(Container(pod, "etcd")["ports"].size(), 2u);
    EXPECT_EQ(Container(pod, "app")["ports"].size(), 1u);
  }
}

TEST(RenderManifests, Images_byDigest) {
  const auto spec = ServicesSpec();
  for (const auto& pod : OfKind(Render(spec), "Pod")) {
    EXPECT_EQ(Container(pod, "app")["image"], spec.app_image);
    EXPECT_EQ(Container(pod, "etcd")["image"], spec.etcd_image);
    for (const auto& c : pod["spec"]["containers"]) {
      EXPECT_THAT(c["image"].get<std::string>(), HasSubstr("@sha256:"));
    }
  }
}

TEST(RenderManifests, Services_oneServicePerPod_publishingNotReadyAddresses) {
  const auto services = OfKind(Render(ServicesSpec()), "Service");
  ASSERT_EQ(services.size(), 3u);
  for (size_t i = 0; i < services.size(); ++i) {
    const json& s = services[i]["spec"];
    EXPECT_EQ(s["selector"], (json{{"br2k.io/pod", "logserver-" + std::to_string(i)}}));
    EXPECT_EQ(s["publishNotReadyAddresses"], true);
    EXPECT_EQ(s["ports"][0]["port"], 18080 + static_cast<int>(i));
    EXPECT_EQ(s["ports"][1]["port"], 12480 + static_cast<int>(i));
  }
}

TEST(RenderManifests, Chain_flagsAndKeyFiles) {
  const auto pods = OfKind(Render(ServicesSpec()), "Pod");
  const auto args = Args(Container(pods[2], "app"));
  EXPECT_THAT(args, Contains("--rpc-url=http://anvil.br2k.svc:8545"));
  EXPECT_THAT(args, Contains("--registry=0x5FbDB2315678afecb367f032d93F642f64180aa3"));
  EXPECT_THAT(args, Contains("--chain-id=31337"));
  EXPECT_THAT(args, Contains("--operator-key-file=/etc/br2k/keys/operator-2.key"));
  EXPECT_THAT(args, Contains("--tx-key-file=/etc/br2k/keys/tx.key"));
  EXPECT_EQ(args.back(), "--max-batch=256");  // spec.app_args come last

  auto no_chain = ServicesSpec();
  no_chain.chain = {};
  for (const auto& a : Args(Container(OfKind(Render(no_chain), "Pod")[0], "app"))) {
    EXPECT_THAT(a, Not(HasSubstr("key-file")));
    EXPECT_THAT(a, Not(HasSubstr("--rpc-url")));
  }
}

TEST(RenderManifests, Secret_base64OfEveryFile) {
  const auto spec = ServicesSpec();
  const auto secret = OfKind(Render(spec), "Secret").at(0);
  EXPECT_EQ(secret["type"], "Opaque");
  ASSERT_EQ(secret["data"].size(), spec.secrets.files.size());
  for (const auto& [file, contents] : spec.secrets.files) {
    const auto bytes = YAML::DecodeBase64(secret["data"][file].get<std::string>());
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), contents) << file;
  }
}

TEST(RenderManifests, Claims_storageClassOnlyWhenSet) {
  for (const auto& c : OfKind(Render(ServicesSpec()), "PersistentVolumeClaim")) {
    EXPECT_EQ(c["spec"]["storageClassName"], "standard");
    EXPECT_EQ(c["spec"]["accessModes"], json({"ReadWriteOnce"}));
    EXPECT_EQ(c["spec"]["resources"]["requests"]["storage"], "1Gi");
  }
  for (const auto& c : OfKind(Render(LoopbackSpec()), "PersistentVolumeClaim")) {
    EXPECT_FALSE(c["spec"].contains("storageClassName"));
  }
}

// --- DeploymentSpec ---

TEST(DeploymentSpec, NodeHostAndAppUrl) {
  EXPECT_EQ(ServicesSpec().NodeHost(1), "logserver-1.br2k.svc");
  EXPECT_EQ(ServicesSpec().AppUrl(1), "http://logserver-1.br2k.svc:18081");
  EXPECT_EQ(LoopbackSpec().NodeHost(2), "127.0.0.1");
  EXPECT_EQ(LoopbackSpec().AppUrl(2), "http://127.0.0.1:18082");
}

TEST(DeploymentSpec, Validate_namesTheBadField) {
  struct Case {
    void (*mutate)(DeploymentSpec&);
    const char* field;
  };
  const Case cases[] = {
      {[](DeploymentSpec& s) { s.name = "Log_Server"; }, "name"},
      {[](DeploymentSpec& s) { s.name = "1logserver"; }, "name"},
      {[](DeploymentSpec& s) { s.name = std::string(62, 'a'); }, "name"},
      {[](DeploymentSpec& s) { s.namespace_name = "-x"; }, "namespace"},
      {[](DeploymentSpec& s) { s.nodes = 0; }, "nodes"},
      {[](DeploymentSpec& s) { s.nodes = 17; }, "nodes"},
      {[](DeploymentSpec& s) { s.app_image = "registry/br2k-logserver:latest"; }, "app_image"},
      {[](DeploymentSpec& s) { s.etcd_image = "etcd@sha256:abc"; }, "etcd_image"},
      {[](DeploymentSpec& s) { s.app_command = "br2k-logserver"; }, "app_command"},
      {[](DeploymentSpec& s) { s.app_port_base = 65534; }, "app_port_base"},
      {[](DeploymentSpec& s) { s.etcd_client_port_base = 18081; }, "ports"},
      {[](DeploymentSpec& s) { s.storage_size = "lots"; }, "storage_size"},
      {[](DeploymentSpec& s) { s.etcd_election_ms = 200; }, "etcd_election_ms"},
      {[](DeploymentSpec& s) { s.chain.registry = ""; }, "chain.registry"},
      {[](DeploymentSpec& s) { s.secrets.files["../etc/passwd"] = "x"; }, "secrets.files"},
      {[](DeploymentSpec& s) { s.secrets.files["a/b"] = "x"; }, "secrets.files"},
  };
  ASSERT_TRUE(ServicesSpec().Validate().ok()) << ServicesSpec().Validate();
  for (const auto& c : cases) {
    auto spec = ServicesSpec();
    c.mutate(spec);
    const Status st = spec.Validate();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(st.message(), HasSubstr(std::string(c.field) + ":")) << st;
    // The secrets' contents never appear in a message.
    EXPECT_THAT(st.message(), Not(HasSubstr(std::string(63, 'a'))));
    EXPECT_EQ(RenderManifests(spec).status(), st);
  }
}

}  // namespace
}  // namespace br2k::deploy

namespace br2k::deploy {
namespace {

// The app's command follows from its image (br2k's images hold their binary at /usr/bin/<name>),
// so a dashboard recovered from the chain runs br2k-dashboard, not br2k-logserver.
TEST(DeploymentSpec, AppCommand_isTheImagesBinaryUnlessSet) {
  const std::string digest = "@sha256:" + std::string(64, 'a');
  DeploymentSpec s = LoopbackSpec();
  s.app_command.clear();
  s.app_image = "127.0.0.1:5000/br2k/br2k-dashboard" + digest;
  EXPECT_EQ(s.AppCommand(), "/usr/bin/br2k-dashboard");
  s.app_image = "registry.example:443/team/br2k-logserver:v1" + digest;
  EXPECT_EQ(s.AppCommand(), "/usr/bin/br2k-logserver");
  s.app_image = "file:///work/build/bin/br2k-dashboard" + digest;
  EXPECT_EQ(s.AppCommand(), "/usr/bin/br2k-dashboard");
  s.app_image = "127.0.0.1:5000/br2k/br2k-dashboard" + digest;
  auto objects = RenderManifests(s);
  ASSERT_TRUE(objects.ok()) << objects.status();
  bool seen = false;
  for (const auto& o : *objects) {
    if (o.value("kind", "") != "Pod") continue;
    for (const auto& c : o["spec"]["containers"]) {
      if (c.value("name", "") != "app") continue;
      EXPECT_EQ(c["command"], nlohmann::json::array({"/usr/bin/br2k-dashboard"}));
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
  s.app_command = "/opt/app/bin/server";
  EXPECT_EQ(s.AppCommand(), "/opt/app/bin/server");
}

}  // namespace
}  // namespace br2k::deploy
