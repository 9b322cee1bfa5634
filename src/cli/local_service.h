// The replicated sample service as `br2k up` runs it: one br2k-logserver replica beside each
// etcd member of the local cluster, and the helpers `up`, `status` and `down` share to find,
// probe and stop the processes of a run directory.
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

struct ReplicaSetOptions {
  std::filesystem::path run_dir;  // replica i keeps data and log in <run_dir>/node-<i>/
  std::string service = "logserver";
  // The HTTP port of each replica (one per etcd member), chosen beforehand so that the URLs are
  // known before anything starts (PickPorts). Empty: free ports now.
  std::vector<int> ports;
  bool detach = false;  // replicas outlive this process
  // Publish the leader's location in this registry: each replica gets --rpc-url, --registry,
  // --service-name, --chain-id, its own --operator-key-file (operator_key_files[i]) and the
  // service's --tx-key-file.
  std::optional<ChainState> chain;
  std::vector<std::string> extra_args;  // appended to every replica's command line
};

// `n` distinct free loopback ports.
Result<std::vector<int>> PickPorts(size_t n);
// http://127.0.0.1:<port>, the URL a replica on `port` advertises.
std::string ReplicaUrl(int port);

// Starts one replica per etcd member (node-<i> beside etcd-<i>). A replica's data directory is
// emptied first: a fresh etcd cluster starts a fresh service history, and local state from an
// earlier run would be ahead of it. The binary is br2k-logserver next to the running executable
// (or $BR2K_LOGSERVER_BIN). FAILED_PRECONDITION when it cannot be run or the options do not fit
// the members (port or operator key count); on failure nothing it started is left running.
Result<std::vector<ReplicaState>> StartReplicas(const std::vector<EtcdMemberState>& members,
                                                const ReplicaSetOptions& options);

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

// Stops the processes that are still ours (SIGTERM, then SIGKILL); any other process is left
// alone (pids get reused). Returns how many were stopped.
int StopProcesses(const std::vector<proc::ProcessIdentity>& processes);

// etcd::RaiseRevisionAbove (etcd/revision_floor.h) on a client of `endpoints`.
Status RaiseEtcdRevision(const std::vector<std::string>& endpoints, int64_t revision,
                         Deadline deadline);

// Processes of this user that belong to the deployment in `run_dir` although no state file
// may name them, recognised by where `up` puts them: etcd and br2k-logserver with a data dir
// under <run_dir>/volumes/ (the process runtime's volumes; etcd also <run_dir>/etcd-*), anvil with
// --config-out <run_dir>/anvil.json, `br2k manager --run-dir <run_dir>`, where both the
// executable's basename (/proc/<pid>/exe) and argv[0]'s are exactly etcd, br2k-logserver, anvil or
// br2k (never a substring of the command line). Never this process. For `br2k down`, so that it
// leaves nothing behind (e.g. a replica the manager restarted while being stopped).
std::vector<int> ProcessesOfRunDir(const std::filesystem::path& run_dir);

}  // namespace br2k::cli
