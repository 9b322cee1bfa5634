// The replica runtime. Why it is shaped this way:
//  - Safety comes from the fence, not from the trigger: every leader-authority write is one etcd
//    transaction that compares Current_Leader's value and mod_revision (the epoch), so a deposed
//    or paused leader cannot write, whatever it believes about its role.
//  - Current_Leader is attached to a lease kept alive by the leader, so a dead or paused leader
//    vacates it after the TTL; Check role then picks the replica beside the Raft leader (at once)
//    or any replica (after takeover_grace) when that one is gone.
//  - The leader pipeline keeps up to three batches in flight, one per step: each fenced
//    transaction appends one batch (RLE, RS=Null, LS), marks the previous one InProcess and
//    records the results of the one before (RS, LPI, SSI); one transaction is in flight at a
//    time. A request is acknowledged only after its result transaction committed. If anything fails
//    after the local apply, the in-memory state is thrown away and reloaded from the last durable
//    snapshot, so local state never runs ahead of etcd.
#include "br2k/replication/replica.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "br2k/etcd/lease_keeper.h"
#include "br2k/replication/chain_effects.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/log_entry.h"

namespace br2k::replication {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kFollower:
      return "Follower";
    case Role::kRegister:
      return "Register";
    case Role::kLeader:
      return "Leader";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;
using SessionKey = std::pair<std::string, uint64_t>;

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A request waiting for its batch.
struct Pending {
  LogEntry entry;
  uint64_t index = 0;
  Clock::time_point enqueued = Clock::now();
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<WriteResult>> result;

  void Complete(Result<WriteResult> r) {
    std::lock_guard lock(mu);
    if (!result) result = std::move(r);
    cv.notify_all();
  }
  Result<WriteResult> Wait(Deadline d) {
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, d.when(), [&] { return result.has_value(); })) {
      return DeadlineExceededError(
          "request not committed before the deadline; its outcome is unknown: retry with the "
          "same X-Br2k-Client/X-Br2k-Seq");
    }
    return *result;
  }
};

// A fixed-bucket histogram for Prometheus.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    counts_.assign(bounds_.size() + 1, 0);
  }
  void Observe(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    counts_[i]++;
    sum_ += v;
    n_++;
  }
  void Write(std::ostringstream& out, const std::string& name) const {
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cum += counts_[i];
      out << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cum << "\n";
    }
    out << name << "_bucket{le=\"+Inf\"} " << n_ << "\n";
    out << name << "_sum " << sum_ << "\n" << name << "_count " << n_ << "\n";
  }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t n_ = 0;
};

}  // namespace

// The bytes of an entry's RS key and value where they are not counted exactly (entries a new
// leader finds in etcd, the paper mode).
constexpr uint64_t kRsBytesEstimate = 64;

struct Replica::Impl {
  ReplicaOptions opt;
  Deps deps;
  KeyLayout keys;
  NoopLocationPublisher noop_publisher;
  Failpoints no_failpoints;
  std::string initial_snapshot;

  // Application state: guarded by state_mu.
  mutable std::mutex state_mu;
  std::condition_variable state_cv;
  uint64_t lpi = 0;
  bool uncommitted = false;  // the leader applied a batch whose result is not committed yet
  int readers_waiting = 0;   // linearizable reads waiting for a committed point

  // Roles, leadership and the request queue: guarded by mu.
  mutable std::mutex mu;
  std::condition_variable queue_cv;
  std::condition_variable stop_cv;
  bool stop = false;
  bool started = false;
  Role role = Role::kFollower;
  int64_t epoch = 0;
  int64_t lease_id = 0;
  std::unique_ptr<etcd::LeaseKeeper> keeper;
  uint64_t ls = 0;
  uint64_t ssi = 0;
  std::string leader_id;
  std::string leader_url;
  std::deque<std::shared_ptr<Pending>> queue;
  std::map<SessionKey, std::shared_ptr<Pending>> inflight;
  std::map<SessionKey, uint64_t> sessions;
  bool healthy = true;
  std::string last_error;
  std::optional<Journal> journal;  // loaded at Create; its results finish an interrupted write
  std::optional<Clock::time_point> vacant_since;
  std::optional<Clock::time_point> not_raft_leader_since;
  Clock::time_point last_sweep = Clock::now();
  // The bounded log, as last seen in etcd (guarded by mu), and the leader's session floors:
  // client -> highest seq whose session record was deleted with its trimmed entry.
  uint64_t log_start = 1;
  uint64_t snapshot_index = 0;
  uint64_t trims = 0;
  uint64_t restores = 0;
  std::map<std::string, uint64_t> session_floors;
  Clock::time_point last_trim = Clock::now();  // control thread only
  // The bounded log by bytes (guarded by mu, leader only): index -> bytes of its keys and
  // values in etcd as counted when appended, read (LoadSessions) or given a result, and their
  // sum over the retained entries.
  std::map<uint64_t, uint64_t> entry_bytes;
  uint64_t retained_bytes = 0;
  // etcd's storage quota (guarded by mu; last_etcd_status: control thread only).
  int64_t etcd_db_size = 0;
  int64_t etcd_db_size_in_use = 0;
  bool etcd_quota_warning = false;
  bool etcd_nospace = false;
  uint64_t etcd_nospace_refusals = 0;
  Clock::time_point last_etcd_status{};
  // The fence on chain (guarded by mu): the claim backoff after publisher refusals, and the
  // leader's location checks (last_location_check: control thread only).
  uint64_t registry_refusals = 0;
  uint64_t location_check_resigns = 0;
  std::chrono::milliseconds claim_backoff{0};
  Clock::time_point claim_not_before{};
  Clock::time_point last_location_check{};
  std::mt19937_64 jitter_rng{std::random_device{}()};
  // Local state integrity (guarded by mu): see CheckInvariants.
  uint64_t state_rebuilds = 0;
  std::string last_data_loss;
  bool local_verified = false;               // control thread only
  Clock::time_point last_invariant_check{};  // control thread only
  // The last linearizable follow step (control thread only): see Follow.
  Clock::time_point last_quorum_follow{};
  // Follower persistence (control thread only).
  bool follower_dirty = false;
  uint64_t published_lpi = 0;  // LPI/<id> last written by this replica as follower
  Clock::time_point last_lpi_publish{};
  Clock::time_point last_follower_flush{};

  // Normal requests whose transaction is recorded and must be settled from its receipt
  // (chain_effects.h). Guarded by mu; worked on by the settler thread while leading.
  struct Settlement {
    uint64_t index = 0;
    SignedTx tx;
    std::shared_ptr<Pending> pending;  // null when recovered from etcd by a new leader
    bool broadcast = false;
    Clock::time_point last_broadcast{};
  };
  std::map<uint64_t, Settlement> settlements;
  std::condition_variable settle_cv;
  uint64_t tx_nonce_floor = 0;  // above every recorded nonce (set by Prepare service)

  // Asynchronous snapshot saving (the leader acknowledges before the snapshot is on disk; a
  // crash then only means re-applying committed entries from etcd).
  std::mutex save_mu;
  std::condition_variable save_cv;
  bool save_wanted = false;
  bool save_stop = false;

