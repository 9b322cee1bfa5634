// The client of a br2k-replicated HTTP service.
//
// It finds the service through the on-chain registry (or a fixed list of seed URLs), follows
// NewLocation events in a background thread, follows followers' 307 redirects to the leader,
// and retries a write with the same (client id, seq) until it gets a final answer, so the
// write is executed exactly once (docs/replication.md, "Exactly-once for clients"). After
// `claim_after` consecutive rounds in which every known location failed it sends one Claim to
// the registry, and keeps retrying (a manager redeploys the service) until the deadline.
// Everything it does is recorded in a History (history.h). docs/client.md has the rules.
//
// The chain never holds a request that a known replica can serve: the registry is read and
// followed on a background thread, every chain request is bounded by `chain_timeout`, and with
// seeds Create waits for the registry at most `registry_wait` before it starts with the seeds
// alone (the registry location joins the known locations once the chain answers).
//
//   auto c = ServiceClient::Create({.rpc = rpc, .registry = addr, .service = "logserver"},
//                                  Deadline::After(10s));
//   auto a = (*c)->Call("POST", "/logs", R"({"user":"alice"})", Deadline::After(30s));
//   if (a.ok() && a->ok()) ... a->index, a->body
//
// Thread safety: Call and Read may run concurrently from any number of threads (each write
// takes the next sequence number). The destructor stops the registry thread (waiting at most
// about `chain_timeout` for a hung chain node); no Call or Read may be running then.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "br2k/client/answer.h"
#include "br2k/client/backoff.h"
#include "br2k/client/history.h"
#include "br2k/client/location_set.h"
#include "br2k/client/service_directory.h"
#include "br2k/client/transport.h"
#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/address.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/tx_sender.h"

namespace br2k::client {

struct ServiceClientOptions {
  // ---- where the service is: a registry (rpc + registry + service), a directory, seeds, or
  // a registry/directory together with seeds. At least one is required.
  std::shared_ptr<eth::RpcClient> rpc;
  std::optional<eth::Address> registry;
  std::string service;  // name (the id is keccak256(name)) or a 0x-prefixed 64-digit id
  // Signs Claims (any funded account may claim). Without it no Claim is sent.
  std::shared_ptr<eth::TxSender> claimer;
  // Used instead of rpc/registry/service/claimer when set (tests).
  std::shared_ptr<ServiceDirectory> directory;
  std::vector<std::string> seeds;  // locations, e.g. "http://127.0.0.1:8081"

  // ---- identity
  std::string client_id;   // X-Br2k-Client: 1-64 of [A-Za-z0-9._-]; "" = "c-" + 12 random hex
  uint64_t first_seq = 1;  // X-Br2k-Seq of the first write

  // ---- retries
  std::chrono::milliseconds attempt_timeout{5000};  // one HTTP request
  BackoffPolicy backoff;                            // between rounds
  // Consecutive rounds of one operation in which every known location failed, before one Claim
  // is sent (0 = never). Needs a registry and a claimer.
  uint32_t claim_after = 0;
  std::string claim_reason = "br2k client: every known location failed";
  int max_redirects = 4;  // redirect hops followed per attempt

  // ---- the chain
  bool follow_events = true;  // NewLocation events in a background thread
  std::chrono::milliseconds event_poll{250};
  // Bounds each request to the chain node after Create (registry look-ups, event polls), and
  // so how long a hung node holds a failed round or the destructor.
  std::chrono::milliseconds chain_timeout{2000};
  // With seeds: how long Create waits for the registry before it returns a client that tries
  // the seeds meanwhile (the registry keeps being asked in the background).
  std::chrono::milliseconds registry_wait{1000};

  size_t history_limit = 0;              // records kept (0 = all)
  std::shared_ptr<Transport> transport;  // default: MakeHttpTransport()
};

class ServiceClient {
 public:
  // Validates `options`, connects to the registry (when given), reads the service's location
  // and starts following its events. INVALID_ARGUMENT for bad options (no location source, a
  // bad seed, client id, backoff, or claim_after without a registry and a claimer);
  // FAILED_PRECONDITION when there is no registry contract at the address; NOT_FOUND when the
  // service is not registered; UNAVAILABLE / DEADLINE_EXCEEDED (naming the chain node) when the
  // chain cannot be asked before `deadline`. With seeds, a chain that has not answered within
  // `registry_wait` is no error: the client starts with the seeds, and a registry error found
  // later is logged and recorded (kWatchError) instead.
  static Result<std::unique_ptr<ServiceClient>> Create(ServiceClientOptions options,
                                                       Deadline deadline);
  ~ServiceClient();
  ServiceClient(const ServiceClient&) = delete;
  ServiceClient& operator=(const ServiceClient&) = delete;

