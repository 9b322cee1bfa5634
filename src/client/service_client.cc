#include "br2k/client/service_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

#include "br2k/client/location.h"
#include "br2k/common/log_escape.h"

namespace br2k::client {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NanosSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

bool ValidClientId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool ValidMethod(const std::string& m) {
  if (m.empty() || m.size() > 16) return false;
  return std::all_of(m.begin(), m.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string RandomClientId() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[32];
  std::snprintf(buf, sizeof buf, "c-%012llx",
                static_cast<unsigned long long>(v & 0xffffffffffffULL));
  return buf;
}

// The first line of an error body, bounded, for attempt records.
std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, std::min<size_t>(body.find('\n'), 200));
  return s;
}

}  // namespace

struct ServiceClient::Op {
  uint64_t id = 0;
  uint64_t seq = 0;  // 0: a read
  bool write = false;
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;
  uint32_t attempts = 0;
  bool maybe_sent = false;     // some attempt may have reached the service
  bool after_failure = false;  // the next attempt re-sends after a failed one
  uint32_t next_claim_round = 0;
  std::string last_error;
  Clock::time_point started;
};

struct ServiceClient::TryResult {
  bool final = false;
  Answer answer;
};

Result<std::unique_ptr<ServiceClient>> ServiceClient::Create(ServiceClientOptions options,
                                                             Deadline deadline) {
  bool partial_registry = (options.rpc || options.registry || !options.service.empty()) &&
                          !(options.rpc && options.registry && !options.service.empty());
  if (!options.directory && partial_registry) {
    return InvalidArgumentError(
        "a registry needs all of: an RPC client, the registry address and the service name");
  }
  bool has_registry = options.directory || options.registry;
  if (!has_registry && options.seeds.empty()) {
    return InvalidArgumentError("no way to find the service: give a registry or seed URLs");
  }
  std::string id = options.client_id.empty() ? RandomClientId() : options.client_id;
  if (!ValidClientId(id)) {
    return InvalidArgumentError("client id '" + id + "': expected 1-64 of [A-Za-z0-9._-]");
  }
  if (options.first_seq == 0) return InvalidArgumentError("the first sequence number is 1");
  BR2K_RETURN_IF_ERROR(ValidateBackoff(options.backoff));
  if (options.attempt_timeout.count() <= 0) {
    return InvalidArgumentError("attempt timeout must be positive");
  }
  if (options.max_redirects < 0) return InvalidArgumentError("max_redirects must be >= 0");
  if (options.event_poll.count() <= 0) return InvalidArgumentError("event_poll must be positive");
  if (options.chain_timeout.count() <= 0) {
    return InvalidArgumentError("chain_timeout must be positive");
  }
  if (options.registry_wait.count() < 0) return InvalidArgumentError("registry_wait must be >= 0");
  bool can_claim = options.directory ? options.directory->can_claim()
                                     : options.registry && options.claimer != nullptr;
  if (options.claim_after > 0 && !can_claim) {
    return InvalidArgumentError("claim_after needs a registry and a claim key");
  }
  if (!options.transport) options.transport = MakeHttpTransport();

  std::unique_ptr<ServiceClient> c(new ServiceClient(std::move(options), std::move(id)));
  for (const auto& s : c->options_.seeds) {
    Status st = c->locations_.AddSeed(s);
    if (!st.ok()) return st.WithContext("seed");
  }
  if (!c->directory_ && !c->options_.registry) return c;

  // The registry is connected to and read on the registry thread. Without seeds nothing can be
  // tried before it answers: wait for it until `deadline`. With seeds, wait at most
  // `registry_wait`, then let the seeds serve while the chain is slow.
  const bool seeds = !c->options_.seeds.empty();
  c->registry_state_ = RegistryState::kConnecting;
  ServiceClient* self = c.get();
  c->watcher_ =
      std::jthread([self, deadline](std::stop_token st) { self->RegistryLoop(st, deadline); });
  auto until =
      seeds ? std::min(deadline.when(), Clock::now() + c->options_.registry_wait) : deadline.when();
  std::unique_lock<std::mutex> l(c->mu_);
  c->cv_.wait_until(l, until, [&] { return c->registry_state_ != RegistryState::kConnecting; });
  if (c->registry_state_ == RegistryState::kReady ||
      (seeds && c->registry_state_ == RegistryState::kConnecting)) {
    if (c->registry_state_ == RegistryState::kConnecting) {
      spdlog::info("client {}: {} not read yet ({}); trying the seeds meanwhile", c->client_id_,
                   c->RegistryWhat(),
                   c->registry_error_.ok() ? "no answer" : c->registry_error_.ToString());
    }
    c->create_returned_ = true;
    return c;
  }
  l.unlock();
  // Failed, or no answer before the deadline: the thread's chain requests end by `deadline`.
  c->StopRegistry();
  l.lock();
  std::string what = c->RegistryWhat();
  if (c->registry_state_ == RegistryState::kFailed) return c->registry_error_.WithContext(what);
  std::string node =
      c->options_.rpc ? " (chain node " + c->options_.rpc->transport().Endpoint() + ")" : "";
  return DeadlineExceededError(what + ": the registry" + node +
                               " did not answer before the deadline");
}