  // Metrics: guarded by metrics_mu.
  mutable std::mutex metrics_mu;
  std::map<std::pair<std::string, std::string>, uint64_t> requests;
  Histogram batch_sizes{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};
  Histogram commit_latency{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}};
  uint64_t role_changes = 0;

  std::thread control_thread;
  std::thread pipeline_thread;
  std::thread saver_thread;
  std::thread settler_thread;

  Impl(ReplicaOptions o, Deps d) : opt(std::move(o)), deps(d), keys(opt.service_id) {
    entry_chunk = opt.follow_chunk;
  }

  // Entries read per etcd call (follow steps, Prepare service, the session table): starts at
  // follow_chunk and halves whenever an answer was too large for the etcd client
  // (RESOURCE_EXHAUSTED: entries with big bodies), so large entries slow reading down instead
  // of stopping it.
  std::atomic<size_t> entry_chunk{1};
  size_t EntryChunk() const { return entry_chunk.load(); }
  // After a too-large answer: halves entry_chunk. False for any other error, or at 1.
  bool ShrinkEntryChunk(const Status& st) {
    if (st.code() != StatusCode::kResourceExhausted) return false;
    size_t c = entry_chunk.load();
    if (c <= 1) return false;
    if (entry_chunk.compare_exchange_strong(c, c / 2)) {
      spdlog::warn("replica {}: an entry read was too large ({}); reading {} entries per call",
                   opt.replica_id, st.message(), c / 2);
    }
    return true;
  }

  LocationPublisher& publisher() {
    return deps.publisher ? *deps.publisher : static_cast<LocationPublisher&>(noop_publisher);
  }
  Failpoints& failpoints() { return deps.failpoints ? *deps.failpoints : no_failpoints; }
  Deadline EtcdDeadline() const { return Deadline::After(opt.etcd_timeout); }

  void CountRequest(RequestType t, const std::string& outcome) {
    std::lock_guard lock(metrics_mu);
    requests[{RequestTypeName(t), outcome}]++;
  }
  void SetRole(Role r) {  // mu held
    if (role != r) {
      spdlog::info("replica {}: {} -> {} (epoch {})", opt.replica_id, RoleName(role), RoleName(r),
                   epoch);
      role = r;
      queue_cv.notify_all();  // the pipeline drops or resumes its in-flight batches
      std::lock_guard lock(metrics_mu);
      role_changes++;
    }
  }
  void MarkUnhealthy(const std::string& why) {
    spdlog::error("replica {}: {}", opt.replica_id, why);
    std::lock_guard lock(mu);
    healthy = false;
    last_error = why;
  }

  // ---- the bounded log by bytes (mu held) ----

  void CountEntryBytes(uint64_t index, uint64_t bytes) {
    if (index < log_start) return;
    entry_bytes[index] += bytes;
    retained_bytes += bytes;
  }
  // Entries up to `last` are gone from etcd (trimmed).
  void ForgetEntryBytesTo(uint64_t last) {
    for (auto it = entry_bytes.begin(); it != entry_bytes.end() && it->first <= last;) {
      retained_bytes -= it->second;
      it = entry_bytes.erase(it);
    }
  }
  // etcd's db is above the warning share of its quota and trimming is on: the leader trims
  // whatever it may at every trim_interval, whatever the bounds, so that etcd reuses the pages.
  bool NearQuota() const {
    return etcd_quota_warning && (opt.trim_threshold > 0 || opt.trim_bytes > 0);
  }
  static uint64_t PutBytes(const etcd::Op& op) {
    const auto* put = std::get_if<etcd::PutRequest>(&op.request);
    return put ? put->key.size() + put->value.size() : 0;
  }

  // ---- etcd's storage quota ----

  // What a client is told when etcd refuses writes at its quota.
  Status NoSpaceError(const std::string& detail) const {
    return ResourceExhaustedError(
        "etcd's storage quota is exhausted (NOSPACE alarm" +
        (detail.empty() ? std::string() : ": " + detail) +
        "): writes are refused until an operator frees space (compact, defragment, disarm the "
        "alarm; docs/replication.md, \"At etcd's quota\"). The request was not acknowledged; "
        "retry it with the same X-Br2k-Client/X-Br2k-Seq afterwards to learn its outcome");
  }
  // The error a request that was not committed fails with: NoSpaceError when etcd refused the
  // write at its quota (counted, and the alarm noted at once), else UNAVAILABLE.
  Status NotCommitted(const Status& why) {
    if (etcd::IsNoSpace(why)) {
      NoteNoSpace();
      return NoSpaceError(why.message());
    }
    return UnavailableError("request not committed: " + why.message() + "; retry");
  }
  void NoteNoSpace() {
    std::lock_guard lock(mu);
    if (!etcd_nospace) {
      spdlog::error(
          "replica {}: etcd refuses writes: its storage quota is exhausted (NOSPACE alarm). "
          "Writes fail with 503 ETCD_NOSPACE until an operator compacts and defragments etcd and "
          "disarms the alarm (etcdctl alarm disarm)",
          opt.replica_id);
    }
    etcd_nospace = true;
    etcd_nospace_refusals++;
  }

  // Every etcd_status_interval: etcd's db size and alarms from the member this replica talks
  // to; the warning above etcd_quota_warn_percent of the quota is logged once per crossing.
  void CheckEtcdQuota() {
    if (opt.etcd_status_interval.count() <= 0) return;
    const auto now = Clock::now();
    if (now - last_etcd_status < opt.etcd_status_interval) return;
    last_etcd_status = now;
    std::string endpoint = opt.local_endpoint;
    if (endpoint.empty()) {
      auto eps = deps.client->endpoints();
      if (eps.empty()) return;
      endpoint = eps.front();
    }
    // Short: the control thread waits for it, and a paused member must not hold following up.
    auto st = deps.client->EndpointStatus(
        endpoint, Deadline::After(std::min(opt.etcd_timeout, std::chrono::milliseconds(500))));
    if (!st.ok()) {
      spdlog::debug("replica {}: etcd status: {}", opt.replica_id, st.status().ToString());
      return;
    }
    const auto limit =
        static_cast<double>(opt.etcd_quota_bytes) * opt.etcd_quota_warn_percent / 100.0;
    const bool warn = static_cast<double>(st->db_size) > limit;
    const bool alarm = st->nospace_alarm();
    std::lock_guard lock(mu);
    if (warn && !etcd_quota_warning) {
      spdlog::warn(
          "replica {}: etcd's database ({} bytes, {} in use) is above {}% of its quota ({} bytes):"
          " at the quota etcd refuses every write. Trim the log (--trim-bytes), compact and "
          "defragment etcd, or raise --quota-backend-bytes",
          opt.replica_id, st->db_size, st->db_size_in_use, opt.etcd_quota_warn_percent,
          opt.etcd_quota_bytes);
    } else if (!warn && etcd_quota_warning) {
      spdlog::info("replica {}: etcd's database ({} bytes) is below {}% of its quota again",
                   opt.replica_id, st->db_size, opt.etcd_quota_warn_percent);
    }
    if (!alarm && etcd_nospace) {
      spdlog::info("replica {}: etcd's NOSPACE alarm is cleared: writes are accepted again",
                   opt.replica_id);
    } else if (alarm && !etcd_nospace) {
      spdlog::error("replica {}: etcd reports the NOSPACE alarm: it refuses every write",
                    opt.replica_id);
    }
    etcd_db_size = st->db_size;
    etcd_db_size_in_use = st->db_size_in_use;
    etcd_quota_warning = warn;
    etcd_nospace = alarm;
  }

  // ---- etcd helpers ----

  std::vector<etcd::Compare> Fence(int64_t ep) const {
    return {etcd::Compare::Value(keys.current_leader(), etcd::CompareOp::kEqual, opt.replica_id),
            etcd::Compare::ModRevision(keys.current_leader(), etcd::CompareOp::kEqual, ep)};
  }

  // A leader-authority write. ABORTED when the fence no longer holds.
  Result<etcd::TxnResponse> FencedTxn(int64_t ep, std::vector<etcd::Op> ops) {
    etcd::TxnRequest req;
    req.compare = Fence(ep);
    req.success = std::move(ops);
    BR2K_ASSIGN_OR_RETURN(auto resp, deps.client->Txn(req, EtcdDeadline()));
    if (!resp.succeeded) {
      return AbortedError("fenced out: Current_Leader is no longer (" + opt.replica_id +
                          ", epoch " + std::to_string(ep) + ")");
    }
    return resp;
  }

  // RS and RLE of [from, to] read in one snapshot.
  struct EntryPair {
    EntryStatus rs;
    LogEntry rle;
  };
  // OUT_OF_RANGE when `from` is below Log_Start (trimmed: restore from the snapshot). An answer
  // too large for the client splits the range in halves (and shrinks entry_chunk).
  Result<std::map<uint64_t, EntryPair>> ReadEntries(uint64_t from, uint64_t to) {
    auto r = ReadEntriesOnce(from, to);
    if (r.ok() || from == to || r.status().code() != StatusCode::kResourceExhausted) return r;
    (void)ShrinkEntryChunk(r.status());
    const uint64_t mid = from + (to - from) / 2;
    BR2K_ASSIGN_OR_RETURN(auto lower, ReadEntries(from, mid));
    BR2K_ASSIGN_OR_RETURN(auto upper, ReadEntries(mid + 1, to));
    lower.merge(upper);
    return lower;
  }

  Result<std::map<uint64_t, EntryPair>> ReadEntriesOnce(uint64_t from, uint64_t to) {
    etcd::TxnRequest req;
    req.success.push_back(etcd::Op::Range({.key = keys.rs(from), .range_end = keys.rs(to + 1)}));
    req.success.push_back(etcd::Op::Range({.key = keys.rle(from), .range_end = keys.rle(to + 1)}));
    req.success.push_back(etcd::Op::Get(keys.log_start()));
    BR2K_ASSIGN_OR_RETURN(auto resp, deps.client->Txn(req, EtcdDeadline()));
    BR2K_ASSIGN_OR_RETURN(uint64_t start, IndexAt(resp, 2, 1));
    if (from < start) return Trimmed(from, start);
    return ParseEntries(resp, 0, from, to);
  }

  static Status Trimmed(uint64_t from, uint64_t start) {
    return OutOfRangeError("log entry " + std::to_string(from) +
                           " has been trimmed (the log starts at " + std::to_string(start) + ")");
  }

  // The decimal index value read by responses[i] of `resp`, `absent` when the key is absent.
  static Result<uint64_t> IndexAt(const etcd::TxnResponse& resp, size_t i, uint64_t absent) {
    const auto* r = resp.responses.size() > i ? resp.responses[i].range() : nullptr;
    if (!r) return InternalError("unexpected etcd response");
    if (r->kvs.empty()) return absent;
    auto v = ParseIndex(r->kvs[0].value);
    if (!v) return DataLossError("bad index value in " + r->kvs[0].key);
    return *v;
  }

  // The RS and RLE ranges at responses[first], [first + 1] of `resp`, checked complete for
  // [from, to] (entries beyond `to` are ignored).
  Result<std::map<uint64_t, EntryPair>> ParseEntries(const etcd::TxnResponse& resp, size_t first,
                                                     uint64_t from, uint64_t to) {
    std::map<uint64_t, EntryPair> out;
    std::map<uint64_t, bool> have_rle;
    if (resp.responses.size() < first + 2 || !resp.responses[first].range() ||
        !resp.responses[first + 1].range()) {
      return InternalError("unexpected etcd response to an entry read");
    }
    for (const auto& kv : resp.responses[first].range()->kvs) {
      auto idx = KeyLayout::IndexOf(kv.key);
      if (!idx || *idx < from || *idx > to) continue;
      auto rs = DecodeEntryStatus(kv.value);
      if (!rs.ok()) return DataLossError("RS " + kv.key + ": " + rs.status().message());
      out[*idx].rs = std::move(*rs);
    }
    for (const auto& kv : resp.responses[first + 1].range()->kvs) {
      auto idx = KeyLayout::IndexOf(kv.key);
      if (!idx || *idx < from || *idx > to) continue;
      auto rle = DecodeLogEntry(kv.value);
      if (!rle.ok()) return DataLossError("RLE " + kv.key + ": " + rle.status().message());
      out[*idx].rle = std::move(*rle);
      have_rle[*idx] = true;
    }
    for (uint64_t i = from; i <= to; ++i) {
      if (!out.count(i) || !have_rle.count(i)) {
        return DataLossError("log entry " + std::to_string(i) + " missing from etcd");
      }
    }
    return out;
  }

  struct Heads {
    uint64_t ls = 0, ssi = 0;
    uint64_t log_start = 1;
    std::optional<etcd::KeyValue> cl;
    std::optional<SnapshotHeader> snapshot;
  };
  // LS, SSI, Current_Leader, Log_Start and the snapshot header in one snapshot. With
  // `prefetch_from`, the same transaction also reads up to follow_chunk entries from there
  // (`prefetched`: those up to SSI, unless trimmed), so a follower that is close behind needs
  // one read per step.
  Result<Heads> ReadHeads(std::optional<uint64_t> prefetch_from = std::nullopt,
                          std::map<uint64_t, EntryPair>* prefetched = nullptr,
                          bool serializable = false) {
    etcd::TxnRequest req;
    req.success = {etcd::Op::Get(keys.log_size()), etcd::Op::Get(keys.ssi()),
                   etcd::Op::Get(keys.current_leader()), etcd::Op::Get(keys.log_start()),
                   etcd::Op::Get(keys.snapshot())};
    if (prefetch_from) {
      const auto limit = static_cast<int64_t>(EntryChunk());
      req.success.push_back(etcd::Op::Range({.key = keys.rs(*prefetch_from),
                                             .range_end = etcd::PrefixEnd(keys.rs_prefix()),
                                             .limit = limit}));
      req.success.push_back(etcd::Op::Range({.key = keys.rle(*prefetch_from),
                                             .range_end = etcd::PrefixEnd(keys.rle_prefix()),
                                             .limit = limit}));
    }
    if (serializable) {
      for (auto& op : req.success) std::get<etcd::RangeRequest>(op.request).serializable = true;
    }
    auto read = deps.client->Txn(req, EtcdDeadline());
    if (!read.ok() && prefetch_from && ShrinkEntryChunk(read.status())) {
      return ReadHeads(std::nullopt, nullptr, serializable);  // the entries are read apart
    }
    BR2K_ASSIGN_OR_RETURN(auto resp, std::move(read));
    Heads h;
    BR2K_ASSIGN_OR_RETURN(h.ls, IndexAt(resp, 0, 0));
    BR2K_ASSIGN_OR_RETURN(h.ssi, IndexAt(resp, 1, 0));
    BR2K_ASSIGN_OR_RETURN(h.log_start, IndexAt(resp, 3, 1));
    const auto* r = resp.responses[2].range();
    if (r && !r->kvs.empty()) h.cl = r->kvs[0];
    const auto* sr = resp.responses[4].range();
    if (sr && !sr->kvs.empty()) {
      auto hdr = DecodeSnapshotHeader(sr->kvs[0].value);
      if (!hdr.ok()) return DataLossError(keys.snapshot() + ": " + hdr.status().message());
      h.snapshot = *hdr;
    }
    {
      std::lock_guard lock(mu);
      log_start = h.log_start;
      if (h.snapshot) snapshot_index = h.snapshot->index;
    }
    if (prefetch_from && prefetched && *prefetch_from <= h.ssi && *prefetch_from >= h.log_start) {
      uint64_t to = std::min<uint64_t>(h.ssi, *prefetch_from + EntryChunk() - 1);
      BR2K_ASSIGN_OR_RETURN(*prefetched, ParseEntries(resp, 5, *prefetch_from, to));
    }
    return h;
  }

  // ---- local state ----

  Status SaveStateNow() {
    LocalState s;
    {
      std::lock_guard lock(state_mu);
      s.lpi = lpi;
      s.snapshot = deps.app->Snapshot();
    }
    return deps.store->SaveState(s);
  }

  // Asks the saver for a snapshot of the leader's state at its next committed point.
  void RequestSave() {
    std::lock_guard lock(save_mu);
    save_wanted = true;
    save_cv.notify_all();
  }

  // The state and LPI at a committed point (no applied batch waiting for its result), taken
  // between two pipeline cycles; nullopt if none came within a while.
  std::optional<LocalState> CommittedSnapshot() {
    std::unique_lock lock(state_mu);
    readers_waiting++;
    std::optional<LocalState> s;
    if (state_cv.wait_for(lock, std::chrono::seconds(1), [&] { return !uncommitted; })) {
      s = LocalState{.lpi = lpi, .snapshot = deps.app->Snapshot()};
    }
    readers_waiting--;
    state_cv.notify_all();
    return s;
  }

  void SaverLoop() {
    std::unique_lock lock(save_mu);
    while (true) {
      save_cv.wait(lock, [&] { return save_stop || save_wanted; });
      // Stopping: a snapshot not saved only means re-applying committed entries from etcd.
      if (save_stop) return;
      save_wanted = false;
      lock.unlock();
      // The snapshot is taken here, at most once per interval, not after every batch: its
      // cost grows with the state.
      std::optional<LocalState> s = CommittedSnapshot();
      if (!s) {
        RequestSave();  // try again at the next committed point
        lock.lock();
        continue;
      }
      Status st = deps.store->SaveState(*s);
      if (!st.ok()) MarkUnhealthy("cannot save local state: " + st.ToString());
      lock.lock();
      // At most one snapshot per interval: each costs two fsyncs on the disk that etcd and
      // the journal also sync to, and a later crash only re-applies committed entries.
      save_cv.wait_for(lock, opt.snapshot_interval, [&] { return save_stop; });
    }
  }

  // Throws the in-memory state away and reloads the last durable snapshot.
  Status ReloadState() {
    BR2K_ASSIGN_OR_RETURN(auto saved, deps.store->LoadState());
    std::lock_guard lock(state_mu);
    Status st = deps.app->Restore(saved ? saved->snapshot : initial_snapshot);
    if (!st.ok()) return st;
    lpi = saved ? saved->lpi : 0;
    uncommitted = false;
    state_cv.notify_all();
    return Status::Ok();
  }

  // ---- local state integrity (in the manner of LogCabin's RaftConsensusInvariants) ----

  // A corrupt or impossible local state: DATA_LOSS. It is never served: the saved state is set
  // aside, the application restarts from its initial state with LPI 0, and following rebuilds
  // it from etcd (from the snapshot in etcd when the log has been trimmed), as for a fresh
  // replica. Control thread (or Create) only.
  void Rebuild(const std::string& why) {
    spdlog::error(
        "replica {}: DATA_LOSS: {}; the saved state is set aside and the state is rebuilt from "
        "etcd (as a fresh replica would)",
        opt.replica_id, why);
    StepDown("DATA_LOSS: " + why);
    if (Status q = deps.store->QuarantineState(); !q.ok()) {
      spdlog::error("replica {}: {}", opt.replica_id, q.ToString());
    }
    Status st;
    {
      std::lock_guard lock(state_mu);
      st = deps.app->Restore(initial_snapshot);
      lpi = 0;
      uncommitted = false;
      state_cv.notify_all();
    }
    if (!st.ok()) MarkUnhealthy("cannot reset the application state: " + st.ToString());
    if (Status sv = deps.store->SaveState({.lpi = 0, .snapshot = initial_snapshot}); !sv.ok()) {
      MarkUnhealthy("cannot save local state: " + sv.ToString());
    }
    std::lock_guard lock(mu);
    ++state_rebuilds;
    last_data_loss = why;
    // Publish LPI 0 at the next flush, so that trimming stops counting on what we lost (entries
    // trimmed meanwhile come back through the snapshot in etcd).
    published_lpi = std::numeric_limits<uint64_t>::max();
  }

  // The invariants. At start (before following or claiming), against etcd: the saved LPI is not
  // above SSI (a committed point is saved only once SSI covers it; an interrupted leader step in
  // the journal may be above it) and not above LS. While running, at most every
  // invariant_check_interval: SSI <= LS and, on a follower, LPI <= SSI as last read together;
  // state.json intact and not ahead of memory. UNAVAILABLE when etcd cannot be read (retried).
  Status CheckInvariants(bool at_start) {
    if (at_start) {
      BR2K_ASSIGN_OR_RETURN(Heads h, ReadHeads());
      uint64_t mine;
      {
        std::lock_guard lock(state_mu);
        mine = lpi;
      }
      const bool journal_covers = journal && journal->step != JournalStep::kIdle &&
                                  mine >= journal->first && mine <= journal->last;
      if (mine > h.ls) {
        Rebuild("local LPI " + std::to_string(mine) + " is above Log_Size " + std::to_string(h.ls) +
                " in etcd");
      } else if (mine > h.ssi && !journal_covers) {
        Rebuild("local LPI " + std::to_string(mine) + " is above SSI " + std::to_string(h.ssi) +
                " in etcd (no interrupted leader step explains it)");
      }
      return Status::Ok();
    }
    uint64_t mine, seen_ssi, seen_ls;
    Role r;
    bool dirty;
    {
      std::lock_guard lock(state_mu);
      mine = lpi;
      dirty = uncommitted;
    }
    {
      std::lock_guard lock(mu);
      seen_ssi = ssi;
      seen_ls = ls;
      r = role;
    }
    if (seen_ssi > seen_ls) {
      // etcd's own log is inconsistent: nothing local to rebuild; say it loudly.
      spdlog::error("replica {}: DATA_LOSS in etcd: SSI {} is above Log_Size {}", opt.replica_id,
                    seen_ssi, seen_ls);
    }
    if (r == Role::kFollower && !dirty && mine > seen_ssi && seen_ssi > 0) {
      Rebuild("local LPI " + std::to_string(mine) + " is above SSI " + std::to_string(seen_ssi));
      return Status::Ok();
    }
    auto saved = deps.store->LoadState();
    if (!saved.ok() && saved.status().code() == StatusCode::kDataLoss) {
      // The file changed under us; memory is intact: set the file aside and save memory.
      spdlog::error("replica {}: DATA_LOSS: {}; setting it aside and saving the state in memory",
                    opt.replica_id, saved.status().message());
      {
        std::lock_guard lock(mu);
        last_data_loss = saved.status().message();
      }
      (void)deps.store->QuarantineState();
      if (r == Role::kFollower) {
        follower_dirty = true;
        return FlushFollower(true);
      }
      RequestSave();
      return Status::Ok();
    }
    if (saved.ok() && *saved && r == Role::kFollower) {
      // A follower's saves (this thread) are of earlier points, so the saved LPI is at most the
      // one in memory. (Not checked on a leader: its saver may land a committed point just
      // after a rollback reloaded an older one, which is not a corruption.)
      uint64_t now_lpi;
      {
        std::lock_guard lock(state_mu);
        now_lpi = lpi;
      }
      if ((*saved)->lpi > now_lpi) {
        Rebuild("saved LPI " + std::to_string((*saved)->lpi) + " is above the LPI in memory " +
                std::to_string(now_lpi));
      }
    }
    return Status::Ok();
  }

  // ---- the bounded log: snapshots in etcd ----

  Result<std::optional<SnapshotHeader>> ReadSnapshotHeader() {
    BR2K_ASSIGN_OR_RETURN(auto kv, deps.client->Get(keys.snapshot(), EtcdDeadline()));
    if (!kv) return std::optional<SnapshotHeader>();
    auto h = DecodeSnapshotHeader(kv->value);
    if (!h.ok()) return DataLossError(keys.snapshot() + ": " + h.status().message());
    return std::optional<SnapshotHeader>(*h);
  }

  // The bytes of the snapshot `h` names, checked against its size and CRC-32. DATA_LOSS when a
  // chunk is missing (also when the snapshot was replaced meanwhile) or the bytes do not match.
  Result<std::string> ReadSnapshotBytes(const SnapshotHeader& h) {
    std::string data;
    uint64_t next = 0;
    const std::string end = etcd::PrefixEnd(keys.snapshot_chunks_prefix(h.index));
    bool gap = false;
    while (next < h.chunks && !gap) {
      BR2K_ASSIGN_OR_RETURN(
          auto resp, deps.client->Range(
                         {.key = keys.snapshot_chunk(h.index, next), .range_end = end, .limit = 8},
                         EtcdDeadline()));
      if (resp.kvs.empty()) break;
      for (const auto& kv : resp.kvs) {
        if (next == h.chunks) break;
        if (kv.key != keys.snapshot_chunk(h.index, next)) {
          gap = true;
          break;
        }
        data += kv.value;
        ++next;
      }
    }
    const std::string what = "snapshot at index " + std::to_string(h.index);
    if (next < h.chunks) {
      return DataLossError(what + ": chunk " + std::to_string(next) + " of " +
                           std::to_string(h.chunks) + " is missing from etcd");
    }
    if (data.size() != h.size) {
      return DataLossError(what + ": " + std::to_string(data.size()) + " bytes, the header says " +
                           std::to_string(h.size));
    }
    if (Crc32(data) != h.crc32) return DataLossError(what + ": CRC-32 mismatch");
    return data;
  }

  // Replaces the local state with the snapshot in etcd (the log below this replica's next
  // entry has been trimmed), saves it durably and publishes the new LPI. `hdr` is the header
  // last read; a snapshot replaced while it is read is read again. DATA_LOSS when etcd holds no
  // snapshot or a corrupt one: nothing is applied then.
  Status RestoreFromSnapshot(std::optional<SnapshotHeader> hdr) {
    auto started = Clock::now();
    for (int attempt = 0;; ++attempt) {
      if (!hdr) {
        return DataLossError("the log has been trimmed but etcd holds no snapshot (" +
                             keys.snapshot() + ")");
      }
      auto data = ReadSnapshotBytes(*hdr);
      if (!data.ok()) {
        BR2K_ASSIGN_OR_RETURN(auto now, ReadSnapshotHeader());
        if (attempt < 5 && now != hdr) {  // replaced meanwhile: read the new one
          hdr = now;
          continue;
        }
        return data.status();
      }
      Status applied;
      {
        std::lock_guard lock(state_mu);
        if (uncommitted) return UnavailableError("a batch of our own is being committed");
        if (hdr->index <= lpi) return Status::Ok();  // caught up meanwhile
        applied = deps.app->Restore(*data);
        if (applied.ok()) {
          lpi = hdr->index;
          state_cv.notify_all();
        }
      }
      if (!applied.ok()) {
        Status st = ReloadState();  // the application may hold half a state
        if (!st.ok()) MarkUnhealthy("cannot reload local state: " + st.ToString());
        return applied.WithContext("restoring the snapshot at index " + std::to_string(hdr->index));
      }
      BR2K_RETURN_IF_ERROR(deps.store->SaveState({.lpi = hdr->index, .snapshot = *data}));
      (void)deps.client->Put(keys.lpi(opt.replica_id), FormatIndex(hdr->index), EtcdDeadline());
      {
        std::lock_guard lock(mu);
        restores++;
        snapshot_index = std::max(snapshot_index, hdr->index);
      }
      spdlog::info(
          "replica {}: restored the snapshot at index {} ({} bytes) in {} ms", opt.replica_id,
          hdr->index, hdr->size,
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
      return Status::Ok();
    }
  }

  // Stores `s` (taken at a committed point) as the snapshot in etcd: its chunks in as many
  // fenced transactions as needed, then one that puts the header and deletes every other
  // snapshot's chunks. A crash in between leaves the previous snapshot valid.
  Status WriteSnapshot(int64_t ep, const LocalState& s) {
    const size_t chunk = opt.snapshot_chunk_bytes;
    SnapshotHeader h{.index = s.lpi,
                     .chunks = std::max<uint64_t>(1, (s.snapshot.size() + chunk - 1) / chunk),
                     .size = s.snapshot.size(),
                     .crc32 = Crc32(s.snapshot)};
    if (h.chunks > 999999) {
      return ResourceExhaustedError("a snapshot of " + std::to_string(h.size) +
                                    " bytes needs more than 999999 chunks of " +
                                    std::to_string(chunk) + " bytes");
    }
    std::vector<etcd::Op> ops;
    size_t bytes = 0;
    for (uint64_t k = 0; k < h.chunks; ++k) {
      std::string piece = s.snapshot.substr(std::min<size_t>(k * chunk, s.snapshot.size()), chunk);
      std::string key = keys.snapshot_chunk(h.index, k);
      size_t cost = piece.size() + key.size() + 64;
      if (!ops.empty() && (ops.size() + 1 > opt.max_txn_ops || bytes + cost > opt.max_txn_bytes)) {
        BR2K_RETURN_IF_ERROR(FencedTxn(ep, std::move(ops)).status());
        ops.clear();
        bytes = 0;
      }
      ops.push_back(etcd::Op::Put(std::move(key), std::move(piece)));
      bytes += cost;
    }
    if (!ops.empty()) BR2K_RETURN_IF_ERROR(FencedTxn(ep, std::move(ops)).status());
    const std::string mine = keys.snapshot_chunks_prefix(h.index);
    const std::string all_end = etcd::PrefixEnd(keys.snapshot_prefix());
    BR2K_RETURN_IF_ERROR(FencedTxn(ep, {etcd::Op::Put(keys.snapshot(), EncodeSnapshotHeader(h)),
                                        etcd::Op::Delete(keys.snapshot_prefix(), mine),
                                        etcd::Op::Delete(etcd::PrefixEnd(mine), all_end)})
                             .status());
    std::lock_guard lock(mu);
    snapshot_index = h.index;
    return Status::Ok();
  }

  void SaveJournalOrMark(const Journal& j, bool durable = true) {
    Status st = deps.store->SaveJournal(j, durable);
    if (!st.ok()) MarkUnhealthy("cannot write journal: " + st.ToString());
  }

  // ---- roles ----

  void FailAll(const Status& why) {  // mu held
    for (auto& p : queue) p->Complete(why);
    queue.clear();
    for (auto& [k, p] : inflight) p->Complete(why);
    inflight.clear();
  }

  // Leaves Register/Leader. Releases the lease (which deletes Current_Leader if it is still
  // ours: the lease is only attached to our own claim).
  void StepDown(const std::string& reason) {
    std::unique_ptr<etcd::LeaseKeeper> k;
    int64_t lease = 0;
    int64_t old_epoch = 0;
    {
      std::lock_guard lock(mu);
      if (role == Role::kFollower) return;
      spdlog::warn("replica {}: stepping down: {}", opt.replica_id, reason);
      SetRole(Role::kFollower);
      old_epoch = epoch;
      epoch = 0;
      k = std::move(keeper);
      lease = lease_id;
      lease_id = 0;
      leader_id.clear();
      leader_url.clear();
      sessions.clear();
      session_floors.clear();
      entry_bytes.clear();
      retained_bytes = 0;
      for (auto& [i, st] : settlements) {
        if (st.pending)
          st.pending->Complete(
              UnavailableError("leadership lost (" + reason + ") before the transaction of entry " +
                               std::to_string(i) + " was settled; retry to learn its outcome"));
      }
      settlements.clear();
      FailAll(etcd_nospace ? NoSpaceError("")
                           : UnavailableError("leadership lost (" + reason + "); retry"));
    }
    k.reset();
    publisher().Withdraw(old_epoch);
    if (lease != 0)
      (void)deps.client->LeaseRevoke(lease, Deadline::After(std::chrono::milliseconds(500)));
  }

  // Follower: claim a vacant Current_Leader, publish, Prepare service, then lead.
  void TryClaim() {
    if (!FlushFollower(true).ok()) return;
    auto grant = deps.client->LeaseGrant(opt.leader_ttl_seconds, 0, EtcdDeadline());
    if (!grant.ok()) return;
    etcd::TxnRequest req;
    req.compare = {etcd::Compare::Absent(keys.current_leader())};
    req.success = {etcd::Op::Put(keys.current_leader(), opt.replica_id, grant->id),
                   etcd::Op::Put(keys.replica_url(opt.replica_id), opt.advertise_url)};
    auto resp = deps.client->Txn(req, EtcdDeadline());
    if (!resp.ok() || !resp->succeeded) {
      (void)deps.client->LeaseRevoke(grant->id, EtcdDeadline());
      return;
    }
    int64_t ep = resp->header.revision;
    {
      std::lock_guard lock(mu);
      etcd_nospace = false;  // etcd accepted a write
      if (stop) return;
      epoch = ep;
      lease_id = grant->id;
      keeper = std::make_unique<etcd::LeaseKeeper>(*deps.client, grant->id,
                                                   std::chrono::seconds(grant->ttl));
      leader_id = opt.replica_id;
      leader_url = opt.advertise_url;
      SetRole(Role::kRegister);
    }
    Status st = publisher().Publish(opt.advertise_url, ep, EtcdDeadline());
    if (!st.ok()) {
      BackOffClaims(st);
      return Resign(ep, "location publish failed: " + st.ToString());
    }
    {
      std::lock_guard lock(mu);
      claim_backoff = std::chrono::milliseconds(0);
      last_location_check = Clock::now();
    }
    st = PrepareService(ep);
    if (!st.ok()) return StepDown("prepare service failed: " + st.ToString());
    st = LoadSessions();
    if (!st.ok()) return StepDown("loading sessions failed: " + st.ToString());
    st = LoadPendingTransactions();
    if (!st.ok()) return StepDown("loading recorded transactions failed: " + st.ToString());
    std::lock_guard lock(mu);
    if (role == Role::kRegister && epoch == ep) {
      SetRole(Role::kLeader);
      queue_cv.notify_all();
    }
  }

  // The publisher refused our fresh claim: without a pause every replica would claim and
  // resign in a tight loop (issue 10: 380 step-downs in 25 s, etcd revision +43/s). Logged once
  // per backoff step (one claim per step).
  void BackOffClaims(const Status& why) {
    std::chrono::milliseconds wait;
    uint64_t n;
    {
      std::lock_guard lock(mu);
      claim_backoff = claim_backoff.count() == 0
                          ? opt.claim_backoff_initial
                          : std::min(claim_backoff * 2, opt.claim_backoff_max);
      const auto half = claim_backoff.count() / 2;
      std::uniform_int_distribution<int64_t> d(half,
                                               std::max<int64_t>(half, claim_backoff.count()));
      wait = std::chrono::milliseconds(d(jitter_rng));
      claim_not_before = Clock::now() + wait;
      n = ++registry_refusals;
    }
    spdlog::error(
        "replica {}: the location registry refused our leadership ({}); refusal #{}: not claiming "
        "again for {} ms (backoff up to {} ms). If the registry's epoch is pinned or its location "
        "hijacked, a manager repairs it: br2k registry repair-location NAME URL --epoch 0",
        opt.replica_id, why.ToString(), n, wait.count(), opt.claim_backoff_max.count());
  }

  // The leader, at most every location_check_interval: is our location still the registry's?
  void CheckLocation(int64_t ep) {
    if (opt.location_check_interval.count() <= 0) return;
    const auto now = Clock::now();
    if (now - last_location_check < opt.location_check_interval) return;
    last_location_check = now;
    Status st = publisher().Check(opt.advertise_url, ep, EtcdDeadline());
    if (st.code() != StatusCode::kAborted) return;
    {
      std::lock_guard lock(mu);
      ++location_check_resigns;
    }
    Resign(ep, "location check: " + st.ToString());
  }

  void Resign(int64_t ep, const std::string& reason) {
    (void)FencedTxn(ep, {etcd::Op::Delete(keys.current_leader())});
    StepDown(reason);
  }

  // Paper Table 1, lines 1-16, in chunks; plus finishing our own interrupted result write.
  Status PrepareService(int64_t ep) {
    BR2K_ASSIGN_OR_RETURN(Heads h, ReadHeads());
    uint64_t my_lpi;
    {
      std::lock_guard lock(state_mu);
      my_lpi = lpi;
    }
    if (std::min(my_lpi, h.ssi) + 1 < h.log_start) {
      // The entries this replica lacks have been trimmed: start from the snapshot.
      BR2K_RETURN_IF_ERROR(RestoreFromSnapshot(h.snapshot));
      BR2K_ASSIGN_OR_RETURN(h, ReadHeads());
      std::lock_guard lock(state_mu);
      my_lpi = lpi;
    }
    if (my_lpi > h.ls) {
      return DataLossError("local LPI " + std::to_string(my_lpi) + " is beyond Log_Size " +
                           std::to_string(h.ls) + ": this data dir belongs to another etcd log");
    }
    std::map<uint64_t, std::string> journal_results;
    if (journal && journal->step == JournalStep::kResult) journal_results = journal->results;
    uint64_t next = std::min(my_lpi, h.ssi) + 1;
    std::set<uint64_t> tx_recorded;
    if (next <= h.ls) {
      BR2K_ASSIGN_OR_RETURN(
          auto recs, deps.client->Range(
                         {.key = keys.tx(next), .range_end = keys.tx(h.ls + 1), .keys_only = true},
                         EtcdDeadline()));
      for (const auto& kv : recs.kvs) {
        if (auto idx = KeyLayout::IndexOf(kv.key); idx && *idx >= next) tx_recorded.insert(*idx);
      }
    }
    while (next <= h.ls) {
      uint64_t to = std::min<uint64_t>(h.ls, next + EntryChunk() - 1);
      BR2K_ASSIGN_OR_RETURN(auto entries, ReadEntries(next, to));
      std::vector<etcd::Op> ops;
      bool applied = false;
      {
        std::lock_guard lock(state_mu);
        for (uint64_t i = next; i <= to; ++i) {
          auto& e = entries[i];
          if (i <= lpi) {
            // Applied here already; finish the result write we were interrupted in.
            auto jr = journal_results.find(i);
            if (e.rs.state == EntryState::kInProcess && jr != journal_results.end()) {
              ops.push_back(etcd::Op::Put(keys.rs(i), jr->second));
            }
            continue;
          }
          if (e.rs.state == EntryState::kNull) {
            e.rs.state = EntryState::kIgnore;  // never started: drop it
            ops.push_back(etcd::Op::Put(keys.rs(i), EncodeEntryStatus(e.rs)));
          } else if (e.rle.type == RequestType::kNormal && e.rs.state == EntryState::kInProcess &&
                     deps.app->NormalEffectsAreChainCalls() && !tx_recorded.count(i)) {
            // Its transaction was never recorded, so never broadcast: nothing happened.
            e.rs.state = EntryState::kIgnore;
            ops.push_back(etcd::Op::Put(keys.rs(i), EncodeEntryStatus(e.rs)));
          } else if (e.rle.type == RequestType::kReplication &&
                     (e.rs.state == EntryState::kInProcess || e.rs.state == EntryState::kSuccess)) {
            ApplyResult r = deps.app->Apply(e.rle.request,
                                            {.index = i, .type = e.rle.type, .as_leader = false});
            applied = true;
            if (e.rs.state == EntryState::kInProcess) {
              e.rs.state =
                  r.outcome == Outcome::kSuccess ? EntryState::kSuccess : EntryState::kFail;
              e.rs.response = r.response;
              ops.push_back(etcd::Op::Put(keys.rs(i), EncodeEntryStatus(e.rs)));
            }
          }
          lpi = i;
        }
      }
      if (applied) BR2K_RETURN_IF_ERROR(SaveStateNow());
      uint64_t local;
      {
        std::lock_guard lock(state_mu);
        local = lpi;
      }
      ops.push_back(etcd::Op::Put(keys.lpi(opt.replica_id), FormatIndex(local)));
      if (to > h.ssi) ops.push_back(etcd::Op::Put(keys.ssi(), FormatIndex(to)));
      auto r = FencedTxn(ep, std::move(ops));
      if (!r.ok()) {
        (void)ReloadState();
        return r.status();
      }
      next = to + 1;
    }
    std::lock_guard lock(mu);
    ls = h.ls;
    ssi = std::max(h.ssi, h.ls);
    journal.reset();
    return Status::Ok();
  }

  // The session table of a new leader (after Prepare service, so no entry is appended
  // meanwhile): (client, seq) -> the highest index of its entries in the retained log, read
  // from the RLE entries themselves in pages; plus the records that trimming left for entries
  // not covered by a floor, and the floors.
  Status LoadSessions() {
    std::map<SessionKey, uint64_t> loaded;
    std::map<uint64_t, uint64_t> bytes;  // RLE key and value, and an RS estimate
    uint64_t from;
    {
      std::lock_guard lock(mu);
      from = log_start;
    }
    std::string key = keys.rle(from);
    const std::string end = etcd::PrefixEnd(keys.rle_prefix());
    for (;;) {
      auto read = deps.client->Range(
          {.key = key, .range_end = end, .limit = static_cast<int64_t>(EntryChunk())},
          EtcdDeadline());
      if (!read.ok() && ShrinkEntryChunk(read.status())) continue;  // the same page, smaller
      BR2K_ASSIGN_OR_RETURN(auto page, std::move(read));
      for (const auto& kv : page.kvs) {
        auto index = KeyLayout::IndexOf(kv.key);
        auto e = DecodeLogEntry(kv.value);
        if (!index || !e.ok()) {
          return DataLossError(kv.key + ": " + (e.ok() ? "bad key" : e.status().message()));
        }
        bytes[*index] = kv.key.size() + kv.value.size() + kRsBytesEstimate;
        if (e->request.client_id.empty()) continue;
        uint64_t& at = loaded[{e->request.client_id, e->request.seq}];
        at = std::max(at, *index);
      }
      if (!page.more || page.kvs.empty()) break;
      key = page.kvs.back().key + '\0';
    }
    BR2K_ASSIGN_OR_RETURN(auto kvs, deps.client->GetPrefix(keys.session_prefix(), EtcdDeadline()));
    for (const auto& kv : kvs) {
      auto sk = keys.SessionOf(kv.key);
      auto rec = DecodeSessionRecord(kv.value);
      if (!sk || !rec.ok()) {
        spdlog::warn("replica {}: skipping bad session key {}", opt.replica_id, kv.key);
        continue;
      }
      uint64_t& at = loaded[*sk];
      at = std::max(at, rec->index);
    }
    BR2K_ASSIGN_OR_RETURN(auto fkvs,
                          deps.client->GetPrefix(keys.session_floor_prefix(), EtcdDeadline()));
    std::map<std::string, uint64_t> floors;
    for (const auto& kv : fkvs) {
      auto client = keys.SessionFloorClient(kv.key);
      auto f = DecodeSessionFloor(kv.value);
      if (!client || !f.ok()) {
        spdlog::warn("replica {}: skipping bad session floor {}", opt.replica_id, kv.key);
        continue;
      }
      floors[*client] = f->seq;
    }
    std::lock_guard lock(mu);
    sessions = std::move(loaded);
    session_floors = std::move(floors);
    entry_bytes.clear();
    retained_bytes = 0;
    for (const auto& [i, b] : bytes) CountEntryBytes(i, b);
    return Status::Ok();
  }

  // ---- follower ----

  Status Follow() {
    uint64_t start;
    {
      std::lock_guard lock(state_mu);
      start = lpi + 1;
    }
    std::map<uint64_t, EntryPair> prefetched;
    // Serializable: committed data as the contacted member has applied it, without a quorum
    // round on the Raft leader. At least once a second the step is linearizable instead, so
    // that a member cut off from the cluster (whose serializable reads still succeed) fails
    // and the client moves to another one: a follower is never stale for long unnoticed.
    const bool quorum = Clock::now() - last_quorum_follow >= std::chrono::seconds(1);
    BR2K_ASSIGN_OR_RETURN(Heads h, ReadHeads(start, &prefetched, !quorum));
    if (quorum) last_quorum_follow = Clock::now();
    std::string cl_id = h.cl ? h.cl->value : "";
    std::string url;
    bool changed;
    {
      std::lock_guard lock(mu);
      ls = h.ls;
      ssi = h.ssi;
      changed = cl_id != leader_id;
      url = leader_url;
    }
    if (changed && !cl_id.empty()) {
      auto kv = deps.client->Get(keys.replica_url(cl_id), EtcdDeadline());
      url = kv.ok() && *kv ? (*kv)->value : "";
    }
    {
      std::lock_guard lock(mu);
      if (role == Role::kFollower) {
        leader_id = cl_id;
        leader_url = cl_id.empty() ? "" : url;
      }
      if (h.cl) {
        vacant_since.reset();
      } else if (!vacant_since) {
        vacant_since = Clock::now();
      }
    }
    if (h.cl && h.cl->value == opt.replica_id && h.cl->lease != 0) {
      // Our own claim while we are Follower: left by an earlier incarnation or by a step-down
      // that could not reach etcd. Release it rather than wait for its lease to expire.
      std::unique_lock lock(mu);
      if (role == Role::kFollower) {
        lock.unlock();
        (void)deps.client->LeaseRevoke(h.cl->lease, EtcdDeadline());
      }
    }
    if (start < h.log_start) {
      // Behind the trimmed log (new, wiped, or down for long): start from the snapshot.
      BR2K_RETURN_IF_ERROR(RestoreFromSnapshot(h.snapshot));
      prefetched.clear();
    }
    while (true) {
      uint64_t from;
      {
        std::lock_guard lock(state_mu);
        from = lpi + 1;
      }
      if (from > h.ssi) break;
      uint64_t to = std::min<uint64_t>(h.ssi, from + EntryChunk() - 1);
      std::map<uint64_t, EntryPair> entries;
      if (from == start && !prefetched.empty()) {
        entries = std::move(prefetched);
        prefetched.clear();
      } else {
        BR2K_ASSIGN_OR_RETURN(entries, ReadEntries(from, to));
      }
      {
        std::lock_guard lock(state_mu);
        // A batch of our own leadership is applied but not committed: it is either committed
        // or rolled back in a moment; follow afterwards.
        if (uncommitted) return Status::Ok();
        if (lpi + 1 != from) continue;
        for (uint64_t i = from; i <= to; ++i) {
          const auto& e = entries[i];
          // Only Success Replication entries change the replicated state; Null/Ignore were
          // never executed, Fail changed nothing, Normal runs on the leader only.
          if (e.rle.type == RequestType::kReplication && e.rs.state == EntryState::kSuccess) {
            deps.app->Apply(e.rle.request, {.index = i, .type = e.rle.type, .as_leader = false});
          }
          lpi = i;
        }
      }
      follower_dirty = true;
    }
    return FlushFollower(false);
  }

  // Saves the follower's state and publishes its LPI, at most once per snapshot_interval (a
  // save costs a sync on the disk etcd uses; a crash only means re-applying committed entries).
  // In between, the LPI alone is published at most once per lpi_publish_interval, so that the
  // leader's trimming (bounded by every LPI) need not wait for the next save: an LPI in etcd
  // above the saved one only means restoring from the snapshot after a crash.
  Status FlushFollower(bool force) {
    uint64_t current;
    {
      std::lock_guard lock(state_mu);
      current = lpi;
    }
    const auto now = Clock::now();
    if (follower_dirty && (force || now - last_follower_flush >= opt.snapshot_interval)) {
      last_follower_flush = now;
      BR2K_RETURN_IF_ERROR(SaveStateNow());
      follower_dirty = false;
    } else if (current == published_lpi || now - last_lpi_publish < opt.lpi_publish_interval) {
      return Status::Ok();
    }
    last_lpi_publish = now;
    if (deps.client->Put(keys.lpi(opt.replica_id), FormatIndex(current), EtcdDeadline()).ok()) {
      published_lpi = current;
    }
    return Status::Ok();
  }

  bool LocalIsRaftLeader() {
    if (opt.local_endpoint.empty()) return false;
    auto st = deps.client->EndpointStatus(opt.local_endpoint, EtcdDeadline());
    return st.ok() && st->is_leader();
  }

  void FollowerTick() {
    Status st = Follow();
    if (!st.ok()) {
      if (st.code() == StatusCode::kDataLoss) MarkUnhealthy(st.ToString());
      spdlog::debug("replica {}: follow: {}", opt.replica_id, st.ToString());
      return;
    }
    bool vacant, grace_over, ok;
    {
      std::lock_guard lock(mu);
      vacant = vacant_since.has_value();
      grace_over = vacant && Clock::now() - *vacant_since >= opt.takeover_grace;
      ok = healthy;
    }
    if (!vacant || !ok) return;
    {
      std::lock_guard lock(mu);
      if (Clock::now() < claim_not_before) return;  // backing off after a registry refusal
    }
    if (grace_over || LocalIsRaftLeader()) TryClaim();
  }

  void LeaderTick() {
    int64_t ep;
    bool lost;
    {
      std::lock_guard lock(mu);
      if (role != Role::kLeader) return;
      ep = epoch;
      lost = keeper && keeper->lost();
      if (!healthy) lost = true;
    }
    if (lost) return StepDown("lease lost or replica unhealthy");
    auto cl = deps.client->Get(keys.current_leader(), EtcdDeadline());
    if (cl.ok() && (!*cl || (*cl)->value != opt.replica_id || (*cl)->mod_revision != ep)) {
      return StepDown("Current_Leader changed");
    }
    if (!opt.local_endpoint.empty()) {
      // Raft leadership is the trigger for claiming a vacancy; once leading, a replica keeps
      // its claim while its lease lives (resigning whenever Raft leadership moves would make
      // leadership flap). It resigns when its own member stops answering.
      bool reachable = deps.client->EndpointStatus(opt.local_endpoint, EtcdDeadline()).ok();
      std::optional<Clock::time_point> since;
      {
        std::lock_guard lock(mu);
        if (reachable) {
          not_raft_leader_since.reset();
        } else if (!not_raft_leader_since) {
          not_raft_leader_since = Clock::now();
        }
        since = not_raft_leader_since;
      }
      if (since && Clock::now() - *since >= opt.step_down_after) {
        {
          std::lock_guard lock(mu);
          not_raft_leader_since.reset();
        }
        return Resign(ep, "local etcd member unreachable");
      }
    }
    CheckLocation(ep);
    {
      std::lock_guard lock(mu);
      if (role != Role::kLeader || epoch != ep) return;
    }
    if (Clock::now() - last_sweep >= opt.session_sweep_interval) {
      last_sweep = Clock::now();
      SweepSessions(ep);
    }
    bool long_log;
    {
      std::lock_guard lock(mu);
      long_log =
          (opt.trim_threshold > 0 && ls >= log_start && ls - log_start + 1 > opt.trim_threshold) ||
          (opt.trim_bytes > 0 && retained_bytes > opt.trim_bytes) || NearQuota();
    }
    if (long_log && Clock::now() - last_trim >= opt.trim_interval) {
      last_trim = Clock::now();
      Status st = TrimLog(ep);
      if (st.code() == StatusCode::kAborted) return StepDown(st.ToString());
      if (!st.ok()) spdlog::warn("replica {}: trimming the log: {}", opt.replica_id, st.ToString());
    }
  }

  // ---- the bounded log: trimming (leader) ----

  // When more than trim_threshold entries or trim_bytes bytes are retained, or (trimming on)
  // etcd's db is above the warning share of its quota: trim_to = min(SSI, the LPI of every
  // replica not more than max_lag behind, the first entry awaiting its transaction's settlement
  // - 1). A snapshot at or above trim_to is stored first unless etcd has one; then RLE, RS and
  // TX of [Log_Start, trim_to] are deleted and Log_Start moved in one fenced transaction, and
  // the session records of trimmed entries give way to per-client floors.
  Status TrimLog(int64_t ep) {
    const auto started = Clock::now();
    etcd::TxnRequest req;
    req.success = {etcd::Op::Get(keys.log_size()),
                   etcd::Op::Get(keys.ssi()),
                   etcd::Op::Get(keys.log_start()),
                   etcd::Op::Get(keys.snapshot()),
                   etcd::Op::Range(etcd::RangeRequest::Prefix(keys.lpi_prefix())),
                   etcd::Op::Range({.key = keys.tx_pending_prefix(),
                                    .range_end = etcd::PrefixEnd(keys.tx_pending_prefix()),
                                    .limit = 1,
                                    .keys_only = true})};
    BR2K_ASSIGN_OR_RETURN(auto resp, deps.client->Txn(req, EtcdDeadline()));
    BR2K_ASSIGN_OR_RETURN(uint64_t ls_now, IndexAt(resp, 0, 0));
    BR2K_ASSIGN_OR_RETURN(uint64_t ssi_now, IndexAt(resp, 1, 0));
    BR2K_ASSIGN_OR_RETURN(uint64_t start, IndexAt(resp, 2, 1));
    std::optional<SnapshotHeader> hdr;
    if (const auto* r = resp.responses[3].range(); r && !r->kvs.empty()) {
      auto h = DecodeSnapshotHeader(r->kvs[0].value);
      if (!h.ok()) return DataLossError(keys.snapshot() + ": " + h.status().message());
      hdr = *h;
    }
    if (ls_now < start) return Status::Ok();
    uint64_t bytes_before;
    bool near_quota;
    {
      std::lock_guard lock(mu);
      bytes_before = retained_bytes;
      near_quota = NearQuota();
    }
    const bool by_count = opt.trim_threshold > 0 && ls_now - start + 1 > opt.trim_threshold;
    const bool by_bytes = opt.trim_bytes > 0 && bytes_before > opt.trim_bytes;
    if (!by_count && !by_bytes && !near_quota) return Status::Ok();
    uint64_t bound = ssi_now;
    std::string held_by = "SSI";
    std::vector<std::string> ignored;
    for (const auto& kv : resp.responses[4].range()->kvs) {
      std::string id = kv.key.substr(keys.lpi_prefix().size());
      auto v = ParseIndex(kv.value);
      if (!v) continue;
      if (*v + opt.max_lag < ssi_now) {
        ignored.push_back(id + "@" + std::to_string(*v));  // restores from the snapshot
        continue;
      }
      if (*v < bound) {
        bound = *v;
        held_by = "LPI of " + id;
      }
    }
    if (const auto* r = resp.responses[5].range(); r && !r->kvs.empty()) {
      if (auto idx = KeyLayout::IndexOf(r->kvs[0].key); idx && *idx - 1 < bound) {
        bound = *idx - 1;  // a recorded transaction not settled yet keeps its entry
        held_by = "pending transaction of entry " + std::to_string(*idx);
      }
    }
    if (bound < start) return Status::Ok();
    uint64_t snap = hdr ? hdr->index : 0;
    size_t snap_bytes = 0;
    if (bound > snap) {
      std::optional<LocalState> s = CommittedSnapshot();
      if (!s) return UnavailableError("no committed point to take a snapshot at");
      if (s->lpi > snap) {
        BR2K_RETURN_IF_ERROR(WriteSnapshot(ep, *s));
        snap = s->lpi;
        snap_bytes = s->snapshot.size();
      }
      bound = std::min(bound, snap);
      if (bound < start) return Status::Ok();
    }
    // The session table is read from the entries: their (client, seq) become floors and
    // records first, so that no crash in between can forget a trimmed request.
    BR2K_ASSIGN_OR_RETURN(int64_t rev, TrimSessions(ep, start, bound));
    BR2K_ASSIGN_OR_RETURN(auto trimmed,
                          FencedTxn(ep, {etcd::Op::Delete(keys.rle(start), keys.rle(bound + 1)),
                                         etcd::Op::Delete(keys.rs(start), keys.rs(bound + 1)),
                                         etcd::Op::Delete(keys.tx(start), keys.tx(bound + 1)),
                                         etcd::Op::Put(keys.log_start(), FormatIndex(bound + 1))}));
    rev = std::max(rev, trimmed.header.revision);
    uint64_t bytes_after;
    {
      std::lock_guard lock(mu);
      log_start = bound + 1;
      trims++;
      ForgetEntryBytesTo(bound);
      bytes_after = retained_bytes;
    }
    if (opt.compact_after_trim) {
      auto c = deps.client->Compact(rev, false, EtcdDeadline());
      if (!c.ok())
        spdlog::debug("replica {}: compaction: {}", opt.replica_id, c.status().ToString());
    }
    std::string lagging;
    for (const auto& i : ignored) lagging += (lagging.empty() ? "" : ", ") + i;
    spdlog::info(
        "replica {}: trimmed entries {}-{} (over {}); the log now holds {}-{}, {} of {} bytes "
        "(snapshot at {}{}; bound: {}{}{}) in {} ms",
        opt.replica_id, start, bound,
        by_count   ? std::to_string(opt.trim_threshold) + " entries"
        : by_bytes ? std::to_string(opt.trim_bytes) + " bytes"
                   : std::to_string(opt.etcd_quota_warn_percent) + "% of etcd's quota",
        bound + 1, ls_now, bytes_after, bytes_before, snap,
        snap_bytes ? ", new, " + std::to_string(snap_bytes) + " bytes" : std::string(), held_by,
        lagging.empty() ? "" : "; not waiting for ", lagging,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
    return Status::Ok();
  }

  // Before the entries [start, trim_to] are deleted, keeps what exactly-once needs of them:
  // per client, the longest run of sequence numbers (from the lowest) whose entries are trimmed
  // raises the client's floor to the last of them (and deletes the records the floor now
  // covers); any other trimmed (client, seq) (a client that sent out of order) gets a
  // Session/<client>/<seq> record naming its trimmed entry. Either way a retry is refused
  // (OUT_OF_RANGE), never executed again. Returns the revision of the last transaction (0 if
  // none).
  Result<int64_t> TrimSessions(int64_t ep, uint64_t start, uint64_t trim_to) {
    std::map<std::string, uint64_t> raise;  // client -> new floor
    std::vector<std::pair<SessionKey, uint64_t>> records;
    std::map<std::string, uint64_t> old_floors;
    {
      std::lock_guard lock(mu);
      std::string client;
      bool blocked = false;
      for (const auto& [k, index] : sessions) {  // ordered by (client, seq)
        if (k.first != client) {
          client = k.first;
          blocked = false;
        }
        if (index > trim_to) {
          blocked = true;
        } else if (!blocked) {
          raise[client] = k.second;
        } else if (index >= start) {
          records.emplace_back(k, index);
        }
      }
      old_floors = session_floors;
    }
    int64_t rev = 0;
    const int64_t now = UnixNow();
    const size_t max_ops = std::max<size_t>(2, opt.max_txn_ops);
    std::vector<etcd::Op> ops;
    std::vector<std::pair<std::string, uint64_t>> raised;
    auto flush = [&]() -> Status {
      if (ops.empty()) return Status::Ok();
      BR2K_ASSIGN_OR_RETURN(auto r, FencedTxn(ep, std::move(ops)));
      rev = r.header.revision;
      ops.clear();
      std::lock_guard lock(mu);
      for (const auto& [c, f] : raised) {
        sessions.erase(sessions.lower_bound({c, 0}), sessions.upper_bound({c, f}));
        session_floors[c] = std::max(session_floors[c], f);
      }
      raised.clear();
      return Status::Ok();
    };
    for (const auto& [c, f] : raise) {
      if (ops.size() + 2 > max_ops) BR2K_RETURN_IF_ERROR(flush());
      uint64_t floor = std::max(f, old_floors.count(c) ? old_floors[c] : 0);
      ops.push_back(
          etcd::Op::Put(keys.session_floor(c), EncodeSessionFloor({.seq = floor, .unix_ts = now})));
      ops.push_back(etcd::Op::Delete(keys.session(c, 0), keys.session(c, f + 1)));
      raised.emplace_back(c, f);
    }
    for (const auto& [k, index] : records) {
      if (ops.size() + 1 > max_ops) BR2K_RETURN_IF_ERROR(flush());
      ops.push_back(etcd::Op::Put(keys.session(k.first, k.second),
                                  EncodeSessionRecord({.index = index, .unix_ts = now})));
    }
    BR2K_RETURN_IF_ERROR(flush());
    return rev;
  }

  // Deletes session records older than session_ttl.
  void SweepSessions(int64_t ep) {
    auto kvs = deps.client->GetPrefix(keys.session_prefix(), EtcdDeadline());
    if (!kvs.ok()) return;
    int64_t cutoff = UnixNow() - opt.session_ttl.count();
    std::vector<etcd::Op> ops;
    std::vector<SessionKey> gone;
    for (const auto& kv : *kvs) {
      auto rec = DecodeSessionRecord(kv.value);
      auto sk = keys.SessionOf(kv.key);
      if (rec.ok() && rec->unix_ts >= cutoff) continue;
      ops.push_back(etcd::Op::Delete(kv.key));
      if (sk) gone.push_back(*sk);
      if (ops.size() >= 100) {
        if (!FencedTxn(ep, std::move(ops)).ok()) return;
        ops.clear();
      }
    }
    if (!ops.empty() && !FencedTxn(ep, std::move(ops)).ok()) return;
    ops.clear();
    {
      std::lock_guard lock(mu);
      for (const auto& k : gone) sessions.erase(k);
    }
    // Session floors (written when trimming) expire the same way.
    auto floors = deps.client->GetPrefix(keys.session_floor_prefix(), EtcdDeadline());
    if (!floors.ok()) return;
    std::vector<std::string> gone_floors;
    for (const auto& kv : *floors) {
      auto f = DecodeSessionFloor(kv.value);
      if (f.ok() && f->unix_ts >= cutoff) continue;
      ops.push_back(etcd::Op::Delete(kv.key));
      if (auto c = keys.SessionFloorClient(kv.key)) gone_floors.push_back(*c);
      if (ops.size() >= 100) {
        if (!FencedTxn(ep, std::move(ops)).ok()) return;
        ops.clear();
      }
    }
    if (!ops.empty() && !FencedTxn(ep, std::move(ops)).ok()) return;
    std::lock_guard lock(mu);
    for (const auto& c : gone_floors) session_floors.erase(c);
  }

  // Check for pending process: roll back the effects outside the state of an apply that a
  // crash interrupted. The state itself is the durable snapshot, which never includes it.
  Status RollbackInterrupted() {
    if (!journal ||
        (journal->step != JournalStep::kApply && journal->step != JournalStep::kResult)) {
      return Status::Ok();
    }
    uint64_t from = std::max(journal->first, lpi + 1);
    if (from > journal->last) return Status::Ok();
    // Entries trimmed meanwhile were finished by a leader long ago (the log is only trimmed
    // below a committed snapshot): nothing of them is left to roll back here.
    BR2K_ASSIGN_OR_RETURN(auto start_kv, deps.client->Get(keys.log_start(), EtcdDeadline()));
    uint64_t start = start_kv ? ParseIndex(start_kv->value).value_or(1) : 1;
    if (from < start) {
      spdlog::warn("replica {}: interrupted entries [{}, {}] have been trimmed; not rolled back",
                   opt.replica_id, from, std::min(start - 1, journal->last));
      from = start;
    }
    if (from > journal->last) return Status::Ok();
    BR2K_ASSIGN_OR_RETURN(auto entries, ReadEntries(from, journal->last));
    std::lock_guard lock(state_mu);
    for (uint64_t i = from; i <= journal->last; ++i) {
      const auto& e = entries[i];
      if (e.rle.type == RequestType::kExternalTxn) continue;
      // Only an entry marked InProcess may have been applied, and one whose result is
      // committed was not interrupted.
      if (e.rs.state != EntryState::kInProcess) continue;
      spdlog::info("replica {}: rolling back interrupted apply of entry {}", opt.replica_id, i);
      deps.app->Rollback(e.rle.request, {.index = i, .type = e.rle.type, .as_leader = true});
    }
    return Status::Ok();
  }

  void ControlLoop() {
    bool rolled_back = false;
    std::unique_ptr<etcd::Watcher> watcher;
    while (true) {
      {
        std::lock_guard lock(mu);
        if (stop) break;
      }
      if (!local_verified) {
        Status st = CheckInvariants(/*at_start=*/true);
        if (st.ok()) {
          local_verified = true;
          last_invariant_check = Clock::now();
        } else {
          spdlog::debug("replica {}: checking the local state: {}", opt.replica_id, st.ToString());
          std::unique_lock lock(mu);
          stop_cv.wait_for(lock, opt.check_interval, [&] { return stop; });
          continue;
        }
      } else if (opt.invariant_check_interval.count() > 0 &&
                 Clock::now() - last_invariant_check >= opt.invariant_check_interval) {
        last_invariant_check = Clock::now();
        Status st = CheckInvariants(/*at_start=*/false);
        if (!st.ok()) {
          spdlog::warn("replica {}: invariant check: {}", opt.replica_id, st.ToString());
        }
      }
      if (!rolled_back) {
        Status st = RollbackInterrupted();
        if (st.ok()) {
          rolled_back = true;
        } else {
          spdlog::warn("replica {}: pending rollback: {}", opt.replica_id, st.ToString());
        }
      }
      CheckEtcdQuota();
      Role r;
      {
        std::lock_guard lock(mu);
        r = role;
      }
      if (rolled_back) {
        if (r == Role::kFollower) {
          FollowerTick();
        } else if (r == Role::kLeader) {
          LeaderTick();
        }
      }
      const auto tick = Clock::now();
      auto pause = [&](Clock::duration d) {
        std::unique_lock lock(mu);
        stop_cv.wait_for(lock, d, [&] { return stop; });
      };
      if (r != Role::kFollower || !rolled_back) {
        // The leader's own commits move SSI: it checks its role once per period only.
        watcher.reset();
        pause(opt.check_interval);
        continue;
      }
      // Follower: wait for an SSI event or the next Check role period, and follow at most
      // once per follow_min_interval however fast SSI moves (each follow step costs etcd reads).
      if (!watcher) {
        auto w = deps.client->Watch({.key = keys.ssi()}, Deadline::After(opt.check_interval));
        if (w.ok()) watcher = std::move(*w);
      }
      if (!watcher) {
        pause(opt.check_interval);
        continue;
      }
      auto b = watcher->Next(Deadline::After(opt.check_interval));
      if (!b.ok() && b.status().code() != StatusCode::kDeadlineExceeded) watcher.reset();
      if (b.ok()) pause(tick + opt.follow_min_interval - Clock::now());
    }
    if (watcher) watcher->Cancel();
  }

  // ---- leader pipeline ----

  void PipelineLoop() {
    if (opt.mode == CommitMode::kGroupCommit) return GroupLoop();
    while (true) {
      std::vector<std::shared_ptr<Pending>> batch;
      int64_t ep;
      uint64_t first;
      {
        std::unique_lock lock(mu);
        queue_cv.wait(lock, [&] { return stop || (role == Role::kLeader && !queue.empty()); });
        if (stop) return;
        size_t max = opt.mode == CommitMode::kPaper ? 1 : std::max<size_t>(1, opt.max_batch);
        if (opt.linger.count() > 0 && queue.size() < max) {
          queue_cv.wait_for(lock, opt.linger, [&] { return stop || queue.size() >= max; });
          if (stop) return;
          if (role != Role::kLeader || queue.empty()) continue;
        }
        ep = epoch;
        first = ls + 1;
        while (!queue.empty() && batch.size() < max) {
          batch.push_back(queue.front());
          queue.pop_front();
          batch.back()->index = first + batch.size() - 1;
        }
      }
      Status st = RunPaper(batch, ep, first);
      if (!st.ok()) {
        const Status why = NotCommitted(st);
        for (auto& p : batch) {
          CountRequest(p->entry.type, "error");
          p->Complete(why);
        }
        StepDown(st.ToString());
      }
    }
  }

  // Runs `f` (an etcd call) while the journal record is written, and returns f's result after
  // both finished. A journal write failure marks the replica unhealthy (it stops leading).
  template <typename F>
  auto WithJournal(const Journal& j, F f) {
    auto fut = std::async(std::launch::async, [this, j] { SaveJournalOrMark(j); });
    auto r = f();
    fut.get();
    return r;
  }

  // The entry itself carries (client, seq): the session table is the log (LoadSessions).
  std::vector<etcd::Op> AppendOps(const std::vector<std::shared_ptr<Pending>>& batch) {
    std::vector<etcd::Op> ops;
    for (const auto& p : batch) {
      ops.push_back(etcd::Op::Put(keys.rle(p->index), EncodeLogEntry(p->entry)));
      ops.push_back(
          etcd::Op::Put(keys.rs(p->index),
                        EncodeEntryStatus({.type = p->entry.type, .state = EntryState::kNull})));
    }
    return ops;
  }

  // Applies the batch locally (leader). Fills results. Marks the state uncommitted. Chain calls
  // of Normal requests go to `calls` (index in the batch -> call) when given.
  std::vector<EntryStatus> ApplyBatch(const std::vector<std::shared_ptr<Pending>>& batch,
                                      std::map<size_t, ChainCall>* calls = nullptr) {
    std::vector<EntryStatus> out;
    std::lock_guard lock(state_mu);
    uncommitted = true;
    for (size_t k = 0; k < batch.size(); ++k) {
      const auto& p = batch[k];
      EntryStatus s{.type = p->entry.type};
      if (p->entry.type == RequestType::kExternalTxn) {
        s.state = EntryState::kSuccess;  // recorded, not processed
        s.response =
            Response{.status = 200,
                     .body = "{\"index\":" + std::to_string(p->index) + ",\"recorded\":true}"};
      } else {
        ApplyResult r = deps.app->Apply(
            p->entry.request, {.index = p->index, .type = p->entry.type, .as_leader = true});
        s.state = r.outcome == Outcome::kSuccess ? EntryState::kSuccess : EntryState::kFail;
        s.response = std::move(r.response);
        if (r.chain_call && p->entry.type == RequestType::kNormal &&
            r.outcome == Outcome::kSuccess) {
          if (calls) {
            (*calls)[k] = std::move(*r.chain_call);
          } else {
            s.state = EntryState::kFail;
            s.response = Response{
                .status = 501, .body = "{\"error\":\"chain transactions need group commit mode\"}"};
          }
        }
      }
      out.push_back(std::move(s));
      if (k == 0) failpoints().Hit(Failpoint::kMidApply);
    }
    lpi = batch.back()->index;
    return out;
  }

  // After a failure following the local apply: undo and reload the durable state.
  void AbandonApplied(const std::vector<std::shared_ptr<Pending>>& batch) {
    {
      std::lock_guard lock(state_mu);
      for (const auto& p : batch) {
        deps.app->Rollback(p->entry.request,
                           {.index = p->index, .type = p->entry.type, .as_leader = true});
      }
    }
    Status st = ReloadState();
    if (!st.ok()) MarkUnhealthy("cannot reload local state: " + st.ToString());
  }

  void Finish(const std::vector<std::shared_ptr<Pending>>& batch,
              const std::vector<EntryStatus>& results, Clock::time_point start,
              const std::map<size_t, SignedTx>* txs = nullptr) {
    uint64_t last = batch.back()->index;
    {
      std::lock_guard lock(state_mu);
      uncommitted = false;
      state_cv.notify_all();
    }
    RequestSave();
    {
      std::lock_guard lock(mu);
      ssi = std::max(ssi, last);
      for (size_t k = 0; k < batch.size(); ++k) {
        if (txs && txs->count(k)) continue;  // still in flight until settled
        const auto& rq = batch[k]->entry.request;
        if (!rq.client_id.empty()) inflight.erase({rq.client_id, rq.seq});
      }
    }
    {
      std::lock_guard lock(metrics_mu);
      batch_sizes.Observe(static_cast<double>(batch.size()));
      commit_latency.Observe(std::chrono::duration<double>(Clock::now() - start).count());
    }
    for (size_t k = 0; k < batch.size(); ++k) {
      if (txs && txs->count(k)) continue;  // answered by the settler
      if (results[k].state == EntryState::kIgnore) {
        CountRequest(batch[k]->entry.type, "ignored");
        batch[k]->Complete(UnavailableError(
            "entry " + std::to_string(batch[k]->index) +
            " was not executed (its transaction could not be signed: chain unreachable); retry"));
        continue;
      }
      CountRequest(batch[k]->entry.type,
                   results[k].state == EntryState::kSuccess ? "success" : "fail");
      batch[k]->Complete(WriteResult{
          .index = batch[k]->index, .state = results[k].state, .response = *results[k].response});
    }
  }

  void RecordSessions(const std::vector<std::shared_ptr<Pending>>& batch) {
    std::lock_guard lock(mu);
    for (const auto& p : batch) {
      const auto& rq = p->entry.request;
      if (!rq.client_id.empty()) sessions[{rq.client_id, rq.seq}] = p->index;
    }
  }

  // ---- group commit, pipelined ----
  //
  // One fenced transaction per cycle carries three stages of three consecutive batches:
  //   append(fresh)     RLE (with its client id and seq), RS=Null, LS  (Replicate request)
  //   InProcess(next)   RS=InProcess for the batch appended last  (Process request)
  //   result(applied)   RS=Success|Fail, LPI(self), SSI           for the batch applied last
  // After it commits, `applied` is acknowledged, `next` is applied locally (its InProcess is now
  // committed) and becomes `applied`, and `fresh` becomes `next`. Each entry still goes through
  // the paper's three commits in order; a batch costs one transaction in steady state.
  struct Stage {
    std::vector<std::shared_ptr<Pending>> batch;
    std::vector<EntryStatus> results;  // once applied
    std::map<size_t, SignedTx> txs;    // position in batch -> its recorded transaction
    Clock::time_point start;
    uint64_t first() const { return batch.front()->index; }
    uint64_t last() const { return batch.back()->index; }
  };

  // Operations and bytes an entry adds to the append stage.
  static std::pair<size_t, size_t> AppendCost(const Pending& p) {
    size_t ops = 2 + (p.entry.request.client_id.empty() ? 0 : 1);
    size_t bytes = p.entry.request.body.size() + p.entry.request.path.size() + 256;
    return {ops, bytes};
  }

  // Fails the requests of a stage that will not complete here.
  void FailStage(Stage& st, const Status& why) {
    if (st.batch.empty()) return;
    const Status err = NotCommitted(why);
    for (auto& p : st.batch) {
      CountRequest(p->entry.type, "error");
      p->Complete(err);
    }
    st.batch.clear();
  }

  // Drops everything in flight after a failed cycle or a lost leadership: the applied batch is
  // rolled back (local state reloaded), every waiting request fails with UNAVAILABLE (a retry
  // with the same (client, seq) learns the outcome).
  void AbandonPipeline(std::optional<Stage>& next, std::optional<Stage>& applied,
                       const Status& why) {
    if (applied) {
      AbandonApplied(applied->batch);
      FailStage(*applied, why);
      applied.reset();
    }
    if (next) {
      FailStage(*next, why);
      next.reset();
    }
  }

  void GroupLoop() {
    std::optional<Stage> next;     // appended; InProcess in the coming cycle
    std::optional<Stage> applied;  // applied locally; result in the coming cycle
    int64_t ep = 0;
    while (true) {
      Stage fresh;
      {
        std::unique_lock lock(mu);
        auto in_flight = [&] { return next.has_value() || applied.has_value(); };
        auto leading = [&] { return role == Role::kLeader && (in_flight() ? epoch == ep : true); };
        queue_cv.wait(lock, [&] {
          return stop || (in_flight() && !leading()) ||
                 (role == Role::kLeader && (!queue.empty() || in_flight()));
        });
        if (stop || !leading()) {
          Status why = UnavailableError(stop ? "replica stopping" : "leadership lost");
          lock.unlock();
          AbandonPipeline(next, applied, why);
          if (stop) return;
          continue;
        }
        ep = epoch;
        if (!in_flight() && opt.linger.count() > 0 && queue.size() < opt.max_batch) {
          queue_cv.wait_for(lock, opt.linger,
                            [&] { return stop || queue.size() >= opt.max_batch; });
          if (stop || role != Role::kLeader || epoch != ep) continue;
        }
        // Budget: what InProcess and result need, then as many new entries as fit.
        size_t ops = 2 + (next ? next->batch.size() : 0) + (applied ? applied->batch.size() : 0);
        size_t bytes = 4096 + (applied ? applied->batch.size() * 512 : 0);
        if (applied) {
          for (const auto& r : applied->results) bytes += r.response ? r.response->body.size() : 0;
        }
        uint64_t first = ls + 1;
        fresh.start = Clock::now();
        while (!queue.empty() && fresh.batch.size() < std::max<size_t>(1, opt.max_batch)) {
          auto [o, b] = AppendCost(*queue.front());
          bool fits = ops + o + 1 <= opt.max_txn_ops && bytes + b <= opt.max_txn_bytes;
          if (!fits && !(fresh.batch.empty() && !in_flight())) break;  // never stall on one
          ops += o;
          bytes += b;
          fresh.batch.push_back(queue.front());
          queue.pop_front();
          fresh.batch.back()->index = first + fresh.batch.size() - 1;
        }
      }
      Status st = RunCycle(fresh, next, applied, ep);
      if (!st.ok()) {
        FailStage(fresh, st);
        AbandonPipeline(next, applied, st);
        StepDown(st.ToString());
      }
    }
  }

  // One pipeline transaction and what follows it. On error nothing of `fresh` was recorded
  // locally; the caller abandons the pipeline.
  Status RunCycle(Stage& fresh, std::optional<Stage>& next, std::optional<Stage>& applied,
                  int64_t ep) {
    std::vector<etcd::Op> ops;
    std::vector<std::pair<uint64_t, uint64_t>> counted;  // index -> bytes its entry gains
    if (!fresh.batch.empty()) {
      ops = AppendOps(fresh.batch);
      for (size_t k = 0; k < fresh.batch.size(); ++k) {  // two puts (RLE, RS) per entry
        counted.emplace_back(fresh.batch[k]->index,
                             PutBytes(ops[2 * k]) + PutBytes(ops[2 * k + 1]));
      }
      ops.push_back(etcd::Op::Put(keys.log_size(), FormatIndex(fresh.last())));
    }
    if (next) {
      for (const auto& p : next->batch) {
        if (p->entry.type == RequestType::kExternalTxn) continue;  // recorded, not processed
        ops.push_back(etcd::Op::Put(
            keys.rs(p->index),
            EncodeEntryStatus({.type = p->entry.type, .state = EntryState::kInProcess})));
      }
    }
    if (applied) {
      for (size_t k = 0; k < applied->batch.size(); ++k) {
        uint64_t i = applied->batch[k]->index;
        if (auto t = applied->txs.find(k); t != applied->txs.end()) {
          // Recorded before it is broadcast; RS stays InProcess until the receipt settles it.
          std::string rec = EncodeSignedTx(t->second);
          counted.emplace_back(i, keys.tx(i).size() + rec.size());
          ops.push_back(etcd::Op::Put(keys.tx(i), rec));
          ops.push_back(etcd::Op::Put(keys.tx_pending(i), rec));
          continue;
        }
        std::string rs = EncodeEntryStatus(applied->results[k]);
        counted.emplace_back(i, rs.size());
        ops.push_back(etcd::Op::Put(keys.rs(i), std::move(rs)));
      }
      ops.push_back(etcd::Op::Put(keys.lpi(opt.replica_id), FormatIndex(applied->last())));
      ops.push_back(etcd::Op::Put(keys.ssi(), FormatIndex(applied->last())));
    }
    // The journal names the entries whose local apply a crash could interrupt: the applied
    // batch (until its result commits) and the batch about to be applied. It is synced,
    // concurrently with the transaction, before anything of `next` is applied.
    Result<etcd::TxnResponse> r = InternalError("no transaction");
    if (next) {
      Journal j{.step = JournalStep::kApply,
                .first = applied ? applied->first() : next->first(),
                .last = next->last(),
                .epoch = ep};
      r = WithJournal(j, [&] { return FencedTxn(ep, std::move(ops)); });
    } else {
      r = FencedTxn(ep, std::move(ops));
    }
    if (!r.ok()) return r.status();
    {
      std::lock_guard lock(mu);
      for (const auto& [i, b] : counted) CountEntryBytes(i, b);
      etcd_nospace = false;  // etcd accepts writes (again)
    }

    // Committed: in the order the paper's steps happened to each batch.
    if (applied) {
      failpoints().Hit(Failpoint::kAfterResult);
      if (!applied->txs.empty()) {
        std::lock_guard lock(mu);
        for (const auto& [k, tx] : applied->txs) {
          settlements[applied->batch[k]->index] =
              Settlement{.index = applied->batch[k]->index, .tx = tx, .pending = applied->batch[k]};
        }
        settle_cv.notify_all();
      }
      Finish(applied->batch, applied->results, applied->start, &applied->txs);
      applied.reset();
    }
    if (!fresh.batch.empty()) {
      {
        std::lock_guard lock(mu);
        ls = fresh.last();
      }
      RecordSessions(fresh.batch);
      failpoints().Hit(Failpoint::kAfterAppend);
    }
    if (next) {
      failpoints().Hit(Failpoint::kAfterInProcess);
      LetReadersIn();
      std::map<size_t, ChainCall> calls;
      next->results = ApplyBatch(next->batch, &calls);
      for (auto& [k, call] : calls) SignCall(*next, k, call);
      applied = std::move(next);
      next.reset();
    }
    if (!fresh.batch.empty()) next = std::move(fresh);
    return Status::Ok();
  }

  // Signs the chain call of entry `k` of an applied stage. Nothing is sent: the transaction is
  // recorded with the stage's result and broadcast only after that committed. When it cannot
  // be signed nothing happened on chain: an unreachable chain makes the entry Ignore (a retry
  // with the same (client, seq) runs it again), a refused call makes it Fail.
  void SignCall(Stage& st, size_t k, const ChainCall& call) {
    EntryStatus& res = st.results[k];
    if (!deps.chain) {
      res.state = EntryState::kFail;
      res.response =
          Response{.status = 501, .body = "{\"error\":\"this replica has no chain configured\"}"};
      return;
    }
    auto tx = deps.chain->Sign(call, EtcdDeadline());
    if (tx.ok()) {
      st.txs[k] = std::move(*tx);
      return;
    }
    spdlog::warn("replica {}: entry {}: cannot sign its transaction: {}", opt.replica_id,
                 st.batch[k]->index, tx.status().ToString());
    if (tx.status().code() == StatusCode::kUnavailable ||
        tx.status().code() == StatusCode::kDeadlineExceeded) {
      res.state = EntryState::kIgnore;
      res.response.reset();
      return;
    }
    res.state = EntryState::kFail;
    nlohmann::json body = {
        {"index", st.batch[k]->index},
        {"error", "transaction refused before sending: " + tx.status().message()}};
    res.response = Response{.status = 422, .body = body.dump()};
  }

  // ---- settling recorded transactions ----

  static Response SettledResponse(uint64_t index, const SignedTx& tx, const TxReceiptInfo& r) {
    nlohmann::json body = {{"index", index},
                           {"tx", tx.hash},
                           {"nonce", tx.nonce},
                           {"block", r.block},
                           {"status", r.success ? "success" : "reverted"}};
    return Response{.status = r.success ? 200 : 422, .body = body.dump()};
  }

  // The settler: broadcasts each recorded transaction (again after a while if it is not mined,
  // in case the node dropped it), reads its receipt and settles RS with a fenced transaction.
  void SettlerLoop() {
    while (true) {
      Settlement work;
      int64_t ep;
      {
        std::unique_lock lock(mu);
        settle_cv.wait_for(lock, std::chrono::milliseconds(100),
                           [&] { return stop || (role == Role::kLeader && !settlements.empty()); });
        if (stop) return;
        if (role != Role::kLeader || settlements.empty()) continue;
        work = settlements.begin()->second;  // oldest first: nonces in order
        ep = epoch;
      }
      Status st = SettleOne(work, ep);
      if (st.code() == StatusCode::kAborted) {
        StepDown("fenced out while settling: " + st.ToString());
      } else if (!st.ok()) {
        spdlog::debug("replica {}: settling entry {}: {}", opt.replica_id, work.index,
                      st.ToString());
        std::unique_lock lock(mu);
        stop_cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop; });
      }
    }
  }

  Status SettleOne(Settlement& work, int64_t ep) {
    auto now = Clock::now();
    if (!work.broadcast || now - work.last_broadcast > std::chrono::seconds(5)) {
      BR2K_RETURN_IF_ERROR(deps.chain->Broadcast(work.tx, EtcdDeadline()));
      failpoints().Hit(Failpoint::kAfterBroadcast);
      std::lock_guard lock(mu);
      if (auto it = settlements.find(work.index); it != settlements.end()) {
        it->second.broadcast = true;
        it->second.last_broadcast = now;
      }
    }
    BR2K_ASSIGN_OR_RETURN(auto receipt, deps.chain->Receipt(work.tx.hash, EtcdDeadline()));
    if (!receipt) return UnavailableError("not mined yet");
    EntryStatus rs{.type = RequestType::kNormal,
                   .state = receipt->success ? EntryState::kSuccess : EntryState::kFail,
                   .response = SettledResponse(work.index, work.tx, *receipt)};
    BR2K_RETURN_IF_ERROR(FencedTxn(ep, {etcd::Op::Put(keys.rs(work.index), EncodeEntryStatus(rs)),
                                        etcd::Op::Delete(keys.tx_pending(work.index))})
                             .status());
    spdlog::info("replica {}: entry {} settled: tx {} {} in block {}", opt.replica_id, work.index,
                 work.tx.hash, receipt->success ? "succeeded" : "reverted", receipt->block);
    std::shared_ptr<Pending> p;
    {
      std::lock_guard lock(mu);
      auto it = settlements.find(work.index);
      if (it == settlements.end()) return Status::Ok();  // dropped by a step-down meanwhile
      p = it->second.pending;
      settlements.erase(it);
      if (p && !p->entry.request.client_id.empty()) {
        inflight.erase({p->entry.request.client_id, p->entry.request.seq});
      }
    }
    if (p) {
      CountRequest(RequestType::kNormal, receipt->success ? "success" : "fail");
      p->Complete(WriteResult{.index = work.index, .state = rs.state, .response = *rs.response});
    }
    return Status::Ok();
  }

  // Prepare service, for chain effects: every recorded transaction not settled yet is queued
  // for settlement (re-broadcast of the same raw transaction), and new transactions are signed
  // above every recorded nonce.
  Status LoadPendingTransactions() {
    BR2K_ASSIGN_OR_RETURN(auto kvs,
                          deps.client->GetPrefix(keys.tx_pending_prefix(), EtcdDeadline()));
    std::map<uint64_t, Settlement> loaded;
    uint64_t floor = 0;
    for (const auto& kv : kvs) {
      auto idx = KeyLayout::IndexOf(kv.key);
      auto tx = DecodeSignedTx(kv.value);
      if (!idx || !tx.ok()) return DataLossError("bad pending transaction record " + kv.key);
      floor = std::max(floor, tx->nonce + 1);
      loaded[*idx] = Settlement{.index = *idx, .tx = std::move(*tx)};
    }
    if (!loaded.empty() && !deps.chain) {
      return FailedPreconditionError(std::to_string(loaded.size()) +
                                     " recorded transactions wait for settlement, but this "
                                     "replica has no chain configured");
    }
    if (deps.chain) deps.chain->ResetNonce(floor);
    if (!loaded.empty()) {
      spdlog::info("replica {}: {} recorded transactions to settle", opt.replica_id, loaded.size());
    }
    std::lock_guard lock(mu);
    settlements = std::move(loaded);
    settle_cv.notify_all();
    return Status::Ok();
  }

  // Linearizable reads need the state at a committed point; under load the leader nearly always
  // holds an applied-but-uncommitted batch. Before applying the next batch, give waiting readers
  // a moment at the committed point just reached.
  void LetReadersIn() {
    std::unique_lock lock(state_mu);
    if (readers_waiting == 0) return;
    state_cv.wait_for(lock, std::chrono::milliseconds(5), [&] { return readers_waiting == 0; });
  }

  // The papers' literal sequence for one request: one fenced write per key.
  Status RunPaper(const std::vector<std::shared_ptr<Pending>>& batch, int64_t ep, uint64_t first) {
    auto start = Clock::now();
    const auto& p = batch.front();
    uint64_t i = first;
    Journal j{.step = JournalStep::kAppend, .first = i, .last = i, .epoch = ep};
    auto put = [&](std::string k, std::string v) -> Status {
      auto r = FencedTxn(ep, {etcd::Op::Put(std::move(k), std::move(v))});
      return r.ok() ? Status::Ok() : r.status();
    };
    SaveJournalOrMark(j);
    BR2K_RETURN_IF_ERROR(put(keys.rle(i), EncodeLogEntry(p->entry)));
    BR2K_RETURN_IF_ERROR(
        put(keys.rs(i), EncodeEntryStatus({.type = p->entry.type, .state = EntryState::kNull})));
    BR2K_RETURN_IF_ERROR(put(keys.log_size(), FormatIndex(i)));
    {
      std::lock_guard lock(mu);
      ls = i;
      etcd_nospace = false;  // etcd accepts writes (again)
      CountEntryBytes(i, keys.rle(i).size() + EncodeLogEntry(p->entry).size() + keys.rs(i).size() +
                             kRsBytesEstimate);
    }
    RecordSessions(batch);
    failpoints().Hit(Failpoint::kAfterAppend);
    if (p->entry.type != RequestType::kExternalTxn) {
      j.step = JournalStep::kInProcess;
      SaveJournalOrMark(j);
      BR2K_RETURN_IF_ERROR(put(
          keys.rs(i), EncodeEntryStatus({.type = p->entry.type, .state = EntryState::kInProcess})));
    }
    failpoints().Hit(Failpoint::kAfterInProcess);
    j.step = JournalStep::kApply;
    SaveJournalOrMark(j);
    auto results = ApplyBatch(batch);
    j.step = JournalStep::kResult;
    SaveJournalOrMark(j);
    Status st = put(keys.rs(i), EncodeEntryStatus(results[0]));
    if (st.ok()) st = put(keys.lpi(opt.replica_id), FormatIndex(i));
    if (st.ok()) st = put(keys.ssi(), FormatIndex(i));
    if (!st.ok()) {
      AbandonApplied(batch);
      return st;
    }
    failpoints().Hit(Failpoint::kAfterResult);
    Finish(batch, results, start);
    return Status::Ok();
  }

  // ---- client calls ----

  // A non-leader's answer (mu held): "not leader" (the caller redirects), unless no leader is
  // known because etcd refuses writes at its quota (no replica can claim): then that cause.
  Status NotLeader() const {
    if (leader_id.empty() && etcd_nospace) {
      return NoSpaceError("no replica can take the lead while etcd refuses writes");
    }
    return FailedPreconditionError("not leader");
  }

  Result<WriteResult> Execute(Request request, RequestType type, Deadline deadline) {
    if (type == RequestType::kReadOnly) {
      return InvalidArgumentError("read-only requests are not logged; use Read");
    }
    SessionKey sk{request.client_id, request.seq};
    bool has_session = !request.client_id.empty();
    if (has_session && (!ValidId(request.client_id) || request.seq == 0)) {
      return InvalidArgumentError("client id must be 1-64 chars of [A-Za-z0-9._-] and seq >= 1");
    }
    std::shared_ptr<Pending> p;
    const std::string who =
        "request (client " + request.client_id + ", seq " + std::to_string(request.seq) + ")";
    for (int attempt = 0; attempt < 2 && !p; ++attempt) {
      std::optional<uint64_t> recorded;
      std::shared_ptr<Pending> attach;
      {
        std::lock_guard lock(mu);
        if (role != Role::kLeader) return NotLeader();
        if (!healthy) return UnavailableError("replica unhealthy: " + last_error);
        if (has_session) {
          if (auto it = inflight.find(sk); it != inflight.end()) attach = it->second;
        }
        if (attach) {
          // fall through to waiting outside the lock
        } else if (has_session) {
          if (auto it = sessions.find(sk); it != sessions.end()) {
            if (attempt == 0) recorded = it->second;
          } else if (auto f = session_floors.find(request.client_id);
                     f != session_floors.end() && request.seq <= f->second) {
            // Its session record went with its trimmed entry: never run it again.
            CountRequest(type, "gone");
            return OutOfRangeError(
                who + " is at or below sequence number " + std::to_string(f->second) +
                " of its client, whose entries have been trimmed from the log; it is not "
                "executed again and its answer is no longer available");
          }
        }
        if (!recorded && !attach) {
          p = std::make_shared<Pending>();
          p->entry = LogEntry{.type = type, .request = std::move(request)};
          if (has_session) inflight[sk] = p;
          queue.push_back(p);
          queue_cv.notify_all();
        }
      }
      if (attach) {
        // The same (client, seq) is being processed right now: share its outcome.
        auto w = attach->Wait(deadline);
        if (w.ok()) w->duplicate = true;
        return w;
      }
      if (recorded) {
        // A retry of a logged request: answer from the record, never execute again.
        auto kv = deps.client->Get(keys.rs(*recorded), EtcdDeadline());
        if (!kv.ok()) return kv.status();
        if (!*kv) {
          // RS is written with the session record and only deleted by trimming.
          CountRequest(type, "gone");
          return OutOfRangeError(who + " was logged as entry " + std::to_string(*recorded) +
                                 ", which has been trimmed from the log; it is not executed "
                                 "again and its answer is no longer available");
        }
        auto rs = DecodeEntryStatus((*kv)->value);
        if (!rs.ok()) return DataLossError(rs.status().message());
        if ((rs->state == EntryState::kSuccess || rs->state == EntryState::kFail) && rs->response) {
          CountRequest(type, "duplicate");
          return WriteResult{
              .index = *recorded, .state = rs->state, .response = *rs->response, .duplicate = true};
        }
        if (rs->state != EntryState::kIgnore) {
          return UnavailableError("an earlier attempt of this request (entry " +
                                  std::to_string(*recorded) + ") is " + EntryStateName(rs->state) +
                                  "; its outcome is not known yet");
        }
        // Ignored: never executed by anyone, so it may run now (loop once more).
      }
    }
    if (!p) return UnavailableError("request could not be queued; retry");
    // On DEADLINE_EXCEEDED the request stays queued or running; a retry attaches to it.
    return p->Wait(deadline);
  }

  Result<Response> Read(const Request& request, Deadline deadline) {
    int64_t ep;
    {
      std::lock_guard lock(mu);
      if (role != Role::kLeader) return NotLeader();
      ep = epoch;
    }
    // Confirm leadership through etcd and learn SSI at that point.
    auto r = FencedTxn(ep, {etcd::Op::Get(keys.ssi())});
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kAborted) {
        StepDown("fenced out on read");
        return FailedPreconditionError("not leader");
      }
      return r.status();
    }
    uint64_t target = 0;
    const auto* range = r->responses.empty() ? nullptr : r->responses[0].range();
    if (range && !range->kvs.empty()) target = ParseIndex(range->kvs[0].value).value_or(0);
    std::unique_lock lock(state_mu);
    readers_waiting++;
    bool ready =
        state_cv.wait_until(lock, deadline.when(), [&] { return !uncommitted && lpi >= target; });
    Response out;
    if (ready) out = deps.app->Read(request);
    readers_waiting--;
    state_cv.notify_all();
    if (!ready) return DeadlineExceededError("state not caught up with SSI before the deadline");
    CountRequest(RequestType::kReadOnly, "success");
    return out;
  }
};

