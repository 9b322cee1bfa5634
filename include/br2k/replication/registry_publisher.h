// The Register role for real: a LocationPublisher that writes the leader's URL and fencing epoch
// into the on-chain ServiceRegistry (updateLocation(id, url, epoch)) with the replica's own
// operator key, and keeps retrying in the background while the chain is unreachable.
//
// The fence: the contract refuses an epoch below the stored one (StaleEpoch), and epochs are
// the etcd revisions of Current_Leader claims, which only grow. So a deposed leader that retries
// late can never overwrite the location written by a newer one. See docs/replication.md,
// "Publishing the location".
//
// Library br2k_replication_registry (br2k_replication itself has no Ethereum dependency).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/service_registry.h"
#include "br2k/eth/tx_sender.h"
#include "br2k/replication/location_publisher.h"

namespace br2k::replication {

struct RegistryPublisherOptions {
  std::shared_ptr<eth::RpcClient> client;  // required; may be shared with others
  eth::Address registry;                   // the ServiceRegistry contract
  eth::ServiceId service;                  // eth::ServiceIdFromName(name)
  // This replica's operator key (a manager or operator of `service`). Each publisher has its
  // own transaction sender and nonce manager: do not give two live publishers the same key.
  std::optional<eth::PrivateKey> operator_key;  // required
  // The chain id the node must report (FAILED_PRECONDITION otherwise); nullopt: the node's.
  std::optional<uint64_t> chain_id;
  // Publish spends at most this long (and never past its deadline) before handing the work to
  // the background retry.
  std::chrono::milliseconds first_attempt{3000};
  // Background retries: exponential backoff from `backoff_initial` up to `backoff_max`;
  // configuration errors (service unknown, key not an operator, no registry at the address,
  // wrong chain) are retried every `backoff_max`.
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{5000};
  // One background attempt (read, send, wait for the receipt) lasts at most this long; a
  // transaction not mined by then is waited for again (never sent twice) by the next attempt.
  std::chrono::milliseconds attempt_timeout{15000};
  std::chrono::milliseconds rpc_timeout{2000};  // per JSON-RPC call
  std::chrono::milliseconds receipt_poll{100};  // receipt polling interval
  // A transaction still pending after this long is re-sent with fees raised by 12.5%, or, when
  // the node's nonce shows it can never be mined (the chain was reset), dropped and re-made.
  std::chrono::milliseconds replace_after{30000};
};

// What the publisher has done, for /status and tests.
struct RegistryPublisherState {
  eth::Address registry;
  eth::ServiceId service;
  eth::Address operator_address;
  // The location this publisher last saw confirmed in the registry (by its own transaction, or
  // already there). `tx_hash`/`block` are unset when it did not have to send one.
  std::string published_url;
  uint64_t published_epoch = 0;
  std::optional<eth::Hash> tx_hash;
  uint64_t block = 0;
  // The location being published ("" / 0 when idle) and whether the background retry owns it.
  std::string pending_url;
  uint64_t pending_epoch = 0;
  bool retry_pending = false;
  std::optional<eth::Hash> pending_tx;  // broadcast, receipt not seen yet
  // The last failure (OK after a success): UNAVAILABLE/DEADLINE_EXCEEDED while the chain is
  // unreachable; NOT_FOUND/PERMISSION_DENIED/FAILED_PRECONDITION for configuration errors;
  // ABORTED when a newer epoch was already published.
  Status last_error;
  // Counters since construction.
  uint64_t publishes = 0;     // Publish calls
  uint64_t attempts = 0;      // attempts (first ones and retries)
  uint64_t transactions = 0;  // transactions broadcast (replacements included)
  uint64_t successes = 0;     // locations confirmed
  uint64_t failures = 0;      // failed attempts (each is retried, except stale ones)
  uint64_t stale = 0;         // refused as stale (ABORTED)
  uint64_t withdrawals = 0;   // Withdraw calls that stopped pending work
  uint64_t checks = 0;        // Check calls that read the registry
  uint64_t restores = 0;      // Checks that found another location and published ours again
  uint64_t overridden = 0;    // Checks that found a location we cannot overwrite (ABORTED)
};

// The state as the JSON object shown under "registry" in GET /status:
// {"registry","service","operator","published":{"url","epoch","tx","block"}|null,
//  "pending":{"url","epoch","tx","retrying"}|null,"last_error","counters":{...}}.
std::string RegistryPublisherStateJson(const RegistryPublisherState& s);

// Thread-safe. One background thread, started by Create and joined by the destructor.
class RegistryLocationPublisher final : public LocationPublisher {
 public:
  // INVALID_ARGUMENT without a client or key, or with non-positive timings. Does not contact
  // the node (the chain may be down when the replica starts).
  static Result<std::unique_ptr<RegistryLocationPublisher>> Create(
      RegistryPublisherOptions options);
  // Stops the background retry and joins its thread: returns within about one rpc_timeout. A
  // transaction already broadcast may still be mined.
  ~RegistryLocationPublisher() override;
  RegistryLocationPublisher(const RegistryLocationPublisher&) = delete;
  RegistryLocationPublisher& operator=(const RegistryLocationPublisher&) = delete;

