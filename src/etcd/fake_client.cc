// FakeClient: an in-memory MVCC store with etcd's observable semantics (revisions, history,
// compaction, transactions, watches, leases), for unit tests. One mutex guards everything;
// watchers wait on a condition variable signalled by every write.
#include "br2k/etcd/fake_client.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace br2k::etcd {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMemberId = 0xfa4e0001;
constexpr uint64_t kClusterId = 0xfa4ec1;
const char* kEndpoint = "fake://etcd";

struct Version {
  bool tombstone = false;
  KeyValue kv;  // for a tombstone: key and mod_revision only
};

struct Lease {
  int64_t granted_ttl = 0;
  Clock::time_point expiry;
  std::set<std::string> keys;
};

// Does `key` fall in [begin, end) with etcd's conventions for `end`?
bool InRange(const std::string& key, const std::string& begin, const std::string& end) {
  if (end.empty()) return key == begin;
  if (end == std::string(1, '\0')) return key >= begin;
  return key >= begin && key < end;
}

}  // namespace

struct FakeClient::State {
  mutable std::mutex mu;
  std::condition_variable changed;
  int64_t revision = 1;  // etcd's store starts at revision 1
  int64_t compact_revision = 0;
  std::map<std::string, std::vector<Version>> history;
  std::vector<Event> events;  // every event since the last compaction, by revision
  std::map<int64_t, Lease> leases;
  int64_t next_lease_id = 0x7a11000;
  Hook hook;
  bool unavailable = false;
  size_t max_response_bytes = 0;  // 0: unlimited
  bool stop = false;
  uint64_t watch_generation = 0;  // bumped when availability changes

  ResponseHeader Header() const {
    return ResponseHeader{
        .cluster_id = kClusterId, .member_id = kMemberId, .revision = revision, .raft_term = 1};
  }

  // Pre-checks shared by every call. Requires mu held.
  br2k::Status Admit(std::string_view method, const Deadline& deadline) const {
    if (deadline.expired()) return DeadlineExceededError("context deadline exceeded");
    if (unavailable) return UnavailableError("fake etcd: unavailable (injected)");
    if (hook) return hook(method);
    return br2k::Status::Ok();
  }

  // Latest live version of `key` at revision `rev` (0 = now), or nullptr.
  const KeyValue* At(const std::string& key, int64_t rev) const {
    auto it = history.find(key);
    if (it == history.end()) return nullptr;
    const Version* found = nullptr;
    for (const auto& v : it->second) {
      if (rev == 0 || v.kv.mod_revision <= rev) found = &v;
    }
    if (!found || found->tombstone) return nullptr;
    return &found->kv;
  }

  std::vector<const KeyValue*> Live(const std::string& begin, const std::string& end,
                                    int64_t rev) const {
    std::vector<const KeyValue*> out;
    if (end.empty()) {
      if (auto* kv = At(begin, rev)) out.push_back(kv);
      return out;
    }
    for (auto it = history.lower_bound(begin); it != history.end(); ++it) {
      if (!InRange(it->first, begin, end)) break;
      if (auto* kv = At(it->first, rev)) out.push_back(kv);
    }
    return out;
  }