Result<std::unique_ptr<Replica>> Replica::Create(ReplicaOptions options, Deps deps) {
  if (!ValidId(options.service_id)) return InvalidArgumentError("bad service id");
  if (!ValidId(options.replica_id)) return InvalidArgumentError("bad replica id");
  if (!deps.client || !deps.app || !deps.store) {
    return InvalidArgumentError("client, app and store are required");
  }
  if (options.leader_ttl_seconds < 1) return InvalidArgumentError("leader ttl must be >= 1 s");
  if (options.follow_chunk == 0) options.follow_chunk = 1;
  if (options.snapshot_chunk_bytes == 0 || options.snapshot_chunk_bytes > options.max_txn_bytes) {
    return InvalidArgumentError("snapshot chunk size must be 1.." +
                                std::to_string(options.max_txn_bytes) + " bytes (max txn bytes)");
  }
  if (options.claim_backoff_initial.count() <= 0 ||
      options.claim_backoff_max < options.claim_backoff_initial) {
    return InvalidArgumentError("claim backoff: need 0 < initial <= max");
  }
  if (options.etcd_quota_bytes == 0 || options.etcd_quota_warn_percent == 0 ||
      options.etcd_quota_warn_percent > 100) {
    return InvalidArgumentError("etcd quota: need quota bytes > 0 and a warning at 1-100 %");
  }
  auto impl = std::make_unique<Impl>(std::move(options), deps);
  impl->initial_snapshot = deps.app->Snapshot();
  auto saved = deps.store->LoadState();
  std::string corrupt;
  if (!saved.ok()) {
    if (saved.status().code() != StatusCode::kDataLoss) return saved.status();
    corrupt = saved.status().message();
  } else if (*saved) {
    Status st = deps.app->Restore((*saved)->snapshot);
    if (st.ok()) {
      impl->lpi = (*saved)->lpi;
    } else {
      corrupt = "the application cannot restore the saved state: " + st.ToString();
    }
  }
  if (!corrupt.empty()) {
    // Nothing is started yet: Rebuild only resets what Create set up.
    impl->Rebuild(corrupt);
  }
  BR2K_ASSIGN_OR_RETURN(impl->journal, deps.store->LoadJournal());
  if (impl->journal) {
    spdlog::info("replica {}: journal at step {} for [{}, {}], local LPI {}", impl->opt.replica_id,
                 JournalStepName(impl->journal->step), impl->journal->first, impl->journal->last,
                 impl->lpi);
  }
  return std::unique_ptr<Replica>(new Replica(std::move(impl)));
}

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Replica::~Replica() {
  Stop();
}

