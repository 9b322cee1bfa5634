// br2k up | status | down: the whole local deployment. `up` runs, in order:
//   [1/6] the chain: an embedded anvil (or the node of --rpc-url) and the deployment's accounts;
//   [2/6] the ServiceRegistry: deployed (or reused with --registry), the service registered, its
//         manager and operators added;
//   [3/6] images: br2k-logserver and etcd pinned by digest (or, with --containers, container
//         images built and pushed to a container registry);
//   [4/6] pods: one pod (an etcd member + a br2k-logserver replica) per node, rendered by the
//         deployment library and run on its process runtime (or podman), the recovery
//         information written on chain; `up` waits until a leader serves and the registry points
//         at it;
//   [5/6] the Service Registry Dashboard (br2k-dashboard, docs/dashboard.md): a second
//         deployment of the same library (its own pods, accounts, registry entry "dashboard" and
//         recovery information), the same way and on the same runtime (with --containers its
//         own br2k-dashboard image; skipped by --no-dashboard);
//   [6/6] the manager daemon (`br2k manager --run-dir <dir>`), which redeploys either service
//         from its own recovery information on chain when a claim shows it down;
// then prints the status table and how to call the service. Everything it starts is recorded in
// <run dir>/state.json as soon as it runs, so `br2k down` stops it even after a failed `up`.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "br2k/cluster/local_anvil.h"
#include "br2k/cluster/local_cluster.h"
#include "br2k/common/etcd_limits.h"
#include "br2k/common/run_state.h"
#include "br2k/deploy/pki.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/http/client.h"
#include "br2k/manager/state_lock.h"
#include "commands.h"
#include "local_chain.h"
#include "run_dir.h"
#include "run_processes.h"
#include "service_deployment.h"

