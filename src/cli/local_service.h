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

// Stops the processes (SIGTERM, then SIGKILL). Only pids still running `binary_name` are
// signalled (pids get reused). Returns how many were stopped.
int StopProcesses(const std::vector<int>& pids, const std::string& binary_name);

// True when /proc/<pid>/cmdline mentions `needle`.
bool ProcessRuns(int pid, const std::string& needle);

// Writes to etcd (a scratch key, /br2k-up/revision-floor) until the cluster's revision is above
// `revision`. The service's fencing epochs are etcd revisions; a registry entry reused from an
// earlier etcd cluster may hold an epoch the fresh cluster has not reached, and a leader below it
// could never publish its location. FAILED_PRECONDITION when it is more than kMaxRevisionRaise
// away (register the service under another name instead); errors of the etcd client.
inline constexpr int64_t kMaxRevisionRaise = 50'000;
Status RaiseEtcdRevision(const std::vector<std::string>& endpoints, int64_t revision,
                         Deadline deadline);

// Processes of this user that belong to the deployment in `run_dir` although no state file
// may name them, recognised by where `up` puts them: etcd with a data dir under
// <run_dir>/etcd-*, br2k-logserver under <run_dir>/node-*, anvil with --config-out
// <run_dir>/anvil.json, `br2k manager --run-dir <run_dir>`. Never this process. For `br2k down`,
// so that it leaves nothing behind (e.g. a replica the manager restarted while being stopped).
std::vector<int> ProcessesOfRunDir(const std::filesystem::path& run_dir);

}  // namespace br2k::cli