Status Replica::Start() {
  std::lock_guard lock(impl_->mu);
  if (impl_->started) return FailedPreconditionError("already started");
  impl_->started = true;
  impl_->saver_thread = std::thread([this] { impl_->SaverLoop(); });
  impl_->control_thread = std::thread([this] { impl_->ControlLoop(); });
  impl_->pipeline_thread = std::thread([this] { impl_->PipelineLoop(); });
  if (impl_->deps.chain) impl_->settler_thread = std::thread([this] { impl_->SettlerLoop(); });
  return Status::Ok();
}

void Replica::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->started || impl_->stop) return;
    impl_->stop = true;
    impl_->queue_cv.notify_all();
    impl_->stop_cv.notify_all();
    impl_->settle_cv.notify_all();
  }
  if (impl_->pipeline_thread.joinable()) impl_->pipeline_thread.join();
  if (impl_->settler_thread.joinable()) impl_->settler_thread.join();
  if (impl_->control_thread.joinable()) impl_->control_thread.join();
  impl_->StepDown("stopping");
  if (Status st = impl_->FlushFollower(true); !st.ok()) {
    spdlog::warn("replica {}: final save failed: {}", impl_->opt.replica_id, st.ToString());
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->FailAll(UnavailableError("replica stopping"));
  }
  {
    std::lock_guard lock(impl_->save_mu);
    impl_->save_stop = true;
    impl_->save_cv.notify_all();
  }
  if (impl_->saver_thread.joinable()) impl_->saver_thread.join();
}

