// The replica runtime: the BR2K protocol (roles Follower -> Register -> Leader, Replicate
// request, Process request, Follow the latest service state, Prepare service, Check for pending
// process) with fencing, group commit and exactly-once client sessions. See
// docs/replication.md for the key layout and the failover sequence.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/etcd/client.h"
#include "br2k/replication/application.h"
#include "br2k/replication/chain_effects.h"
#include "br2k/replication/failpoints.h"
#include "br2k/replication/local_store.h"
#include "br2k/replication/location_publisher.h"

namespace br2k::replication {

enum class Role { kFollower, kRegister, kLeader };
const char* RoleName(Role r);  // "Follower", "Register", "Leader"

enum class CommitMode {
  // Batches of requests, pipelined: each fenced transaction appends batch k (RLE, RS=Null, LS),
  // marks batch k-1 InProcess, and records the results of batch k-2 (RS, LPI, SSI). Every
  // entry still passes through the paper's three commits in order; a batch costs one
  // transaction in steady state.
  kGroupCommit,
  kPaper,  // one request at a time, one fenced write per key (the papers' sequence)
};

struct ReplicaOptions {
  std::string service_id;     // required, ValidId
  std::string replica_id;     // required, ValidId
  std::string advertise_url;  // what followers redirect to, e.g. http://127.0.0.1:8081
  // This node's own etcd member (client URL) for Check role; "" = never the Raft leader.
  std::string local_endpoint;
  CommitMode mode = CommitMode::kGroupCommit;
  size_t max_batch = 256;               // requests per group commit
  std::chrono::microseconds linger{0};  // wait this long for a batch to fill
  // Limits of one pipeline transaction; they must not exceed the etcd cluster's
  // --max-txn-ops (etcd's default is 128) and --max-request-bytes (default 1.5 MiB). A batch
  // is cut short to stay within them.
  size_t max_txn_ops = 128;
  size_t max_txn_bytes = 1 << 20;
  int64_t leader_ttl_seconds = 2;  // lease TTL of the Current_Leader claim
  std::chrono::milliseconds check_interval{100};
  // A replica whose member is not the Raft leader claims a vacant Current_Leader only after it
  // has been vacant this long (the Raft leader's replica claims at once).
  std::chrono::milliseconds takeover_grace{1000};
  // A leader whose local member does not answer for this long resigns.
  std::chrono::milliseconds step_down_after{3000};
  std::chrono::milliseconds etcd_timeout{2000};  // per etcd call
  // A request is recognised while its entry is retained; after trimming, its client's floor
  // (or its record) refuses it, and these expire after session_ttl.
  std::chrono::seconds session_ttl{3600};
  std::chrono::seconds session_sweep_interval{60};
  size_t follow_chunk = 512;  // entries read per follow step
  // A follower follows SSI changes at most this often (each step costs an etcd read).
  std::chrono::milliseconds follow_min_interval{20};
  // The leader saves its snapshot in the background at most this often (followers save after
  // every follow step). Recovery re-applies committed entries above the saved LPI from etcd.
  std::chrono::milliseconds snapshot_interval{1000};
  // A follower publishes its LPI (what trimming waits for) at most this often; it saves its
  // state at most every snapshot_interval.
  std::chrono::milliseconds lpi_publish_interval{100};

  // The bounded log (docs/replication.md, "Bounded log"). At most every `trim_interval`, when
  // more than `trim_threshold` entries are retained (0 = no bound by count) or the retained
  // entries hold more than `trim_bytes` bytes of keys and values (0 = no bound by bytes; both 0
  // = never trim), the leader stores a snapshot of its state in etcd (chunks of at most
  // `snapshot_chunk_bytes`, which must not exceed max_txn_bytes) and deletes the entries below
  // every replica's LPI and the snapshot. A replica whose LPI is more than `max_lag` entries
  // behind is not waited for: it restores from the snapshot. Entries with a transaction
  // awaiting settlement (TXQ/) are never deleted. The leader counts the bytes of the entries it
  // appended and, when it takes over, of the log entries (RLE) it reads (ReplicaStatus::
  // log_bytes); etcd keeps them until they are trimmed and compacted, so etcd fills by bytes.
  size_t trim_threshold = 10000;
  uint64_t trim_bytes = 64ull << 20;
  std::chrono::milliseconds trim_interval{5000};
  uint64_t max_lag = 100000;
  size_t snapshot_chunk_bytes = 512 * 1024;
  // After a trim, compact etcd's history up to it so that the deleted entries free space
  // (otherwise only an etcd --auto-compaction setting reclaims it).
  bool compact_after_trim = true;

