#include "local_service.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "br2k/proc/process.h"

namespace br2k::cli {

using namespace std::chrono_literals;

namespace {

std::filesystem::path LogserverBinary() {
  if (const char* env = std::getenv("BR2K_LOGSERVER_BIN"); env && *env) return env;
  return std::filesystem::read_symlink("/proc/self/exe").parent_path() / "br2k-logserver";
}

}  // namespace

bool ProcessRuns(int pid, const std::string& needle) {
  if (pid <= 0) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmd.find(needle) != std::string::npos;
}

int StopProcesses(const std::vector<int>& pids, const std::string& binary_name) {
  auto launcher = proc::PosixLauncher();
  int stopped = 0;
  for (int pid : pids) {
    if (pid <= 0 || !launcher->Alive(pid) || !ProcessRuns(pid, binary_name)) continue;
    if (proc::Terminate(*launcher, pid, 5s).ok()) ++stopped;
  }
  return stopped;
}

Result<std::vector<ReplicaState>> StartReplicas(const std::vector<EtcdMemberState>& members,
                                                const std::filesystem::path& run_dir,
                                                const std::string& service, bool detach) {
  const auto binary = LogserverBinary();
  if (::access(binary.c_str(), X_OK) != 0) {
    return FailedPreconditionError("cannot run " + binary.string() +
                                   " (build it with `make`, or set BR2K_LOGSERVER_BIN)");
  }
  std::vector<std::string> urls;
  for (const auto& m : members) urls.push_back(m.client_url);
  std::vector<ReplicaState> out;
  auto fail = [&](Status st) -> Status {
    std::vector<int> pids;
    for (const auto& r : out) pids.push_back(r.pid);
    StopProcesses(pids, "br2k-logserver");
    return st;
  };
  for (size_t i = 0; i < members.size(); ++i) {
    auto port = proc::FreePort();
    if (!port.ok()) return fail(port.status());
    replication::LogserverNode node;
    node.id = "node-" + std::to_string(i);
    node.service = service;
    node.listen_port = *port;
    node.etcd_urls = urls;
    node.local_etcd_url = members[i].client_url;
    node.data_dir = run_dir / node.id;
    std::error_code ec;
    std::filesystem::create_directories(node.data_dir, ec);
    ReplicaState r;
    r.id = node.id;
    r.url = "http://" + node.host + ":" + std::to_string(node.listen_port);
    r.etcd_member = members[i].name;
    r.data_dir = node.data_dir.string();
    r.log_file = (node.data_dir / "logserver.log").string();
    r.argv = replication::LogserverArgv(binary, node);
    auto pid = proc::PosixLauncher()->Spawn(
        proc::SpawnSpec{.argv = r.argv, .log_file = r.log_file, .detach = detach});
    if (!pid.ok()) return fail(pid.status().WithContext("starting " + node.id));
    r.pid = *pid;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<ReplicaRow> ProbeReplicas(const std::vector<ReplicaState>& replicas,
                                      Deadline deadline) {
  std::vector<ReplicaRow> rows;
  for (const auto& r : replicas) {
    ReplicaRow row{.state = r};
    row.alive = r.pid > 0 && proc::PosixLauncher()->Alive(r.pid);
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
        return UnavailableError(row.state.id + " exited; see " + row.state.log_file);
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
  return DeadlineExceededError("the service did not elect a leader in time (" + why + ")");
}

}  // namespace br2k::cli
