// The process pod runtime on real parts: the rendered manifests of a 3-node deployment run as
// real etcd members and br2k-logserver replicas (executables pinned by digest), through the same
// DeployAndWait as podman and Kubernetes; the leader's pod is lost like a crashed machine and the
// next Apply brings it back with its data, leaving the running pods alone.
#include "br2k/deploy/process_runtime.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "br2k/deploy/deployer.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/manifests.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/http/client.h"
#include "test_env.h"

namespace br2k::deploy {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ProcessRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rt = ProcessRuntime::Create({.root = dir_.path() / "rt"});
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime_ = *rt;
  }
  // A 3-node loopback spec on free ports with the real binaries, pinned.
  DeploymentSpec Spec() {
    DeploymentSpec spec;
    spec.name = "logs";
    spec.nodes = 3;
    spec.addressing = Addressing::kLoopback;
    auto app = PinExecutable(br2k::testing::BinDir() / "br2k-logserver");
    auto etcd = PinExecutable("/usr/bin/etcd");
    EXPECT_TRUE(app.ok()) << app.status();
    EXPECT_TRUE(etcd.ok()) << etcd.status();
    spec.app_image = app.ok() ? *app : "";
    spec.etcd_image = etcd.ok() ? *etcd : "";
    spec.app_args = {"--leader-ttl=1", "--takeover-grace-ms=500", "--step-down-ms=1500",
                     "--request-timeout-ms=5000"};
    EXPECT_TRUE(PickLoopbackPorts(spec).ok());
    return spec;
  }
  void TearDown() override {
    if (runtime_ && spec_) (void)runtime_->Remove(*spec_, true, Deadline::After(60s));
  }

  br2k::testing::ScratchDir dir_{"process-runtime"};
  std::shared_ptr<ProcessRuntime> runtime_;
  std::optional<DeploymentSpec> spec_;
};