  Result<RangeResponse> DoRange(const RangeRequest& req) const {
    if (req.revision > revision) {
      return OutOfRangeError("etcdserver: mvcc: required revision is a future revision");
    }
    if (req.revision > 0 && req.revision < compact_revision) {
      return OutOfRangeError("etcdserver: mvcc: required revision has been compacted");
    }
    auto live = Live(req.key, req.range_end, req.revision);
    std::vector<KeyValue> kvs;
    for (auto* kv : live) kvs.push_back(*kv);
    auto key_of = [&](const KeyValue& kv) -> std::tuple<int64_t, std::string> {
      switch (req.sort_target) {
        case SortTarget::kVersion:
          return {kv.version, ""};
        case SortTarget::kCreate:
          return {kv.create_revision, ""};
        case SortTarget::kMod:
          return {kv.mod_revision, ""};
        case SortTarget::kValue:
          return {0, kv.value};
        case SortTarget::kKey:
          break;
      }
      return {0, kv.key};
    };
    if (req.sort_order != SortOrder::kNone || req.sort_target != SortTarget::kKey) {
      std::stable_sort(kvs.begin(), kvs.end(), [&](const KeyValue& a, const KeyValue& b) {
        return req.sort_order == SortOrder::kDescend ? key_of(b) < key_of(a)
                                                     : key_of(a) < key_of(b);
      });
    }
    RangeResponse resp;
    resp.header = Header();
    resp.count = static_cast<int64_t>(kvs.size());
    if (req.limit > 0 && static_cast<int64_t>(kvs.size()) > req.limit) {
      kvs.resize(static_cast<size_t>(req.limit));
      resp.more = true;
    }
    if (req.count_only) kvs.clear();
    if (req.keys_only) {
      for (auto& kv : kvs) kv.value.clear();
    }
    resp.kvs = std::move(kvs);
    return resp;
  }

  // Mutations write at revision + 1; Commit() makes it the store revision.
  Result<PutResponse> DoPut(const PutRequest& req, int64_t rev) {
    if (req.key.empty()) return InvalidArgumentError("etcdserver: key is not provided");
    if (req.lease != 0 && !leases.count(req.lease)) {
      return NotFoundError("etcdserver: requested lease not found");
    }
    PutResponse resp;
    std::optional<KeyValue> prev;  // a copy: the history vector may reallocate below
    if (const KeyValue* p = At(req.key, 0)) prev = *p;
    KeyValue kv{.key = req.key,
                .value = req.value,
                .create_revision = rev,
                .mod_revision = rev,
                .version = 1,
                .lease = req.lease};
    if (prev) {
      if (req.prev_kv) resp.prev_kv = *prev;
      kv.create_revision = prev->create_revision;
      kv.version = prev->version + 1;
      if (prev->lease != 0 && prev->lease != req.lease) {
        if (auto l = leases.find(prev->lease); l != leases.end()) l->second.keys.erase(req.key);
      }
    }
    if (req.lease != 0) leases[req.lease].keys.insert(req.key);
    auto& h = history[req.key];
    if (!h.empty() && h.back().kv.mod_revision == rev) h.pop_back();  // same txn wrote it
    h.push_back(Version{false, kv});
    events.push_back(Event{.type = Event::Type::kPut, .kv = kv, .prev_kv = prev});
    return resp;
  }

  DeleteResponse DoDelete(const DeleteRequest& req, int64_t rev) {
    DeleteResponse resp;
    std::vector<KeyValue> victims;
    for (auto* kv : Live(req.key, req.range_end, 0)) victims.push_back(*kv);
    for (auto& prev : victims) {
      if (prev.lease != 0) {
        if (auto l = leases.find(prev.lease); l != leases.end()) l->second.keys.erase(prev.key);
      }
      KeyValue tomb{.key = prev.key, .mod_revision = rev};
      history[prev.key].push_back(Version{true, tomb});
      events.push_back(Event{.type = Event::Type::kDelete, .kv = tomb, .prev_kv = prev});
      if (req.prev_kv) resp.prev_kvs.push_back(prev);
    }
    resp.deleted = static_cast<int64_t>(victims.size());
    return resp;
  }

  bool Holds(const Compare& c) const {
    auto live = Live(c.key, c.range_end, 0);
    if (live.empty()) {
      // etcd: a value compare against a missing key always fails; otherwise compare zeros.
      if (c.target == CompareTarget::kValue) return false;
      KeyValue zero;
      return HoldsOn(c, zero);
    }
    return std::all_of(live.begin(), live.end(),
                       [&](const KeyValue* kv) { return HoldsOn(c, *kv); });
  }

