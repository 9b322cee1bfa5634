// The record of what a client did: every operation (invoke, then exactly one of ok / fail /
// unknown), every HTTP attempt and its outcome, redirects followed, location changes and claims.
// It is the input of the history checker of chaos runs (protocol.md section 9), so its meaning
// is exact:
//
//   invoke   an operation started: client, seq (X-Br2k-Seq; 0 for a read), method, path, body.
//   ok       the operation got a final 2xx answer: status, response body, index / state /
//            duplicate from the X-Br2k-* headers, url that answered, attempts.
//   fail     the operation did not take effect: a final non-2xx answer (status, response,
//            state), or no attempt can have reached the service (every request was refused
//            before it was sent) when the deadline passed (error). A read that ran out of time
//            is also fail: reads have no effect.
//   unknown  a write ran out of time after at least one attempt may have reached the service
//            (timeout, connection lost after sending, or a retryable answer such as 503): it
//            may or may not have taken effect (error says why the last attempt failed).
//   attempt  one HTTP request: attempt (1-based within the op), url, target, outcome, status
//            (0 when no answer), error, latency_ns, retry (true when it re-sends the request
//            after a failed attempt; false for the first attempt and for redirect hops).
//            outcome is one of: "final", "redirect", "retry" (a retryable answer),
//            "unreachable" (could not connect: not sent), "timeout", "broken" (connection lost
//            after the request may have been sent), "error" (unusable answer or URL).
//   redirect a redirect was followed: from (URL that answered 307), url (target), leader.
//   location the registry location the client holds changed: source ("registry" for a
//            getServiceLocation read, "event" for a NewLocation event), from (previous raw
//            location, "" at first), url (new raw location), epoch, block (events).
//   claim    a Claim was sent and mined: url (the failed location claimed), reason, tx, block.
//   claim_failed  sending a Claim failed: url, reason, error.
//   watch_error   following registry events failed and is being restarted: error.
//
// Every record has: i (0-based position in this history, the order of recording), type, client,
// mono_ns (steady clock, nanoseconds since its epoch: compare within one machine boot) and
// unix_ns (wall clock). op (1-based operation number, 0 for records outside an operation) and
// seq are set on every record of an operation. A write's invoke, its attempts and its final
// record share op and seq; retries reuse the seq. Serialized as JSON lines, one object per
// record, keys sorted, empty / zero / false fields omitted (the parser restores them). Strings
// that are not valid UTF-8 (bodies are bytes) are written as "<field>_hex" (lower-case hex)
// instead of "<field>", so nothing is lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::client {

enum class RecordType {
  kInvoke,
  kOk,
  kFail,
  kUnknown,
  kAttempt,
  kRedirect,
  kLocation,
  kClaim,
  kClaimFailed,
  kWatchError,
};
// "invoke", "ok", ..., "claim_failed", "watch_error".
const char* RecordTypeName(RecordType t);
// INVALID_ARGUMENT for an unknown name.
Result<RecordType> ParseRecordType(std::string_view name);

struct HistoryRecord {
  uint64_t i = 0;
  RecordType type = RecordType::kInvoke;
  std::string client;
  uint64_t op = 0;
  uint64_t seq = 0;
  int64_t mono_ns = 0;
  int64_t unix_ns = 0;
  // invoke
  std::string method;
  std::string path;
  std::string body;
  // ok / fail / attempt
  int status = 0;
  std::string response;
  std::optional<uint64_t> index;
  std::string state;
  bool duplicate = false;
  uint32_t attempts = 0;  // ok / fail / unknown
  // attempt
  uint32_t attempt = 0;
  std::string target;
  std::string outcome;
  bool retry = false;
  int64_t latency_ns = 0;  // attempt: its duration; ok / fail / unknown: since invoke
  // several
  std::string url;
  std::string from;
  std::string leader;
  std::string error;
  // location / claim
  std::string source;
  uint64_t epoch = 0;
  uint64_t block = 0;
  std::string tx;
  std::string reason;

  friend bool operator==(const HistoryRecord&, const HistoryRecord&) = default;
};

// One JSON object (no newline).
std::string RecordToJson(const HistoryRecord& r);
// Parses one line written by RecordToJson. INVALID_ARGUMENT for malformed JSON, an unknown
// type, a field of the wrong type or out of range, or bad hex. Unknown keys are ignored (newer
// writers may add fields). Never throws.
Result<HistoryRecord> ParseRecord(std::string_view line);
// Parses JSON lines (blank lines skipped). INVALID_ARGUMENT naming the 1-based line number.
Result<std::vector<HistoryRecord>> ParseJsonLines(std::string_view text);

struct HistoryCounters {
  uint64_t ops = 0;  // invoke records
  uint64_t ok = 0;
  uint64_t fail = 0;
  uint64_t unknown = 0;
  uint64_t attempts = 0;
  uint64_t retries = 0;     // attempts with retry = true
  uint64_t redirects = 0;   // redirect records
  uint64_t duplicates = 0;  // ok / fail records answered from a recorded result
  uint64_t location_changes = 0;
  uint64_t claims = 0;
  uint64_t claim_failures = 0;
  uint64_t watch_errors = 0;
  uint64_t dropped = 0;  // records dropped because of the limit (the counters include them)
  friend bool operator==(const HistoryCounters&, const HistoryCounters&) = default;
};

// Thread-safe: any number of threads may Append and read concurrently.
class History {
 public:
  // `limit` > 0 keeps only the newest `limit` records (counters still count everything).
  explicit History(size_t limit = 0) : limit_(limit) {}
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  // Stamps the record (i, and mono_ns / unix_ns when they are 0), stores it, and returns the
  // stamped copy.
  HistoryRecord Append(HistoryRecord r);

  // A copy of the records held, in order.
  std::vector<HistoryRecord> Snapshot() const;
  // The records of operation `op`, in order.
  std::vector<HistoryRecord> OpRecords(uint64_t op) const;
  HistoryCounters counters() const;
  // Every record held, one JSON object per line, each line ending in '\n'.
  std::string ToJsonLines() const;
  // Writes ToJsonLines() to `file` atomically. INTERNAL with errno text on I/O failure.
  Status WriteJsonLines(const std::filesystem::path& file) const;

 private:
  size_t limit_;
  mutable std::mutex mu_;
  std::deque<HistoryRecord> records_;
  uint64_t next_i_ = 0;
  HistoryCounters counters_;
};

}  // namespace br2k::client
