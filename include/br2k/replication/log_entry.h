// The values br2k stores in etcd (RLE, RS, sessions) and in a replica's data directory
// (state file, journal), with their encodings. Every Decode* function validates its input and
// never throws: INVALID_ARGUMENT (DATA_LOSS for local files) names what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "br2k/replication/application.h"

namespace br2k::replication {

// The paper's RS states.
enum class EntryState { kNull, kInProcess, kSuccess, kFail, kIgnore };
const char* EntryStateName(EntryState s);  // "Null", "InProcess", "Success", "Fail", "Ignore"
Result<EntryState> ParseEntryState(std::string_view name);

// RLE: one logged request.
struct LogEntry {
  RequestType type = RequestType::kReplication;
  Request request;
};
std::string EncodeLogEntry(const LogEntry& e);
Result<LogEntry> DecodeLogEntry(std::string_view bytes);

// RS: the state of one entry and, once final, the answer given to the client.
struct EntryStatus {
  RequestType type = RequestType::kReplication;
  EntryState state = EntryState::kNull;
  std::optional<Response> response;  // set with Success / Fail
};
std::string EncodeEntryStatus(const EntryStatus& s);
Result<EntryStatus> DecodeEntryStatus(std::string_view bytes);

// A client session record: (client, seq) was logged at `index` at unix time `unix_ts`.
struct SessionRecord {
  uint64_t index = 0;
  int64_t unix_ts = 0;
};
std::string EncodeSessionRecord(const SessionRecord& r);
Result<SessionRecord> DecodeSessionRecord(std::string_view bytes);

// SessionFloor/<client>: every seq <= `seq` of the client whose session record is gone was
// logged at a trimmed index (its answer is no longer available; it must not run again).
// `unix_ts`: when the floor was last raised (floors expire with the session TTL).
struct SessionFloor {
  uint64_t seq = 0;
  int64_t unix_ts = 0;
};
std::string EncodeSessionFloor(const SessionFloor& f);
Result<SessionFloor> DecodeSessionFloor(std::string_view bytes);

// Snapshot: the header of the application snapshot stored in etcd at log index `index` (the
// state after applying every entry up to it), in `chunks` chunks of `size` bytes in all, with
// the CRC-32 of the whole. JSON {"i","n","size","crc32"}; 1 <= n <= 999999, n <= max(size, 1).
struct SnapshotHeader {
  uint64_t index = 0;
  uint64_t chunks = 1;
  uint64_t size = 0;
  uint32_t crc32 = 0;
  bool operator==(const SnapshotHeader&) const = default;
};
std::string EncodeSnapshotHeader(const SnapshotHeader& h);
Result<SnapshotHeader> DecodeSnapshotHeader(std::string_view bytes);

// CRC-32 (IEEE 802.3, the zlib polynomial) of `data`: the journal's records and etcd snapshots.
uint32_t Crc32(std::string_view data);

// The replica's durable local state: the application snapshot and the LPI, stored together.
struct LocalState {
  uint64_t lpi = 0;
  std::string snapshot;
};
// {"format":"br2k-state-2","lpi":N,"snapshot":"...","crc32":C}, C = Crc32 of
// "br2k-state-2\n<lpi>\n<snapshot>": an edited LPI or snapshot no longer matches. (A checksum, not
// a signature: it catches corruption and careless edits; the replica's invariant checks against
// etcd catch a consistent but impossible state.)
std::string EncodeLocalState(const LocalState& s);
// DATA_LOSS when corrupt: not JSON, a field missing or mistyped, an unknown format (including
// br2k-state-1, which had no checksum), or a checksum mismatch.
Result<LocalState> DecodeLocalState(std::string_view bytes);
// The checksum EncodeLocalState stores.
uint32_t LocalStateChecksum(const LocalState& s);

// The journal: the step of the leader pipeline the replica was at, for [first, last].
enum class JournalStep { kIdle, kAppend, kInProcess, kApply, kResult };
const char* JournalStepName(JournalStep s);
struct Journal {
  JournalStep step = JournalStep::kIdle;
  uint64_t first = 0;
  uint64_t last = 0;
  int64_t epoch = 0;  // fencing epoch of the leader that wrote it
  // At kResult: the RS values (EncodeEntryStatus) being written, so that a replica that applied
  // the batch but could not record it can finish the write when it leads again.
  std::map<uint64_t, std::string> results;
};
std::string EncodeJournal(const Journal& j);
Result<Journal> DecodeJournal(std::string_view bytes);  // DATA_LOSS when corrupt

}  // namespace br2k::replication