namespace br2k::cli {

using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

int Fail(const std::string& message) {
  std::fprintf(stderr, "br2k: %s\n", message.c_str());
  return 1;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// ---- what runs ----

// A pid from a state file is only ours to signal if it still runs what we started there (pids
// get reused): proc::IsOurs on the recorded identity.
bool EtcdAlive(const EtcdMemberState& m) {
  return StillOurs(IdentityOf(m));
}
bool ReplicaAlive(const ReplicaState& r) {
  return StillOurs(IdentityOf(r));
}
bool AnvilAlive(const ChainState& c) {
  return StillOurs(AnvilIdentityOf(c));
}
bool ManagerAlive(const ManagerState& m) {
  return StillOurs(IdentityOf(m));
}

// The components of a run state and whether each still runs.
struct Census {
  std::vector<std::string> alive;
  std::vector<std::string> dead;  // "etcd-1 (pid 123)"
};

Census TakeCensus(const RunState& s) {
  Census c;
  auto note = [&](const std::string& name, int pid, bool alive) {
    (alive ? c.alive : c.dead).push_back(name + " (pid " + std::to_string(pid) + ")");
  };
  if (s.containers && s.containers->kind != "process") {
    // Pods are podman's, not our children: a replica counts when its URL answers.
    for (const auto& row : ProbeReplicas(s.replicas, Deadline::After(3s)))
      (row.error.empty() ? c.alive : c.dead)
          .push_back(row.state.id + " (pod " + row.state.etcd_member + ")");
  } else {
    for (const auto& m : s.etcd) note(m.name, m.pid, EtcdAlive(m));
    for (const auto& r : s.replicas) note(r.id, r.pid, ReplicaAlive(r));
  }
  if (s.dashboard) {
    for (const auto& m : s.dashboard->etcd) note(m.name, m.pid, EtcdAlive(m));
    for (const auto& r : s.dashboard->replicas) note("dashboard " + r.id, r.pid, ReplicaAlive(r));
  }
  if (s.chain && s.chain->anvil_pid > 0) {
    note("anvil", s.chain->anvil_pid, AnvilAlive(*s.chain));
  }
  if (s.manager) note("manager", s.manager->pid, ManagerAlive(*s.manager));
  return c;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

// ---- the state ----

// state.json, with the pids of a process deployment's pods as its runtime records them now.
Result<RunState> LoadState(const std::filesystem::path& file) {
  auto s = RunState::Load(file);
  if (s.ok()) RefreshProcesses(*s);
  return s;
}

// Saves `s` under the state lock (the manager rewrites replica pids there after a redeploy).
Status SaveState(const std::filesystem::path& run_dir, const RunState& s) {
  BR2K_ASSIGN_OR_RETURN(auto lock, manager::StateLock::Acquire(run_dir, Deadline::After(10s)));
  return s.Save(StateFile(run_dir));
}

void RemoveState(const std::filesystem::path& run_dir) {
  auto lock = manager::StateLock::Acquire(run_dir, Deadline::After(10s));
  std::error_code ec;
  std::filesystem::remove(StateFile(run_dir), ec);
}

// ---- stopping ----

// Stops everything of the deployment in `run_dir`: the manager first (so it redeploys nothing
// meanwhile), then the replicas (re-read from state.json: the manager may have restarted some),
// the etcd members and the embedded anvil, and finally any stray process still naming the run
// directory. Returns how many processes were stopped; `error` gets the first failure.
int StopDeployment(const std::filesystem::path& run_dir, const RunState& recorded, Status* error,
                   bool purge = false) {
  auto launcher = proc::PosixLauncher();
  int stopped = 0;
  auto stop = [&](int pid, const std::string& what) {
    Status st = proc::Terminate(*launcher, pid, 5s);
    if (st.ok()) {
      ++stopped;
    } else if (error && error->ok()) {
      *error = st.WithContext(what);
    }
  };
  if (recorded.manager && ManagerAlive(*recorded.manager)) {
    stop(recorded.manager->pid, "manager");
  }
  RunState s = recorded;
  if (auto now = LoadState(StateFile(run_dir)); now.ok()) s = std::move(*now);
  for (const auto& r : s.replicas) {
    if (ReplicaAlive(r)) stop(r.pid, r.id);
  }
  for (const auto& m : s.etcd) {
    if (EtcdAlive(m)) stop(m.pid, m.name);
  }
  if (s.dashboard) {
    for (const auto& r : s.dashboard->replicas) {
      if (ReplicaAlive(r)) stop(r.pid, "dashboard " + r.id);
    }
    for (const auto& m : s.dashboard->etcd) {
      if (EtcdAlive(m)) stop(m.pid, m.name);
    }
    if (Status st = StopService(s.dashboard->deployment, purge); !st.ok() && error && error->ok())
      *error = st.WithContext("dashboard");
  }
  if (s.containers) {
    // A process deployment's pods were stopped above, one process at a time (and counted).
    Status st = StopService(*s.containers, purge);
    if (st.ok()) {
      if (s.containers->kind != "process") stopped += s.containers->nodes;
      stopped += s.containers->registry_pid > 0 ? 1 : 0;
    } else if (error && error->ok()) {
      *error = st.WithContext("containers");
    }
  }
  if (s.chain && AnvilAlive(*s.chain)) stop(s.chain->anvil_pid, "anvil");
  for (int pid : ProcessesOfRunDir(run_dir)) stop(pid, "pid " + std::to_string(pid));
  return stopped;
}

// ---- printing ----

std::string Ago(int64_t unix_seconds) {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  int64_t d = std::max<int64_t>(0, now - unix_seconds);
  if (d < 120) return std::to_string(d) + " s ago";
  if (d < 7200) return std::to_string(d / 60) + " min ago";
  return std::to_string(d / 3600) + " h ago";
}

std::string ShortHex(const std::string& hex) {
  return hex.size() > 14 ? hex.substr(0, 10) + ".." + hex.substr(hex.size() - 4) : hex;
}

// What `status` shows about the chain, read live.
struct ChainView {
  bool reachable = false;
  std::string error;
  uint64_t block = 0;
  std::optional<PublishedLocation> published;
  bool anvil_alive = false;
};

ChainView ReadChain(const ChainState& c) {
  ChainView v;
  v.anvil_alive = AnvilAlive(c);
  Deadline d = Deadline::After(3s);
  auto transport = eth::MakeTransport(c.rpc_url, d);
  if (!transport.ok()) {
    v.error = transport.status().message();
    return v;
  }
  eth::RpcClient client(*transport);
  auto block = client.BlockNumber(d);
  if (!block.ok()) {
    v.error = block.status().message();
    return v;
  }
  v.reachable = true;
  v.block = *block;
  if (!c.registry.empty()) {
    auto l = ReadPublishedLocation(c, d);
    if (l.ok()) {
      v.published = *l;
    } else {
      v.error = l.status().message();
    }
  }
  return v;
}

void PrintEtcd(const std::vector<cluster::MemberHealth>& health) {
  std::printf("%-12s %-9s %-8s %-26s %s\n", "ETCD", "ROLE", "PID", "CLIENT URL", "HEALTH");
  for (const auto& h : health) {
    const char* role = !h.healthy ? "-" : h.is_leader ? "leader" : "follower";
    std::string state = h.healthy ? "healthy" : "unhealthy: " + h.error;
    // pid 0: in a pod, not a local process.
    std::string pid = h.pid > 0 ? std::to_string(h.pid) : "pod";
    std::printf("%-12s %-9s %-8s %-26s %s\n", h.name.c_str(), role, pid.c_str(),
                h.client_url.c_str(), state.c_str());
  }
}

void PrintReplicas(const std::vector<ReplicaRow>& rows) {
  if (rows.empty()) return;
  std::printf("\n%-8s %-9s %-7s %-7s %-8s %-8s %s\n", "NODE", "ROLE", "LPI", "SSI", "PID", "HEALTH",
              "LOCATION");
  for (const auto& r : rows) {
    std::string role = r.error.empty() ? r.probe.role : "-";
    std::string health = r.error.empty() ? "healthy" : "down: " + r.error;
    std::string pid = r.state.pid > 0 ? std::to_string(r.state.pid) : "pod";
    std::printf("%-8s %-9s %-7llu %-7llu %-8s %-8s %s\n", r.state.id.c_str(), role.c_str(),
                static_cast<unsigned long long>(r.probe.lpi),
                static_cast<unsigned long long>(r.probe.ssi), pid.c_str(),
                r.error.empty() ? "healthy" : "down", r.state.url.c_str());
    if (!r.error.empty()) std::printf("         %s\n", health.c_str());
  }
}

const ReplicaRow* LeaderRow(const std::vector<ReplicaRow>& rows) {
  for (const auto& r : rows) {
    if (r.error.empty() && r.probe.role == "Leader") return &r;
  }
  return nullptr;
}

void PrintChain(const RunState& s, const ChainView& v, const std::vector<ReplicaRow>& rows) {
  if (!s.chain) return;
  const ChainState& c = *s.chain;
  std::printf("\n");
  std::string node = c.anvil_pid > 0 ? "anvil pid " + std::to_string(c.anvil_pid) +
                                           (v.anvil_alive ? "" : " (not running)")
                                     : "external node";
  if (v.reachable) {
    std::printf("chain     %s (chain %llu, block %llu, %s)\n", c.rpc_url.c_str(),
                static_cast<unsigned long long>(c.chain_id),
                static_cast<unsigned long long>(v.block), node.c_str());
  } else {
    std::printf("chain     %s (chain %llu, %s): unreachable: %s\n", c.rpc_url.c_str(),
                static_cast<unsigned long long>(c.chain_id), node.c_str(), v.error.c_str());
  }
  std::printf("registry  %s\n", c.registry.c_str());
  std::printf("service   %s (id %s)\n", c.service_name.c_str(),
              eth::ServiceIdFromName(c.service_name).ToHex().c_str());
  if (v.published) {
    const ReplicaRow* leader = LeaderRow(rows);
    std::string note = !leader ? ""
                       : leader->state.url == v.published->location
                           ? " = the leader " + leader->state.id
                           : " (the leader is " + leader->state.id + " at " + leader->state.url +
                                 ": not published yet)";
    std::printf("on chain  %s, epoch %llu, %s%s\n", v.published->location.c_str(),
                static_cast<unsigned long long>(v.published->epoch),
                eth::ServiceStateName(v.published->state).c_str(), note.c_str());
  } else if (v.reachable) {
    std::printf("on chain  unreadable: %s\n", v.error.c_str());
  }
}

void PrintManager(const RunState& s) {
  if (!s.manager) return;
  bool alive = ManagerAlive(*s.manager);
  std::printf("manager   pid %d, %s (log %s)\n", s.manager->pid, alive ? "running" : "NOT RUNNING",
              s.manager->log_file.c_str());
}

// The br2k executable as the user can type it (relative to the working directory when inside it).
std::string SelfForUser() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "br2k";
  auto rel = std::filesystem::proximate(self, std::filesystem::current_path(ec), ec);
  return !ec && !rel.empty() && !rel.string().starts_with("..") ? rel.string() : self.string();
}

// The dashboard's URL: its leader's, else a live replica's ("" when none answers).
std::string DashboardUrl(const std::vector<ReplicaRow>& rows) {
  if (const ReplicaRow* leader = LeaderRow(rows)) return leader->state.url;
  for (const auto& r : rows)
    if (r.error.empty()) return r.state.url;
  return "";
}

// The dashboard's replicas, probed (none without a dashboard).
std::vector<ReplicaRow> ProbeDashboard(const RunState& s) {
  if (!s.dashboard) return {};
  return ProbeReplicas(s.dashboard->replicas, Deadline::After(5s));
}

void PrintDashboard(const RunState& s, const std::vector<ReplicaRow>& rows) {
  if (!s.dashboard) return;
  std::printf("\nDASHBOARD (service '%s', %zu pods)", s.dashboard->name.c_str(),
              s.dashboard->replicas.size());
  PrintReplicas(rows);
  const std::string url = DashboardUrl(rows);
  std::printf("dashboard %s\n", url.empty() ? "NOT ANSWERING" : url.c_str());
  if (s.chain) {
    auto l = ReadPublishedLocation(ChainForService(*s.chain, *s.dashboard), Deadline::After(3s));
    if (l.ok()) {
      std::printf("on chain  %s, epoch %llu, %s\n", l->location.c_str(),
                  static_cast<unsigned long long>(l->epoch),
                  eth::ServiceStateName(l->state).c_str());
    }
  }
}

void PrintHowToCall(const std::filesystem::path& run_dir, const RunState& s,
                    const std::vector<ReplicaRow>& rows) {
  const ReplicaRow* leader = LeaderRow(rows);
  if (!leader || !s.chain) return;
  if (s.dashboard) {
    const std::string url = DashboardUrl(ProbeDashboard(s));
    if (!url.empty()) {
      std::printf("\nthe Service Registry Dashboard (every service, its leader, the claims):\n");
      std::printf("  open %s/\n", url.c_str());
    }
  }
  const std::string b = SelfForUser();
  std::printf("\ncall the service (the client finds the leader through the registry):\n");
  if (ResolveRunDir("") != run_dir) {
    // Other verbs find this deployment through $BR2K_RUN_DIR (or --run-dir).
    std::printf("  export BR2K_RUN_DIR=%s\n", run_dir.c_str());
  }
  std::printf("  %s call POST /logs --data '{\"user\":\"alice\"}'\n", b.c_str());
  std::printf("  %s call GET /logs\n", b.c_str());
  std::printf("  %s call POST /anchor    # a Normal request: the leader sends a transaction\n",
              b.c_str());
  std::printf("or with curl (any replica answers; followers redirect):\n");
  const char* u = leader->state.url.c_str();
  std::printf(
      "  curl -sL -XPOST %s/logs -H 'X-Br2k-Client: me' -H 'X-Br2k-Seq: 1' "
      "-d '{\"user\": \"alice\"}'\n",
      u);
  std::printf("  curl -sL %s/logs\n", u);
  std::printf("  curl -sL -XPOST %s/anchor -H 'X-Br2k-Client: me' -H 'X-Br2k-Seq: 2'\n", u);
  std::printf("more: `%s registry show`, `%s status`, `%s down`\n", b.c_str(), b.c_str(),
              b.c_str());
}

// ---- status ----

nlohmann::json ReplicasJson(const std::vector<ReplicaRow>& replicas, int& healthy) {
  nlohmann::json reps = nlohmann::json::array();
  for (const auto& r : replicas) {
    nlohmann::json j = {{"id", r.state.id},
                        {"role", r.probe.role},
                        {"lpi", r.probe.lpi},
                        {"ssi", r.probe.ssi},
                        {"ls", r.probe.ls},
                        {"url", r.state.url},
                        {"pid", r.state.pid},
                        {"healthy", r.error.empty()},
                        {"etcd_member", r.state.etcd_member},
                        {"log_file", r.state.log_file}};
    if (!r.error.empty()) j["error"] = r.error;
    healthy += r.error.empty();
    reps.push_back(std::move(j));
  }
  return reps;
}

// The dashboard section of `status --json` (null without a dashboard).
nlohmann::json DashboardJson(const RunState& s, const std::vector<ReplicaRow>& rows) {
  if (!s.dashboard) return nullptr;
  const ServiceState& d = *s.dashboard;
  int healthy = 0;
  const ReplicaRow* leader = LeaderRow(rows);
  const std::string url = DashboardUrl(rows);
  nlohmann::json j = {
      {"name", d.name},
      {"registry_id", eth::ServiceIdFromName(d.name).ToHex()},
      {"url", url.empty() ? nlohmann::json(nullptr) : nlohmann::json(url)},
      {"leader", leader ? nlohmann::json(leader->state.id) : nlohmann::json(nullptr)},
      {"replicas", ReplicasJson(rows, healthy)},
      {"location", nullptr},
      {"deployment",
       {{"kind", d.deployment.kind},
        {"name", d.deployment.name},
        {"nodes", d.deployment.nodes},
        {"images", d.deployment.images}}},
      {"tx_key_file", d.tx_key_file},
      {"operator_key_files", d.operator_key_files}};
  j["healthy_replicas"] = healthy;
  if (s.chain) {
    auto l = ReadPublishedLocation(ChainForService(*s.chain, d), Deadline::After(3s));
    if (l.ok()) {
      j["location"] = l->location;
      j["epoch"] = l->epoch;
      j["state"] = eth::ServiceStateName(l->state);
    }
  }
  return j;
}

// Whether the dashboard (when there is one) has every replica answering and a leader.
bool DashboardHealthy(const RunState& s, const std::vector<ReplicaRow>& rows) {
  if (!s.dashboard) return true;
  bool ok = LeaderRow(rows) != nullptr;
  for (const auto& r : rows) ok &= r.error.empty();
  return ok;
}

nlohmann::json StatusJson(const RunState& s, const std::vector<cluster::MemberHealth>& health,
                          const std::vector<ReplicaRow>& replicas,
                          const std::optional<ChainView>& chain,
                          const std::vector<ReplicaRow>& dashboard) {
  nlohmann::json etcd = nlohmann::json::array();
  for (const auto& h : health) {
    nlohmann::json m = {
        {"name", h.name},       {"client_url", h.client_url}, {"pid", h.pid},
        {"healthy", h.healthy}, {"is_leader", h.is_leader},   {"raft_term", h.raft_term}};
    if (!h.error.empty()) m["error"] = h.error;
    etcd.push_back(std::move(m));
  }
  int healthy = 0;
  nlohmann::json reps = ReplicasJson(replicas, healthy);
  nlohmann::json service = nullptr;
  if (!s.service.empty()) {
    const ReplicaRow* leader = LeaderRow(replicas);
    std::string name = s.chain ? s.chain->service_name : s.service;
    service = {{"id", s.service},
               {"name", name},
               {"registry_id", eth::ServiceIdFromName(name).ToHex()},
               {"leader", leader ? nlohmann::json(leader->state.id) : nlohmann::json(nullptr)},
               {"location", leader ? nlohmann::json(leader->state.url) : nlohmann::json(nullptr)},
               {"replicas", replicas.size()},
               {"healthy_replicas", healthy}};
  }
  nlohmann::json chain_json = nullptr;
  if (s.chain && chain) {
    const ChainState& c = *s.chain;
    chain_json = {{"rpc_url", c.rpc_url},
                  {"chain_id", c.chain_id},
                  {"reachable", chain->reachable},
                  {"block", chain->reachable ? nlohmann::json(chain->block) : nullptr},
                  {"registry", c.registry},
                  {"service_name", c.service_name},
                  {"service_id", eth::ServiceIdFromName(c.service_name).ToHex()},
                  {"location", nullptr},
                  {"epoch", nullptr},
                  {"state", nullptr},
                  {"anvil_pid", c.anvil_pid},
                  {"anvil_alive", chain->anvil_alive},
                  {"anvil_log", c.anvil_log},
                  {"owner_key_file", c.owner_key_file},
                  {"manager_key_file", c.manager_key_file},
                  {"tx_key_file", c.tx_key_file},
                  {"operator_key_files", c.operator_key_files}};
    if (chain->published) {
      chain_json["location"] = chain->published->location;
      chain_json["epoch"] = chain->published->epoch;
      chain_json["state"] = eth::ServiceStateName(chain->published->state);
    }
    if (!chain->error.empty()) chain_json["error"] = chain->error;
  }
  nlohmann::json manager = nullptr;
  if (s.manager) {
    manager = {{"pid", s.manager->pid},
               {"alive", ManagerAlive(*s.manager)},
               {"log_file", s.manager->log_file}};
  }
  nlohmann::json deployment = nullptr;
  if (s.containers) {
    deployment = {{"kind", s.containers->kind},
                  {"context", s.containers->context},
                  {"name", s.containers->name},
                  {"nodes", s.containers->nodes},
                  {"container_registry", s.containers->container_registry},
                  {"images", s.containers->images}};
  }
  return {{"deployment", deployment},    {"run_dir", s.run_dir},
          {"detached", s.detached},      {"started_at_unix", s.started_at_unix},
          {"etcd", std::move(etcd)},     {"service", service},
          {"replicas", std::move(reps)}, {"chain", chain_json},
          {"manager", manager},          {"dashboard", DashboardJson(s, dashboard)}};
}

// The client certificate that reaches the run's etcd members: the service deployment's
// (EtcdClientFilesOf) or the etcd-only cluster's (cluster::LoadClusterClientTls). Not enabled when
// there is none (the probe then reports the members as unreachable over https).
etcd::EtcdTls EtcdClientTlsOf(const std::filesystem::path& run_dir, const RunState& s) {
  auto tls = s.containers ? LoadEtcdClientTls(run_dir, s.containers->name)
                          : cluster::LoadClusterClientTls(run_dir);
  return tls.ok() ? *tls : etcd::EtcdTls{};
}

// Probes everything and prints the human status; returns whether all of it is healthy.
bool PrintStatus(const std::filesystem::path& run_dir, const RunState& s) {
  auto health = cluster::ProbeMembers(s.etcd, Deadline::After(5s), EtcdClientTlsOf(run_dir, s));
  auto rows = ProbeReplicas(s.replicas, Deadline::After(5s));
  std::optional<ChainView> chain;
  if (s.chain) chain = ReadChain(*s.chain);
  bool healthy = !health.empty();
  for (const auto& h : health) healthy &= h.healthy;
  for (const auto& r : rows) healthy &= r.error.empty();
  if (!s.replicas.empty()) healthy &= LeaderRow(rows) != nullptr;
  if (chain) healthy &= chain->reachable && chain->published.has_value();
  if (s.manager) healthy &= ManagerAlive(*s.manager);
  auto dashboard = ProbeDashboard(s);
  healthy &= DashboardHealthy(s, dashboard);
  std::printf("run dir %s (%s, started %s)\n\n", s.run_dir.c_str(),
              s.detached ? "detached" : "foreground", Ago(s.started_at_unix).c_str());
  PrintEtcd(health);
  PrintReplicas(rows);
  if (chain) PrintChain(s, *chain, rows);
  PrintDashboard(s, dashboard);
  PrintManager(s);
  (void)run_dir;
  return healthy;
}

int StatusCmd(const std::string& run_dir_flag, bool json) {
  const auto run_dir = ResolveRunDir(run_dir_flag);
  auto s = LoadState(StateFile(run_dir));
  if (!s.ok()) {
    if (s.status().code() == StatusCode::kNotFound) {
      if (json) {
        std::cout << nlohmann::json{{"run_dir", run_dir.string()},
                                    {"running", false},
                                    {"etcd", nlohmann::json::array()}}
                         .dump(2)
                  << "\n";
        return 1;
      }
      return Fail("nothing is running in " + run_dir.string() + " (start it with `br2k up`)");
    }
    return Fail(s.status().message());
  }
  if (!json) return PrintStatus(run_dir, *s) ? 0 : 1;
  auto health = cluster::ProbeMembers(s->etcd, Deadline::After(5s), EtcdClientTlsOf(run_dir, *s));
  auto rows = ProbeReplicas(s->replicas, Deadline::After(5s));
  std::optional<ChainView> chain;
  if (s->chain) chain = ReadChain(*s->chain);
  bool healthy = !health.empty();
  for (const auto& h : health) healthy &= h.healthy;
  for (const auto& r : rows) healthy &= r.error.empty();
  if (!s->replicas.empty()) healthy &= LeaderRow(rows) != nullptr;
  if (chain) healthy &= chain->reachable && chain->published.has_value();
  if (s->manager) healthy &= ManagerAlive(*s->manager);
  auto dashboard = ProbeDashboard(*s);
  healthy &= DashboardHealthy(*s, dashboard);
  auto doc = StatusJson(*s, health, rows, chain, dashboard);
  doc["running"] = true;
  doc["healthy"] = healthy;
  std::cout << doc.dump(2) << "\n";
  return healthy ? 0 : 1;
}

// ---- up ----

struct UpFlags {
  std::string run_dir;
  int members = 3;
  bool detach = false;
  int heartbeat_ms = 100;
  int election_ms = 1000;
  std::string etcd_binary = "etcd";
  bool no_service = false;
  bool no_manager = false;
  bool no_dashboard = false;
  std::string rpc_url;
  std::optional<uint64_t> chain_id;
  std::string key_file;
  std::string registry;
  std::string service_name = "logserver";
  int block_time_s = 0;
  int timeout_s = 120;
  bool containers = false;         // pods on the local podman context instead of processes
  std::string container_registry;  // with --containers: "" = the embedded registry
  // Which of the above the user set (a second `up` refuses settings that differ from the run).
  bool set_members = false;
  bool set_service_name = false;
};

// An exclusive lock on <run dir>/up.lock while `up` starts things, so two `br2k up` in one run
// directory do not both start a deployment. Returns the descriptor holding it (close it, or exit,
// to release).
Result<int> LockUp(const std::filesystem::path& run_dir) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  if (ec) return InternalError("cannot create " + run_dir.string() + ": " + ec.message());
  const auto file = run_dir / "up.lock";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return InternalError("cannot open " + file.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return FailedPreconditionError("another `br2k up` is starting in " + run_dir.string() +
                                   "; wait for it, then `br2k status`");
  }
  return fd;
}

// Why the running deployment cannot serve what these flags ask for ("" when it can).
std::string ReuseConflict(const UpFlags& f, const RunState& s) {
  auto differs = [](const std::string& what, const std::string& running, const std::string& asked) {
    return "it runs " + what + " " + (running.empty() ? "(none)" : running) + ", you asked for " +
           asked;
  };
  if (!f.rpc_url.empty() && (!s.chain || s.chain->rpc_url != f.rpc_url)) {
    return differs("the chain", s.chain ? s.chain->rpc_url : "", f.rpc_url);
  }
  if (!f.registry.empty() && s.chain) {
    auto want = eth::Address::Parse(f.registry);
    auto have = eth::Address::Parse(s.chain->registry);
    if (!want.ok() || !have.ok() || !(*want == *have)) {
      return differs("the registry", s.chain->registry, f.registry);
    }
  }
  if (f.set_service_name && s.chain && s.chain->service_name != f.service_name) {
    return differs("the service", s.chain->service_name, f.service_name);
  }
  if (f.set_members && static_cast<int>(s.etcd.size()) != f.members) {
    return "it runs " + std::to_string(s.etcd.size()) + " etcd members, you asked for " +
           std::to_string(f.members);
  }
  if (!f.no_service && s.replicas.empty()) return "it runs etcd only (started with --no-service)";
  if (!f.no_service && !f.no_dashboard && s.chain && !s.dashboard)
    return "it runs without the dashboard (started with --no-dashboard)";
  const bool in_containers = s.containers && s.containers->kind != "process";
  if (!f.no_service && f.containers != in_containers)
    return in_containers ? "it runs in containers (started with --containers)"
                         : "it runs local processes (started without --containers)";
  return "";
}

int Reuse(const UpFlags& f, const std::filesystem::path& run_dir, const RunState& s,
          const Census& census) {
  if (std::string why = ReuseConflict(f, s); !why.empty()) {
    return Fail("a deployment already runs in " + run_dir.string() +
                " and cannot be reused: " + why + ". Stop it first with `br2k down`");
  }
  std::printf("br2k: already running in %s (started %s); reusing it (`br2k down` stops it)\n\n",
              run_dir.c_str(), Ago(s.started_at_unix).c_str());
  bool healthy = PrintStatus(run_dir, s);
  auto rows = ProbeReplicas(s.replicas, Deadline::After(5s));
  PrintHowToCall(run_dir, s, rows);
  if (!census.dead.empty()) {
    std::printf(
        "\nbr2k: warning: not running: %s. The manager redeploys replicas on a claim; "
        "`br2k down` then `br2k up` starts everything afresh\n",
        Join(census.dead).c_str());
  }
  if (!healthy) return Fail("the running deployment is not healthy (see above)");
  return 0;
}

// Spawns the manager daemon and waits until it follows the registry's Claim events (it says so in
// its log), or exits.
Result<ManagerState> StartManager(const std::filesystem::path& run_dir, bool detach,
                                  Deadline deadline) {
  ManagerState m;
  m.log_file = (run_dir / "manager.log").string();
  std::error_code ec;
  std::filesystem::remove(m.log_file, ec);
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return InternalError("cannot find the br2k executable: " + ec.message());
  auto launcher = proc::PosixLauncher();
  const std::vector<std::string> argv = {self.string(), "manager", "--run-dir", run_dir.string()};
  BR2K_ASSIGN_OR_RETURN(m.pid, launcher->Spawn(proc::SpawnSpec{
                                   .argv = argv, .log_file = m.log_file, .detach = detach}));
  const proc::ProcessIdentity identity = proc::IdentityAfterSpawn(m.pid, argv);
  m.argv = identity.argv;
  m.start_time = identity.start_time;
  while (!deadline.expired()) {
    if (!launcher->Alive(m.pid)) {
      return UnavailableError("the manager exited at start; see " + m.log_file + ":\n" +
                              proc::TailOfFile(m.log_file, 6));
    }
    std::ifstream in(m.log_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("watching Claim events") != std::string::npos) return m;
    std::this_thread::sleep_for(50ms);
  }
  (void)proc::Terminate(*launcher, m.pid, 3s);
  return DeadlineExceededError("the manager did not start in time; see " + m.log_file);
}

// The manager's account, from its key file (for the progress line).
std::string AccountOf(const std::string& key_file) {
  auto k = eth::LoadKeyFile(key_file);
  return k.ok() ? k->address().ToChecksum() : "?";
}

int Up(const UpFlags& f) {
  const auto started = Clock::now();
  const auto run_dir = ResolveRunDir(f.run_dir);
  const auto state_file = StateFile(run_dir);
  if (!f.rpc_url.empty() && f.key_file.empty()) {
    return Fail(
        "--rpc-url needs --key-file: the funded owner account that deploys the registry "
        "and registers the service");
  }
  if (f.rpc_url.empty() && !f.key_file.empty()) {
    return Fail("--key-file goes with --rpc-url (the embedded anvil uses its development keys)");
  }
  auto up_lock = LockUp(run_dir);
  if (!up_lock.ok()) return Fail(up_lock.status().message());

  auto existing = LoadState(state_file);
  if (existing.ok()) {
    Census census = TakeCensus(*existing);
    bool owner_alive = existing->owner_pid > 0 && proc::PosixLauncher()->Alive(existing->owner_pid);
    if (!census.alive.empty() || owner_alive) return Reuse(f, run_dir, *existing, census);
    // Demanding-user rule: a state file whose every process is gone (a crash, a reboot) is
    // cleaned up and a fresh deployment started; partial ones are reused above.
    std::printf("br2k: the previous run in %s is gone (no process left); starting afresh\n",
                run_dir.c_str());
    Status ignored;
    StopDeployment(run_dir, *existing, &ignored);
    RemoveState(run_dir);
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return Fail(existing.status().message() + " (remove it or run `br2k down`)");
  } else {
    // No state: stop strays a crashed `up` may have left before it recorded them.
    Status ignored;
    if (int n = StopDeployment(run_dir, RunState{}, &ignored); n > 0) {
      std::printf("br2k: stopped %d stray process(es) of an earlier run in %s\n", n,
                  run_dir.c_str());
    }
  }

  // Block the stop signals before any thread exists, so the wait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  if (!f.detach) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  RunState s;
  s.run_dir = run_dir.string();
  s.started_at_unix = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  s.heartbeat_ms = f.heartbeat_ms;
  s.election_ms = f.election_ms;
  s.detached = f.detach;
  s.owner_pid = f.detach ? 0 : ::getpid();
  const bool with_chain = !f.no_service;
  if (f.containers && f.no_service)
    return Fail("--containers deploys the service: drop --no-service");
  // The dashboard runs beside the service, on the same runtime (see docs/dashboard.md).
  const bool with_dashboard = !f.no_service && !f.no_dashboard;
  const int steps = f.no_service ? 1 : 4 + (with_dashboard ? 1 : 0) + (f.no_manager ? 0 : 1);
  int step = 0;
  std::unique_ptr<LocalChain> chain;
  std::unique_ptr<cluster::LocalCluster> etcd_cluster;

  // Any failure below: stop what runs, forget the state, say why.
  auto abort = [&](const std::string& message) {
    std::printf("failed\n");
    std::fflush(stdout);
    Status ignored;
    StopDeployment(run_dir, s, &ignored);
    if (chain) (void)chain->Stop();
    if (etcd_cluster) (void)etcd_cluster->Stop();
    RemoveState(run_dir);
    return Fail(message);
  };
  auto begin = [&](const std::string& what) {
    std::printf("[%d/%d] %s: ", ++step, steps, what.c_str());
    std::fflush(stdout);
    return Clock::now();
  };
  auto done = [](const std::string& text, Clock::time_point since) {
    std::printf("%s (%.1f s)\n", text.c_str(), Seconds(since));
    std::fflush(stdout);
  };

  // The service's pods, planned first so that the registry is given node 0's URL.
  ServiceUpOptions svc;
  svc.kind = f.containers ? "podman" : "process";
  svc.run_dir = run_dir;
  svc.service_name = f.service_name;
  svc.nodes = static_cast<size_t>(f.members);
  svc.heartbeat_ms = f.heartbeat_ms;
  svc.election_ms = f.election_ms;
  svc.etcd_binary = f.etcd_binary;
  svc.registry = f.container_registry;
  svc.detach = f.detach;
  svc.extra_args = {EtcdMaxTxnOpsFlag()};
  Result<ContainerState> planned = ContainerState{};
  if (!f.no_service) {
    planned = PlanService(svc);
    if (!planned.ok()) return abort(planned.status().message());
  }
  RegistrySetup reg;
  if (with_chain) {
    // [1/5] the chain.
    auto t = begin("chain");
    LocalChainOptions co;
    co.run_dir = run_dir;
    co.rpc_url = f.rpc_url;
    co.chain_id = f.chain_id;
    co.owner_key_file = f.key_file;
    co.registry = f.registry;
    co.service_name = f.service_name;
    co.replicas = static_cast<size_t>(f.members);
    co.block_time_s = f.block_time_s;
    co.detach = f.detach;
    auto c = LocalChain::Start(co, Deadline::After(60s));
    if (!c.ok()) return abort(c.status().message());
    chain = std::move(*c);
    s.chain = chain->state();
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    std::string what = chain->embedded() ? "anvil on " + s.chain->rpc_url + " (chain " +
                                               std::to_string(s.chain->chain_id) + ", pid " +
                                               std::to_string(s.chain->anvil_pid) + ")"
                                         : "external node " + s.chain->rpc_url + " (chain " +
                                               std::to_string(s.chain->chain_id) + ")";
    if (!chain->funded().empty()) what += "; funded " + Join(chain->funded());
    done(what, t);

    // [2/5] the registry.
    t = begin("registry");
    auto r = chain->SetUpRegistry(SpecOf(*planned, std::nullopt).AppUrl(0), Deadline::After(120s));
    if (!r.ok()) return abort(r.status().message());
    reg = *r;
    s.chain = chain->state();
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    std::string text = (reg.deployed ? "deployed at " : "reusing ") + reg.registry.ToChecksum() +
                       "; service '" + f.service_name + "' " +
                       (reg.registered ? "registered" : "already registered") + " (id " +
                       ShortHex(reg.service_id.ToHex()) + ")";
    if (!reg.changes.empty()) text += "; added " + Join(reg.changes);
    done(text, t);
  }

  if (!f.no_service) {
    // [3/5] images (executables pinned by digest, or container images in a registry),
    // [4/5] pods (etcd + br2k-logserver per node) on the runtime: local processes or podman.
    std::vector<std::string> lines;
    svc.progress = [&](const std::string& line) { lines.push_back(line); };
    svc.revision_floor = reg.stored_epoch;
    auto t = begin("images");
    std::printf("\n");
    ContainerState cs = *planned;
    if (Status st = PublishImages(svc, cs, Deadline::After(600s)); !st.ok())
      return abort(st.message());
    s.containers = cs;
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    for (const auto& l : lines) std::printf("      %s\n", l.c_str());
    lines.clear();
    done(f.containers ? "      app and etcd images in " + cs.container_registry
                      : "      br2k-logserver and etcd executables pinned by digest",
         t);

    t = begin("pods");
    std::printf("\n");
    svc.progress = [&](const std::string& line) {
      std::printf("      %s\n", line.c_str());
      std::fflush(stdout);
    };
    Deadline d = Deadline::After(std::chrono::seconds(f.timeout_s) + 120s);
    Status deployed = DeployPods(svc, *s.chain, cs, d);
    s.containers = cs;
    s.service = f.service_name;
    s.replicas = ReplicasOf(cs);
    s.etcd = EtcdMembersOf(cs);
    RefreshProcesses(s);
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    if (!deployed.ok()) return abort(deployed.message());
    if (Status st = WaitForServiceLeader(s.replicas, d); !st.ok()) return abort(st.message());
    auto rows = ProbeReplicas(s.replicas, d);
    const ReplicaRow* leader = LeaderRow(rows);
    if (!leader) return abort("the service lost its leader while starting; see the pods' logs");
    std::string leader_id = leader->state.id, leader_url = leader->state.url;
    Status published = WaitForPublishedLocation(*s.chain, leader_url, leader->state.log_file, d);
    if (!published.ok()) return abort(published.message());
    auto loc = ReadPublishedLocation(*s.chain, Deadline::After(5s));
    done("      " + std::to_string(s.replicas.size()) +
             (f.containers ? " pods on podman" : " pods as local processes") + "; leader " +
             leader_id + " at " + leader_url + ", published on chain" +
             (loc.ok() ? " (epoch " + std::to_string(loc->epoch) + ")" : "") +
             "; recovery information on chain",
         t);
  } else {
    // [1/1] etcd only: a development cluster, no service.
    auto t = begin("etcd");
    cluster::LocalClusterOptions o;
    o.members = f.members;
    o.run_dir = run_dir;
    o.etcd_binary = f.etcd_binary;
    o.heartbeat_ms = f.heartbeat_ms;
    o.election_ms = f.election_ms;
    o.detach = f.detach;
    // TLS with client certificates, a fresh CA per run: clients use <run dir>/tls/ (hardening
    // item 11; the CA's key is not kept).
    auto ca = deploy::GenerateCa({.common_name = "br2k etcd CA"});
    if (!ca.ok()) return abort(ca.status().message());
    o.tls_ca = *ca;
    auto c = cluster::LocalCluster::Start(o, Deadline::After(60s));
    if (!c.ok()) return abort(c.status().message());
    etcd_cluster = std::move(*c);
    s.etcd = etcd_cluster->ToState();
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    done(std::to_string(f.members) + " members healthy (heartbeat " +
             std::to_string(f.heartbeat_ms) + " ms, election " + std::to_string(f.election_ms) +
             " ms)",
         t);
  }  // processes
  if (with_dashboard) {
    // [5/6] the dashboard: its own accounts, registry entry, executables and pods, planned now
    // that the service's pods hold their ports.
    auto t = begin("dashboard");
    std::printf("\n");
    ServiceUpOptions dsvc = svc;
    dsvc.service_name = "dashboard";
    dsvc.app_binary = "br2k-dashboard";
    dsvc.extra_args = {EtcdMaxTxnOpsFlag()};
    dsvc.progress = [&](const std::string& line) {
      std::printf("      %s\n", line.c_str());
      std::fflush(stdout);
    };
    Deadline d = Deadline::After(std::chrono::seconds(f.timeout_s) + 120s);
    const size_t funded_before = chain->funded().size();
    auto keys = chain->MakeServiceKeys("dashboard-", static_cast<size_t>(f.members), d);
    if (!keys.ok()) return abort("dashboard: " + keys.status().message());
    if (chain->funded().size() > funded_before) {
      std::vector<std::string> funded(chain->funded().begin() + funded_before,
                                      chain->funded().end());
      std::printf("      funded %s\n", Join(funded).c_str());
    }
    auto dplanned = PlanService(dsvc);
    if (!dplanned.ok()) return abort("dashboard: " + dplanned.status().message());
    auto dreg = chain->SetUpService(dsvc.service_name, keys->operator_key_files,
                                    SpecOf(*dplanned, std::nullopt).AppUrl(0), d);
    if (!dreg.ok()) return abort("dashboard: " + dreg.status().message());
    dsvc.revision_floor = dreg->stored_epoch;
    s.dashboard = ServiceState{.name = dsvc.service_name,
                               .tx_key_file = keys->tx_key_file,
                               .operator_key_files = keys->operator_key_files,
                               .deployment = *dplanned};
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    std::printf("      service '%s' %s (id %s)%s\n", dsvc.service_name.c_str(),
                dreg->registered ? "registered" : "already registered",
                ShortHex(dreg->service_id.ToHex()).c_str(),
                dreg->changes.empty() ? "" : ("; added " + Join(dreg->changes)).c_str());
    if (Status st = PublishImages(dsvc, s.dashboard->deployment, d); !st.ok())
      return abort("dashboard: " + st.message());
    // Its images went to the service's container registry: that registry is the service's to
    // stop (`br2k down`), not the dashboard's.
    if (s.containers && s.dashboard->deployment.registry_pid == s.containers->registry_pid)
      s.dashboard->deployment.registry_pid = 0;
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    const ChainState dchain = ChainForService(*s.chain, *s.dashboard);
    Status deployed = DeployPods(dsvc, dchain, s.dashboard->deployment, d);
    s.dashboard->replicas = ReplicasOf(s.dashboard->deployment);
    s.dashboard->etcd = EtcdMembersOf(s.dashboard->deployment);
    RefreshProcesses(s);
    if (Status st = SaveState(run_dir, s); !st.ok()) return abort(st.message());
    if (!deployed.ok()) return abort("dashboard: " + deployed.message());
    if (Status st = WaitForServiceLeader(s.dashboard->replicas, d); !st.ok())
      return abort("dashboard: " + st.message());
    auto rows = ProbeReplicas(s.dashboard->replicas, d);
    const ReplicaRow* leader = LeaderRow(rows);
    if (!leader) return abort("the dashboard lost its leader while starting; see its pods' logs");
    const std::string leader_id = leader->state.id, leader_url = leader->state.url;
    Status published = WaitForPublishedLocation(dchain, leader_url, leader->state.log_file, d);
    if (!published.ok()) return abort("dashboard: " + published.message());
    // The registry knows services by id only: the dashboard shows these two by their names
    // (a label, a Replication request of the dashboard; best effort).
    int seq = 0;
    for (const std::string& name : {f.service_name, dsvc.service_name}) {
      auto r = http::Call(leader_url, "PUT",
                          "/api/services/" + eth::ServiceIdFromName(name).ToHex() + "/label",
                          nlohmann::json{{"label", name}}.dump(),
                          {{"Content-Type", "application/json"},
                           {"X-Br2k-Client", "br2k-up-" + std::to_string(::getpid())},
                           {"X-Br2k-Seq", std::to_string(++seq)}},
                          Deadline::After(10s));
      if (!r.ok() || r->status != 200) {
        std::printf("      warning: the dashboard did not take the label '%s': %s\n", name.c_str(),
                    r.ok() ? ("HTTP " + std::to_string(r->status) + " " + r->body).c_str()
                           : r.status().ToString().c_str());
      }
    }
    auto loc = ReadPublishedLocation(dchain, Deadline::After(5s));
    done("      " + std::to_string(s.dashboard->replicas.size()) + " pods; leader " + leader_id +
             " at " + leader_url + ", published on chain" +
             (loc.ok() ? " (epoch " + std::to_string(loc->epoch) + ")" : "") +
             "; recovery information on chain",
         t);
  }
  if (!f.no_service) {
    // [6/6] the manager.
    if (!f.no_manager) {
      auto t = begin("manager");
      auto m = StartManager(run_dir, f.detach, Deadline::After(30s));
      if (!m.ok()) return abort(m.status().message());
      s.manager = *m;
      Status st = manager::UpdateRunState(
          run_dir,
          [&](RunState& now) {
            now.manager = s.manager;
            return Status::Ok();
          },
          Deadline::After(10s));
      if (!st.ok()) return abort(st.message());
      done("pid " + std::to_string(m->pid) + ", account " + AccountOf(s.chain->manager_key_file) +
               ", watching claims (log " + m->log_file + ")",
           t);
    }
  }

  std::printf("\nbr2k: up in %.1f s\n\n", Seconds(started));
  RunState now = s;
  if (auto loaded = LoadState(state_file); loaded.ok()) now = *loaded;
  PrintStatus(run_dir, now);
  auto rows = ProbeReplicas(now.replicas, Deadline::After(5s));
  PrintHowToCall(run_dir, now, rows);
  if (f.detach) {
    if (chain) chain->Release();
    std::printf(
        "\nbr2k: running in the background. `br2k status` shows it, `br2k down` stops it.\n");
    return 0;
  }
  std::printf("\nbr2k: running. Press Ctrl-C to stop (or run `br2k down` elsewhere).\n");
  std::fflush(stdout);
  ::close(*up_lock);  // started: a second `br2k up` may now look at (and reuse) this one

  // Wait for a stop signal, or for `br2k down` (which removes the state file).
  bool removed = false;
  while (true) {
    timespec tick{0, 500'000'000};
    int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig > 0) {
      std::printf("\nbr2k: stopping ...\n");
      break;
    }
    if (!std::filesystem::exists(state_file)) {
      std::printf("br2k: state removed by `br2k down`; stopping\n");
      removed = true;
      break;
    }
  }
  RunState last = s;
  if (auto loaded = LoadState(state_file); loaded.ok()) last = *loaded;
  Status first;
  int stopped = StopDeployment(run_dir, last, &first);
  if (chain) (void)chain->Stop();
  if (etcd_cluster) (void)etcd_cluster->Stop();
  if (!removed) RemoveState(run_dir);
  if (!first.ok()) return Fail(first.message());
  std::printf("br2k: stopped %d process(es)\n", stopped);
  return 0;
}

