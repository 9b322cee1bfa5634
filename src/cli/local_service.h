// The replicated sample service as `br2k up` runs it: one br2k-logserver replica beside each
// etcd member of the local cluster.
#pragma once

#include <filesystem>
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

// Starts one replica per etcd member (node-<i> beside etcd-<i>), data and logs under
// <run_dir>/node-<i>/. The binary is br2k-logserver next to the running executable (or
// $BR2K_LOGSERVER_BIN). On failure nothing it started is left running.
Result<std::vector<ReplicaState>> StartReplicas(const std::vector<EtcdMemberState>& members,
                                                const std::filesystem::path& run_dir,
                                                const std::string& service, bool detach);

// Waits until every replica answers /status and one of them is the Leader.
Status WaitForServiceLeader(const std::vector<ReplicaState>& replicas, Deadline deadline);

std::vector<ReplicaRow> ProbeReplicas(const std::vector<ReplicaState>& replicas, Deadline deadline);

// Stops the replicas (SIGTERM, then SIGKILL). Only pids still running `binary_name` are
// signalled (pids get reused). Returns how many were stopped.
int StopProcesses(const std::vector<int>& pids, const std::string& binary_name);

// True when /proc/<pid>/cmdline mentions `needle`.
bool ProcessRuns(int pid, const std::string& needle);

}  // namespace br2k::cli
