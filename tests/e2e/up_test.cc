// `br2k up` runs the whole loop (anvil, registry, etcd, replicas, manager), driven through the
// real executable as a user would: status with chain and service sections, the registry read
// with the eth binding, a request through a follower, the other verbs' defaults, every replica
// killed and brought back by a client's claim and the manager, a second `up`, `down` leaving no
// process, an external chain with a reused registry, a dead run's state.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/client/service_client.h"
#include "br2k/cluster/local_anvil.h"
#include "br2k/common/run_state.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/recovery.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/proc/ownership.h"
#include "br2k/proc/process.h"
#include "command.h"
#include "test_env.h"

namespace br2k {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using CliRun = testing::CommandResult;

CliRun Shell(const std::string& command) {
  return testing::RunShell(command);
}

CliRun Br2k(const std::filesystem::path& run_dir, const std::string& args) {
  return testing::RunBr2k(run_dir.string(), args);
}

// Fast etcd elections for tests.
const std::string kFast = " --heartbeat-ms 50 --election-ms 500";

// Every process the run state names: etcd members, replicas, anvil, manager.
std::vector<int> RecordedPids(const std::filesystem::path& run_dir) {
  std::vector<int> pids;
  auto s = RunState::Load(run_dir / "state.json");
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return pids;
  for (const auto& m : s->etcd) pids.push_back(m.pid);
  for (const auto& r : s->replicas) pids.push_back(r.pid);
  if (s->chain && s->chain->anvil_pid > 0) pids.push_back(s->chain->anvil_pid);
  if (s->manager) pids.push_back(s->manager->pid);
  if (s->dashboard) {
    for (const auto& m : s->dashboard->etcd) pids.push_back(m.pid);
    for (const auto& r : s->dashboard->replicas) pids.push_back(r.pid);
  }
  return pids;
}

// The dashboard's GET /api/services?live=1: the service named `name` with its location and the
// role its location answers with ("" when missing).
std::pair<std::string, std::string> DashboardListing(const std::string& dashboard_url,
                                                     const std::string& name) {
  CliRun r = Shell("curl -s --max-time 20 '" + dashboard_url + "/api/services?live=1'");
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  if (!doc.is_object() || !doc.contains("services")) return {"", "no answer: " + r.out};
  std::string want = eth::ServiceIdFromName(name).ToHex();
  std::transform(want.begin(), want.end(), want.begin(), ::tolower);
  for (const auto& svc : doc["services"]) {
    std::string id = svc.value("id", "");
    std::transform(id.begin(), id.end(), id.begin(), ::tolower);
    if (id != want) continue;
    std::string role;
    if (svc.contains("live") && svc["live"].is_object()) role = svc["live"].value("role", "");
    return {svc.value("location", ""), role};
  }
  return {"", "not listed: " + r.out};
}

// The manager's reports on `name`'s claims as the dashboard at `dashboard_url` records them:
// "<action>/<state after>" per claim, in chain order ("" when the dashboard does not answer).
std::vector<std::string> ManagerReports(const std::string& dashboard_url, const std::string& name) {
  CliRun r = Shell("curl -s --max-time 20 '" + dashboard_url + "/api/history'");
  auto doc = nlohmann::json::parse(r.out, nullptr, false);
  std::vector<std::string> out;
  if (!doc.is_object() || !doc["services"].is_array()) return out;
  const std::string want = eth::ServiceIdFromName(name).ToHex();
  for (const auto& svc : doc["services"]) {
    if (svc.value("id", "") != want || !svc["claims"].is_array()) continue;
    for (const auto& c : svc["claims"]) {
      std::string action = c["manager"].is_object() ? c["manager"].value("action", "?") : "";
      out.push_back(action + "/" + c.value("outcome", ""));
    }
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& what) {
  return std::find(v.begin(), v.end(), what) != v.end();
}

// Processes whose command line mentions `run_dir` (none may survive `br2k down`).
std::vector<std::string> ProcessesNaming(const std::filesystem::path& run_dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoi(name) == ::getpid()) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto& c : cmd) c = c == '\0' ? ' ' : c;
    if (cmd.find(run_dir.string()) != std::string::npos &&
        proc::PosixLauncher()->Alive(std::stoi(name))) {
      found.push_back(name + ": " + cmd);
    }
  }
  return found;
}

Result<eth::ServiceRecord> ReadRegistry(const std::string& rpc_url, const std::string& registry,
                                        const std::string& service) {
  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeHttpTransport(rpc_url));
  auto client = std::make_shared<eth::RpcClient>(transport);
  BR2K_ASSIGN_OR_RETURN(auto address, eth::Address::Parse(registry));
  eth::ServiceRegistry reg(client, address);
  return reg.GetService(eth::ServiceIdFromName(service), Deadline::After(10s));
}

eth::Address AddressOfKeyFile(const std::string& file) {
  auto k = eth::LoadKeyFile(file);
  EXPECT_TRUE(k.ok()) << file << ": " << k.status();
  return k.ok() ? k->address() : eth::Address();
}

bool Contains(const std::vector<eth::Address>& v, const eth::Address& a) {
  return std::find(v.begin(), v.end(), a) != v.end();
}

void ExpectDownLeavesNothing(const std::filesystem::path& run_dir) {
  std::vector<int> pids = RecordedPids(run_dir);
  CliRun down = Br2k(run_dir, "down");
  ASSERT_EQ(down.status, 0) << down.out;
  for (int pid : pids) EXPECT_FALSE(proc::PosixLauncher()->Alive(pid)) << "left behind: " << pid;
  EXPECT_EQ(ProcessesNaming(run_dir), std::vector<std::string>{});
  EXPECT_FALSE(std::filesystem::exists(run_dir / "state.json"));
}

