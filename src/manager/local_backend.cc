#include "br2k/manager/local_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <thread>

#include "br2k/manager/local_recovery.h"
#include "br2k/manager/state_lock.h"
#include "br2k/proc/ownership.h"

namespace br2k::manager {

using namespace std::chrono_literals;

namespace {

std::string BinaryName(const ReplicaState& r) {
  return r.argv.empty() ? "" : std::filesystem::path(r.argv.front()).filename().string();
}

// A line in the replica's log saying why it starts again (the log is appended to).
void MarkRestart(const ReplicaState& r) {
  if (r.log_file.empty()) return;
  std::ofstream out(r.log_file, std::ios::app);
  std::time_t t = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  out << "---- " << when << " br2k manager (local backend): restarting " << r.id
      << " (previous pid " << r.pid << " is gone) ----\n";
}

}  // namespace

LocalBackend::LocalBackend(LocalBackendOptions options) : options_(std::move(options)) {
  if (!options_.launcher) options_.launcher = proc::PosixLauncher();
  if (!options_.prober) options_.prober = MakeHttpHealthProber();
}

Result<RunState> LocalBackend::LoadState() const {
  const auto file = options_.run_dir / "state.json";
  auto s = RunState::Load(file);
  if (s.ok()) return s;
  if (s.status().code() == StatusCode::kNotFound) {
    return FailedPreconditionError("nothing is deployed in " + options_.run_dir.string() + " (" +
                                   file.string() + " is missing: stopped by `br2k down`?)");
  }
  return FailedPreconditionError(s.status().message());
}

Status LocalBackend::CheckServed(const eth::ServiceId& service, const RunState& state) const {
  if (!options_.services.empty()) {
    if (std::find(options_.services.begin(), options_.services.end(), service) !=
        options_.services.end()) {
      return Status::Ok();
    }
    return NotFoundError("service " + service.ToHex() +
                         " is not deployed by the local backend of " + options_.run_dir.string());
  }
  if (!state.chain || state.chain->service_name.empty()) {
    return FailedPreconditionError("the run state in " + options_.run_dir.string() +
                                   " names no registry service (no chain section): configure "
                                   "the local backend's service ids");
  }
  if (eth::ServiceIdFromName(state.chain->service_name) != service) {
    return NotFoundError("service " + service.ToHex() +
                         " is not deployed by the local backend of " + options_.run_dir.string() +
                         " (it deploys \"" + state.chain->service_name + "\")");
  }
  return Status::Ok();
}

Status LocalBackend::CheckDeployable(const eth::RecoveryInfo& info, const RunState& state) const {
  for (const auto& r : state.replicas) {
    if (r.argv.empty()) {
      return FailedPreconditionError("replica " + r.id + " in " + options_.run_dir.string() +
                                     "/state.json has no recorded command line (argv): it "
                                     "cannot be restarted; restart the deployment with `br2k up`");
    }
  }
  LocalDeployment have{.run_dir = options_.run_dir,
                       .replicas = state.replicas.size(),
                       .binary_name = state.replicas.empty() ? "" : BinaryName(state.replicas[0])};
  return CheckLocalRecoveryInfo(info, have);
}

bool LocalBackend::IsRunning(const ReplicaState& r) const {
  if (options_.is_running) return options_.is_running(r);
  if (r.pid <= 0 || !options_.launcher->Alive(r.pid)) return false;
  return proc::IsOurs({.pid = r.pid, .argv = r.argv, .start_time = r.start_time});
}

Result<std::vector<std::string>> LocalBackend::Endpoints(const eth::ServiceId& service,
                                                         Deadline /*deadline*/) {
  BR2K_ASSIGN_OR_RETURN(auto state, LoadState());
  BR2K_RETURN_IF_ERROR(CheckServed(service, state));
  std::vector<std::string> urls;
  for (const auto& r : state.replicas) urls.push_back(r.url);
  return urls;
}

Status LocalBackend::Check(const eth::ServiceId& service, const eth::RecoveryInfo& info,
                           Deadline /*deadline*/) {
  BR2K_ASSIGN_OR_RETURN(auto state, LoadState());
  BR2K_RETURN_IF_ERROR(CheckServed(service, state));
  return CheckDeployable(info, state);
}

Result<DeployReport> LocalBackend::Deploy(const eth::ServiceId& service,
                                          const eth::RecoveryInfo& info, Deadline deadline) {
  DeployReport report;
  std::vector<ReplicaState> started;
  Status spawn_error;
  {
    BR2K_ASSIGN_OR_RETURN(
        auto lock, StateLock::Acquire(options_.run_dir, deadline.Cap(options_.lock_timeout)));
    BR2K_ASSIGN_OR_RETURN(auto state, LoadState());
    BR2K_RETURN_IF_ERROR(CheckServed(service, state));
    BR2K_RETURN_IF_ERROR(CheckDeployable(info, state));
    for (auto& r : state.replicas) {
      if (IsRunning(r)) {
        report.already_running.push_back(r.id + " (pid " + std::to_string(r.pid) + ")");
        continue;
      }
      MarkRestart(r);
      auto pid = options_.launcher->Spawn(
          proc::SpawnSpec{.argv = r.argv, .log_file = r.log_file, .detach = true});
      if (!pid.ok()) {
        spawn_error = UnavailableError("cannot restart " + r.id + ": " + pid.status().ToString() +
                                       " (log " + r.log_file + ")");
        break;
      }
      spdlog::info("local backend: restarted {} as pid {} (was {})", r.id, *pid, r.pid);
      r.pid = *pid;
      r.start_time = proc::IdentityAfterSpawn(r.pid, r.argv).start_time;
      report.started.push_back(r.id + " (pid " + std::to_string(r.pid) + ")");
      started.push_back(r);
    }
    for (const auto& m : state.etcd) {
      if (m.pid <= 0 || !options_.launcher->Alive(m.pid)) {
        report.warnings.push_back("etcd member " + m.name + " (pid " + std::to_string(m.pid) +
                                  ") is not running; the local backend restarts replicas only");
      }
    }
    // Record what runs now, also after a partial failure (so `br2k down` stops it).
    if (!started.empty()) {
      BR2K_RETURN_IF_ERROR(state.Save(options_.run_dir / "state.json")
                               .WithContext("recording the restarted replicas' pids"));
    }
  }
  BR2K_RETURN_IF_ERROR(spawn_error);

  // Wait until each restarted replica answers /health, or fails.
  std::vector<ReplicaState> pending = started;
  std::string last;
  while (!pending.empty()) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (!IsRunning(*it)) {
        auto exit = options_.launcher->Wait(it->pid, Deadline::After(100ms));
        return UnavailableError(it->id + " exited right after its restart" +
                                (exit.ok() ? " (" + exit->ToString() + ")" : std::string()) +
                                "; see " + it->log_file);
      }
      auto h = options_.prober->Probe(it->url, deadline.Cap(1s));
      if (h.healthy) {
        it = pending.erase(it);
      } else {
        last = it->id + ": " + h.error;
        ++it;
      }
    }
    if (pending.empty()) break;
    if (deadline.expired()) {
      return DeadlineExceededError("restarted replicas do not answer /health in time (" + last +
                                   ")");
    }
    std::this_thread::sleep_for(std::min<Deadline::Clock::duration>(50ms, deadline.remaining()));
  }
  return report;
}

}  // namespace br2k::manager