int Down(const std::string& run_dir_flag, bool purge) {
  const auto run_dir = ResolveRunDir(run_dir_flag);
  const auto state_file = StateFile(run_dir);
  auto s = LoadState(state_file);
  // A corrupt state file names nothing to trust: what runs is found by the stray sweep (where
  // `up` puts its processes), and the file is set aside, not deleted, for a look at what broke.
  std::string set_aside;
  if (!s.ok() && s.status().code() != StatusCode::kNotFound) {
    const auto aside =
        run_dir / ("state.json.corrupt-" +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count()));
    std::error_code ec;
    std::filesystem::rename(state_file, aside, ec);
    if (ec) return Fail(s.status().message() + "; and it cannot be set aside: " + ec.message());
    set_aside = s.status().message() + "; set aside as " + aside.string();
    s = Status(StatusCode::kNotFound, "set aside");
  }
  Status first;
  int stopped = StopDeployment(run_dir, s.ok() ? *s : RunState{}, &first, purge);
  if (!first.ok()) return Fail(first.message());
  if (!set_aside.empty()) {
    std::printf(
        "br2k: the state file was corrupt (%s); stopped %d process(es) of the run found "
        "by their run directory\n",
        set_aside.c_str(), stopped);
  } else if (!s.ok()) {
    if (stopped > 0) {
      std::printf("br2k: no state in %s; stopped %d stray process(es)\n", run_dir.c_str(), stopped);
    } else {
      std::printf("br2k: nothing is running in %s\n", run_dir.c_str());
    }
  } else {
    RemoveState(run_dir);
    std::printf("br2k: stopped %d process(es)", stopped);
  }
  std::error_code ec;
  if (purge) std::filesystem::remove_all(run_dir, ec);
  if (s.ok()) std::printf("%s\n", purge ? "; run dir removed" : "");
  return 0;
}

}  // namespace