Result<WriteResult> Replica::Execute(Request request, RequestType type, Deadline deadline) {
  return impl_->Execute(std::move(request), type, deadline);
}

Result<Response> Replica::Read(const Request& request, Deadline deadline) {
  return impl_->Read(request, deadline);
}

LocalState Replica::local_state() const {
  std::lock_guard lock(impl_->state_mu);
  return LocalState{.lpi = impl_->lpi, .snapshot = impl_->deps.app->Snapshot()};
}

ReplicaStatus Replica::status() const {
  ReplicaStatus s;
  s.id = impl_->opt.replica_id;
  {
    std::lock_guard lock(impl_->state_mu);
    s.lpi = impl_->lpi;
  }
  std::lock_guard lock(impl_->mu);
  s.role = impl_->role;
  s.ssi = impl_->ssi;
  s.ls = impl_->ls;
  s.leader = impl_->leader_id;
  s.leader_url = impl_->leader_url;
  s.epoch = impl_->epoch;
  s.queued = impl_->queue.size();
  s.healthy = impl_->healthy;
  s.last_error = impl_->last_error;
  s.log_start = impl_->log_start;
  s.snapshot_index = impl_->snapshot_index;
  s.trims = impl_->trims;
  s.restores = impl_->restores;
  s.state_rebuilds = impl_->state_rebuilds;
  s.last_data_loss = impl_->last_data_loss;
  s.registry_refusals = impl_->registry_refusals;
  s.location_check_resigns = impl_->location_check_resigns;
  s.log_bytes = impl_->role == Role::kLeader ? impl_->retained_bytes : 0;
  s.etcd_db_size = impl_->etcd_db_size;
  s.etcd_db_size_in_use = impl_->etcd_db_size_in_use;
  s.etcd_quota_bytes = impl_->opt.etcd_quota_bytes;
  s.etcd_quota_warning = impl_->etcd_quota_warning;
  s.etcd_nospace = impl_->etcd_nospace;
  s.etcd_nospace_refusals = impl_->etcd_nospace_refusals;
  if (Clock::now() < impl_->claim_not_before) {
    s.claim_backoff_ms = static_cast<uint64_t>(impl_->claim_backoff.count());
  }
  return s;
}