ServiceClient::ServiceClient(ServiceClientOptions options, std::string client_id)
    : options_(std::move(options)),
      client_id_(std::move(client_id)),
      directory_(options_.directory),
      transport_(options_.transport),
      next_seq_(options_.first_seq),
      history_(options_.history_limit),
      rng_(std::random_device{}()) {}

ServiceClient::~ServiceClient() {
  StopRegistry();
}

void ServiceClient::StopRegistry() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) {
    watcher_.request_stop();
    watcher_.join();
  }
}

std::shared_ptr<ServiceDirectory> ServiceClient::Directory() const {
  std::lock_guard<std::mutex> l(mu_);
  return directory_;
}

// Not under mu_ (reads only fields fixed at construction).
std::string ServiceClient::RegistryWhat() const {
  if (!options_.service.empty()) return "service '" + options_.service + "'";
  return options_.directory ? options_.directory->Describe() : "the registry";
}

bool ServiceClient::registry_read() const {
  std::lock_guard<std::mutex> l(mu_);
  return registry_state_ == RegistryState::kReady;
}

std::vector<std::string> ServiceClient::locations() const {
  std::lock_guard<std::mutex> l(mu_);
  return locations_.Order();
}

std::pair<std::string, uint64_t> ServiceClient::registry_location() const {
  std::lock_guard<std::mutex> l(mu_);
  return {locations_.registry_raw(), locations_.registry_epoch()};
}

HistoryRecord ServiceClient::OpRecord(RecordType t, const Op& op) const {
  HistoryRecord r;
  r.type = t;
  r.client = client_id_;
  r.op = op.id;
  r.seq = op.seq;
  return r;
}

Result<Answer> ServiceClient::Call(const std::string& method, const std::string& path,
                                   const std::string& body, Deadline deadline) {
  if (!ValidMethod(method)) return InvalidArgumentError("bad HTTP method '" + method + "'");
  if (!ValidTarget(path)) return InvalidArgumentError("bad path '" + path + "'");
  return CallWithSeq(method, path, body, next_seq_.fetch_add(1), deadline);
}

Result<Answer> ServiceClient::CallWithSeq(const std::string& method, const std::string& path,
                                          const std::string& body, uint64_t seq,
                                          Deadline deadline) {
  if (!ValidMethod(method)) return InvalidArgumentError("bad HTTP method '" + method + "'");
  if (!ValidTarget(path)) return InvalidArgumentError("bad path '" + path + "'");
  if (seq == 0) return InvalidArgumentError("sequence numbers start at 1");
  Op op;
  op.id = next_op_.fetch_add(1);
  op.seq = seq;
  op.write = true;
  op.method = method;
  op.target = path;
  op.body = body;
  op.headers = {{"X-Br2k-Client", client_id_}, {"X-Br2k-Seq", std::to_string(seq)}};
  return Run(op, deadline);
}

