#include "br2k/replication/registry_publisher.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace br2k::replication {

using Clock = Deadline::Clock;
using std::chrono::milliseconds;

// One (url, epoch) to publish. The attempt fields are used by one thread at a time: the Publish
// caller during the first attempt, then the worker.
struct RegistryLocationPublisher::Job {
  Job(std::string u, uint64_t e) : url(std::move(u)), epoch(e) {}
  const std::string url;
  const uint64_t epoch;
  // Set by a newer Publish, Withdraw or destruction. Withdraw sets it under send_mu, so once it
  // returns no broadcast for this job can start.
  std::atomic<bool> cancelled{false};
  std::mutex send_mu;
  // The transaction broadcast for this job whose receipt has not been seen: later attempts wait
  // for it (and re-broadcast it) instead of sending another one.
  std::optional<eth::SignedTransaction> inflight;
  Clock::time_point inflight_since;
  // Guarded by the publisher's mu_.
  bool retry_pending = false;
  Clock::time_point next_attempt;
  milliseconds backoff{0};
  uint64_t attempts = 0;

  bool Live() const { return !cancelled.load(); }
};

struct RegistryLocationPublisher::Outcome {
  Status status;
  uint64_t confirmed_epoch = 0;         // the epoch the registry shows for our url (on OK)
  std::optional<eth::Receipt> receipt;  // our mined transaction (on OK, when we sent one)
  uint64_t transactions = 0;            // broadcasts made by this attempt
};

namespace {

bool IsConfigurationError(StatusCode c) {
  // Service unknown or deregistered, key not an operator, no registry code at the address,
  // wrong chain, a refusal that is not about the epoch: retrying fast will not help.
  return c == StatusCode::kNotFound || c == StatusCode::kPermissionDenied ||
         c == StatusCode::kFailedPrecondition || c == StatusCode::kInvalidArgument ||
         c == StatusCode::kOutOfRange;  // EpochJumpTooLarge: a manager must repair the epoch
}

std::string Ms(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms";
}

}  // namespace