  // etcd's storage quota (docs/replication.md, "At etcd's quota"). Every
  // `etcd_status_interval` (0 = never) the replica asks its etcd member (local_endpoint, else
  // the client's first endpoint) for its database size and alarms; at more than
  // `etcd_quota_warn_percent` % of `etcd_quota_bytes` (which must match the cluster's
  // --quota-backend-bytes; etcd's default is 2 GiB) status().etcd_quota_warning is set and a
  // warning logged once per crossing, before etcd refuses writes; while it holds, a leader with
  // trimming on (trim_threshold or trim_bytes > 0) trims whatever it may at every trim_interval.
  uint64_t etcd_quota_bytes = 2ull << 30;
  unsigned etcd_quota_warn_percent = 80;
  std::chrono::milliseconds etcd_status_interval{5000};

  // When the location publisher refuses a fresh claim (LocationPublisher::Publish not OK: the
  // registry holds an epoch this replica cannot publish over), the replica resigns and does not
  // claim again for a backoff: `claim_backoff_initial`, doubled per consecutive refusal up to
  // `claim_backoff_max`, each wait drawn uniformly from [backoff/2, backoff] (jitter, so that
  // replicas do not claim in step). Reset once a claim publishes. See docs/security.md.
  std::chrono::milliseconds claim_backoff_initial{1000};
  std::chrono::milliseconds claim_backoff_max{30000};
  // The leader calls LocationPublisher::Check at most this often (0 = never): it restores the
  // location when someone else changed it, and resigns (to claim again with a newer epoch)
  // when the registry holds a location it cannot overwrite.
  std::chrono::milliseconds location_check_interval{2000};
  // The local state's invariants (docs/security.md, "Local state integrity") are checked against
  // etcd before the replica follows or claims, and while it runs at most this often (0 =
  // only at start): LPI <= SSI <= LS in memory, the saved state.json intact and not ahead of
  // memory. A violation is DATA_LOSS: the saved state is set aside and the replica rebuilds
  // from etcd as a fresh replica would.
  std::chrono::milliseconds invariant_check_interval{5000};
};

// What /status shows.
struct ReplicaStatus {
  std::string id;
  Role role = Role::kFollower;
  uint64_t lpi = 0;        // last index applied locally
  uint64_t ssi = 0;        // last SSI seen in etcd
  uint64_t ls = 0;         // last LS seen in etcd
  std::string leader;      // Current_Leader's id ("" if vacant / unknown)
  std::string leader_url;  // its advertised URL
  int64_t epoch = 0;       // this replica's fencing epoch while Register/Leader
  size_t queued = 0;       // requests waiting for the leader pipeline
  bool healthy = true;     // false after a fatal local error (disk), see last_error
  std::string last_error;
  uint64_t log_start = 1;       // first retained log index (last seen in etcd)
  uint64_t snapshot_index = 0;  // index of the latest snapshot in etcd (0: none seen)
  uint64_t trims = 0;           // trims done by this replica as leader
  uint64_t restores = 0;        // times this replica restored its state from an etcd snapshot
  // The fence on chain (docs/security.md): claims whose location the publisher refused, the
  // current claim backoff (0 when none), and resignations after a failed location check.
  uint64_t registry_refusals = 0;
  uint64_t claim_backoff_ms = 0;
  uint64_t location_check_resigns = 0;
  // Local state integrity: rebuilds from etcd after a DATA_LOSS (corrupt or impossible local
  // state) and the last such finding ("" if none).
  uint64_t state_rebuilds = 0;
  std::string last_data_loss;
  // The bounded log by bytes: the bytes (keys and values) of the retained entries as this
  // replica counts them while it leads (0 otherwise).
  uint64_t log_bytes = 0;
  // etcd's storage quota, as last read from the member (db sizes 0 until read).
  int64_t etcd_db_size = 0;
  int64_t etcd_db_size_in_use = 0;
  uint64_t etcd_quota_bytes = 0;       // the configured quota
  bool etcd_quota_warning = false;     // db size above etcd_quota_warn_percent of the quota
  bool etcd_nospace = false;           // NOSPACE alarm raised (or a write refused for it)
  uint64_t etcd_nospace_refusals = 0;  // writes etcd refused at its quota
};

// The outcome of one write request.
struct WriteResult {
  uint64_t index = 0;
  EntryState state = EntryState::kSuccess;  // Success or Fail
  Response response;
  bool duplicate = false;  // answered from the record of an earlier attempt
};

// Thread safety: all public methods may be called concurrently after Start().
// Ownership: the client, application, store and publisher are borrowed and must outlive the
// replica.
class Replica {
 public:
  struct Deps {
    etcd::Client* client = nullptr;
    Application* app = nullptr;
    LocalStore* store = nullptr;
    LocationPublisher* publisher = nullptr;  // null = NoopLocationPublisher
    Failpoints* failpoints = nullptr;        // null = none
    // Signs, sends and settles the transactions of Normal requests (chain_effects.h). null: a
    // request asking for one fails with 501.
    ChainEffects* chain = nullptr;
  };
  // Validates options and recovers the local state (Check for pending process).
  // INVALID_ARGUMENT for bad options; DATA_LOSS for a corrupt journal file (nothing is
  // overwritten). A corrupt state file (checksum, format) or one the application cannot
  // Restore is not an error: it is logged as DATA_LOSS, set aside (LocalStore::QuarantineState)
  // and the replica starts empty, rebuilding from etcd; status().state_rebuilds counts it.
  static Result<std::unique_ptr<Replica>> Create(ReplicaOptions options, Deps deps);
  ~Replica();  // Stop()s
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Starts the control and pipeline threads. The replica starts as Follower.
  Status Start();
  // Stops the threads; waits for them. Outstanding requests fail with UNAVAILABLE. Releases
  // Current_Leader (best effort) if held. Idempotent.
  void Stop();