Result<Answer> ServiceClient::Read(const std::string& path, Deadline deadline) {
  if (!ValidTarget(path)) return InvalidArgumentError("bad path '" + path + "'");
  Op op;
  op.id = next_op_.fetch_add(1);
  op.method = "GET";
  op.target = path;
  return Run(op, deadline);
}

Result<Answer> ServiceClient::Run(Op& op, Deadline deadline) {
  op.started = Clock::now();
  op.next_claim_round = options_.claim_after;
  HistoryRecord inv = OpRecord(RecordType::kInvoke, op);
  inv.method = op.method;
  inv.path = op.target;
  inv.body = op.body;
  history_.Append(std::move(inv));

  uint32_t round = 0;
  for (;;) {
    std::vector<std::string> order;
    uint64_t version = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      order = locations_.Order();
      version = location_version_;
    }
    if (order.empty()) op.last_error = "no usable location is known for the service";
    std::vector<std::string> tried;
    for (const auto& url : order) {
      if (deadline.expired()) break;
      if (std::find(tried.begin(), tried.end(), url) != tried.end()) continue;
      TryResult r = TryLocation(op, url, tried, deadline);
      if (!r.final) continue;
      Answer& a = r.answer;
      HistoryRecord done = OpRecord(a.ok() ? RecordType::kOk : RecordType::kFail, op);
      done.status = a.status;
      done.response = a.body;
      done.index = a.index;
      done.state = a.state;
      done.duplicate = a.duplicate;
      done.url = a.url;
      done.attempts = op.attempts;
      done.latency_ns = NanosSince(op.started);
      history_.Append(std::move(done));
      {
        std::lock_guard<std::mutex> l(mu_);
        locations_.MarkAnswered(a.url);
        claim_sent_ = false;  // the service answers: the outage (if any) is over
      }
      return std::move(a);
    }
    if (deadline.expired()) break;
    ++round;  // every known location failed
    MaybeClaim(op, round, deadline);
    if (deadline.expired()) break;
    RefreshLocation(deadline.Cap(options_.chain_timeout));
    std::chrono::milliseconds delay;
    {
      std::lock_guard<std::mutex> l(mu_);
      std::uniform_real_distribution<double> u(0.0, 1.0);
      delay = BackoffDelay(options_.backoff, round, u(rng_));
    }
    WaitBackoff(delay, version, deadline);
    if (deadline.expired()) break;
  }

  bool unknown = op.write && op.maybe_sent;
  HistoryRecord end = OpRecord(unknown ? RecordType::kUnknown : RecordType::kFail, op);
  end.error = "deadline passed; last error: " + op.last_error;
  end.attempts = op.attempts;
  end.latency_ns = NanosSince(op.started);
  history_.Append(std::move(end));
  std::string what = op.write ? (unknown ? "outcome unknown" : "not executed") : "read";
  std::string registry;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (registry_state_ == RegistryState::kConnecting ||
        registry_state_ == RegistryState::kFailed) {
      registry =
          "; " + RegistryWhat() + ": the registry was not read (" +
          (registry_error_.ok() ? std::string("no answer yet") : registry_error_.ToString()) + ")";
    }
  }
  return DeadlineExceededError(op.method + " " + op.target + ": no final answer before the " +
                               "deadline (" + what + ", " + std::to_string(op.attempts) +
                               " attempts); last error: " + op.last_error + registry);
}

