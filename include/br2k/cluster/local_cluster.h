// A local etcd cluster: N etcd members as child processes on free loopback ports, each with its
// own data directory under a run directory. Used by `br2k up`, by integration tests and by
// benchmarks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/run_state.h"
#include "br2k/common/status.h"
#include "br2k/deploy/pki.h"
#include "br2k/etcd/tls.h"
#include "br2k/etcd/types.h"
#include "br2k/proc/ownership.h"
#include "br2k/proc/process.h"

namespace br2k::cluster {

struct LocalClusterOptions {
  int members = 3;
  std::filesystem::path run_dir;  // required; member i uses <run_dir>/etcd-i/
  std::string etcd_binary = "etcd";
  std::string host = "127.0.0.1";
  int heartbeat_ms = 100;
  int election_ms = 1000;
  // Without pre-vote an isolated member that rejoins forces a needless election.
  bool pre_vote = true;
  // Appended to every member's command line, e.g. {"--quota-backend-bytes=33554432"} (tests
  // of etcd's storage quota). They are not checked here; etcd refuses unknown flags at start.
  std::vector<std::string> extra_args;
  bool detach = false;                       // members outlive this process (br2k up --detach)
  std::shared_ptr<proc::Launcher> launcher;  // default: proc::PosixLauncher()
  // Set: client and peer traffic use TLS with certificates from this CA, and every member
  // requires a client certificate it signed (--client-cert-auth, --peer-client-cert-auth).
  // Start issues each member a certificate (SAN: `host`, localhost) and one client certificate
  // for this cluster's own probes and for its callers (client_tls()), and writes them under
  // <run_dir>/tls/ and <run_dir>/etcd-i/tls/ (keys 0600). The CA's key is not written anywhere.
  std::optional<deploy::CertificateAndKey> tls_ca;

  // Faster elections for tests: heartbeat 50 ms, election 500 ms.
  static LocalClusterOptions TestProfile(std::filesystem::path run_dir, int members = 3);
};

struct MemberInfo {
  std::string name;        // etcd-<i>
  std::string client_url;  // http://127.0.0.1:<port> (https:// with TLS)
  std::string peer_url;
  std::filesystem::path data_dir;
  std::filesystem::path log_file;
  pid_t pid = 0;  // 0 while stopped
  // Who `pid` is (its argv and start time), recorded in state.json so that a reused pid is never
  // taken for the member (proc/ownership.h).
  proc::ProcessIdentity identity;
};

// Health of one member as `br2k status` reports it.
struct MemberHealth {
  std::string name;
  std::string client_url;
  pid_t pid = 0;
  bool healthy = false;  // answers Status, sees a leader, reports no errors
  bool is_leader = false;
  uint64_t member_id = 0;
  uint64_t raft_term = 0;
  std::string error;  // why it is not healthy
};

// Not thread-safe: one owner drives it. The destructor stops every member it started (unless
// detached, then they keep running; use `br2k down` or Stop()).
class LocalCluster {
 public:
  // Starts the members and waits until every one answers and they agree on a leader.
  // Retries with new ports when one was taken meanwhile. FAILED_PRECONDITION when the etcd
  // binary is missing; DEADLINE_EXCEEDED (with the tail of the member logs) when the cluster
  // does not become healthy in time.
  static Result<std::unique_ptr<LocalCluster>> Start(LocalClusterOptions options,
                                                     Deadline deadline);
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  const std::vector<MemberInfo>& members() const { return members_; }
  // Client URLs of all members, in member order.
  std::vector<std::string> client_urls() const;
  const LocalClusterOptions& options() const { return options_; }
  // With tls_ca: the client TLS material (CA, a client certificate of this cluster's CA and its
  // key) that reaches the members; without: an EtcdTls that is not enabled.
  const etcd::EtcdTls& client_tls() const { return client_tls_; }

  // Index of the member that is the Raft leader. UNAVAILABLE when there is none right now.
  Result<int> LeaderIndex(Deadline deadline) const;
  // Waits until every running member answers and they agree on one leader.
  Status WaitHealthy(Deadline deadline) const;
  std::vector<MemberHealth> Health(Deadline deadline) const;

  // Fault injection for tests.
  Status KillMember(int index, int sig = 9);  // default SIGKILL; waits for the process to go
  Status PauseMember(int index);              // SIGSTOP; returns once the process is stopped
  Status ResumeMember(int index);             // SIGCONT
  Status RestartMember(int index, Deadline deadline);  // starts a stopped member again
  // Replaces LocalClusterOptions::extra_args for the members (re)started from now on, e.g. a
  // larger --quota-backend-bytes before RestartMember.
  void set_extra_args(std::vector<std::string> args) { options_.extra_args = std::move(args); }
  // Stops every member (SIGTERM, then SIGKILL). Idempotent.
  Status Stop();

  // The run-state section describing this cluster (for state.json).
  std::vector<EtcdMemberState> ToState() const;

 private:
  explicit LocalCluster(LocalClusterOptions options);
  Status StartMember(int index, bool initial);
  std::vector<std::string> MemberArgs(int index, bool initial) const;
  Status WriteTlsFiles();

  etcd::EtcdTls client_tls_;
  LocalClusterOptions options_;
  std::vector<MemberInfo> members_;
  std::string initial_cluster_;
};

// Health of members described by a run-state document (the members need not be our children;
// pid 0 names a member that is not a local process, e.g. in a pod, probed by its URL only).
// Members with https:// URLs are probed with `tls` (see LoadClusterClientTls); `tls` is not
// used when every URL is http://.
std::vector<MemberHealth> ProbeMembers(const std::vector<EtcdMemberState>& members,
                                       Deadline deadline, const etcd::EtcdTls& tls = {});

// Where a TLS cluster started with run_dir `run_dir` keeps the files its clients need:
// <run_dir>/tls/ca.crt, client.crt, client.key.
struct ClusterTlsFiles {
  std::filesystem::path ca, cert, key;
};
ClusterTlsFiles ClusterClientTlsFiles(const std::filesystem::path& run_dir);
// Reads them (etcd::LoadTlsFiles): NOT_FOUND when the cluster has none.
Result<etcd::EtcdTls> LoadClusterClientTls(const std::filesystem::path& run_dir);

}  // namespace br2k::cluster
