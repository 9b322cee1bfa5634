// br2k up | status | down: the local deployment (for now: the etcd cluster).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/cluster/local_cluster.h"
#include "br2k/common/run_state.h"
#include "commands.h"
#include "local_service.h"
#include "run_dir.h"

namespace br2k::cli {

using namespace std::chrono_literals;

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "br2k: %s\n", message.c_str());
  return 1;
}

// A pid from a state file is only ours to signal if it still runs etcd (pids get reused).
bool RunsEtcd(pid_t pid) {
  return ProcessRuns(pid, "etcd");
}

bool AnyAlive(const RunState& s) {
  for (const auto& m : s.etcd) {
    if (m.pid > 0 && proc::PosixLauncher()->Alive(m.pid) && RunsEtcd(m.pid)) return true;
  }
  for (const auto& r : s.replicas) {
    if (r.pid > 0 && proc::PosixLauncher()->Alive(r.pid) && ProcessRuns(r.pid, "br2k-logserver")) {
      return true;
    }
  }
  return false;
}

std::vector<int> ReplicaPids(const std::vector<ReplicaState>& replicas) {
  std::vector<int> pids;
  for (const auto& r : replicas) pids.push_back(r.pid);
  return pids;
}

nlohmann::json StatusJson(const RunState& s, const std::vector<cluster::MemberHealth>& health,
                          const std::vector<ReplicaRow>& replicas) {
  nlohmann::json etcd = nlohmann::json::array();
  for (const auto& h : health) {
    nlohmann::json m = {
        {"name", h.name},       {"client_url", h.client_url}, {"pid", h.pid},
        {"healthy", h.healthy}, {"is_leader", h.is_leader},   {"raft_term", h.raft_term}};
    if (!h.error.empty()) m["error"] = h.error;
    etcd.push_back(std::move(m));
  }
  nlohmann::json reps = nlohmann::json::array();
  nlohmann::json service = nullptr;
  for (const auto& r : replicas) {
    nlohmann::json j = {
        {"id", r.state.id},   {"role", r.probe.role},       {"lpi", r.probe.lpi},
        {"ssi", r.probe.ssi}, {"ls", r.probe.ls},           {"url", r.state.url},
        {"pid", r.state.pid}, {"healthy", r.error.empty()}, {"etcd_member", r.state.etcd_member}};
    if (!r.error.empty()) j["error"] = r.error;
    if (r.probe.role == "Leader") {
      service = {{"id", s.service}, {"leader", r.state.id}, {"location", r.state.url}};
    }
    reps.push_back(std::move(j));
  }
  if (service.is_null() && !s.service.empty()) {
    service = {{"id", s.service}, {"leader", nullptr}, {"location", nullptr}};
  }
  return {{"run_dir", s.run_dir},
          {"detached", s.detached},
          {"etcd", std::move(etcd)},
          {"service", service},
          {"replicas", std::move(reps)}};
}

void PrintReplicas(const std::vector<ReplicaRow>& rows) {
  if (rows.empty()) return;
  std::printf("\n%-8s %-9s %-7s %-7s %-7s %-8s %s\n", "REPLICA", "ROLE", "LPI", "SSI", "LS", "PID",
              "LOCATION");
  for (const auto& r : rows) {
    std::string role = r.error.empty() ? r.probe.role : "down: " + r.error;
    std::printf("%-8s %-9s %-7llu %-7llu %-7llu %-8d %s\n", r.state.id.c_str(), role.c_str(),
                static_cast<unsigned long long>(r.probe.lpi),
                static_cast<unsigned long long>(r.probe.ssi),
                static_cast<unsigned long long>(r.probe.ls), r.state.pid, r.state.url.c_str());
  }
}

void PrintHowToCall(const std::vector<ReplicaRow>& rows) {
  for (const auto& r : rows) {
    if (r.probe.role != "Leader") continue;
    std::printf(
        "\ntry the replicated log server (any replica answers; followers redirect):\n"
        "  curl -sL -XPOST %s/logs -H 'X-Br2k-Client: me' -H 'X-Br2k-Seq: 1' "
        "-d '{\"user\": \"alice\"}'\n"
        "  curl -sL %s/logs\n",
        r.state.url.c_str(), r.state.url.c_str());
    return;
  }
}

