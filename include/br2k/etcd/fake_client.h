// An in-memory etcd for unit tests: MVCC revisions, history, compaction, transactions, watches,
// leases with expiry, and fault injection. It behaves like one healthy single-member cluster.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "br2k/etcd/client.h"

namespace br2k::etcd {

class FakeClient final : public Client {
 public:
  FakeClient();
  ~FakeClient() override;
  FakeClient(const FakeClient&) = delete;
  FakeClient& operator=(const FakeClient&) = delete;

  // Fault injection. The hook runs at the start of every call with the method name ("Range",
  // "Put", "Txn", ...); a non-OK status is returned instead of running the call. Thread-safe.
  using Hook = std::function<br2k::Status(std::string_view method)>;
  void SetHook(Hook hook);
  // Shorthand: every call fails with UNAVAILABLE and watches disconnect (true), or back (false).
  void SetUnavailable(bool unavailable);
  // Like a gRPC client's receive limit: a Range or Txn whose answer carries more than `bytes`
  // of keys and values fails with RESOURCE_EXHAUSTED (a Txn's writes are applied all the same,
  // as the server has run it). 0 (the default): no limit. Thread-safe.
  void SetMaxResponseBytes(size_t bytes);

  // Current store revision.
  int64_t revision() const;

  Result<RangeResponse> Range(const RangeRequest& req, Deadline deadline) override;
  Result<PutResponse> Put(const PutRequest& req, Deadline deadline) override;
  using Client::Put;
  Result<DeleteResponse> Delete(const DeleteRequest& req, Deadline deadline) override;
  Result<TxnResponse> Txn(const TxnRequest& req, Deadline deadline) override;
  Result<ResponseHeader> Compact(int64_t revision, bool physical, Deadline deadline) override;
  Result<std::unique_ptr<Watcher>> Watch(const WatchOptions& options, Deadline deadline) override;
  Result<LeaseGrantResponse> LeaseGrant(int64_t ttl_seconds, int64_t id,
                                        Deadline deadline) override;
  br2k::Status LeaseRevoke(int64_t id, Deadline deadline) override;
  Result<LeaseKeepAliveResponse> LeaseKeepAliveOnce(int64_t id, Deadline deadline) override;
  Result<LeaseTimeToLiveResponse> LeaseTimeToLive(int64_t id, bool keys,
                                                  Deadline deadline) override;
  Result<MemberListResponse> MemberList(Deadline deadline) override;
  Result<MemberStatus> EndpointStatus(const std::string& endpoint, Deadline deadline) override;
  std::vector<std::string> endpoints() const override;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace br2k::etcd
