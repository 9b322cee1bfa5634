// The real etcd client: gRPC to one or more etcd members, with fail-over between them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "br2k/etcd/client.h"
#include "br2k/etcd/tls.h"

namespace br2k::etcd {

struct GrpcClientOptions {
  // Client URLs or host:port pairs ("http://127.0.0.1:2379", "https://127.0.0.1:2379" or
  // "127.0.0.1:2379"). Required. All use the same scheme: https:// ones need `tls`, and with
  // `tls` every endpoint is reached over TLS.
  std::vector<std::string> endpoints;
  // Empty: plaintext. Otherwise every channel (calls, watches, lease keep-alives, EndpointStatus)
  // uses TLS, verifies the member's certificate against tls.ca_pem and the endpoint's host (an
  // IP SAN for an IP address), and presents tls.cert_pem.
  EtcdTls tls;
  // A read attempt on one endpoint gets at most this long before the next endpoint is tried.
  std::chrono::milliseconds read_attempt_timeout{1500};
  // How long a watch waits between attempts to re-establish a broken stream.
  std::chrono::milliseconds watch_retry_interval{100};
  // While calls go to another endpoint than the first (the home member: a replica's own), a
  // call checks at most this often whether home serves again: it starts one linearizable read
  // there beside itself (asynchronously, bounded by read_attempt_timeout), and once that
  // succeeds the next calls go home. 0 = never go back. Nothing is probed while home.
  std::chrono::milliseconds home_probe_interval{1000};
  // The clock of that schedule; default std::chrono::steady_clock::now (tests may inject one;
  // it is called from any calling thread, so it must be thread-safe).
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// Thread-safe; see Client for the error conventions. Endpoint choice: calls go to the
// last endpoint that answered; a read that fails with UNAVAILABLE (or runs out of its attempt
// time) moves on to the next endpoint; a mutation moves on only when the chosen endpoint had no
// connection (so the request cannot have been delivered), otherwise it returns UNAVAILABLE with
// "outcome unknown" and the next call starts on another endpoint. The first endpoint is home:
// after calls moved away, a probe (see home_probe_interval) brings them back once it serves
// linearizable reads again, so a replica does not keep using another node's member after a
// fault.
// Watches carry etcd's "require leader" flag, so a member cut off from the quorum ends the
// stream and the watch resumes on another member from the next undelivered revision.
class GrpcClient final : public Client {
 public:
  // INVALID_ARGUMENT for an empty or malformed endpoint list, for https:// endpoints without
  // TLS, for http:// endpoints with TLS, and for TLS options that are only partly set. Does not
  // contact the cluster (a bad certificate shows as UNAVAILABLE on the first call).
  static Result<std::unique_ptr<GrpcClient>> Create(GrpcClientOptions options);
  ~GrpcClient() override;

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

  // The endpoint (normalized host:port) the next call starts on; for tests and metrics.
  std::string current_endpoint() const;
  // How many home probes were started so far; for tests and metrics.
  uint64_t home_probes() const;

  struct Impl;

 private:
  explicit GrpcClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// "http://127.0.0.1:2379" or "https://127.0.0.1:2379" -> "127.0.0.1:2379"; INVALID_ARGUMENT
// for anything that is not [http[s]://]host:port.
Result<std::string> NormalizeEndpoint(std::string_view endpoint);

}  // namespace br2k::etcd
