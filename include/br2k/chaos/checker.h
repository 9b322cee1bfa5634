// The history checker of chaos runs (protocol.md section 9): given what the clients recorded
// (client::History records), what every replica holds at the end, and the log in etcd, it
// decides whether the run kept the service's promises, and says why not with the evidence
// (values, client and seq, indexes, positions, times).
//
// It is pure: no processes, no network, no clock. It assumes the br2k-logserver application
// (POST /logs appends the body's "user" value to a list; LogServerValue) and that every write
// carries a value no other write carries (the chaos clients send "<client>.<seq>"); writes with
// other routes (e.g. POST /anchor) and reads are ignored.
//
// What a record means is client/history.h's contract: ok = a final 2xx answer (acknowledged),
// fail = a definite failure (a final non-2xx answer, or nothing can have reached the service),
// unknown = may or may not have taken effect. An operation with an invoke but no final record
// (its client was stopped) counts as unknown.
//
// Thread safety: every function is thread-compatible (no shared state).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/client/history.h"
#include "br2k/common/status.h"
#include "br2k/replication/application.h"
#include "br2k/replication/log_entry.h"

namespace br2k::chaos {

// What one replica holds after healing and convergence.
struct ReplicaState {
  std::string id;
  bool expected_alive = true;  // false when the scenario killed it and left it dead
  bool alive = true;           // its process still exists
  bool reachable = true;       // it answered GET /replica?state=1 (values below are valid)
  uint64_t lpi = 0;
  std::vector<std::string> values;  // the log server's list, in order
  std::string error;                // why it was not reachable
};

// Parses br2k-logserver's GET /replica?state=1 answer: {"id", "role", "url", "lpi", "state":
// [strings]} into a reachable ReplicaState (`alive` and `expected_alive` left true).
// INVALID_ARGUMENT naming what is wrong (not JSON, missing id/lpi/state, a non-string entry).
// Never throws.
Result<ReplicaState> ParseReplicaState(std::string_view json);

// One entry of the log in etcd: RLE(index) and RS(index) decoded.
struct EtcdEntry {
  uint64_t index = 0;
  replication::RequestType type = replication::RequestType::kReplication;
  replication::EntryState state = replication::EntryState::kNull;
  std::string method;
  std::string path;
  std::string body;
  std::string client;
  uint64_t seq = 0;
  int status = 0;  // the answer recorded with Success / Fail (0 when none)
  std::string response;
  bool has_rs = true;  // false when RS(index) is missing
};

// Decodes RLE(index) (replication::DecodeLogEntry) and RS(index) (DecodeEntryStatus; "" = the
// RS key is missing: has_rs false, state Null). INVALID_ARGUMENT from either decoder.
Result<EtcdEntry> DecodeEtcdEntry(uint64_t index, std::string_view rle, std::string_view rs);

// The log in etcd at the end of the run.
struct EtcdLog {
  bool read = false;               // false: etcd could not be read; its checks are skipped
  uint64_t log_start = 1;          // Log_Start: entries below it were trimmed
  uint64_t log_size = 0;           // Log_Size (LS)
  uint64_t ssi = 0;                // Service_State_Index
  std::vector<EtcdEntry> entries;  // index order, log_start..log_size (gaps are violations)
};

struct CheckInput {
  // Every client's records. Records of one client must be in their recording order; clients
  // may be interleaved. Times (mono_ns) must come from one machine's steady clock.
  std::vector<client::HistoryRecord> history;
  std::vector<ReplicaState> replicas;
  EtcdLog etcd;
};

enum class ViolationKind {
  kReplicaDead,      // a replica the scenario did not kill is gone or does not answer
  kReplicaDiverged,  // two replicas hold different lists
  kLostAck,          // an acknowledged write is not in the replicas' list
  kDuplicate,        // a value is in the list more than once
  kFailedApplied,    // a write answered with a definite failure is in the list
  kPhantom,          // a value nobody sent is in the list
  kOrder,            // real-time order broken: acked before another was invoked, yet later
  kIndexMismatch,    // an answered index / position does not match the log
  kDoubleSuccess,    // one (client, seq) with two Success entries in etcd
  kUnfinished,       // an entry left Null or InProcess (or without RS) in etcd
  kEtcdMismatch,     // etcd's Success entries disagree with the replicas' list
  kBadInput,         // the input cannot be checked as given (e.g. two writes with one value)
};
// "replica_dead", "replica_diverged", "lost_ack", "duplicate", "failed_applied", "phantom",
// "order", "index_mismatch", "double_success", "unfinished", "etcd_mismatch", "bad_input".
const char* ViolationKindName(ViolationKind k);

struct Violation {
  ViolationKind kind = ViolationKind::kBadInput;
  std::string message;  // one line with the evidence, for people
  // The same evidence for machines, e.g. {"client":"c1","seq":"4","value":"c1.4",
  // "index":"17","position":"16","acked_s":"12.301"}.
  std::map<std::string, std::string> evidence;
};

struct CheckStats {
  uint64_t writes = 0;  // write operations (POST /logs) invoked
  uint64_t ok = 0;
  uint64_t fail = 0;
  uint64_t unknown = 0;  // including operations without a final record
  uint64_t unknown_applied = 0;
  uint64_t applied = 0;  // values in the reference replica's list
  uint64_t replicas_checked = 0;
  uint64_t etcd_entries = 0;
  std::string reference;  // id of the replica whose list the others were compared with
};

struct CheckResult {
  std::vector<Violation> violations;
  CheckStats stats;
  bool ok() const { return violations.empty(); }
  // How many violations of `k`.
  size_t Count(ViolationKind k) const;
  // "PASS: ..." or "FAIL: n violations" followed by one line per violation.
  std::string ToText() const;
  // {"ok": bool, "stats": {...}, "violations": [{"kind", "message", "evidence": {...}}]}.
  std::string ToJson() const;
};

// The value a POST /logs body appends (its "user" field: a string, or an integer written in
// decimal), as br2k-logserver computes it; nullopt when the body appends nothing.
std::optional<std::string> LogServerValue(std::string_view body);

// Runs every check. At most `max_per_kind` violations of each kind are listed (the stats and
// the first ones are enough to debug; a broken run can have thousands).
CheckResult Check(const CheckInput& input, size_t max_per_kind = 20);

}  // namespace br2k::chaos