// The node whose replica says Leader, polled; -1 when none does in time.
int WaitLeader(const DeploymentSpec& spec, const std::set<size_t>& among, Deadline deadline) {
  while (!deadline.expired()) {
    for (size_t i : among) {
      auto r = http::Call(spec.AppUrl(i), "GET", "/status", "", {}, Deadline::After(1s));
      if (r.ok() && r->status == 200) {
        auto j = json::parse(r->body, nullptr, false);
        if (!j.is_discarded() && j.value("role", "") == "Leader") return static_cast<int>(i);
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  return -1;
}

Result<http::ClientResponse> Post(const std::string& url, const std::string& user, uint64_t seq) {
  return http::Call(
      url, "POST", "/logs", json{{"user", user}}.dump(),
      {{"X-Br2k-Client", "process-runtime-test"}, {"X-Br2k-Seq", std::to_string(seq)}},
      Deadline::After(15s));
}

TEST_F(ProcessRuntimeTest, DeploysServesAndALostPodComesBackWithItsDataLeavingTheOthersAlone) {
  spec_ = Spec();
  const DeploymentSpec& spec = *spec_;
  // Reading a deployment that does not exist says so and creates nothing.
  auto none = runtime_->Pods(spec, Deadline::After(5s));
  ASSERT_TRUE(none.ok()) << none.status();
  for (const auto& p : *none) EXPECT_EQ(p.phase, "Missing") << p.name;
  EXPECT_FALSE(std::filesystem::exists(runtime_->root()));
  auto out = DeployAndWait(*runtime_, spec, 0, nullptr, Deadline::After(90s));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->pods.size(), 3u);
  for (const auto& p : out->pods) EXPECT_TRUE(p.ready) << p.name << " " << p.detail;

  // Each container is a real process of the pinned executable, its volume a directory.
  for (size_t i = 0; i < spec.nodes; ++i) {
    auto processes = runtime_->Processes(spec.PodName(i));
    ASSERT_EQ(processes.size(), 2u);
    EXPECT_EQ(processes[0].container, "etcd");
    EXPECT_EQ(processes[1].container, "app");
    for (const auto& p : processes) EXPECT_TRUE(p.running) << p.container;
    EXPECT_EQ(processes[0].identity.argv[0], "/usr/bin/etcd");
    const std::string data_arg =
        "--data-dir=" + runtime_->VolumeDir(spec.PodName(i) + "-etcd").string() + "/data";
    EXPECT_NE(
        std::find(processes[0].identity.argv.begin(), processes[0].identity.argv.end(), data_arg),
        processes[0].identity.argv.end());
    EXPECT_TRUE(std::filesystem::is_directory(runtime_->VolumeDir(spec.PodName(i) + "-etcd") /
                                              "data" / "member"));
  }

  int leader = WaitLeader(spec, {0, 1, 2}, Deadline::After(30s));
  ASSERT_GE(leader, 0);
  auto first = Post(spec.AppUrl(static_cast<size_t>(leader)), "before", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->status, 200) << first->body;

  // The leader's machine crashes: both of its processes die, the pod is gone.
  auto lost = runtime_->Processes(spec.PodName(static_cast<size_t>(leader)));
  ASSERT_TRUE(runtime_->DeletePod(spec, static_cast<size_t>(leader), Deadline::After(30s)).ok());
  for (const auto& p : lost) EXPECT_FALSE(proc::IsOurs(p.identity)) << p.container;
  auto pods = runtime_->Pods(spec, Deadline::After(10s));
  ASSERT_TRUE(pods.ok()) << pods.status();
  EXPECT_EQ((*pods)[static_cast<size_t>(leader)].phase, "Missing");

  std::set<size_t> others;
  for (size_t i = 0; i < spec.nodes; ++i)
    if (static_cast<int>(i) != leader) others.insert(i);
  int next = WaitLeader(spec, others, Deadline::After(30s));
  ASSERT_GE(next, 0);
  auto second = Post(spec.AppUrl(static_cast<size_t>(next)), "during", 2);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->status, 200) << second->body;

  std::map<size_t, pid_t> before;
  for (size_t i : others) before[i] = runtime_->Processes(spec.PodName(i))[1].identity.pid;
  auto again = DeployAndWait(*runtime_, spec, 0, nullptr, Deadline::After(90s));
  ASSERT_TRUE(again.ok()) << again.status();
  for (size_t i : others)
    EXPECT_EQ(runtime_->Processes(spec.PodName(i))[1].identity.pid, before[i])
        << "a running pod was left alone";

  // The pod that came back rejoined with its data (its etcd member kept its identity: a member
  // that lost its data dir could not rejoin as "new") and caught up with both entries.
  auto answer = json::parse(second->body, nullptr, false);
  ASSERT_TRUE(answer.is_object() && answer.contains("index")) << second->body;
  const uint64_t index = answer["index"].get<uint64_t>();
  const std::string url = spec.AppUrl(static_cast<size_t>(leader));
  std::string status;
  uint64_t lpi = 0;
  for (Deadline d = Deadline::After(30s); !d.expired() && lpi < index;
       std::this_thread::sleep_for(200ms)) {
    auto r = http::Call(url, "GET", "/status", "", {}, Deadline::After(2s));
    if (!r.ok() || r->status != 200) continue;
    status = r->body;
    auto j = json::parse(r->body, nullptr, false);
    if (!j.is_discarded() && j.contains("lpi") && j["lpi"].is_number_unsigned())
      lpi = j["lpi"].get<uint64_t>();
  }
  EXPECT_GE(lpi, index) << status;

  // Remove with purge: nothing runs, the volumes are gone.
  std::vector<ContainerProcess> all;
  for (size_t i = 0; i < spec.nodes; ++i)
    for (auto& p : runtime_->Processes(spec.PodName(i))) all.push_back(p);
  ASSERT_TRUE(runtime_->Remove(spec, true, Deadline::After(60s)).ok());
  for (const auto& p : all) EXPECT_FALSE(proc::IsOurs(p.identity)) << p.container;
  EXPECT_FALSE(std::filesystem::exists(runtime_->VolumeDir(spec.PodName(0) + "-etcd")));
  spec_.reset();
}

TEST_F(ProcessRuntimeTest, AChangedExecutableIsRefusedAndNothingStarts) {
  const auto bin = dir_.path() / "bin" / "app";
  std::filesystem::create_directories(bin.parent_path());
  std::filesystem::copy_file("/bin/sleep", bin);
  auto pinned = PinExecutable(bin);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_TRUE(IsExecutableImage(*pinned)) << *pinned;
  EXPECT_TRUE(OpenExecutableImage(*pinned).ok());
  {
    std::ofstream out(bin, std::ios::app | std::ios::binary);
    out << "rebuilt";
  }
  auto opened = OpenExecutableImage(*pinned);
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find("changed since it was deployed"), std::string::npos);

  json pod = {{"kind", "Pod"},
              {"metadata", {{"name", "x-0"}}},
              {"spec",
               {{"containers",
                 json::array({json{
                     {"name", "app"}, {"image", *pinned}, {"args", json::array({"300"})}}})}}}};
  Status st = runtime_->Apply({pod}, Deadline::After(10s));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st;
  EXPECT_TRUE(runtime_->Processes("x-0").empty());
  // An image that is not an executable image at all (a registry's) is refused the same way.
  pod["spec"]["containers"][0]["image"] = "127.0.0.1:5000/br2k/app@sha256:" + std::string(64, 'a');
  EXPECT_EQ(runtime_->Apply({pod}, Deadline::After(10s)).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(OpenExecutableImage(dir_.path().string() + "/nothing@sha256:" + std::string(64, 'a'))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ProcessRuntimeTest, SecretsAreDecodedPrivateAndKeptMountsBecomeDirectories) {
  // bash stays the process ("sleep; true" is not exec'd), whatever arguments follow.
  auto sleep = PinExecutable("/bin/bash");
  ASSERT_TRUE(sleep.ok()) << sleep.status();
  json secret = {{"kind", "Secret"},
                 {"metadata", {{"name", "k-keys"}}},
                 {"data", {{"tx.key", "c2VjcmV0LW9uZQ=="}}}};  // "secret-one"
  ASSERT_TRUE(runtime_->Apply({secret}, Deadline::After(10s)).ok());
  const auto file = runtime_->root() / "secrets" / "k-keys" / "tx.key";
  EXPECT_EQ(ReadFile(file), "secret-one");
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // An existing Secret is kept as it is (rotation is Remove(purge) and a new deploy).
  secret["data"]["tx.key"] = "b3RoZXI=";
  ASSERT_TRUE(runtime_->Apply({secret}, Deadline::After(10s)).ok());
  EXPECT_EQ(ReadFile(file), "secret-one");

  // A pod mounting a Secret that does not exist does not start.
  json pod = {
      {"kind", "Pod"},
      {"metadata", {{"name", "k-0"}}},
      {"spec",
       {{"containers",
         json::array({json{
             {"name", "app"},
             {"image", *sleep},
             {"args", json::array({"-c", "sleep 300; true"})},
             {"volumeMounts", json::array({json{{"name", "keys"}, {"mountPath", "/etc/k"}}})}}})},
        {"volumes",
         json::array({json{{"name", "keys"}, {"secret", {{"secretName", "absent"}}}}})}}}};
  EXPECT_EQ(runtime_->Apply({pod}, Deadline::After(10s)).code(), StatusCode::kFailedPrecondition);
  // With the Secret and a claim: the mount paths in the arguments become their directories.
  pod["spec"]["volumes"][0]["secret"]["secretName"] = "k-keys";
  pod["spec"]["volumes"].push_back(
      {{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "k-0-data"}}}});
  pod["spec"]["containers"][0]["volumeMounts"].push_back(
      {{"name", "data"}, {"mountPath", "/var/lib/k"}});
  pod["spec"]["containers"][0]["args"] =
      json::array({"-c", "sleep 300; true", "--key=/etc/k/tx.key", "/var/lib/k",
                   "--other=/var/lib/kk", "/etc/k"});
  ASSERT_TRUE(runtime_->Apply({pod}, Deadline::After(10s)).ok());
  auto p = runtime_->Processes("k-0");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].running);
  const std::string keys = (runtime_->root() / "secrets" / "k-keys").string();
  const std::string data = runtime_->VolumeDir("k-0-data").string();
  EXPECT_EQ(p[0].identity.argv,
            (std::vector<std::string>{std::filesystem::canonical("/bin/bash").string(), "-c",
                                      "sleep 300; true", "--key=" + keys + "/tx.key", data,
                                      "--other=/var/lib/kk", keys}));
  // Applying again leaves the running process alone; after a crash it is started again.
  ASSERT_TRUE(runtime_->Apply({pod}, Deadline::After(10s)).ok());
  EXPECT_EQ(runtime_->Processes("k-0")[0].identity.pid, p[0].identity.pid);
  DeploymentSpec spec;
  spec.name = "k";
  spec.nodes = 1;
  ASSERT_TRUE(runtime_->DeletePod(spec, 0, Deadline::After(10s)).ok());
  EXPECT_FALSE(proc::IsOurs(p[0].identity));
  EXPECT_TRUE(runtime_->Processes("k-0").empty());
  ASSERT_TRUE(runtime_->Apply({pod}, Deadline::After(10s)).ok());
  auto restarted = runtime_->Processes("k-0");
  ASSERT_EQ(restarted.size(), 1u);
  EXPECT_TRUE(restarted[0].running);
  EXPECT_TRUE(runtime_->Remove(spec, true, Deadline::After(10s)).ok());
  EXPECT_FALSE(proc::IsOurs(restarted[0].identity));
  EXPECT_FALSE(std::filesystem::exists(runtime_->root() / "secrets" / "k-keys"));
}

}  // namespace
}  // namespace br2k::deploy