void RegisterClusterCommands(CLI::App& app) {
  auto flags = std::make_shared<UpFlags>();
  auto* up = app.add_subcommand(
      "up",
      "Start the local deployment: a chain with the service registry, an etcd cluster, the "
      "replicated sample service (br2k-logserver), the Service Registry Dashboard "
      "(br2k-dashboard) and the manager daemon");
  up->add_option("--run-dir", flags->run_dir, "State directory (default $BR2K_RUN_DIR or ./.br2k)");
  auto* members =
      up->add_option("--members", flags->members, "Number of etcd members (and replicas)")
          ->check(CLI::Range(1, 9))
          ->capture_default_str();
  up->add_flag("--detach", flags->detach, "Start in the background and return");
  up->add_option("--heartbeat-ms", flags->heartbeat_ms, "etcd heartbeat interval")
      ->check(CLI::Range(10, 10000))
      ->capture_default_str();
  up->add_option("--election-ms", flags->election_ms, "etcd election timeout")
      ->check(CLI::Range(50, 60000))
      ->capture_default_str();
  up->add_option("--etcd-binary", flags->etcd_binary, "The etcd executable")->capture_default_str();
  up->add_flag("--no-service", flags->no_service,
               "Start only the etcd cluster (no chain, service or manager)");
  up->add_flag("--no-manager", flags->no_manager, "Do not start the manager daemon");
  up->add_flag("--no-dashboard", flags->no_dashboard,
               "Do not start the Service Registry Dashboard (br2k-dashboard) beside the service");
  up->add_option("--rpc-url", flags->rpc_url,
                 "Use this Ethereum node (http:// or ws://) instead of starting anvil");
  up->add_option("--chain-id", flags->chain_id, "Expected chain id (default: the node's)");
  up->add_option("--key-file", flags->key_file,
                 "With --rpc-url: file holding the funded owner key (hex); it deploys and "
                 "registers, and funds the deployment's other accounts");
  up->add_option("--registry", flags->registry,
                 "Reuse this ServiceRegistry (0x address) instead of deploying one");
  auto* service =
      up->add_option("--service-name", flags->service_name, "The service's name in the registry")
          ->capture_default_str();
  up->add_option("--block-time", flags->block_time_s,
                 "Embedded anvil: seconds per block (default: a block per transaction)")
      ->check(CLI::Range(0, 60));
  up->add_flag("--containers", flags->containers,
               "Run the service in containers: images built and pushed to a container registry, "
               "pods (app + etcd) on the local podman context, recovery information on chain");
  up->add_option("--container-registry", flags->container_registry,
                 "With --containers: push to this registry (host[:port]) instead of the "
                 "embedded one");
  up->add_option("--timeout", flags->timeout_s,
                 "Seconds to wait for the service's leader and its location on chain")
      ->check(CLI::Range(5, 3600))
      ->capture_default_str();
  up->callback([flags, members, service] {
    flags->set_members = members->count() > 0;
    flags->set_service_name = service->count() > 0;
    std::exit(Up(*flags));
  });

  auto run_dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto* status = app.add_subcommand("status",
                                    "Show what `br2k up` runs and its health "
                                    "(exit 1 when something is unhealthy)");
  status->add_option("--run-dir", *run_dir, "State directory");
  status->add_flag("--json", *json, "Machine-readable output");
  status->callback([run_dir, json] { std::exit(StatusCmd(*run_dir, *json)); });

  auto purge = std::make_shared<bool>(false);
  auto* down = app.add_subcommand("down", "Stop everything `br2k up` started");
  down->add_option("--run-dir", *run_dir, "State directory");
  down->add_flag("--purge", *purge, "Also delete the run directory (data and logs)");
  down->callback([run_dir, purge] { std::exit(Down(*run_dir, *purge)); });
}

}  // namespace br2k::cli
