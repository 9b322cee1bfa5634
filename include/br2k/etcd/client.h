// The etcd v3 client interface that the rest of br2k programs against.
//
// Two implementations: GrpcClient (grpc_client.h), the real one, and FakeClient (fake_client.h),
// an in-memory MVCC store for unit tests with fault injection. One contract test suite
// (tests/contract/) runs against both.
//
// Conventions for every method:
//   - It blocks at most until `deadline`, then fails with DEADLINE_EXCEEDED.
//   - Errors are values: the code is gRPC's (UNAVAILABLE when no member could be reached,
//     DEADLINE_EXCEEDED, INVALID_ARGUMENT, OUT_OF_RANGE for compacted or future revisions,
//     NOT_FOUND for an unknown lease, ...), the message carries etcd's own text.
//   - A write refused because etcd's storage quota (--quota-backend-bytes) is exhausted fails
//     with RESOURCE_EXHAUSTED "etcdserver: mvcc: database space exceeded" (IsNoSpace). etcd checks
//     the quota again when it applies a write and may apply it and still answer so: its outcome
//     is unknown, like any failed mutation.
//   - A mutation (Put, Delete, Txn, Compact, lease calls) is sent at most once: if it fails after
//     it may have reached the server, the error says so ("outcome unknown") and the caller must
//     decide (br2k's replication engine re-reads under its fence). Reads are retried on the other
//     endpoints until the deadline.
// Thread safety: all methods may be called concurrently from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/etcd/types.h"
#include "br2k/etcd/watcher.h"

namespace br2k::etcd {

class Client {
 public:
  virtual ~Client() = default;

  // KV service.
  virtual Result<RangeResponse> Range(const RangeRequest& req, Deadline deadline) = 0;
  virtual Result<PutResponse> Put(const PutRequest& req, Deadline deadline) = 0;
  virtual Result<DeleteResponse> Delete(const DeleteRequest& req, Deadline deadline) = 0;
  // Atomically evaluates the compares and runs `success` or `failure`. All writes of one
  // transaction share one new revision. INVALID_ARGUMENT if it puts the same key twice.
  virtual Result<TxnResponse> Txn(const TxnRequest& req, Deadline deadline) = 0;
  // Discards history before `revision`. Returns the header of the response.
  virtual Result<ResponseHeader> Compact(int64_t revision, bool physical, Deadline deadline) = 0;

  // Watch service. Returns once the watch is established on the server (so every later change
  // is delivered). The returned Watcher is owned by the caller and may outlive nothing: destroy
  // it before the client.
  virtual Result<std::unique_ptr<Watcher>> Watch(const WatchOptions& options,
                                                 Deadline deadline) = 0;

  // Lease service. `ttl_seconds` > 0; `id` 0 lets the server choose.
  virtual Result<LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds, int64_t id,
                                                Deadline deadline) = 0;
  // NOT_FOUND if the lease does not exist. Deletes every key attached to it.
  virtual br2k::Status LeaseRevoke(int64_t id, Deadline deadline) = 0;
  // Refreshes the lease once. NOT_FOUND if it has expired or never existed.
  virtual Result<LeaseKeepAliveResponse> LeaseKeepAliveOnce(int64_t id, Deadline deadline) = 0;
  virtual Result<LeaseTimeToLiveResponse> LeaseTimeToLive(int64_t id, bool keys,
                                                          Deadline deadline) = 0;

  // Cluster and Maintenance services.
  virtual Result<MemberListResponse> MemberList(Deadline deadline) = 0;
  // Status of the member serving `endpoint` (one of endpoints(), or any other client URL).
  virtual Result<MemberStatus> EndpointStatus(const std::string& endpoint, Deadline deadline) = 0;

  // The endpoints this client was configured with, in order.
  virtual std::vector<std::string> endpoints() const = 0;

  // Convenience: the value of one key, std::nullopt if absent (linearizable read).
  Result<std::optional<KeyValue>> Get(std::string_view key, Deadline deadline);
  // Convenience: every key with `prefix`, in key order.
  Result<std::vector<KeyValue>> GetPrefix(std::string_view prefix, Deadline deadline);
  // Convenience: a plain put; returns the new revision.
  Result<int64_t> Put(std::string_view key, std::string_view value, Deadline deadline);
};

// Whether `st` is etcd's refusal of a write at its storage quota (the NOSPACE alarm).
bool IsNoSpace(const br2k::Status& st);

}  // namespace br2k::etcd