  static bool HoldsOn(const Compare& c, const KeyValue& kv) {
    int cmp;
    if (c.target == CompareTarget::kValue) {
      cmp = kv.value.compare(c.value);
    } else {
      int64_t actual = 0;
      switch (c.target) {
        case CompareTarget::kVersion:
          actual = kv.version;
          break;
        case CompareTarget::kCreate:
          actual = kv.create_revision;
          break;
        case CompareTarget::kMod:
          actual = kv.mod_revision;
          break;
        case CompareTarget::kLease:
          actual = kv.lease;
          break;
        case CompareTarget::kValue:
          break;
      }
      cmp = actual < c.number ? -1 : (actual > c.number ? 1 : 0);
    }
    switch (c.op) {
      case CompareOp::kEqual:
        return cmp == 0;
      case CompareOp::kNotEqual:
        return cmp != 0;
      case CompareOp::kGreater:
        return cmp > 0;
      case CompareOp::kLess:
        return cmp < 0;
    }
    return false;
  }

  static br2k::Status CheckDuplicates(const std::vector<Op>& ops) {
    std::set<std::string> puts;
    for (const auto& op : ops) {
      if (auto* p = std::get_if<PutRequest>(&op.request)) {
        if (!puts.insert(p->key).second) {
          return InvalidArgumentError("etcdserver: duplicate key given in txn request");
        }
      } else if (auto* t = std::get_if<Box<TxnRequest>>(&op.request)) {
        BR2K_RETURN_IF_ERROR(CheckDuplicates((*t)->success));
        BR2K_RETURN_IF_ERROR(CheckDuplicates((*t)->failure));
      }
    }
    return br2k::Status::Ok();
  }

  static bool HasWrite(const std::vector<Op>& ops) {
    for (const auto& op : ops) {
      if (std::holds_alternative<PutRequest>(op.request) ||
          std::holds_alternative<DeleteRequest>(op.request)) {
        return true;
      }
      if (auto* t = std::get_if<Box<TxnRequest>>(&op.request)) {
        if (HasWrite((*t)->success) || HasWrite((*t)->failure)) return true;
      }
    }
    return false;
  }

  // Runs a transaction at revision `rev` (writes) without committing; returns false in
  // `wrote` when nothing was written.
  Result<TxnResponse> DoTxn(const TxnRequest& req, int64_t rev) {
    TxnResponse resp;
    resp.succeeded = std::all_of(req.compare.begin(), req.compare.end(),
                                 [&](const Compare& c) { return Holds(c); });
    const auto& ops = resp.succeeded ? req.success : req.failure;
    for (const auto& op : ops) {
      OpResponse r;
      if (auto* g = std::get_if<RangeRequest>(&op.request)) {
        BR2K_ASSIGN_OR_RETURN(auto rr, DoRange(*g));
        r.response = std::move(rr);
      } else if (auto* p = std::get_if<PutRequest>(&op.request)) {
        BR2K_ASSIGN_OR_RETURN(auto pr, DoPut(*p, rev));
        r.response = std::move(pr);
      } else if (auto* d = std::get_if<DeleteRequest>(&op.request)) {
        r.response = DoDelete(*d, rev);
      } else if (auto* t = std::get_if<Box<TxnRequest>>(&op.request)) {
        BR2K_ASSIGN_OR_RETURN(auto tr, DoTxn(**t, rev));
        r.response = Box<TxnResponse>(std::move(tr));
      }
      resp.responses.push_back(std::move(r));
    }
    return resp;
  }

  // Makes the writes at revision + 1 visible, if there were any.
  void Commit(size_t events_before) {
    if (events.size() > events_before) {
      ++revision;
      changed.notify_all();
    }
  }

  // Rolls back writes at revision + 1 (a transaction that failed half-way, e.g. unknown lease).
  void Abort(size_t events_before) {
    const int64_t rev = revision + 1;
    for (auto& [key, h] : history) {
      while (!h.empty() && h.back().kv.mod_revision == rev) h.pop_back();
    }
    for (auto it = history.begin(); it != history.end();) {
      it = it->second.empty() ? history.erase(it) : std::next(it);
    }
    events.resize(events_before);
    // Lease key sets are rebuilt from the live keys.
    for (auto& [id, l] : leases) l.keys.clear();
    for (auto& [key, h] : history) {
      if (!h.back().tombstone && h.back().kv.lease != 0) {
        leases[h.back().kv.lease].keys.insert(key);
      }
    }
  }