TEST(Up, Detached_runsChainRegistryServiceAndManager) {
  testing::ScratchDir dir("up");
  const auto run_dir = dir.path() / "run";

  auto t0 = Clock::now();
  CliRun up = Br2k(run_dir, "up --detach" + kFast);
  double took = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "[ up ] br2k up --detach took " << took << " s\n" << up.out;
  ASSERT_EQ(up.status, 0) << up.out;
  for (const char* line :
       {"[1/6] chain: anvil on http://127.0.0.1:", "[2/6] registry: deployed", "[3/6] images:",
        "br2k-logserver@sha256:", "etcd@sha256:", "[4/6] pods:", "3 pods as local processes",
        "published on chain", "[5/6] dashboard:", "service 'dashboard' registered",
        "br2k-dashboard@sha256:", "[6/6] manager: pid", "call POST /logs", "call GET /logs",
        "call POST /anchor", "curl -sL", "Service Registry Dashboard", "DASHBOARD"}) {
    EXPECT_NE(up.out.find(line), std::string::npos) << "missing '" << line << "' in\n" << up.out;
  }

  CliRun status = Br2k(run_dir, "status --json");
  ASSERT_EQ(status.status, 0) << status.out;
  auto doc = nlohmann::json::parse(status.out);
  EXPECT_TRUE(doc["running"].get<bool>());
  EXPECT_TRUE(doc["healthy"].get<bool>());
  ASSERT_EQ(doc["etcd"].size(), 3u);
  ASSERT_EQ(doc["replicas"].size(), 3u) << doc.dump();
  {
    // Hardening item 11: the deployment's etcd serves TLS only and takes only certificates of
    // the deployment's CA. `status` reached the members (healthy above) with the run's client
    // certificate; a client without one is refused and changes nothing.
    std::vector<std::string> urls, host_ports;
    for (const auto& m : doc["etcd"]) {
      const std::string url = m["client_url"];
      EXPECT_TRUE(url.starts_with("https://")) << url;
      urls.push_back(url);
      host_ports.push_back(*etcd::NormalizeEndpoint(url));
    }
    auto plain = etcd::GrpcClient::Create({.endpoints = host_ports});
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_FALSE(
        (*plain)->Put({.key = "/br2k/logserver/probe", .value = "x"}, Deadline::After(5s)).ok());
    EXPECT_EQ(
        (*plain)->Range(etcd::RangeRequest::Prefix("/br2k/"), Deadline::After(5s)).status().code(),
        StatusCode::kUnavailable);
    const auto tls_dir = run_dir / "etcd-tls" / "logserver";
    auto tls = etcd::LoadTlsFiles((tls_dir / "ca.crt").string(), (tls_dir / "client.crt").string(),
                                  (tls_dir / "client.key").string());
    ASSERT_TRUE(tls.ok()) << tls.status();
    auto own = etcd::GrpcClient::Create({.endpoints = urls, .tls = *tls});
    ASSERT_TRUE(own.ok()) << own.status();
    auto probe =
        (*own)->Range(etcd::RangeRequest::Key("/br2k/logserver/probe"), Deadline::After(10s));
    ASSERT_TRUE(probe.ok()) << probe.status();
    EXPECT_TRUE(probe->kvs.empty());
    auto keys = (*own)->Range(etcd::RangeRequest::Prefix("/br2k/logserver/"), Deadline::After(10s));
    ASSERT_TRUE(keys.ok()) << keys.status();
    EXPECT_FALSE(keys->kvs.empty());  // the replicas' own keys are there
  }
  std::string leader_url, follower_url;
  for (const auto& r : doc["replicas"]) {
    EXPECT_TRUE(r["healthy"].get<bool>()) << r.dump();
    if (r["role"] == "Leader") leader_url = r["url"];
    if (r["role"] == "Follower") follower_url = r["url"];
  }
  ASSERT_FALSE(leader_url.empty()) << doc.dump();
  ASSERT_FALSE(follower_url.empty()) << doc.dump();
  // The service section: the leader and its location.
  const auto& service = doc["service"];
  EXPECT_EQ(service["id"], "logserver");
  EXPECT_EQ(service["name"], "logserver");
  EXPECT_EQ(service["location"], leader_url);
  EXPECT_EQ(service["replicas"], 3);
  EXPECT_EQ(service["registry_id"], eth::ServiceIdFromName("logserver").ToHex());
  // The chain section: the registry points at the leader.
  const auto& chain = doc["chain"];
  ASSERT_TRUE(chain.is_object()) << doc.dump();
  EXPECT_EQ(chain["chain_id"], cluster::kAnvilChainId);
  EXPECT_TRUE(chain["reachable"].get<bool>());
  EXPECT_GT(chain["block"].get<uint64_t>(), 0u);
  EXPECT_EQ(chain["service_id"], eth::ServiceIdFromName("logserver").ToHex());
  EXPECT_EQ(chain["location"], leader_url);
  EXPECT_GT(chain["epoch"].get<uint64_t>(), 0u);
  EXPECT_EQ(chain["state"], "Active");
  EXPECT_TRUE(chain["anvil_alive"].get<bool>());
  // The deployment: pods of the process runtime, the executables pinned by digest.
  EXPECT_EQ(doc["deployment"]["kind"], "process") << doc.dump();
  EXPECT_EQ(doc["deployment"]["nodes"], 3);
  ASSERT_EQ(doc["deployment"]["images"].size(), 2u);
  EXPECT_TRUE(doc["deployment"]["images"][1].get<std::string>().starts_with("file:///"));
  ASSERT_TRUE(doc["manager"].is_object()) << doc.dump();
  EXPECT_TRUE(doc["manager"]["alive"].get<bool>());
  // The dashboard: its own three pods, its leader's URL published on chain as "dashboard".
  const auto& dash = doc["dashboard"];
  ASSERT_TRUE(dash.is_object()) << doc.dump();
  ASSERT_TRUE(dash["url"].is_string()) << dash.dump();
  const std::string dashboard_url = dash["url"];
  EXPECT_EQ(dash["name"], "dashboard");
  EXPECT_EQ(dash["location"], dashboard_url) << dash.dump();
  ASSERT_EQ(dash["replicas"].size(), 3u) << dash.dump();
  for (const auto& r : dash["replicas"]) EXPECT_TRUE(r["healthy"].get<bool>()) << r.dump();
  EXPECT_NE(up.out.find("open " + dashboard_url + "/"), std::string::npos) << up.out;

  // The registry, read with the eth binding: the leader's URL, the deployment's accounts, the
  // recovery information the manager's local backend accepts.
  auto s = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->chain.has_value());
  auto record = ReadRegistry(chain["rpc_url"], chain["registry"], "logserver");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->location, leader_url);
  EXPECT_EQ(record->state, eth::ServiceState::kActive);
  EXPECT_EQ(record->owner, AddressOfKeyFile(s->chain->owner_key_file));
  EXPECT_TRUE(Contains(record->managers, AddressOfKeyFile(s->chain->manager_key_file)));
  ASSERT_EQ(s->chain->operator_key_files.size(), 3u);
  for (const auto& f : s->chain->operator_key_files) {
    EXPECT_TRUE(Contains(record->operators, AddressOfKeyFile(f))) << f;
    EXPECT_EQ(std::filesystem::status(f).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << f;
  }
  // The recovery information: a process deployment, its executables pinned by digest.
  auto recovery = deploy::DecodeRecovery(record->recovery);
  ASSERT_TRUE(recovery.ok()) << recovery.status() << " in " << record->recovery.deploy_context;
  EXPECT_EQ(recovery->kind, "process");
  EXPECT_EQ(recovery->context, "local");
  EXPECT_EQ(recovery->replicas, 3u);
  EXPECT_TRUE(deploy::OpenExecutableImage(recovery->app_image).ok()) << recovery->app_image;
  EXPECT_TRUE(deploy::OpenExecutableImage(recovery->etcd_image).ok()) << recovery->etcd_image;
  for (const auto& f : s->chain->operator_key_files) {
    std::ifstream in(f);
    std::string key;
    in >> key;
    EXPECT_EQ(record->recovery.deploy_context.find(key.substr(key.size() - 16)), std::string::npos)
        << "no key material on chain";
  }

  // The dashboard's own accounts (never the log server's), registered as its operators.
  ASSERT_TRUE(s->dashboard.has_value());
  ASSERT_EQ(s->dashboard->operator_key_files.size(), 3u);
  auto dash_record = ReadRegistry(chain["rpc_url"], chain["registry"], "dashboard");
  ASSERT_TRUE(dash_record.ok()) << dash_record.status();
  EXPECT_EQ(dash_record->location, dashboard_url);
  EXPECT_TRUE(Contains(dash_record->managers, AddressOfKeyFile(s->chain->manager_key_file)));
  for (const auto& f : s->dashboard->operator_key_files) {
    EXPECT_TRUE(Contains(dash_record->operators, AddressOfKeyFile(f))) << f;
    EXPECT_FALSE(Contains(record->operators, AddressOfKeyFile(f))) << f;
  }
  EXPECT_NE(AddressOfKeyFile(s->dashboard->tx_key_file), AddressOfKeyFile(s->chain->tx_key_file));
  auto dash_recovery = deploy::DecodeRecovery(dash_record->recovery);
  ASSERT_TRUE(dash_recovery.ok()) << dash_recovery.status();
  EXPECT_EQ(dash_recovery->name, "dashboard");
  EXPECT_NE(dash_recovery->app_image.find("br2k-dashboard@sha256:"), std::string::npos);
  // The dashboard lists both services with their live leaders.
  auto [log_loc, log_role] = DashboardListing(dashboard_url, "logserver");
  EXPECT_EQ(log_loc, leader_url) << log_role;
  EXPECT_EQ(log_role, "Leader");
  auto [dash_loc, dash_role] = DashboardListing(dashboard_url, "dashboard");
  EXPECT_EQ(dash_loc, dashboard_url) << dash_role;
  EXPECT_EQ(dash_role, "Leader");
  // ... by their names: `up` labelled both (the dashboard's replicated record).
  {
    CliRun history = Shell("curl -s --max-time 20 '" + dashboard_url + "/api/history'");
    auto h = nlohmann::json::parse(history.out, nullptr, false);
    std::map<std::string, std::string> labels;
    if (h.is_object() && h["services"].is_array()) {
      for (const auto& svc : h["services"]) {
        std::string id = svc.value("id", "");
        std::transform(id.begin(), id.end(), id.begin(), ::tolower);
        labels[id] = svc.value("label", "");
      }
    }
    for (const std::string name : {"logserver", "dashboard"}) {
      std::string id = eth::ServiceIdFromName(name).ToHex();
      std::transform(id.begin(), id.end(), id.begin(), ::tolower);
      EXPECT_EQ(labels[id], name) << history.out;
    }
  }

  // A request sent to a follower is redirected to the leader and committed.
  CliRun post = Shell("curl -sL -XPOST '" + follower_url +
                      "/logs' -H 'X-Br2k-Client: e2e' -H 'X-Br2k-Seq: 1' -d '{\"user\": \"bob\"}'");
  EXPECT_NE(post.out.find("\"index\":0"), std::string::npos) << "POST answered: " << post.out;
  CliRun logs = Shell("curl -sL '" + follower_url + "/logs'");
  EXPECT_NE(logs.out.find("\"bob\""), std::string::npos) << logs.out;

  // The other verbs default to this deployment: no address typed.
  CliRun show = Br2k(run_dir, "registry show");
  EXPECT_EQ(show.status, 0) << show.out;
  EXPECT_NE(show.out.find(leader_url), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("Active"), std::string::npos) << show.out;
  CliRun locate = Br2k(run_dir, "registry locate");
  EXPECT_EQ(locate.out, leader_url + "\n");
  CliRun call = Br2k(run_dir, "call POST /logs --data '{\"user\":\"carol\"}'");
  EXPECT_EQ(call.status, 0) << call.out;
  CliRun read = Br2k(run_dir, "call GET /logs");
  EXPECT_EQ(read.status, 0) << read.out;
  EXPECT_NE(read.out.find("\"carol\""), std::string::npos) << read.out;
  CliRun block = Br2k(run_dir, "eth call " + chain["registry"].get<std::string>() +
                                   " 'isManager(bytes32,address)(bool)' " +
                                   eth::ServiceIdFromName("logserver").ToHex() + " " +
                                   AddressOfKeyFile(s->chain->manager_key_file).ToChecksum());
  EXPECT_EQ(block.out, "true\n") << block.out;

  // The whole loop: every replica dies; the client's claim (after one round of failures) makes
  // the manager redeploy the pods from the chain's recovery information, with their state, and
  // mark the service Active.
  auto launcher = proc::PosixLauncher();
  for (const auto& r : s->replicas) ASSERT_TRUE(launcher->Signal(r.pid, SIGKILL).ok()) << r.id;
  for (const auto& r : s->replicas) ASSERT_TRUE(launcher->Wait(r.pid, Deadline::After(10s)).ok());
  auto killed = Clock::now();
  CliRun healed = Br2k(run_dir, "call GET /logs --claim-after 1 --timeout 120");
  std::cout << "[ up ] all replicas killed -> answered after the claim and redeploy: "
            << std::chrono::duration<double>(Clock::now() - killed).count() << " s\n";
  EXPECT_EQ(healed.status, 0) << healed.out;
  EXPECT_NE(healed.out.find("\"bob\""), std::string::npos) << healed.out;
  EXPECT_NE(healed.out.find("\"carol\""), std::string::npos) << healed.out;
  const auto manager_log = run_dir / "manager.log";
  auto read_log = [&] {
    std::ifstream in(manager_log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  for (Deadline d = Deadline::After(60s); !d.expired();) {
    if (read_log().find("redeployed:") != std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(read_log().find("marked Active"), std::string::npos) << read_log();
  auto redeployed = nlohmann::json::parse(Br2k(run_dir, "status --json").out);
  ASSERT_EQ(redeployed["replicas"].size(), s->replicas.size()) << redeployed.dump();
  for (size_t i = 0; i < s->replicas.size(); ++i) {
    EXPECT_NE(redeployed["replicas"][i]["pid"].get<int>(), s->replicas[i].pid)
        << "new processes, as the runtime records them";
  }
  CliRun healthy = Br2k(run_dir, "status");
  EXPECT_EQ(healthy.status, 0) << healthy.out;
  // The dashboard shows the claim with what the manager did (its signed report) and the state
  // the chain went through.
  std::vector<std::string> reports;
  for (Deadline d = Deadline::After(60s); !d.expired(); std::this_thread::sleep_for(200ms)) {
    reports = ManagerReports(dashboard_url, "logserver");
    if (Contains(reports, "redeployed/Active")) break;
  }
  EXPECT_TRUE(Contains(reports, "redeployed/Active")) << ::testing::PrintToString(reports);

  // The dashboard is recovered the same way, from its own recovery information: every process
  // of its pods dies; a claim against it (from another claimant: the manager acts on one claim
  // per claimant per minute; the failed location defaults to the registered one) makes the
  // manager redeploy its pods, which publish as "dashboard" again.
  s = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(s.ok() && s->dashboard.has_value());
  for (const auto& r : s->dashboard->replicas) ASSERT_TRUE(launcher->Signal(r.pid, SIGKILL).ok());
  for (const auto& m : s->dashboard->etcd) ASSERT_TRUE(launcher->Signal(m.pid, SIGKILL).ok());
  for (const auto& r : s->dashboard->replicas) (void)launcher->Wait(r.pid, Deadline::After(10s));
  for (const auto& m : s->dashboard->etcd) (void)launcher->Wait(m.pid, Deadline::After(10s));
  const auto claimant = dir.path() / "claimant.key";
  {
    auto k = cluster::AnvilDevKey(9);
    ASSERT_TRUE(k.ok()) << k.status();
    std::ofstream(claimant) << eth::ToHex(k->secret()) << "\n";
  }
  auto dash_killed = Clock::now();
  CliRun claim =
      Br2k(run_dir, "registry claim dashboard --reason e2e --key-file " + claimant.string());
  ASSERT_EQ(claim.status, 0) << claim.out;
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  for (Deadline d = Deadline::After(120s); !d.expired();) {
    if (count(read_log(), "redeployed:") >= 2) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_GE(count(read_log(), "redeployed:"), 2u) << read_log();
  std::string new_dashboard_url;
  for (Deadline d = Deadline::After(60s); !d.expired();) {
    auto now = nlohmann::json::parse(Br2k(run_dir, "status --json").out, nullptr, false);
    if (now.is_object() && now["dashboard"].is_object() && now["dashboard"]["url"].is_string() &&
        now["dashboard"]["leader"].is_string() &&
        now["dashboard"]["location"] == now["dashboard"]["url"]) {
      new_dashboard_url = now["dashboard"]["url"];
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  std::cout << "[ up ] dashboard killed -> redeployed and published after the claim: "
            << std::chrono::duration<double>(Clock::now() - dash_killed).count() << " s\n";
  ASSERT_FALSE(new_dashboard_url.empty()) << Br2k(run_dir, "status --json").out;
  auto [dash_loc2, dash_role2] = DashboardListing(new_dashboard_url, "dashboard");
  EXPECT_EQ(dash_loc2, new_dashboard_url) << dash_role2;
  EXPECT_EQ(dash_role2, "Leader");
  // The recovered dashboard gets the report of its own recovery (the manager retries until the
  // new leader answers).
  for (Deadline d = Deadline::After(60s); !d.expired(); std::this_thread::sleep_for(200ms)) {
    reports = ManagerReports(new_dashboard_url, "dashboard");
    if (Contains(reports, "redeployed/Active")) break;
  }
  EXPECT_TRUE(Contains(reports, "redeployed/Active")) << ::testing::PrintToString(reports);
  auto [log_loc2, log_role2] = DashboardListing(new_dashboard_url, "logserver");
  EXPECT_EQ(log_role2, "Leader") << log_loc2;
  EXPECT_EQ(Br2k(run_dir, "status").status, 0);

  // A second `up` reuses what runs; one asking for something else says why it cannot.
  std::vector<int> pids = RecordedPids(run_dir);
  CliRun again = Br2k(run_dir, "up --detach");
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("already running"), std::string::npos) << again.out;
  EXPECT_EQ(RecordedPids(run_dir), pids);
  CliRun other = Br2k(run_dir, "up --detach --members 5");
  EXPECT_EQ(other.status, 1) << other.out;
  EXPECT_NE(other.out.find("cannot be reused"), std::string::npos) << other.out;
  EXPECT_NE(other.out.find("br2k down"), std::string::npos) << other.out;

  ExpectDownLeavesNothing(run_dir);
  EXPECT_EQ(Br2k(run_dir, "status").status, 1);
  EXPECT_EQ(Br2k(run_dir, "down").status, 0);  // twice is harmless
  // Without a running `up`, the defaults say what to pass.
  CliRun no_up = Br2k(run_dir, "registry show");
  EXPECT_EQ(no_up.status, 1);
  EXPECT_NE(no_up.out.find("br2k up"), std::string::npos) << no_up.out;
}

// The done-when of the whole loop's failover: kill -9 the leader while a client writes
// continuously through the registry. The registry's location moves to the new leader (a
// NewLocation event with a higher epoch), the client follows it, reports zero failed requests,
// and every acknowledged write is in the log exactly once. The failover time (kill -> first
// acknowledged write afterwards) is logged.
TEST(Up, LeaderKilledUnderLoad_registryFollowsAndTheClientLosesNothing) {
  testing::ScratchDir dir("up-failover");
  const auto run_dir = dir.path() / "run";
  CliRun up = Br2k(run_dir, "up --detach" + kFast);
  ASSERT_EQ(up.status, 0) << up.out;
  auto doc = nlohmann::json::parse(Br2k(run_dir, "status --json").out);
  const auto& chain = doc["chain"];
  const std::string old_leader = chain["location"];
  const uint64_t old_epoch = chain["epoch"];
  auto s = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(s.ok()) << s.status();
  int leader_pid = 0;
  for (const auto& r : s->replicas) {
    if (r.url == old_leader) leader_pid = r.pid;
  }
  ASSERT_GT(leader_pid, 0) << doc.dump();

  auto transport = eth::MakeHttpTransport(chain["rpc_url"].get<std::string>());
  ASSERT_TRUE(transport.ok());
  auto rpc = std::make_shared<eth::RpcClient>(*transport);
  auto registry = eth::Address::Parse(chain["registry"].get<std::string>());
  ASSERT_TRUE(registry.ok());
  client::ServiceClientOptions o;
  o.rpc = rpc;
  o.registry = *registry;
  o.service = "logserver";
  o.client_id = "failover-e2e";
  o.attempt_timeout = 2s;
  auto c = client::ServiceClient::Create(o, Deadline::After(20s));
  ASSERT_TRUE(c.ok()) << c.status();
  auto& svc = **c;

  std::mutex mu;
  struct Ack {
    std::string user;
    Clock::time_point at;
    std::string url;  // the location that answered
  };
  std::vector<Ack> acked;
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      std::string user = "w" + std::to_string(i);
      auto a =
          svc.Call("POST", "/logs", nlohmann::json{{"user", user}}.dump(), Deadline::After(60s));
      if (a.ok() && a->ok()) {
        std::lock_guard lock(mu);
        acked.push_back({user, Clock::now(), a->url});
      } else {
        failed++;
      }
    }
  });
  auto acked_count = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  auto wait_acks = [&](size_t n) {
    auto until = Clock::now() + 90s;
    while (acked_count() < n && Clock::now() < until && failed == 0) {
      std::this_thread::sleep_for(20ms);
    }
    return acked_count() >= n;
  };
  EXPECT_TRUE(wait_acks(20));
  auto block = rpc->BlockNumber(Deadline::After(5s));
  ASSERT_TRUE(block.ok());
  const size_t before = acked_count();
  ASSERT_TRUE(proc::PosixLauncher()->Signal(leader_pid, SIGKILL).ok());
  const auto killed = Clock::now();
  EXPECT_TRUE(wait_acks(before + 30));
  stop = true;
  writer.join();

  EXPECT_EQ(failed.load(), 0);
  auto counters = svc.history().counters();
  EXPECT_EQ(counters.fail, 0u);
  EXPECT_EQ(counters.unknown, 0u);
  std::optional<Clock::time_point> first_after;
  {
    std::lock_guard lock(mu);
    for (const auto& a : acked) {
      if (a.url != old_leader && (!first_after || a.at < *first_after)) first_after = a.at;
    }
  }
  ASSERT_TRUE(first_after.has_value());
  std::cout << "[ up ] leader killed -> first acknowledged write at the new leader: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(*first_after - killed).count()
            << " ms (" << counters.attempts << " attempts, " << counters.retries << " retries, "
            << counters.location_changes << " location changes)\n";

  // The registry moved: a NewLocation event after the kill, with a higher epoch, naming the
  // replica that leads now.
  auto now = nlohmann::json::parse(Br2k(run_dir, "status --json").out);
  const std::string new_leader = now["service"]["location"];
  EXPECT_NE(new_leader, old_leader);
  eth::ServiceRegistry reg(rpc, *registry);
  auto events =
      reg.GetEvents(eth::ServiceIdFromName("logserver"), {eth::RegistryEvent::Kind::kNewLocation},
                    *block, std::nullopt, Deadline::After(10s));
  ASSERT_TRUE(events.ok()) << events.status();
  bool moved = false;
  for (const auto& e : *events) {
    if (e.location == new_leader && e.epoch > old_epoch) moved = true;
  }
  EXPECT_TRUE(moved) << "no NewLocation(" << new_leader << ", epoch > " << old_epoch << ")";

  // Nothing acknowledged is lost or applied twice.
  auto logs = svc.Read("/logs", Deadline::After(30s));
  ASSERT_TRUE(logs.ok() && logs->ok()) << (logs.ok() ? logs->body : logs.status().ToString());
  std::map<std::string, int> seen;
  const auto log_doc = nlohmann::json::parse(logs->body);
  for (const auto& u : log_doc["logs"]) seen[u.get<std::string>()]++;
  std::lock_guard lock(mu);
  int missing = 0;
  for (const auto& a : acked) {
    if (seen[a.user] != 1 && ++missing <= 5) ADD_FAILURE() << a.user << " seen " << seen[a.user];
  }
  EXPECT_EQ(missing, 0) << "of " << acked.size() << " acknowledged; the log holds " << seen.size()
                        << ": " << logs->body.substr(0, 300);
  if (missing > 0) {
    for (const auto& r : now["replicas"]) {
      std::cout << Shell("curl -s '" + r["url"].get<std::string>() + "/replica' | head -c 400").out
                << "\n";
    }
    std::cout << Br2k(run_dir, "status").out;
  }
  ExpectDownLeavesNothing(run_dir);
}

TEST(Up, ExternalChain_fundsTheAccountsAndReusesTheRegistryAcrossRuns) {
  testing::ScratchDir dir("up-ext");
  const auto run_dir = dir.path() / "run";
  // A chain br2k up did not start (the product launcher, as a user's own node).
  auto anvil =
      cluster::LocalAnvil::Start({.log_file = dir.path() / "anvil.log"}, Deadline::After(60s));
  ASSERT_TRUE(anvil.ok()) << anvil.status();
  const auto key_file = dir.path() / "owner.key";
  std::ofstream(key_file) << cluster::kAnvilDevKeys[7] << "\n";
  const std::string chain_flags =
      " --rpc-url " + (*anvil)->url() + " --key-file " + key_file.string();

  CliRun no_key = Br2k(run_dir, "up --detach --rpc-url " + (*anvil)->url());
  EXPECT_EQ(no_key.status, 1);
  EXPECT_NE(no_key.out.find("--key-file"), std::string::npos) << no_key.out;

  CliRun first = Br2k(run_dir, "up --detach --no-manager" + kFast + chain_flags);
  std::cout << first.out;
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find("external node " + (*anvil)->url()), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("funded manager"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("registry: deployed at"), std::string::npos) << first.out;
  auto s = RunState::Load(run_dir / "state.json");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->chain.has_value());
  EXPECT_EQ(s->chain->anvil_pid, 0);
  EXPECT_EQ(s->chain->owner_key_file, key_file.string());
  const std::string registry = s->chain->registry;
  auto before = ReadRegistry((*anvil)->url(), registry, "logserver");
  ASSERT_TRUE(before.ok()) << before.status();
  ExpectDownLeavesNothing(run_dir);
  EXPECT_TRUE((*anvil)->pid() > 0 && proc::PosixLauncher()->Alive((*anvil)->pid()))
      << "br2k down must not stop a chain it did not start";

  // Second run: the registry is reused, the service already registered, the accounts (kept in
  // keys/) already funded; the fresh etcd cluster is raised above the stored epoch, so the new
  // leader can publish.
  CliRun second =
      Br2k(run_dir, "up --detach --no-manager" + kFast + chain_flags + " --registry " + registry);
  std::cout << second.out;
  ASSERT_EQ(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("registry: reusing " + registry), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("already registered"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("funded"), std::string::npos) << second.out;
  auto after = ReadRegistry((*anvil)->url(), registry, "logserver");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(after->epoch, before->epoch);
  EXPECT_EQ(after->operators.size(), before->operators.size());
  ExpectDownLeavesNothing(run_dir);
  EXPECT_TRUE((*anvil)->Stop().ok());
}

TEST(Up, StateOfADeadRun_isCleanedAndAFreshRunStarts) {
  testing::ScratchDir dir("up-dead");
  const auto run_dir = dir.path() / "run";
  CliRun up = Br2k(run_dir, "up --detach --no-manager" + kFast);
  ASSERT_EQ(up.status, 0) << up.out;
  // Everything dies at once (a crash, a reboot): the state file stays behind.
  std::vector<int> pids = RecordedPids(run_dir);
  auto launcher = proc::PosixLauncher();
  for (int pid : pids) ASSERT_TRUE(launcher->Signal(pid, SIGKILL).ok()) << pid;
  for (int pid : pids) ASSERT_TRUE(launcher->Wait(pid, Deadline::After(10s)).ok()) << pid;
  ASSERT_TRUE(std::filesystem::exists(run_dir / "state.json"));
  EXPECT_EQ(Br2k(run_dir, "status").status, 1);

  CliRun again = Br2k(run_dir, "up --detach --no-manager" + kFast);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("is gone (no process left); starting afresh"), std::string::npos)
      << again.out;
  EXPECT_EQ(Br2k(run_dir, "status").status, 0);
  ExpectDownLeavesNothing(run_dir);
}

// `up` fails cleanly when the dashboard cannot come up: everything it started (anvil, the log
// server's pods) is stopped and no state is left; `--no-dashboard` runs without it.
TEST(Up, DashboardThatCannotStart_failsUpAndLeavesNothing_noDashboardSkipsIt) {
  testing::ScratchDir dir("up-nodash");
  const auto run_dir = dir.path() / "run";
  CliRun up = Shell("BR2K_DASHBOARD_BIN=" + (dir.path() / "missing-dashboard").string() + " " +
                    "BR2K_RUN_DIR=" + run_dir.string() + " " +
                    (testing::BinDir() / "br2k").string() + " up --detach" + kFast);
  EXPECT_EQ(up.status, 1) << up.out;
  EXPECT_NE(up.out.find("[5/6] dashboard:"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("missing-dashboard"), std::string::npos) << up.out;
  EXPECT_FALSE(std::filesystem::exists(run_dir / "state.json"));
  EXPECT_EQ(ProcessesNaming(run_dir), std::vector<std::string>{});

  CliRun without = Br2k(run_dir, "up --detach --no-dashboard" + kFast);
  ASSERT_EQ(without.status, 0) << without.out;
  EXPECT_NE(without.out.find("[5/5] manager: pid"), std::string::npos) << without.out;
  auto doc = nlohmann::json::parse(Br2k(run_dir, "status --json").out);
  EXPECT_TRUE(doc["dashboard"].is_null()) << doc.dump();
  EXPECT_TRUE(doc["healthy"].get<bool>()) << doc.dump();
  // A second `up` asking for the dashboard says why it cannot reuse this one.
  CliRun again = Br2k(run_dir, "up --detach");
  EXPECT_EQ(again.status, 1) << again.out;
  EXPECT_NE(again.out.find("--no-dashboard"), std::string::npos) << again.out;
  EXPECT_EQ(Br2k(run_dir, "up --detach --no-dashboard").status, 0);
  ExpectDownLeavesNothing(run_dir);
}

TEST(Up, DownWithoutState_stopsTheProcessesOfItsRunDir) {
  testing::ScratchDir dir("up-stray");
  const auto run_dir = dir.path() / "run";
  CliRun up = Br2k(run_dir, "up --detach" + kFast);
  ASSERT_EQ(up.status, 0) << up.out;
  // As if `up` had died before recording what it started.
  // anvil, the manager, and 3 etcd members + 3 replicas for each of the log server and the
  // dashboard: the sweep of the run directory finds the dashboard's pods too.
  std::vector<int> pids = RecordedPids(run_dir);
  ASSERT_EQ(pids.size(), 14u);
  std::filesystem::remove(run_dir / "state.json");
  CliRun down = Br2k(run_dir, "down");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_NE(down.out.find("stopped 14 stray process(es)"), std::string::npos) << down.out;
  for (int pid : pids) EXPECT_FALSE(proc::PosixLauncher()->Alive(pid)) << "left behind: " << pid;
  EXPECT_EQ(ProcessesNaming(run_dir), std::vector<std::string>{});
}

// A process of someone else's whose command line mentions one of our binaries: `exec -a <name>
// sleep 300`, started once its /proc/<pid>/cmdline shows `name` (bash has exec'd).
int StartLookalike(const std::string& name) {
  auto l = proc::PosixLauncher();
  auto pid = l->Spawn({.argv = {"bash", "-c", "exec -a '" + name + "' sleep 300"}});
  EXPECT_TRUE(pid.ok()) << pid.status();
  if (!pid.ok()) return 0;
  for (auto until = Clock::now() + 10s; Clock::now() < until;) {
    auto id = proc::CaptureIdentity(*pid);
    if (id.ok() && !id->argv.empty() && id->argv[0] == name) return *pid;
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << name << " did not start";
  return *pid;
}

// What broke: with a stale state file whose pids had been reused, `br2k down` sent SIGTERM to
// every process whose command line merely contained "etcd", "br2k-logserver", "anvil" or
// "manager". Each record below names a live process that is not ours: lookalikes (argv[0]
// containing our names, recorded the way older versions did, without argv or start time), and an
// executable really named etcd with exactly the recorded argv but another start time (a reused
// pid).
TEST(Up, Down_staleStateWithReusedPids_killsNothingOfOthers) {
  testing::ScratchDir dir("up-reused");
  const auto run_dir = dir.path() / "run";
  std::filesystem::create_directories(run_dir);
  std::filesystem::create_directories(dir.path() / "bin");
  const auto fake_etcd = dir.path() / "bin" / "etcd";
  std::filesystem::copy_file("/bin/sleep", fake_etcd);

  auto l = proc::PosixLauncher();
  const std::vector<std::string> etcd_argv = {fake_etcd.string(), "300"};
  auto etcd_named = l->Spawn({.argv = etcd_argv});
  ASSERT_TRUE(etcd_named.ok()) << etcd_named.status();
  auto etcd_identity = proc::CaptureIdentity(*etcd_named);
  ASSERT_TRUE(etcd_identity.ok()) << etcd_identity.status();
  const int etcd_lookalike = StartLookalike("etcd-lookalike");
  const int replica_lookalike = StartLookalike("br2k-logserver-lookalike");
  const int anvil_lookalike = StartLookalike("anvil-lookalike");
  const int manager_lookalike = StartLookalike("br2k manager-lookalike");
  const std::vector<int> others = {*etcd_named, etcd_lookalike, replica_lookalike, anvil_lookalike,
                                   manager_lookalike};

  RunState s;
  s.run_dir = run_dir.string();
  s.etcd.push_back({.name = "etcd-0", .pid = etcd_lookalike});
  s.etcd.push_back({.name = "etcd-1",
                    .pid = *etcd_named,
                    .argv = etcd_argv,
                    .start_time = etcd_identity->start_time + 1});
  s.service = "logserver";
  s.replicas.push_back(
      {.id = "node-0", .pid = replica_lookalike, .argv = {"br2k-logserver", "--id=node-0"}});
  ChainState chain;
  chain.rpc_url = "http://127.0.0.1:1";
  chain.anvil_pid = anvil_lookalike;
  s.chain = chain;
  s.manager = ManagerState{.pid = manager_lookalike};
  ASSERT_TRUE(s.Save(run_dir / "state.json").ok());

  CliRun down = Shell("'" + (testing::BinDir() / "br2k").string() + "' down --run-dir '" +
                      run_dir.string() + "'");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_NE(down.out.find("stopped 0 process(es)"), std::string::npos) << down.out;
  for (int pid : others) EXPECT_TRUE(l->Alive(pid)) << "killed someone else's process " << pid;
  EXPECT_FALSE(std::filesystem::exists(run_dir / "state.json"));
  for (int pid : others) EXPECT_TRUE(proc::Terminate(*l, pid, 2s).ok()) << pid;
}

TEST(LocalAnvil, MissingBinaryAndBadOptionsAreClearErrors) {
  testing::ScratchDir dir("anvil");
  auto no_log = cluster::LocalAnvil::Start({}, Deadline::After(5s));
  ASSERT_FALSE(no_log.ok());
  EXPECT_EQ(no_log.status().code(), StatusCode::kInvalidArgument);
  auto missing = cluster::LocalAnvil::Start(
      {.binary = dir.path() / "no-anvil", .log_file = dir.path() / "a.log"}, Deadline::After(5s));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("no-anvil"), std::string::npos);
  ::setenv("BR2K_ANVIL_BIN", (dir.path() / "nothing-here").c_str(), 1);
  auto found = cluster::FindAnvilBinary();
  ::unsetenv("BR2K_ANVIL_BIN");
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("BR2K_ANVIL_BIN"), std::string::npos);
  EXPECT_TRUE(cluster::FindAnvilBinary().ok()) << "the repository's node_modules anvil";
  for (size_t i = 0; i < cluster::kAnvilDevKeys.size(); ++i) {
    EXPECT_TRUE(cluster::AnvilDevKey(i).ok()) << i;
  }
  EXPECT_EQ(cluster::AnvilDevKey(0)->address().ToChecksum(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  EXPECT_EQ(cluster::AnvilDevKey(9)->address().ToChecksum(),
            "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720");
  EXPECT_FALSE(cluster::AnvilDevKey(10).ok());
}

TEST(LocalAnvil, StartsAnswersAndStops) {
  testing::ScratchDir dir("anvil");
  auto a = cluster::LocalAnvil::Start({.block_time_s = 1, .log_file = dir.path() / "anvil.log"},
                                      Deadline::After(60s));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->url(), "http://127.0.0.1:" + std::to_string((*a)->port()));
  auto id = (*a)->client()->ChainId(Deadline::After(5s));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, cluster::kAnvilChainId);
  auto balance =
      (*a)->client()->GetBalance(cluster::AnvilDevKey(5)->address(), Deadline::After(5s));
  ASSERT_TRUE(balance.ok()) << balance.status();
  EXPECT_GT(*balance, eth::U256(0));
  pid_t pid = (*a)->pid();
  EXPECT_TRUE((*a)->Stop().ok());
  EXPECT_EQ((*a)->pid(), 0);
  EXPECT_FALSE(proc::PosixLauncher()->Alive(pid));
  EXPECT_TRUE((*a)->Stop().ok());  // idempotent
}

}  // namespace
}  // namespace br2k