ServiceClient::TryResult ServiceClient::TryLocation(Op& op, const std::string& url,
                                                    std::vector<std::string>& tried,
                                                    Deadline deadline) {
  std::string cur = url;
  std::string target = op.target;
  for (int hop = 0;; ++hop) {
    tried.push_back(cur);
    ++op.attempts;
    HistoryRecord ar = OpRecord(RecordType::kAttempt, op);
    ar.attempt = op.attempts;
    ar.url = cur;
    ar.target = target;
    ar.retry = op.after_failure;
    auto t0 = Clock::now();
    auto resp = transport_->Send(cur, op.method, target, op.body, op.headers,
                                 deadline.Cap(options_.attempt_timeout));
    ar.latency_ns = NanosSince(t0);
    auto fail = [&](const std::string& outcome, const std::string& error) {
      ar.outcome = outcome;
      ar.error = error;
      // `cur` came from the chain and `error` may quote the server's answer: escaped.
      spdlog::debug("client {} op {} attempt {} {}{}: {} {}", client_id_, op.id, ar.attempt,
                    EscapeForLog(cur), EscapeForLog(target), outcome, EscapeForLog(error, 1024));
      history_.Append(std::move(ar));
      op.after_failure = true;
      op.last_error = cur + ": " + error;
      return TryResult{};
    };
    if (!resp.ok()) {
      const Status& s = resp.status();
      switch (s.code()) {
        case StatusCode::kUnavailable:
          return fail("unreachable", s.message());
        case StatusCode::kAborted:
          op.maybe_sent = true;
          return fail("broken", s.message());
        case StatusCode::kDeadlineExceeded:
          op.maybe_sent = true;
          return fail("timeout", s.message());
        default:
          return fail("error", s.ToString());
      }
    }
    ar.status = resp->status;
    AnswerClass cls = ClassifyAnswer(resp->status, resp->headers);
    Br2kHeaders h = ParseBr2kHeaders(resp->headers);
    if (cls == AnswerClass::kRetry) {
      // The replica answered but did not settle the request; for a write it may still be
      // executed (e.g. a 503 "not committed" after the log append).
      if (op.write) op.maybe_sent = true;
      return fail("retry", "HTTP " + std::to_string(resp->status) + " " + Snippet(resp->body));
    }
    if (cls == AnswerClass::kRedirect) {
      if (hop >= options_.max_redirects) {
        return fail("error", "HTTP " + std::to_string(resp->status) + ": more than " +
                                 std::to_string(options_.max_redirects) + " redirects");
      }
      Result<RedirectTarget> rt = !h.location.empty() ? ResolveRedirect(cur, h.location, target)
                                  : !h.leader_url.empty()
                                      ? ResolveRedirect(cur, h.leader_url, target)
                                      : Result<RedirectTarget>(InvalidArgumentError(
                                            "redirect without Location or X-Br2k-Leader-Url"));
      if (!rt.ok()) {
        return fail("error", "HTTP " + std::to_string(resp->status) + ": " + rt.status().message());
      }
      ar.outcome = "redirect";
      ar.leader = h.leader;
      history_.Append(std::move(ar));
      HistoryRecord rr = OpRecord(RecordType::kRedirect, op);
      rr.from = cur;
      rr.url = rt->base_url;
      rr.leader = h.leader;
      history_.Append(std::move(rr));
      {
        std::lock_guard<std::mutex> l(mu_);
        locations_.LearnRedirect(rt->base_url);
      }
      if (std::find(tried.begin(), tried.end(), rt->base_url) != tried.end()) {
        // Redirected to a location that already failed in this round (a follower that has not
        // yet noticed the leader's death): wait for the next round.
        op.after_failure = true;
        op.last_error = cur + ": redirects to " + rt->base_url + ", which failed";
        return TryResult{};
      }
      op.after_failure = false;  // following a redirect is not a retry
      cur = rt->base_url;
      target = rt->target;
      continue;
    }
    ar.outcome = "final";
    ar.error = h.error;
    history_.Append(std::move(ar));
    op.after_failure = false;
    TryResult out;
    out.final = true;
    Answer& a = out.answer;
    a.status = resp->status;
    a.headers = std::move(resp->headers);
    a.body = std::move(resp->body);
    a.url = cur;
    a.client = client_id_;
    a.seq = op.seq;
    a.op = op.id;
    a.index = h.index;
    a.state = h.state;
    a.duplicate = h.duplicate;
    a.attempts = op.attempts;
    return out;
  }
}

