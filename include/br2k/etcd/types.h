// Plain value types of the etcd v3 API as br2k uses them (no protobuf in public headers).
//
// Key ranges follow etcd: an empty `range_end` means the single key `key`; `PrefixEnd(p)` as
// range_end selects every key starting with p; range_end "\0" selects every key >= key.
// All types are copyable values; thread-compatible.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace br2k::etcd {

// The smallest key greater than every key that starts with `prefix` ("\0" for an empty prefix,
// meaning "to the end of the key space").
std::string PrefixEnd(std::string_view prefix);

struct ResponseHeader {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;  // the member that answered
  int64_t revision = 0;    // store revision when the request was applied
  uint64_t raft_term = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 1 on creation, +1 on each put; 0 means "absent" in compares
  int64_t lease = 0;
  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

enum class SortOrder { kNone, kAscend, kDescend };
enum class SortTarget { kKey, kVersion, kCreate, kMod, kValue };

struct RangeRequest {
  std::string key;
  std::string range_end;
  int64_t limit = 0;          // 0 = no limit
  int64_t revision = 0;       // 0 = latest; otherwise read the store as of that revision
  bool serializable = false;  // true: answer from the contacted member without a quorum read
  bool keys_only = false;
  bool count_only = false;
  SortOrder sort_order = SortOrder::kNone;
  SortTarget sort_target = SortTarget::kKey;

  static RangeRequest Key(std::string key) { return RangeRequest{.key = std::move(key)}; }
  static RangeRequest Prefix(std::string_view prefix) {
    return RangeRequest{.key = std::string(prefix), .range_end = PrefixEnd(prefix)};
  }
};

struct RangeResponse {
  ResponseHeader header;
  std::vector<KeyValue> kvs;
  bool more = false;  // more keys exist in the range than `limit` allowed
  int64_t count = 0;  // number of keys in the range (ignores limit)
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool prev_kv = false;
};

struct PutResponse {
  ResponseHeader header;
  std::optional<KeyValue> prev_kv;
};

struct DeleteRequest {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
};

struct DeleteResponse {
  ResponseHeader header;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

enum class CompareOp { kEqual, kGreater, kLess, kNotEqual };
enum class CompareTarget { kVersion, kCreate, kMod, kValue, kLease };

// One condition of a transaction. For a range (range_end set) every key must satisfy it.
// As in etcd, a kValue compare against a key that does not exist is always false.
struct Compare {
  std::string key;
  std::string range_end;
  CompareTarget target = CompareTarget::kVersion;
  CompareOp op = CompareOp::kEqual;
  int64_t number = 0;  // for kVersion, kCreate, kMod, kLease
  std::string value;   // for kValue

  static Compare Value(std::string key, CompareOp op, std::string value);
  static Compare Version(std::string key, CompareOp op, int64_t version);
  static Compare CreateRevision(std::string key, CompareOp op, int64_t revision);
  static Compare ModRevision(std::string key, CompareOp op, int64_t revision);
  static Compare Lease(std::string key, CompareOp op, int64_t lease);
  // Shorthand for Version(key, kEqual, 0): the key does not exist.
  static Compare Absent(std::string key) { return Version(std::move(key), CompareOp::kEqual, 0); }
};

// A heap-allocated value with value semantics, for the recursive Txn types.
template <typename T>
class Box {
 public:
  Box(T v) : p_(std::make_unique<T>(std::move(v))) {}  // NOLINT(google-explicit-constructor)
  Box(const Box& o) : p_(std::make_unique<T>(*o.p_)) {}
  Box(Box&&) noexcept = default;
  Box& operator=(const Box& o) {
    p_ = std::make_unique<T>(*o.p_);
    return *this;
  }
  Box& operator=(Box&&) noexcept = default;
  ~Box() = default;
  T& operator*() { return *p_; }
  const T& operator*() const { return *p_; }
  T* operator->() { return p_.get(); }
  const T* operator->() const { return p_.get(); }