void PrintTable(const std::vector<cluster::MemberHealth>& health) {
  std::printf("%-8s %-9s %-8s %-26s %s\n", "NODE", "ROLE", "PID", "CLIENT URL", "HEALTH");
  for (const auto& h : health) {
    const char* role = !h.healthy ? "-" : h.is_leader ? "leader" : "follower";
    std::string state = h.healthy ? "healthy" : "unhealthy: " + h.error;
    std::printf("%-8s %-9s %-8d %-26s %s\n", h.name.c_str(), role, h.pid, h.client_url.c_str(),
                state.c_str());
  }
}

struct UpFlags {
  std::string run_dir;
  int members = 3;
  bool detach = false;
  int heartbeat_ms = 100;
  int election_ms = 1000;
  std::string etcd_binary = "etcd";
  bool no_service = false;
};

int Up(const UpFlags& f) {
  const auto run_dir = ResolveRunDir(f.run_dir);
  const auto state_file = StateFile(run_dir);
  auto existing = RunState::Load(state_file);
  if (existing.ok()) {
    if (AnyAlive(*existing)) {
      auto health = cluster::ProbeMembers(existing->etcd, Deadline::After(5s));
      std::printf("br2k: already running from %s; reusing it (stop it with `br2k down`)\n",
                  run_dir.c_str());
      PrintTable(health);
      PrintReplicas(ProbeReplicas(existing->replicas, Deadline::After(5s)));
      return 0;
    }
    std::printf("br2k: removing stale state of a previous run (no process left)\n");
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return Fail(existing.status().message() + " (remove it or run `br2k down`)");
  }

  // Block the stop signals before any thread exists, so the wait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  if (!f.detach) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  cluster::LocalClusterOptions o;
  o.members = f.members;
  o.run_dir = run_dir;
  o.etcd_binary = f.etcd_binary;
  o.heartbeat_ms = f.heartbeat_ms;
  o.election_ms = f.election_ms;
  o.detach = f.detach;
  std::printf("br2k: starting %d etcd members (heartbeat %d ms, election %d ms) in %s ...\n",
              f.members, f.heartbeat_ms, f.election_ms, run_dir.c_str());
  std::fflush(stdout);
  auto started_at = std::chrono::steady_clock::now();
  auto c = cluster::LocalCluster::Start(o, Deadline::After(60s));
  if (!c.ok()) return Fail(c.status().message());
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at);
  std::printf("br2k: etcd cluster healthy in %.1f s\n\n", took.count());

  RunState s;
  s.run_dir = run_dir.string();
  s.started_at_unix = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  s.heartbeat_ms = f.heartbeat_ms;
  s.election_ms = f.election_ms;
  s.detached = f.detach;
  s.owner_pid = f.detach ? 0 : ::getpid();
  s.etcd = (*c)->ToState();
  if (Status st = s.Save(state_file); !st.ok()) return Fail(st.message());

  if (!f.no_service) {
    std::printf("br2k: starting %zu replicas of the sample service (br2k-logserver) ...\n",
                s.etcd.size());
    std::fflush(stdout);
    auto reps = StartReplicas(s.etcd, run_dir, "logserver", f.detach);
    Status st = reps.ok() ? Status::Ok() : reps.status();
    if (st.ok()) {
      s.service = "logserver";
      s.replicas = *reps;
      st = s.Save(state_file);
      if (st.ok()) st = WaitForServiceLeader(s.replicas, Deadline::After(60s));
    }
    if (!st.ok()) {
      StopProcesses(ReplicaPids(s.replicas), "br2k-logserver");
      (void)(*c)->Stop();
      std::error_code ec;
      std::filesystem::remove(state_file, ec);
      return Fail(st.message());
    }
    std::printf("br2k: the service has a leader\n\n");
  }

  PrintTable((*c)->Health(Deadline::After(5s)));
  auto rows = ProbeReplicas(s.replicas, Deadline::After(5s));
  PrintReplicas(rows);
  std::printf("\netcd endpoints: ");
  for (const auto& u : (*c)->client_urls()) std::printf("%s ", u.c_str());
  std::printf("\n");
  PrintHowToCall(rows);
  if (f.detach) {
    std::printf("br2k: running in the background. `br2k status` shows it, `br2k down` stops it.\n");
    return 0;
  }
  std::printf("br2k: running. Press Ctrl-C to stop (or run `br2k down` elsewhere).\n");
  std::fflush(stdout);

  // Wait for a stop signal, or for `br2k down` (which removes the state file).
  while (true) {
    timespec tick{0, 500'000'000};
    int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig > 0) {
      std::printf("\nbr2k: stopping ...\n");
      break;
    }
    if (!std::filesystem::exists(state_file)) {
      std::printf("br2k: state removed by `br2k down`; stopping\n");
      break;
    }
    for (const auto& m : (*c)->members()) {
      if (m.pid > 0 && !proc::PosixLauncher()->Alive(m.pid)) {
        spdlog::warn("{} (pid {}) exited", m.name, m.pid);
      }
    }
  }
  StopProcesses(ReplicaPids(s.replicas), "br2k-logserver");
  Status st = (*c)->Stop();
  std::error_code ec;
  std::filesystem::remove(state_file, ec);
  if (!st.ok()) return Fail(st.message());
  std::printf("br2k: stopped\n");
  return 0;
}