void ServiceClient::MaybeClaim(Op& op, uint32_t round, Deadline deadline) {
  std::shared_ptr<ServiceDirectory> directory = Directory();
  if (options_.claim_after == 0 || round < op.next_claim_round || !directory ||
      !directory->can_claim()) {
    return;
  }
  std::string failed;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (claim_sent_) return;
    claim_sent_ = true;  // reserved: concurrent operations do not claim the same outage again
    failed = locations_.registry_raw();
    if (failed.empty()) {
      auto order = locations_.Order();
      if (!order.empty()) failed = order.front();
    }
  }
  auto r = directory->Claim(failed, options_.claim_reason, deadline.Cap(std::chrono::seconds(60)));
  HistoryRecord cr = OpRecord(r.ok() ? RecordType::kClaim : RecordType::kClaimFailed, op);
  cr.url = failed;
  cr.reason = options_.claim_reason;
  if (r.ok()) {
    cr.tx = r->tx;
    cr.block = r->block;
    spdlog::info("client {}: every location failed {} rounds in a row; sent a Claim for '{}' ({})",
                 client_id_, round, EscapeForLog(failed), r->tx);
  } else {
    cr.error = r.status().ToString();
    spdlog::warn("client {}: Claim for '{}' failed: {}", client_id_, EscapeForLog(failed),
                 EscapeForLog(cr.error, 1024));
    std::lock_guard<std::mutex> l(mu_);
    claim_sent_ = false;
    op.next_claim_round = round + options_.claim_after;  // try again after as many rounds
  }
  history_.Append(std::move(cr));
}

void ServiceClient::RefreshLocation(Deadline deadline) {
  std::shared_ptr<ServiceDirectory> directory;
  {
    std::lock_guard<std::mutex> l(mu_);
    // Until the registry thread has read the registry, it is the one asking the chain.
    if (registry_state_ != RegistryState::kReady) return;
    directory = directory_;
  }
  auto l = directory->Lookup(deadline);
  if (!l.ok()) {
    spdlog::debug("client {}: registry lookup failed: {}", client_id_, l.status().ToString());
    return;
  }
  SetRegistryLocation(l->location, l->epoch, "registry", 0, "");
}

void ServiceClient::SetRegistryLocation(const std::string& location, uint64_t epoch,
                                        const std::string& source, uint64_t block,
                                        const std::string& tx, bool repaired) {
  std::lock_guard<std::mutex> l(mu_);
  std::string from = locations_.registry_raw();
  std::string error;
  if (!locations_.SetRegistry(location, epoch, &error, repaired)) return;
  ++location_version_;
  HistoryRecord r;
  r.type = RecordType::kLocation;
  r.client = client_id_;
  r.source = source;
  r.from = from;
  r.url = location;
  r.epoch = epoch;
  r.block = block;
  r.tx = tx;
  r.error = error;  // a location that does not parse is held (for claims) but not tried
  history_.Append(std::move(r));
  // The location is whatever was written on chain (or read from a peer): escaped and capped.
  spdlog::debug("client {}: location '{}' (epoch {}) from {}", client_id_, EscapeForLog(location),
                epoch, source);
  cv_.notify_all();
}

void ServiceClient::WaitBackoff(std::chrono::milliseconds delay, uint64_t seen_version,
                                Deadline deadline) {
  std::unique_lock<std::mutex> l(mu_);
  auto until = std::min(Clock::now() + delay, deadline.when());
  cv_.wait_until(l, until, [&] { return stopping_ || location_version_ != seen_version; });
}