  void ExpireLeases() {
    auto now = Clock::now();
    std::vector<int64_t> expired;
    for (auto& [id, l] : leases) {
      if (l.expiry <= now) expired.push_back(id);
    }
    for (int64_t id : expired) RevokeLocked(id);
  }

  void RevokeLocked(int64_t id) {
    auto it = leases.find(id);
    if (it == leases.end()) return;
    auto keys = it->second.keys;
    leases.erase(it);
    size_t before = events.size();
    for (const auto& k : keys) DoDelete(DeleteRequest{.key = k}, revision + 1);
    Commit(before);
  }
};

namespace {

class FakeWatcher final : public Watcher {
 public:
  FakeWatcher(std::shared_ptr<FakeClient::State> s, WatchOptions o, int64_t next)
      : s_(std::move(s)), o_(std::move(o)), next_(next) {}

  Result<WatchBatch> Next(Deadline deadline) override {
    std::unique_lock lock(s_->mu);
    while (true) {
      if (cancelled_) return CancelledError("watch cancelled");
      if (!s_->unavailable) {
        if (next_ < s_->compact_revision) {
          compact_ = s_->compact_revision;
          return OutOfRangeError("etcdserver: mvcc: required revision has been compacted");
        }
        WatchBatch b;
        auto first =
            std::lower_bound(s_->events.begin(), s_->events.end(), next_,
                             [](const Event& e, int64_t rev) { return e.kv.mod_revision < rev; });
        for (auto it = first; it != s_->events.end(); ++it) {
          if (it->kv.mod_revision > s_->revision) break;  // not committed yet
          if (!InRange(it->kv.key, o_.key, o_.range_end)) continue;
          Event e = *it;
          if (!o_.prev_kv) e.prev_kv.reset();
          b.events.push_back(std::move(e));
        }
        if (!b.events.empty()) {
          b.header = s_->Header();
          last_ = b.events.back().kv.mod_revision;
          next_ = s_->revision + 1;
          return b;
        }
        next_ = s_->revision + 1;
        if (progress_requested_) {
          progress_requested_ = false;
          b.header = s_->Header();
          b.progress = true;
          return b;
        }
      }
      if (s_->changed.wait_until(lock, deadline.when()) == std::cv_status::timeout) {
        if (deadline.expired()) return DeadlineExceededError("no watch event before deadline");
      }
    }
  }

  void RequestProgress() override {
    std::lock_guard lock(s_->mu);
    progress_requested_ = true;
    s_->changed.notify_all();
  }

  void Cancel() override {
    std::lock_guard lock(s_->mu);
    cancelled_ = true;
    s_->changed.notify_all();
  }

  int64_t last_revision() const override {
    std::lock_guard lock(s_->mu);
    return last_;
  }
  int64_t compact_revision() const override {
    std::lock_guard lock(s_->mu);
    return compact_;
  }
  bool connected() const override {
    std::lock_guard lock(s_->mu);
    return !s_->unavailable;
  }

 private:
  std::shared_ptr<FakeClient::State> s_;
  const WatchOptions o_;
  int64_t next_;
  int64_t last_ = 0;
  int64_t compact_ = 0;
  bool cancelled_ = false;
  bool progress_requested_ = false;
};

}  // namespace

FakeClient::FakeClient() : state_(std::make_shared<State>()) {
  // Lease expiry runs on its own thread, as on a real server.
  std::thread([s = state_] {
    std::unique_lock lock(s->mu);
    while (!s->stop) {
      s->ExpireLeases();
      s->changed.wait_for(lock, std::chrono::milliseconds(10));
    }
  }).detach();
}

FakeClient::~FakeClient() {
  std::lock_guard lock(state_->mu);
  state_->stop = true;
  state_->changed.notify_all();
}

void FakeClient::SetHook(Hook hook) {
  std::lock_guard lock(state_->mu);
  state_->hook = std::move(hook);
}

void FakeClient::SetMaxResponseBytes(size_t bytes) {
  std::lock_guard lock(state_->mu);
  state_->max_response_bytes = bytes;
}