 private:
  std::unique_ptr<T> p_;
};

struct TxnRequest;
struct TxnResponse;

// One operation inside a transaction.
struct Op {
  std::variant<RangeRequest, PutRequest, DeleteRequest, Box<TxnRequest>> request;

  static Op Range(RangeRequest r) { return Op{std::move(r)}; }
  static Op Get(std::string key) { return Op{RangeRequest::Key(std::move(key))}; }
  static Op Put(std::string key, std::string value, int64_t lease = 0) {
    return Op{PutRequest{.key = std::move(key), .value = std::move(value), .lease = lease}};
  }
  static Op Delete(std::string key, std::string range_end = {}) {
    return Op{DeleteRequest{.key = std::move(key), .range_end = std::move(range_end)}};
  }
  static Op Txn(TxnRequest txn);
};

struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<Op> success;  // run when every compare holds
  std::vector<Op> failure;  // run otherwise
};

// The response to one Op, in the same position as the Op.
struct OpResponse {
  std::variant<RangeResponse, PutResponse, DeleteResponse, Box<TxnResponse>> response;

  // Accessors; each returns nullptr when the response is of another kind.
  const RangeResponse* range() const { return std::get_if<RangeResponse>(&response); }
  const PutResponse* put() const { return std::get_if<PutResponse>(&response); }
  const DeleteResponse* del() const { return std::get_if<DeleteResponse>(&response); }
  const TxnResponse* txn() const;
};

struct TxnResponse {
  ResponseHeader header;
  bool succeeded = false;  // true when the compares held and `success` ran
  std::vector<OpResponse> responses;
};

inline Op Op::Txn(TxnRequest txn) {
  return Op{Box<TxnRequest>(std::move(txn))};
}
inline const TxnResponse* OpResponse::txn() const {
  auto* b = std::get_if<Box<TxnResponse>>(&response);
  return b ? &**b : nullptr;
}

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: the key and the deletion's mod_revision
  std::optional<KeyValue> prev_kv;
};

struct WatchOptions {
  std::string key;
  std::string range_end;
  // First revision to deliver; 0 = changes after the watch is created. A revision older than the
  // last compaction makes the watch fail with OUT_OF_RANGE (see Watcher::Next).
  int64_t start_revision = 0;
  bool prev_kv = false;
  // Ask the server for periodic progress notifications (empty batches with a revision).
  bool progress_notify = false;
};

// What a watch delivers: events in revision order, or (progress == true, no events) a statement
// that every event up to header.revision has been delivered.
struct WatchBatch {
  ResponseHeader header;
  std::vector<Event> events;
  bool progress = false;
};

struct LeaseGrantResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds granted (the server may raise a too small TTL to its minimum)
};

struct LeaseKeepAliveResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = 0;  // seconds left after the refresh
};

struct LeaseTimeToLiveResponse {
  ResponseHeader header;
  int64_t id = 0;
  int64_t ttl = -1;  // seconds left; -1 when the lease has expired or never existed
  int64_t granted_ttl = 0;
  std::vector<std::string> keys;  // filled when asked for
};

struct Member {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
};

struct MemberListResponse {
  ResponseHeader header;
  std::vector<Member> members;
};

// Maintenance Status of one member.
struct MemberStatus {
  ResponseHeader header;  // header.member_id is the answering member
  std::string version;
  int64_t db_size = 0;  // bytes of the backend database (what etcd's quota counts)
  int64_t db_size_in_use =
      0;                // of which in use (the rest is freed by compaction; defrag returns it)
  uint64_t leader = 0;  // member id of the Raft leader as this member sees it; 0 = none
  uint64_t raft_index = 0;
  uint64_t raft_term = 0;
  uint64_t raft_applied_index = 0;
  std::vector<std::string> errors;  // e.g. "memberID:... alarm:NOSPACE " while an alarm is raised
  bool is_leader() const { return leader != 0 && leader == header.member_id; }
  // Whether the NOSPACE alarm is raised (etcd then refuses every write until an operator frees
  // space and disarms it).
  bool nospace_alarm() const;
};

}  // namespace br2k::etcd