  // Replicates and processes one request of type Replication, Normal or External_TXN.
  // Returns only once the result is committed in etcd (Success or Fail in RS, SSI past it).
  // Errors: FAILED_PRECONDITION "not leader" (the caller redirects to status().leader_url);
  // UNAVAILABLE when etcd cannot be reached, leadership is lost meanwhile, or the request was
  // ignored (nothing was executed; retrying with the same (client, seq) is safe);
  // DEADLINE_EXCEEDED when `deadline` passes first (the outcome is then unknown: retry with the
  // same (client, seq) to learn it). INVALID_ARGUMENT for a read-only type. OUT_OF_RANGE for a
  // retry of a (client, seq) whose entry has been trimmed from the log: it is not executed
  // again and its answer is no longer available (HTTP 410). RESOURCE_EXHAUSTED when etcd refuses
  // writes at its storage quota (NOSPACE alarm; HTTP 503 ETCD_NOSPACE): the request was not
  // acknowledged and is not lost; a retry with the same (client, seq) once an operator has freed
  // space learns its outcome (it runs at most once).
  Result<WriteResult> Execute(Request request, RequestType type, Deadline deadline);

  // A linearizable read: confirms through etcd that this replica still holds Current_Leader
  // and that everything up to SSI is applied, then calls Application::Read.
  // Errors as Execute.
  Result<Response> Read(const Request& request, Deadline deadline);

  ReplicaStatus status() const;
  // The local LPI and application snapshot, read together (for /replica and tests). On the
  // leader it may include a batch whose result is being committed.
  LocalState local_state() const;
  // Prometheus text exposition of the replica's metrics.
  std::string MetricsText() const;

  struct Impl;

 private:
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace br2k::replication