namespace {

// Errors the chain may recover from (the node is down, slow or hung).
bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

Status ServiceClient::StartRegistry(Deadline deadline, uint64_t& from_block) {
  std::shared_ptr<ServiceDirectory> directory = Directory();
  if (!directory) {
    eth::ServiceId sid = eth::ServiceIdFromName(options_.service);
    BR2K_ASSIGN_OR_RETURN(
        directory, ConnectRegistryDirectory(options_.rpc, *options_.registry, sid, options_.claimer,
                                            deadline, options_.event_poll, options_.chain_timeout));
    std::lock_guard<std::mutex> l(mu_);
    directory_ = directory;
  }
  if (options_.follow_events) {
    BR2K_ASSIGN_OR_RETURN(from_block, directory->NextBlock(deadline));
  }
  BR2K_ASSIGN_OR_RETURN(eth::ServiceLocation loc, directory->Lookup(deadline));
  SetRegistryLocation(loc.location, loc.epoch, "registry", 0, "");
  return Status::Ok();
}

void ServiceClient::RegistryLoop(std::stop_token stop, Deadline first) {
  const bool seeds = !options_.seeds.empty();
  Backoff backoff(options_.backoff, std::random_device{}());
  uint64_t next = 0;
  // Start-up. Without seeds Create waits for exactly one try bounded by its deadline; with
  // seeds each try is bounded by chain_timeout and retried until it succeeds or fails for good.
  for (bool first_try = true;; first_try = false) {
    if (stop.stop_requested()) return;
    Deadline d = !first_try ? Deadline::After(options_.chain_timeout)
                 : seeds    ? first.Cap(options_.chain_timeout)
                            : first;
    Status s = StartRegistry(d, next);
    bool failed = false, after_create = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (s.ok()) {
        registry_state_ = RegistryState::kReady;
      } else {
        registry_error_ = s;
        failed = !seeds || !Transient(s);
        if (failed) registry_state_ = RegistryState::kFailed;
      }
      after_create = create_returned_;
    }
    cv_.notify_all();
    if (s.ok()) break;
    if (failed || after_create) {
      HistoryRecord r;
      r.type = RecordType::kWatchError;
      r.client = client_id_;
      r.error = RegistryWhat() + ": " + s.ToString();
      history_.Append(std::move(r));
    }
    if (failed) {
      if (after_create) {
        spdlog::warn("client {}: {}: {}; using the known locations only", client_id_,
                     RegistryWhat(), EscapeForLog(s.ToString(), 1024));
      }
      return;
    }
    spdlog::debug("client {}: {} not read yet: {}", client_id_, RegistryWhat(),
                  EscapeForLog(s.ToString(), 1024));
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, backoff.Next(), [&] { return stopping_; });
    if (stopping_) return;
  }
  if (!options_.follow_events) return;

  std::shared_ptr<ServiceDirectory> directory = Directory();
  backoff.Reset();
  while (!stop.stop_requested()) {
    Status s = directory->Watch(
        next,
        [&](const LocationEvent& e) {
          next = std::max(next, e.block);  // a restart re-reads this block; epochs dedupe
          backoff.Reset();
          SetRegistryLocation(e.location, e.epoch, e.repaired ? "repair" : "event", e.block, e.tx,
                              e.repaired);
        },
        stop);
    if (stop.stop_requested()) break;
    HistoryRecord r;
    r.type = RecordType::kWatchError;
    r.client = client_id_;
    r.error = s.ok() ? "watch ended" : s.ToString();
    spdlog::warn("client {}: following registry events failed ({}); restarting", client_id_,
                 r.error);
    history_.Append(std::move(r));
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, backoff.Next(), [&] { return stopping_; });
    if (stopping_) break;
  }
}

}  // namespace br2k::client