namespace {

size_t ResponseBytes(const RangeResponse& r) {
  size_t n = 0;
  for (const auto& kv : r.kvs) n += kv.key.size() + kv.value.size();
  return n;
}

size_t ResponseBytes(const TxnResponse& t) {
  size_t n = 0;
  for (const auto& op : t.responses) {
    std::visit(
        [&](const auto& x) {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, Box<TxnResponse>>) {
            n += ResponseBytes(*x);
          } else if constexpr (std::is_same_v<X, RangeResponse>) {
            n += ResponseBytes(x);
          }
        },
        op.response);
  }
  return n;
}

Status TooLarge(size_t bytes, size_t limit) {
  return ResourceExhaustedError("etcd (fake): received message larger than max (" +
                                std::to_string(bytes) + " vs. " + std::to_string(limit) + ")");
}

}  // namespace

void FakeClient::SetUnavailable(bool unavailable) {
  std::lock_guard lock(state_->mu);
  state_->unavailable = unavailable;
  state_->changed.notify_all();
}

int64_t FakeClient::revision() const {
  std::lock_guard lock(state_->mu);
  return state_->revision;
}

Result<RangeResponse> FakeClient::Range(const RangeRequest& req, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Range", deadline));
  auto r = state_->DoRange(req);
  if (r.ok() && state_->max_response_bytes > 0 && ResponseBytes(*r) > state_->max_response_bytes) {
    return TooLarge(ResponseBytes(*r), state_->max_response_bytes);
  }
  return r;
}

Result<PutResponse> FakeClient::Put(const PutRequest& req, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Put", deadline));
  size_t before = state_->events.size();
  auto r = state_->DoPut(req, state_->revision + 1);
  if (!r.ok()) {
    state_->Abort(before);
    return r;
  }
  state_->Commit(before);
  r->header = state_->Header();
  return r;
}

Result<DeleteResponse> FakeClient::Delete(const DeleteRequest& req, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Delete", deadline));
  size_t before = state_->events.size();
  DeleteResponse r = state_->DoDelete(req, state_->revision + 1);
  state_->Commit(before);
  r.header = state_->Header();
  return r;
}

Result<TxnResponse> FakeClient::Txn(const TxnRequest& req, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Txn", deadline));
  BR2K_RETURN_IF_ERROR(State::CheckDuplicates(req.success));
  BR2K_RETURN_IF_ERROR(State::CheckDuplicates(req.failure));
  size_t before = state_->events.size();
  auto r = state_->DoTxn(req, state_->revision + 1);
  if (!r.ok()) {
    state_->Abort(before);
    return r;
  }
  state_->Commit(before);
  // Every header in the tree reports the revision after the transaction.
  std::function<void(TxnResponse&)> stamp = [&](TxnResponse& t) {
    t.header = state_->Header();
    for (auto& op : t.responses) {
      std::visit(
          [&](auto& x) {
            if constexpr (std::is_same_v<std::decay_t<decltype(x)>, Box<TxnResponse>>) {
              stamp(*x);
            } else {
              x.header = state_->Header();
            }
          },
          op.response);
    }
  };
  stamp(*r);
  if (state_->max_response_bytes > 0 && ResponseBytes(*r) > state_->max_response_bytes) {
    return TooLarge(ResponseBytes(*r), state_->max_response_bytes);
  }
  return r;
}

Result<ResponseHeader> FakeClient::Compact(int64_t revision, bool /*physical*/, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Compact", deadline));
  auto& s = *state_;
  if (revision > s.revision) {
    return OutOfRangeError("etcdserver: mvcc: required revision is a future revision");
  }
  if (revision <= s.compact_revision) {
    return OutOfRangeError("etcdserver: mvcc: required revision has been compacted");
  }
  for (auto it = s.history.begin(); it != s.history.end();) {
    auto& h = it->second;
    // Keep the newest version at or below `revision` (unless it is a tombstone) and all after.
    size_t keep_from = 0;
    for (size_t i = 0; i < h.size(); ++i) {
      if (h[i].kv.mod_revision <= revision) keep_from = i;
    }
    if (h[keep_from].kv.mod_revision <= revision && h[keep_from].tombstone) ++keep_from;
    h.erase(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(keep_from));
    it = h.empty() ? s.history.erase(it) : std::next(it);
  }
  auto first_kept =
      std::lower_bound(s.events.begin(), s.events.end(), revision,
                       [](const Event& e, int64_t rev) { return e.kv.mod_revision < rev; });
  s.events.erase(s.events.begin(), first_kept);
  s.compact_revision = revision;
  s.changed.notify_all();
  return s.Header();
}