  // A write: takes the next sequence number, sends it with X-Br2k-Client / X-Br2k-Seq, and
  // retries it (same client id, same seq) until a final answer or `deadline` (rules in the
  // file comment and docs/client.md). OK with the final answer, whatever its HTTP status (see
  // Answer::ok()). DEADLINE_EXCEEDED when the deadline passed first: the write may or may not
  // have been executed (the history says "unknown", or "fail" when no attempt can have reached
  // the service). INVALID_ARGUMENT for a bad method or path (nothing sent, nothing recorded).
  Result<Answer> Call(const std::string& method, const std::string& path, const std::string& body,
                      Deadline deadline);
  // A write with an explicit sequence number (e.g. to resume a write a previous process
  // started). Does not change the numbers Call hands out.
  Result<Answer> CallWithSeq(const std::string& method, const std::string& path,
                             const std::string& body, uint64_t seq, Deadline deadline);
  // A read: GET `path` without session headers, with the same location logic. DEADLINE_EXCEEDED
  // when no final answer came in time.
  Result<Answer> Read(const std::string& path, Deadline deadline);

  const std::string& client_id() const { return client_id_; }
  // The sequence number the next Call will take.
  uint64_t next_seq() const { return next_seq_.load(); }
  // Known locations, in the order the next round tries them.
  std::vector<std::string> locations() const;
  // The registry location held ("" when none) and its epoch.
  std::pair<std::string, uint64_t> registry_location() const;
  // Whether the registry has been read (always false without a registry).
  bool registry_read() const;
  // The record of everything done so far. Lives as long as the client.
  const History& history() const { return history_; }

 private:
  struct Op;
  struct TryResult;
  ServiceClient(ServiceClientOptions options, std::string client_id);
  Result<Answer> Run(Op& op, Deadline deadline);
  TryResult TryLocation(Op& op, const std::string& url, std::vector<std::string>& tried,
                        Deadline deadline);
  void RefreshLocation(Deadline deadline);
  std::shared_ptr<ServiceDirectory> Directory() const;
  std::string RegistryWhat() const;
  Status StartRegistry(Deadline deadline, uint64_t& from_block);
  void RegistryLoop(std::stop_token stop, Deadline first);
  void StopRegistry();
  void MaybeClaim(Op& op, uint32_t round, Deadline deadline);
  void SetRegistryLocation(const std::string& location, uint64_t epoch, const std::string& source,
                           uint64_t block, const std::string& tx, bool repaired = false);
  void WaitBackoff(std::chrono::milliseconds delay, uint64_t seen_version, Deadline deadline);
  HistoryRecord OpRecord(RecordType t, const Op& op) const;

  ServiceClientOptions options_;
  std::string client_id_;
  std::shared_ptr<ServiceDirectory> directory_;  // set by the registry thread; guarded by mu_
  std::shared_ptr<Transport> transport_;
  std::atomic<uint64_t> next_seq_;
  std::atomic<uint64_t> next_op_{1};
  History history_;

  mutable std::mutex mu_;
  std::condition_variable cv_;     // location changes and shutdown wake backoff waits
  LocationSet locations_;          // guarded by mu_
  uint64_t location_version_ = 0;  // bumped on every registry location change; guarded by mu_
  bool claim_sent_ = false;        // a Claim was sent in the current outage; guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  // The registry start-up (connect, look-up), guarded by mu_: kConnecting until the first
  // look-up answered (kReady) or failed for good (kFailed, `registry_error_`).
  enum class RegistryState { kNone, kConnecting, kReady, kFailed };
  RegistryState registry_state_ = RegistryState::kNone;
  Status registry_error_;         // the last start-up error
  bool create_returned_ = false;  // errors after Create are logged, not returned
  std::mt19937_64 rng_;           // jitter; guarded by mu_

  std::jthread watcher_;  // the registry thread; last: stopped and joined first
};

}  // namespace br2k::client
