#include "run_processes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "br2k/proc/process.h"

namespace br2k::cli {

using namespace std::chrono_literals;

proc::ProcessIdentity IdentityOf(const EtcdMemberState& m) {
  return {.pid = m.pid, .argv = m.argv, .start_time = m.start_time};
}
proc::ProcessIdentity IdentityOf(const ReplicaState& r) {
  return {.pid = r.pid, .argv = r.argv, .start_time = r.start_time};
}
proc::ProcessIdentity AnvilIdentityOf(const ChainState& c) {
  return {.pid = c.anvil_pid, .argv = c.anvil_argv, .start_time = c.anvil_start_time};
}
proc::ProcessIdentity IdentityOf(const ManagerState& m) {
  return {.pid = m.pid, .argv = m.argv, .start_time = m.start_time};
}

bool StillOurs(const proc::ProcessIdentity& recorded) {
  // Alive() first: it reaps an exited child of ours, which /proc shows as a zombie until then.
  return recorded.pid > 0 && proc::PosixLauncher()->Alive(recorded.pid) && proc::IsOurs(recorded);
}

std::vector<int> ProcessesOfRunDir(const std::filesystem::path& run_dir) {
  const std::string dir = run_dir.lexically_normal().string();
  std::vector<int> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(proc::kProcRoot, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 9 ||
        name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    int pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || st.st_uid != ::getuid()) continue;
    auto seen = proc::CaptureIdentity(pid);
    if (!seen.ok() || seen->argv.empty()) continue;
    const auto& args = seen->argv;
    // The executable itself, not just argv[0] (which any process may set, `exec -a etcd ...`),
    // must be one of ours, by its exact basename.
    const std::string bin = std::filesystem::path(seen->exe).filename().string();
    if (bin != std::filesystem::path(args[0]).filename().string()) continue;
    // Only the exact places `up` puts them, so that a run directory that also holds other
    // things (e.g. --run-dir ~) never matches someone else's process.
    auto matches = [&](const std::string& value) {
      // Pods of the process runtime keep their data in <run_dir>/volumes/; `up --no-service`'s
      // etcd-only cluster in <run_dir>/etcd-*.
      if (bin == "etcd")
        return value.starts_with(dir + "/volumes/") || value.starts_with(dir + "/etcd-");
      // The log server's and the dashboard's replicas (their pods' data volumes).
      if (bin == "br2k-logserver" || bin == "br2k-dashboard")
        return value.starts_with(dir + "/volumes/");
      if (bin == "anvil") return value == dir + "/anvil.json";
      if (bin == "br2k") return args.size() > 1 && args[1] == "manager" && value == dir;
      return false;
    };
    bool ours = false;
    for (size_t i = 1; i < args.size() && !ours; ++i) {
      const std::string& a = args[i];
      ours = matches(a.find('=') != std::string::npos ? a.substr(a.find('=') + 1) : a);
    }
    if (ours && proc::PosixLauncher()->Alive(pid)) out.push_back(pid);
  }
  return out;
}

std::vector<ReplicaRow> ProbeReplicas(const std::vector<ReplicaState>& replicas,
                                      Deadline deadline) {
  std::vector<ReplicaRow> rows;
  for (const auto& r : replicas) {
    ReplicaRow row{.state = r};
    // pid 0: a replica in a pod (`up --containers`), not our child: judged by its URL alone.
    row.alive = r.pid == 0 || proc::PosixLauncher()->Alive(r.pid);
    if (!row.alive) {
      row.error = "process " + std::to_string(r.pid) + " is not running";
      row.probe.healthy = false;
    } else {
      auto p = replication::ProbeReplica(r.url, deadline.Cap(1s));
      if (p.ok()) {
        row.probe = *p;
      } else {
        row.probe.healthy = false;
        row.error = p.status().message();
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status WaitForServiceLeader(const std::vector<ReplicaState>& replicas, Deadline deadline) {
  std::string why = "not probed yet";
  while (!deadline.expired()) {
    auto rows = ProbeReplicas(replicas, deadline);
    int leaders = 0;
    bool all = true;
    for (const auto& row : rows) {
      if (!row.alive) {
        std::string tail = proc::TailOfFile(row.state.log_file, 6, "    ");
        return UnavailableError(row.state.id + " exited; see " + row.state.log_file +
                                (tail.empty() ? "" : ", which ends:\n" + tail));
      }
      if (!row.error.empty()) {
        all = false;
        why = row.state.id + ": " + row.error;
      }
      leaders += row.probe.role == "Leader";
    }
    if (all && leaders == 1) return Status::Ok();
    if (all) why = "no replica leads yet";
    std::this_thread::sleep_for(100ms);
  }
  return DeadlineExceededError("the service did not elect a leader in time (" + why + "; logs: " +
                               (replicas.empty() ? std::string("-") : replicas[0].log_file) +
                               " and the other replicas')");
}

}  // namespace br2k::cli