int StatusCmd(const std::string& run_dir_flag, bool json) {
  const auto run_dir = ResolveRunDir(run_dir_flag);
  auto s = RunState::Load(StateFile(run_dir));
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
  auto health = cluster::ProbeMembers(s->etcd, Deadline::After(5s));
  auto rows = ProbeReplicas(s->replicas, Deadline::After(5s));
  bool all_healthy = !health.empty();
  for (const auto& h : health) all_healthy &= h.healthy;
  for (const auto& r : rows) all_healthy &= r.error.empty();
  if (json) {
    auto doc = StatusJson(*s, health, rows);
    doc["running"] = true;
    std::cout << doc.dump(2) << "\n";
  } else {
    std::printf("run dir %s%s\n", s->run_dir.c_str(), s->detached ? " (detached)" : "");
    PrintTable(health);
    PrintReplicas(rows);
  }
  return all_healthy ? 0 : 1;
}

int Down(const std::string& run_dir_flag, bool purge) {
  const auto run_dir = ResolveRunDir(run_dir_flag);
  const auto state_file = StateFile(run_dir);
  auto s = RunState::Load(state_file);
  if (!s.ok()) {
    if (s.status().code() == StatusCode::kNotFound) {
      std::printf("br2k: nothing is running in %s\n", run_dir.c_str());
      if (purge) std::filesystem::remove_all(run_dir);
      return 0;
    }
    return Fail(s.status().message());
  }
  auto launcher = proc::PosixLauncher();
  int stopped = StopProcesses(ReplicaPids(s->replicas), "br2k-logserver");
  Status first;
  for (const auto& m : s->etcd) {
    if (m.pid <= 0 || !launcher->Alive(m.pid) || !RunsEtcd(m.pid)) continue;
    Status st = proc::Terminate(*launcher, m.pid, 5s);
    if (st.ok()) {
      ++stopped;
    } else if (first.ok()) {
      first = st.WithContext(m.name);
    }
  }
  if (!first.ok()) return Fail(first.message());
  std::error_code ec;
  std::filesystem::remove(state_file, ec);
  if (purge) std::filesystem::remove_all(run_dir, ec);
  std::printf("br2k: stopped %d process(es)%s\n", stopped, purge ? "; run dir removed" : "");
  return 0;
}

}  // namespace

void RegisterClusterCommands(CLI::App& app) {
  auto flags = std::make_shared<UpFlags>();
  auto* up = app.add_subcommand(
      "up",
      "Start the local deployment: an etcd cluster (and, as they land, the chain, the "
      "replicated sample service and the manager)");
  up->add_option("--run-dir", flags->run_dir, "State directory (default $BR2K_RUN_DIR or ./.br2k)");
  up->add_option("--members", flags->members, "Number of etcd members")
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
  up->add_flag("--no-service", flags->no_service, "Start only the etcd cluster");
  up->callback([flags] { std::exit(Up(*flags)); });

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