std::string Replica::MetricsText() const {
  auto st = status();
  std::ostringstream out;
  std::lock_guard lock(impl_->metrics_mu);
  out << "# HELP br2k_requests_total Requests by type and outcome.\n"
      << "# TYPE br2k_requests_total counter\n";
  for (const auto& [k, v] : impl_->requests) {
    out << "br2k_requests_total{type=\"" << k.first << "\",outcome=\"" << k.second << "\"} " << v
        << "\n";
  }
  out << "# HELP br2k_batch_size Requests per group commit.\n# TYPE br2k_batch_size histogram\n";
  impl_->batch_sizes.Write(out, "br2k_batch_size");
  out << "# HELP br2k_commit_latency_seconds From batch start to committed result.\n"
      << "# TYPE br2k_commit_latency_seconds histogram\n";
  impl_->commit_latency.Write(out, "br2k_commit_latency_seconds");
  out << "# HELP br2k_role_changes_total Role transitions.\n# TYPE br2k_role_changes_total "
         "counter\nbr2k_role_changes_total "
      << impl_->role_changes << "\n";
  out << "# TYPE br2k_lpi gauge\nbr2k_lpi " << st.lpi << "\n";
  out << "# TYPE br2k_ssi gauge\nbr2k_ssi " << st.ssi << "\n";
  out << "# TYPE br2k_log_size gauge\nbr2k_log_size " << st.ls << "\n";
  out << "# TYPE br2k_is_leader gauge\nbr2k_is_leader " << (st.role == Role::kLeader ? 1 : 0)
      << "\n";
  out << "# HELP br2k_log_start First log index still in etcd (below it: trimmed).\n"
      << "# TYPE br2k_log_start gauge\nbr2k_log_start " << st.log_start << "\n";
  out << "# TYPE br2k_snapshot_index gauge\nbr2k_snapshot_index " << st.snapshot_index << "\n";
  out << "# TYPE br2k_log_trims_total counter\nbr2k_log_trims_total " << st.trims << "\n";
  out << "# TYPE br2k_snapshot_restores_total counter\nbr2k_snapshot_restores_total " << st.restores
      << "\n";
  out << "# HELP br2k_registry_refusals_total Claims whose location the registry refused.\n"
      << "# TYPE br2k_registry_refusals_total counter\nbr2k_registry_refusals_total "
      << st.registry_refusals << "\n";
  out << "# HELP br2k_claim_backoff_seconds Current wait before claiming again (0: none).\n"
      << "# TYPE br2k_claim_backoff_seconds gauge\nbr2k_claim_backoff_seconds "
      << static_cast<double>(st.claim_backoff_ms) / 1000.0 << "\n";
  out << "# HELP br2k_state_rebuilds_total Local states found corrupt or impossible (DATA_LOSS) "
         "and rebuilt from etcd.\n"
      << "# TYPE br2k_state_rebuilds_total counter\nbr2k_state_rebuilds_total " << st.state_rebuilds
      << "\n";
  out << "# TYPE br2k_location_check_resigns_total counter\nbr2k_location_check_resigns_total "
      << st.location_check_resigns << "\n";
  out << "# HELP br2k_log_retained_bytes Bytes of the retained log entries in etcd (leader).\n"
      << "# TYPE br2k_log_retained_bytes gauge\nbr2k_log_retained_bytes " << st.log_bytes << "\n";
  out << "# HELP br2k_etcd_db_size_bytes etcd's database size (what its quota counts).\n"
      << "# TYPE br2k_etcd_db_size_bytes gauge\nbr2k_etcd_db_size_bytes " << st.etcd_db_size
      << "\n";
  out << "# TYPE br2k_etcd_db_size_in_use_bytes gauge\nbr2k_etcd_db_size_in_use_bytes "
      << st.etcd_db_size_in_use << "\n";
  out << "# TYPE br2k_etcd_quota_bytes gauge\nbr2k_etcd_quota_bytes " << st.etcd_quota_bytes
      << "\n";
  out << "# HELP br2k_etcd_quota_warning 1 while etcd's database is above the warning share of "
         "its quota.\n"
      << "# TYPE br2k_etcd_quota_warning gauge\nbr2k_etcd_quota_warning "
      << (st.etcd_quota_warning ? 1 : 0) << "\n";
  out << "# HELP br2k_etcd_nospace 1 while etcd refuses writes at its quota (NOSPACE alarm).\n"
      << "# TYPE br2k_etcd_nospace gauge\nbr2k_etcd_nospace " << (st.etcd_nospace ? 1 : 0) << "\n";
  out << "# TYPE br2k_etcd_nospace_refusals_total counter\nbr2k_etcd_nospace_refusals_total "
      << st.etcd_nospace_refusals << "\n";
  return out.str();
}

}  // namespace br2k::replication