Result<std::unique_ptr<Watcher>> FakeClient::Watch(const WatchOptions& options, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Watch", deadline));
  int64_t next = options.start_revision > 0 ? options.start_revision : state_->revision + 1;
  return std::unique_ptr<Watcher>(std::make_unique<FakeWatcher>(state_, options, next));
}

Result<LeaseGrantResponse> FakeClient::LeaseGrant(int64_t ttl_seconds, int64_t id,
                                                  Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("LeaseGrant", deadline));
  if (ttl_seconds <= 0) return InvalidArgumentError("etcdserver: lease TTL must be positive");
  if (id == 0) id = state_->next_lease_id++;
  if (state_->leases.count(id)) return AlreadyExistsError("etcdserver: lease already exists");
  auto& l = state_->leases[id];
  l.granted_ttl = ttl_seconds;
  l.expiry = Clock::now() + std::chrono::seconds(ttl_seconds);
  return LeaseGrantResponse{.header = state_->Header(), .id = id, .ttl = ttl_seconds};
}

br2k::Status FakeClient::LeaseRevoke(int64_t id, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("LeaseRevoke", deadline));
  if (!state_->leases.count(id)) return NotFoundError("etcdserver: requested lease not found");
  state_->RevokeLocked(id);
  return br2k::Status::Ok();
}

Result<LeaseKeepAliveResponse> FakeClient::LeaseKeepAliveOnce(int64_t id, Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("LeaseKeepAlive", deadline));
  auto it = state_->leases.find(id);
  if (it == state_->leases.end()) {
    return NotFoundError("etcdserver: requested lease not found");
  }
  it->second.expiry = Clock::now() + std::chrono::seconds(it->second.granted_ttl);
  return LeaseKeepAliveResponse{
      .header = state_->Header(), .id = id, .ttl = it->second.granted_ttl};
}

Result<LeaseTimeToLiveResponse> FakeClient::LeaseTimeToLive(int64_t id, bool keys,
                                                            Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("LeaseTimeToLive", deadline));
  LeaseTimeToLiveResponse r{.header = state_->Header(), .id = id};
  auto it = state_->leases.find(id);
  if (it == state_->leases.end()) return r;  // ttl -1, as etcd answers for an unknown lease
  auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.expiry - Clock::now());
  r.ttl = std::max<int64_t>(0, left.count());
  r.granted_ttl = it->second.granted_ttl;
  if (keys) r.keys.assign(it->second.keys.begin(), it->second.keys.end());
  return r;
}

Result<MemberListResponse> FakeClient::MemberList(Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("MemberList", deadline));
  MemberListResponse r{.header = state_->Header()};
  r.members.push_back(Member{
      .id = kMemberId, .name = "fake", .peer_urls = {kEndpoint}, .client_urls = {kEndpoint}});
  return r;
}

Result<MemberStatus> FakeClient::EndpointStatus(const std::string& /*endpoint*/,
                                                Deadline deadline) {
  std::lock_guard lock(state_->mu);
  BR2K_RETURN_IF_ERROR(state_->Admit("Status", deadline));
  MemberStatus st;
  st.header = state_->Header();
  st.version = "3.4.0-fake";
  st.leader = kMemberId;
  st.raft_term = 1;
  st.raft_index = static_cast<uint64_t>(state_->revision);
  st.raft_applied_index = st.raft_index;
  return st;
}

std::vector<std::string> FakeClient::endpoints() const {
  return {kEndpoint};
}

}  // namespace br2k::etcd
