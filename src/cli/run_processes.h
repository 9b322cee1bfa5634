// What `up`, `status` and `down` share to find, probe and stop the processes of a run directory:
// the replicas' probes, the identities of recorded processes (proc/ownership.h) and the stray
// sweep. Starting the service is the deployment library's (service_deployment.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "br2k/cluster/local_cluster.h"
#include "br2k/common/run_state.h"
#include "br2k/proc/ownership.h"
#include "br2k/replication/node_process.h"

namespace br2k::cli {

// A replica and what its /status said (probe.healthy false and `error` set when unreachable).
struct ReplicaRow {
  ReplicaState state;
  replication::ReplicaProbe probe;
  bool alive = false;
  std::string error;
};

// Waits until every replica answers /status and one of them is the Leader. UNAVAILABLE (naming
// the log) when a replica exits; DEADLINE_EXCEEDED saying what was last seen.
Status WaitForServiceLeader(const std::vector<ReplicaState>& replicas, Deadline deadline);

std::vector<ReplicaRow> ProbeReplicas(const std::vector<ReplicaState>& replicas, Deadline deadline);

// The identities (proc/ownership.h) of the processes a run state records, to check with
// proc::IsOurs before signalling one of their pids. A record written by an older version has no
// argv for etcd, anvil and the manager: such a record is never taken as ours (the stray sweep,
// ProcessesOfRunDir, still finds those processes by their run directory).
proc::ProcessIdentity IdentityOf(const EtcdMemberState& m);
proc::ProcessIdentity IdentityOf(const ReplicaState& r);
proc::ProcessIdentity AnvilIdentityOf(const ChainState& c);
proc::ProcessIdentity IdentityOf(const ManagerState& m);

// True while the recorded process runs and is still the one we started (proc::IsOurs); reaps it
// when it is our exited child.
bool StillOurs(const proc::ProcessIdentity& recorded);

// Processes of this user that belong to the deployment in `run_dir` although no state file
// may name them, recognised by where `up` puts them: etcd, br2k-logserver and br2k-dashboard
// with a data dir under <run_dir>/volumes/ (the process runtime's volumes; etcd also
// <run_dir>/etcd-*), anvil with --config-out <run_dir>/anvil.json, `br2k manager --run-dir
// <run_dir>`, where both the executable's basename (/proc/<pid>/exe) and argv[0]'s are exactly
// etcd, br2k-logserver, br2k-dashboard, anvil or br2k (never a substring of the command line).
// Never this process. For `br2k down`, so that it leaves nothing behind (e.g. a replica the manager
// restarted while being stopped).
std::vector<int> ProcessesOfRunDir(const std::filesystem::path& run_dir);

}  // namespace br2k::cli
