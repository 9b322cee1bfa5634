// A fleet of br2k-logserver processes for integration tests: a real local etcd cluster (one
// member per node, TestProfile timings) and node i = one `br2k-logserver` child process with id
// "node-<i>", its own etcd member as --local-etcd, a port chosen once (a restarted node keeps its
// URL), a data directory and a log file. Each test keeps its own flags (timings, failpoints,
// chain and trim flags): the fleet adds `args` to every start and the start's own extra args
// after them.
//
// Errors are values: operations return Status/Result (assert on them in the test, e.g.
// `Status s = fleet->Start(0); ASSERT_TRUE(s.ok()) << s;`); nothing here records a gtest failure.
// WaitLeader returns -1 when no node leads in time.
//
// Ownership: the fleet owns the cluster and the node processes; the destructor stops every node
// it still runs (SIGTERM, then SIGKILL) and then the cluster. It does not own `dir` (the caller's
// scratch directory, which must outlive the fleet) and never deletes anything below it.
//
// Thread safety: not thread-safe; one thread drives it. Url, Id, DataDir and LogFile are fixed at
// creation and may be read from any thread meanwhile.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "br2k/cluster/local_cluster.h"
#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/http/client.h"
#include "br2k/proc/process.h"

namespace br2k::testing {

struct LogserverFleetOptions {
  std::filesystem::path dir;  // required, existing: the cluster's and the nodes' files go below it
  int nodes = 3;              // also the number of etcd members
  std::string service = "logs";
  // The executable every node runs (below BinDir()): any binary taking br2k-logserver's node
  // flags (replication::LogserverArgv), e.g. "br2k-dashboard".
  std::string binary = "br2k-logserver";
  std::vector<std::string> args;  // given to every start, before the start's own extra args
  // Extra flags of every etcd member (LocalClusterOptions::extra_args).
  std::vector<std::string> etcd_args;
  // Where node i keeps its data and its log, relative to `dir`; "{i}" stands for the index.
  std::string data_dir = "data-{i}";
  std::string log_file = "node-{i}.log";
  // Set: the etcd cluster runs with TLS and client-certificate authentication from this CA
  // (LocalClusterOptions::tls_ca), and every node gets the cluster's client certificate files
  // (--etcd-ca, --etcd-cert, --etcd-key).
  std::optional<deploy::CertificateAndKey> etcd_tls_ca;
  // How long Start waits for a node to answer GET /status.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(20);
};

class LogserverFleet {
 public:
  // Starts the etcd cluster (LocalClusterOptions::TestProfile(dir, nodes)) and picks one free
  // port per node; starts no node. INVALID_ARGUMENT for a bad `options`; otherwise the errors of
  // LocalCluster::Start and proc::FreePort.
  static Result<std::unique_ptr<LogserverFleet>> Create(LogserverFleetOptions options,
                                                        Deadline deadline);
  ~LogserverFleet();
  LogserverFleet(const LogserverFleet&) = delete;
  LogserverFleet& operator=(const LogserverFleet&) = delete;

  int size() const { return static_cast<int>(ports_.size()); }
  const LogserverFleetOptions& options() const { return options_; }
  // The etcd cluster, for fault injection and its URLs. Owned by the fleet.
  cluster::LocalCluster& cluster() { return *cluster_; }

  // "node-<i>", http://127.0.0.1:<port>, and the paths from the options. i in [0, size()).
  std::string Id(int i) const;
  std::string Url(int i) const;
  std::filesystem::path DataDir(int i) const;
  std::filesystem::path LogFile(int i) const;
  // The command line of node i started with `extra` (options.args, then `extra`).
  std::vector<std::string> Argv(int i, const std::vector<std::string>& extra = {}) const;

  // Spawn, then wait (options.start_timeout) until node i answers GET /status.
  // DEADLINE_EXCEEDED (with the tail of its log) when it does not; the process is then still
  // recorded as running, so Stop or the destructor ends it.
  Status Start(int i, const std::vector<std::string>& extra = {});
  // Starts node i's process (its log appended to LogFile(i), whose folder is created) and returns
  // at once. FAILED_PRECONDITION when node i already runs; otherwise the launcher's error.
  Status Spawn(int i, const std::vector<std::string>& extra = {});
  // SIGTERM, then SIGKILL after 3 s. Does nothing when node i does not run. Never fails.
  void Stop(int i);
  void StopAll();
  // SIGKILL, and wait (10 s) until it is gone. FAILED_PRECONDITION when node i does not run;
  // the node stays recorded as running when the signal or the wait fails.
  Status Kill(int i);
  // Sends `sig` (e.g. SIGSTOP/SIGCONT). FAILED_PRECONDITION when node i does not run.
  Status Signal(int i, int sig);
  // Waits until node i's process ends by itself (e.g. at a failpoint) and forgets it.
  // FAILED_PRECONDITION when node i does not run; DEADLINE_EXCEEDED (still running) otherwise.
  Result<proc::ExitInfo> WaitExit(int i, Deadline deadline);
  // Forgets node i's process without signalling it, for one known to have died.
  void Forget(int i);
  // A restart is Stop/Kill/WaitExit/Forget then Start(i, ...): same port, data dir and log file.

  // Whether a process of node i is recorded (started and not stopped, killed or forgotten).
  bool Running(int i) const { return pids_[i] > 0; }
  // Whether that process still exists (false when none is recorded).
  bool Alive(int i) const;
  pid_t pid(int i) const { return pids_[i]; }
  std::set<int> RunningNodes() const;

  // The first node of `among` whose GET /status says "Leader", polled until `deadline`; -1 when
  // none does in time.
  int WaitLeader(const std::set<int>& among, Deadline deadline) const;

  // For TearDown after a failure: the last `tail_chars` characters of every node's log.
  void DumpLogs(std::ostream& out, size_t tail_chars = 4000) const;

 private:
  LogserverFleet(LogserverFleetOptions options, std::unique_ptr<cluster::LocalCluster> cluster);
  std::filesystem::path Below(const std::string& pattern, int i) const;

  LogserverFleetOptions options_;
  std::unique_ptr<cluster::LocalCluster> cluster_;
  std::shared_ptr<proc::Launcher> launcher_;
  std::vector<int> ports_;
  std::vector<pid_t> pids_;  // 0 = not running
};

// The failover timings the integration tests run their nodes with: a 1 s leader lease, the
// given takeover grace, resignation after 1.5 s without the local member, 5 s per request.
std::vector<std::string> FastFailoverArgs(int takeover_grace_ms = 500);

// X-Br2k-Client / X-Br2k-Seq: the exactly-once session of one request.
std::map<std::string, std::string> SessionHeaders(const std::string& client, uint64_t seq);

// POST <url>/logs {"user": user} as (client, seq); the errors of http::Call.
Result<http::ClientResponse> PostLog(const std::string& url, const std::string& user,
                                     const std::string& client, uint64_t seq, Deadline deadline);

}  // namespace br2k::testing