  // Makes the registry show (url, epoch) and supersedes any earlier Publish (whose retry stops).
  //  OK: the registry shows `url` with `epoch` or a later one (already there or mined now); or
  //      the attempt failed for a reason that may pass (chain unreachable, timeout, transaction
  //      not mined yet, service unknown, key not an operator) and the background thread keeps
  //      retrying until success, a stale refusal, Withdraw(epoch), a newer Publish or
  //      destruction. Configuration errors are logged at error level; see state().last_error.
  //  ABORTED: the registry already holds a higher epoch at another URL (StaleEpoch): a newer
  //      leader published, so this replica must not serve.
  //  INVALID_ARGUMENT: empty url or epoch < 1.
  // Blocks for at most min(deadline, first_attempt).
  Status Publish(const std::string& url, int64_t epoch, Deadline deadline) override;
  // Stops the work for `epoch` (nothing if another epoch is current). After it returns no
  // transaction for `epoch` is broadcast; it waits for a broadcast already under way (at most
  // rpc_timeout).
  void Withdraw(int64_t epoch) override;
  // See LocationPublisher::Check. Reads getServiceLocation once (rpc_timeout); when the
  // registry shows another location at `epoch` or below, logs it (warning) and Publishes again
  // (blocking at most min(deadline, first_attempt), then retrying in the background). OK while
  // a Publish of `epoch` is still pending. ABORTED as Publish, and when a higher epoch at
  // another location is shown (logged at error level).
  Status Check(const std::string& url, int64_t epoch, Deadline deadline) override;

  RegistryPublisherState state() const;
  std::string StateJson() const { return RegistryPublisherStateJson(state()); }
  // Waits until no Publish is in progress or pending retry. OK when idle, DEADLINE_EXCEEDED
  // otherwise. For tests and orderly shutdown.
  Status WaitIdle(Deadline deadline) const;

 private:
  struct Job;
  struct Outcome;
  explicit RegistryLocationPublisher(RegistryPublisherOptions options);

  Outcome Attempt(Job& job, Deadline deadline);
  Result<eth::TxSender*> Sender(Deadline deadline);
  Status WaitMined(Job& job, Deadline deadline, Outcome& out);
  // Records an attempt's outcome; returns what Publish returns. Caller holds mu_.
  Status SettleLocked(const std::shared_ptr<Job>& job, Outcome out, bool first);
  void Run();

  const RegistryPublisherOptions opt_;
  eth::ServiceRegistry registry_;
  std::shared_ptr<eth::NonceManager> nonces_;

  std::mutex sender_mu_;
  std::unique_ptr<eth::TxSender> sender_;  // created on first contact with the node

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // job changes, stop, idle
  std::shared_ptr<Job> job_;            // the current work, null when idle
  int foreground_ = 0;                  // Publish calls in their first attempt
  bool stop_ = false;
  RegistryPublisherState state_;
  std::string last_logged_;  // last error message logged (to log each distinct one once)
  std::thread worker_;
};

}  // namespace br2k::replication