std::string RegistryPublisherStateJson(const RegistryPublisherState& s) {
  using nlohmann::json;
  json j = {{"registry", s.registry.ToChecksum()},
            {"service", s.service.ToHex()},
            {"operator", s.operator_address.ToChecksum()}};
  if (s.published_epoch > 0 || !s.published_url.empty()) {
    j["published"] = {{"url", s.published_url},
                      {"epoch", s.published_epoch},
                      {"tx", s.tx_hash ? json(s.tx_hash->ToHex()) : json(nullptr)},
                      {"block", s.block}};
  } else {
    j["published"] = nullptr;
  }
  if (s.pending_epoch > 0) {
    j["pending"] = {{"url", s.pending_url},
                    {"epoch", s.pending_epoch},
                    {"tx", s.pending_tx ? json(s.pending_tx->ToHex()) : json(nullptr)},
                    {"retrying", s.retry_pending}};
  } else {
    j["pending"] = nullptr;
  }
  j["last_error"] = s.last_error.ok() ? "" : s.last_error.ToString();
  j["counters"] = {{"publishes", s.publishes},       {"attempts", s.attempts},
                   {"transactions", s.transactions}, {"successes", s.successes},
                   {"failures", s.failures},         {"stale", s.stale},
                   {"withdrawals", s.withdrawals},   {"checks", s.checks},
                   {"restores", s.restores},         {"overridden", s.overridden}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::unique_ptr<RegistryLocationPublisher>> RegistryLocationPublisher::Create(
    RegistryPublisherOptions options) {
  if (!options.client) return InvalidArgumentError("registry publisher: no RPC client");
  if (!options.operator_key) return InvalidArgumentError("registry publisher: no operator key");
  const std::pair<const char*, milliseconds> timings[] = {
      {"first_attempt", options.first_attempt}, {"backoff_initial", options.backoff_initial},
      {"backoff_max", options.backoff_max},     {"attempt_timeout", options.attempt_timeout},
      {"rpc_timeout", options.rpc_timeout},     {"receipt_poll", options.receipt_poll}};
  for (const auto& [name, v] : timings) {
    if (v.count() <= 0) {
      return InvalidArgumentError(std::string("registry publisher: ") + name + " must be > 0");
    }
  }
  if (options.backoff_max < options.backoff_initial) {
    return InvalidArgumentError("registry publisher: backoff_max < backoff_initial");
  }
  if (options.replace_after.count() < 0) {
    return InvalidArgumentError("registry publisher: replace_after must be >= 0");
  }
  std::unique_ptr<RegistryLocationPublisher> p(new RegistryLocationPublisher(std::move(options)));
  p->worker_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

RegistryLocationPublisher::RegistryLocationPublisher(RegistryPublisherOptions options)
    : opt_(std::move(options)),
      registry_(opt_.client, opt_.registry),
      nonces_(std::make_shared<eth::NonceManager>()) {
  state_.registry = opt_.registry;
  state_.service = opt_.service;
  state_.operator_address = opt_.operator_key->address();
}

RegistryLocationPublisher::~RegistryLocationPublisher() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
    if (job_) job_->cancelled = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status RegistryLocationPublisher::Publish(const std::string& url, int64_t epoch,
                                          Deadline deadline) {
  if (url.empty()) return InvalidArgumentError("registry publisher: empty url");
  if (epoch < 1) return InvalidArgumentError("registry publisher: epoch must be >= 1");
  auto job = std::make_shared<Job>(url, static_cast<uint64_t>(epoch));
  {
    std::lock_guard l(mu_);
    if (stop_) return UnavailableError("registry publisher: stopped");
    if (job_) job_->cancelled = true;  // a newer leadership supersedes the older one
    job_ = job;
    ++foreground_;
    ++state_.publishes;
    state_.pending_url = url;
    state_.pending_epoch = job->epoch;
    state_.pending_tx.reset();
    state_.retry_pending = false;
  }
  cv_.notify_all();
  auto start = Clock::now();
  Outcome out = Attempt(*job, deadline.Cap(opt_.first_attempt));
  std::lock_guard l(mu_);
  --foreground_;
  if (out.status.ok()) {
    spdlog::info("registry: published {} epoch {} in {}", url, out.confirmed_epoch,
                 Ms(Clock::now() - start));
  }
  Status r = SettleLocked(job, std::move(out), /*first=*/true);
  cv_.notify_all();
  return r;
}

void RegistryLocationPublisher::Withdraw(int64_t epoch) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard l(mu_);
    if (!job_ || job_->epoch != static_cast<uint64_t>(epoch)) return;
    job = std::move(job_);
    job_.reset();
    ++state_.withdrawals;
    state_.pending_url.clear();
    state_.pending_epoch = 0;
    state_.pending_tx.reset();
    state_.retry_pending = false;
  }
  {
    // Waits for a broadcast under way; none starts after this.
    std::lock_guard s(job->send_mu);
    job->cancelled = true;
  }
  cv_.notify_all();
  spdlog::info("registry: stopped publishing {} epoch {} (withdrawn)", job->url, epoch);
}

Status RegistryLocationPublisher::Check(const std::string& url, int64_t epoch, Deadline deadline) {
  if (url.empty() || epoch < 1) return InvalidArgumentError("registry publisher: bad check");
  const auto ours = static_cast<uint64_t>(epoch);
  {
    std::lock_guard l(mu_);
    if (stop_) return Status::Ok();
    // Still being published (or retried): the retry restores it.
    if ((job_ && job_->epoch == ours) || foreground_ > 0) return Status::Ok();
  }
  auto loc = registry_.GetServiceLocation(opt_.service, deadline.Cap(opt_.rpc_timeout));
  {
    std::lock_guard l(mu_);
    ++state_.checks;
  }
  if (!loc.ok()) {
    spdlog::debug("registry: location check: {}", loc.status().ToString());
    return Status::Ok();
  }
  if (loc->location == url && loc->epoch >= ours) return Status::Ok();
  if (loc->epoch > ours) {
    {
      std::lock_guard l(mu_);
      ++state_.overridden;
    }
    spdlog::error(
        "registry: the location was changed to {} at epoch {}, above ours ({}), while we lead "
        "at {}: not a leader of this etcd cluster wrote it; resigning so that a new claim "
        "publishes over it",
        loc->location, loc->epoch, ours, url);
    return AbortedError("registry shows " + loc->location + " at epoch " +
                        std::to_string(loc->epoch) + ", above ours (" + std::to_string(ours) + ")");
  }
  spdlog::warn(
      "registry: the location was changed to {} at epoch {} by someone else while we lead at "
      "{} with epoch {}; restoring it",
      loc->location, loc->epoch, url, ours);
  {
    std::lock_guard l(mu_);
    ++state_.restores;
  }
  Status st = Publish(url, epoch, deadline);
  if (st.code() == StatusCode::kAborted) {
    std::lock_guard l(mu_);
    ++state_.overridden;
  }
  return st;
}

RegistryPublisherState RegistryLocationPublisher::state() const {
  std::lock_guard l(mu_);
  return state_;
}

Status RegistryLocationPublisher::WaitIdle(Deadline deadline) const {
  std::unique_lock l(mu_);
  bool idle = cv_.wait_until(l, deadline.when(), [&] { return !job_ && foreground_ == 0; });
  return idle ? Status::Ok() : DeadlineExceededError("registry publisher: still publishing");
}

Result<eth::TxSender*> RegistryLocationPublisher::Sender(Deadline deadline) {
  std::lock_guard l(sender_mu_);
  if (!sender_) {
    BR2K_ASSIGN_OR_RETURN(sender_, eth::TxSender::Create(opt_.client, *opt_.operator_key,
                                                         opt_.chain_id, deadline, nonces_));
  }
  return sender_.get();
}

// One attempt: read the registry; done if it already shows us; refused if it shows a newer
// epoch; otherwise send updateLocation (or pick up the transaction an earlier attempt sent)
// and wait for its receipt. Failures carry the count of transactions broadcast too.
RegistryLocationPublisher::Outcome RegistryLocationPublisher::Attempt(Job& j, Deadline d) {
  Outcome out;
  auto rpc = [&] { return d.Cap(opt_.rpc_timeout); };
  auto fail = [&](Status st) {
    out.status = std::move(st);
    return out;
  };
  if (!j.Live()) return fail(CancelledError("withdrawn"));
  auto loc = registry_.GetServiceLocation(opt_.service, rpc());
  if (!loc.ok()) return fail(loc.status());
  if (loc->location == j.url && loc->epoch >= j.epoch) {
    // Already there: by an earlier attempt whose receipt we missed, or an earlier run.
    out.confirmed_epoch = loc->epoch;
    if (j.inflight) {
      auto r = opt_.client->GetTransactionReceipt(j.inflight->hash, rpc());
      if (r.ok() && *r && (*r)->success) out.receipt = **r;
      j.inflight.reset();
    }
    return out;
  }
  if (loc->epoch > j.epoch) {
    return fail(AbortedError("StaleEpoch: the registry holds epoch " + std::to_string(loc->epoch) +
                             " (" + loc->location + "), newer than ours (" +
                             std::to_string(j.epoch) + ")"));
  }
  auto sender = Sender(rpc());
  if (!sender.ok()) return fail(sender.status());
  eth::TxSender& s = **sender;

  if (j.inflight) {
    // A transaction of an earlier attempt is unconfirmed: mined meanwhile, still pending, or
    // lost (node restarted, never arrived).
    auto rec = opt_.client->GetTransactionReceipt(j.inflight->hash, rpc());
    if (!rec.ok()) return fail(rec.status());
    if (!*rec && Clock::now() - j.inflight_since >= opt_.replace_after) {
      auto pending = opt_.client->GetTransactionCount(s.address(), "pending", rpc());
      if (!pending.ok()) return fail(pending.status());
      auto latest = opt_.client->GetTransactionCount(s.address(), "latest", rpc());
      if (!latest.ok()) return fail(latest.status());
      uint64_t nonce = j.inflight->tx.nonce;
      if (*latest > nonce || *pending <= nonce) {
        // Its nonce was used by another transaction, or the node does not hold it in line to
        // be mined (the chain was reset): it can never be mined. Start afresh.
        spdlog::warn(
            "registry: dropping transaction {} (nonce {}; node nonce {} latest, {} "
            "pending)",
            j.inflight->hash.ToHex(), nonce, *latest, *pending);
        nonces_->Invalidate(s.address());
        j.inflight.reset();
      } else {
        std::lock_guard l(j.send_mu);
        if (!j.Live()) return fail(CancelledError("withdrawn"));
        auto replaced = s.Replace(*j.inflight, rpc());
        if (!replaced.ok()) return fail(replaced.status());
        j.inflight = *replaced;
        j.inflight_since = Clock::now();
        ++out.transactions;
      }
    } else if (!*rec) {
      // Re-broadcast: idempotent for a node that has it; recovers one that lost it.
      std::lock_guard l(j.send_mu);
      if (!j.Live()) return fail(CancelledError("withdrawn"));
      auto h = opt_.client->SendRawTransaction(j.inflight->raw, rpc());
      if (!h.ok() && h.status().code() == StatusCode::kFailedPrecondition) {
        // "nonce too low": mined just now (the next read shows it) or displaced.
        nonces_->Invalidate(s.address());
        j.inflight.reset();
        return fail(UnavailableError("registry: nonce of " + h.status().message() +
                                     " already used; checking again"));
      }
      if (!h.ok()) return fail(h.status());
    }
  }

  if (!j.inflight) {
    auto f = eth::ServiceRegistry::Function("updateLocation");
    if (!f.ok()) return fail(f.status());
    auto data = (*f)->EncodeCall({eth::AbiValue::Bytes_(opt_.service.ToBytes()),
                                  eth::AbiValue::Str(j.url), eth::AbiValue::Uint(j.epoch)});
    if (!data.ok()) return fail(data.status());
    // Dry run: a refusal (StaleEpoch, NotOperator, UnknownService...) costs nothing and comes
    // back typed.
    eth::CallRequest req{s.address(), opt_.registry, *data, eth::U256(), std::nullopt};
    auto dry = opt_.client->EthCall(req, rpc(), eth::ServiceRegistry::Abi().errors);
    if (!dry.ok()) return fail(dry.status());
    if (dry->reverted) {
      return fail(eth::RegistryRevertToStatus(dry->revert).WithContext("updateLocation"));
    }
    eth::SendOptions so;
    so.errors = eth::ServiceRegistry::Abi().errors;
    auto tx = s.Prepare(opt_.registry, *data, so, rpc());
    if (!tx.ok()) {
      // The gas estimate reverting right after a clean dry run: the registry changed in
      // between. Not a verdict on its own: the next attempt reads and classifies it.
      if (tx.status().code() == StatusCode::kAborted) {
        return fail(UnavailableError("updateLocation: gas estimate refused (" +
                                     tx.status().message() + "); retrying"));
      }
      return fail(tx.status());
    }
    std::lock_guard l(j.send_mu);
    if (!j.Live()) {
      s.Discard(*tx);
      return fail(CancelledError("withdrawn"));
    }
    auto h = s.Broadcast(*tx, rpc());
    if (!h.ok()) {
      StatusCode c = h.status().code();
      if (c == StatusCode::kUnavailable || c == StatusCode::kDeadlineExceeded) {
        // It may have reached the node: keep it, so the next attempt re-broadcasts the same
        // transaction (same nonce, same hash) rather than sending a second one.
        j.inflight = *tx;
        j.inflight_since = Clock::now();
      }
      if (c == StatusCode::kFailedPrecondition) {
        return fail(UnavailableError("updateLocation: " + h.status().message() + "; retrying"));
      }
      return fail(h.status().WithContext("updateLocation"));
    }
    j.inflight = *tx;
    j.inflight_since = Clock::now();
    ++out.transactions;
    spdlog::debug("registry: sent updateLocation({}, {}) as {}", j.url, j.epoch, h->ToHex());
  }
  out.status = WaitMined(j, d, out);
  return out;
}

Status RegistryLocationPublisher::WaitMined(Job& j, Deadline d, Outcome& out) {
  const eth::Hash h = j.inflight->hash;
  while (true) {
    if (!j.Live()) return CancelledError("withdrawn while waiting for " + h.ToHex());
    auto r = opt_.client->GetTransactionReceipt(h, d.Cap(opt_.rpc_timeout));
    if (r.ok() && *r) {
      eth::Receipt rec = **r;
      j.inflight.reset();
      if (rec.success) {
        out.receipt = rec;
        out.confirmed_epoch = j.epoch;
        return Status::Ok();
      }
      // Reverted on chain: most likely a newer epoch was written after our dry run.
      auto loc = registry_.GetServiceLocation(opt_.service, d.Cap(opt_.rpc_timeout));
      if (loc.ok() && loc->epoch > j.epoch && loc->location != j.url) {
        return AbortedError("StaleEpoch: transaction " + h.ToHex() + " reverted; the registry " +
                            "holds epoch " + std::to_string(loc->epoch) + " (" + loc->location +
                            "), newer than ours (" + std::to_string(j.epoch) + ")");
      }
      return InternalError("updateLocation transaction " + h.ToHex() + " reverted in block " +
                           std::to_string(rec.block_number));
    }
    if (!r.ok() && r.status().code() != StatusCode::kUnavailable &&
        r.status().code() != StatusCode::kDeadlineExceeded) {
      return r.status();
    }
    if (d.remaining() <= opt_.receipt_poll) {
      return DeadlineExceededError("transaction " + h.ToHex() + " not mined yet");
    }
    std::this_thread::sleep_for(opt_.receipt_poll);
  }
}

Status RegistryLocationPublisher::SettleLocked(const std::shared_ptr<Job>& job, Outcome out,
                                               bool first) {
  ++state_.attempts;
  ++job->attempts;
  state_.transactions += out.transactions;
  const bool current = job_ == job;
  const Status& st = out.status;
  if (st.ok()) {
    ++state_.successes;
    if (out.confirmed_epoch >= state_.published_epoch) {
      state_.published_url = job->url;
      state_.published_epoch = out.confirmed_epoch;
      state_.tx_hash.reset();
      state_.block = 0;
      if (out.receipt) {
        state_.tx_hash = out.receipt->transaction_hash;
        state_.block = out.receipt->block_number;
      }
    }
    if (current) {
      job_.reset();
      state_.pending_url.clear();
      state_.pending_epoch = 0;
      state_.pending_tx.reset();
      state_.retry_pending = false;
      state_.last_error = Status::Ok();
      last_logged_.clear();
    }
    if (!first) {
      spdlog::info("registry: published {} epoch {} after {} attempt(s){}", job->url, job->epoch,
                   job->attempts,
                   out.receipt ? " (tx " + out.receipt->transaction_hash.ToHex() + ")" : "");
    }
    return Status::Ok();
  }
  // Withdrawn or superseded: nobody waits for this outcome.
  if (st.code() == StatusCode::kCancelled || !current) return Status::Ok();
  state_.last_error = st;
  if (st.code() == StatusCode::kAborted) {
    ++state_.stale;
    job_.reset();
    state_.pending_url.clear();
    state_.pending_epoch = 0;
    state_.pending_tx.reset();
    state_.retry_pending = false;
    spdlog::warn("registry: not publishing {} epoch {}: {}", job->url, job->epoch, st.ToString());
    return st;
  }
  ++state_.failures;
  const bool config = IsConfigurationError(st.code());
  if (config) {
    job->backoff = opt_.backoff_max;
  } else if (first || job->backoff.count() == 0) {
    job->backoff = opt_.backoff_initial;
  } else {
    job->backoff = std::min(job->backoff * 2, opt_.backoff_max);
  }
  if (st.message() != last_logged_) {
    last_logged_ = st.message();
    if (config) {
      spdlog::error(
          "registry: cannot publish {} epoch {}: {} (serving anyway; retrying every {}; check "
          "--registry, --service-name and that the operator key {} is an operator)",
          job->url, job->epoch, st.ToString(), Ms(job->backoff),
          state_.operator_address.ToChecksum());
    } else {
      spdlog::warn("registry: cannot publish {} epoch {} yet: {} (serving anyway; retrying)",
                   job->url, job->epoch, st.ToString());
    }
  } else {
    spdlog::debug("registry: attempt failed again: {}", st.ToString());
  }
  job->next_attempt = Clock::now() + job->backoff;
  job->retry_pending = true;
  state_.retry_pending = true;
  state_.pending_tx.reset();
  if (job->inflight) state_.pending_tx = job->inflight->hash;
  return Status::Ok();
}

void RegistryLocationPublisher::Run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    if (!job_ || !job_->retry_pending) {
      cv_.wait(l);
      continue;
    }
    std::shared_ptr<Job> j = job_;
    if (Clock::now() < j->next_attempt) {
      cv_.wait_until(l, j->next_attempt);
      continue;
    }
    l.unlock();
    Outcome out = Attempt(*j, Deadline::After(opt_.attempt_timeout));
    l.lock();
    (void)SettleLocked(j, std::move(out), /*first=*/false);
    cv_.notify_all();
  }
}

}  // namespace br2k::replication
