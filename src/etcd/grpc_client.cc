// GrpcClient: unary calls with deadlines and endpoint fail-over. See grpc_client.h for the
// retry rules; the core is Call() below.
#include "br2k/etcd/grpc_client.h"

#include <spdlog/spdlog.h>

#include <regex>
#include <thread>

#include "convert.h"
#include "grpc_impl.h"

namespace br2k::etcd {

using internal::FromProto;
using internal::ToProto;

Result<std::string> NormalizeEndpoint(std::string_view endpoint) {
  std::string s(endpoint);
  if (s.rfind("http://", 0) == 0) s = s.substr(7);
  if (s.rfind("https://", 0) == 0) s = s.substr(8);
  while (!s.empty() && s.back() == '/') s.pop_back();
  static const std::regex kHostPort(R"(^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})$)");
  std::smatch m;
  if (!std::regex_match(s, m, kHostPort) || std::stoi(m[2].str()) == 0 ||
      std::stoi(m[2].str()) > 65535) {
    return InvalidArgumentError("etcd endpoint '" + std::string(endpoint) +
                                "' is not [http[s]://]host:port");
  }
  return s;
}

br2k::Status FromGrpc(const grpc::Status& s, const std::string& target) {
  if (s.ok()) return br2k::Status::Ok();
  auto code = static_cast<StatusCode>(s.error_code());
  std::string msg = s.error_message();
  if (code == StatusCode::kUnavailable && msg.find("etcdserver") == std::string::npos) {
    msg = "etcd member " + target + " unreachable: " + msg;
  } else {
    msg = "etcd " + target + ": " + msg;
  }
  return br2k::Status(code, msg);
}

std::shared_ptr<grpc::Channel> GrpcClient::Impl::MakeChannel(const std::string& target,
                                                             const EtcdTls& tls) {
  grpc::ChannelArguments args;
  // Keepalive detects a member that stopped answering (paused, cut off) on an open stream.
  // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 6000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly to a restarted member: retries 100 ms apart at first, at most 1 s apart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // gRPC reads "min reconnect backoff" as the minimum time one connection attempt may take
  // (TCP connect plus the server's HTTP/2 SETTINGS). At 100 ms an attempt to a member that is
  // starting (its port accepts, it serves a moment later) was cut short again and again, and a
  // replica started beside a starting member never connected (seen in pods, where both start
  // together). Calls keep their own deadlines; only the background attempt may take longer.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  // Each client gets its own connections (benchmarks model independent clients).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  if (!tls.enabled()) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  // gRPC checks the member's certificate against the CA and the target's host (an IP SAN when
  // the endpoint is an IP address), and presents ours for etcd's --client-cert-auth.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls.ca_pem;
  ssl.pem_cert_chain = tls.cert_pem;
  ssl.pem_private_key = tls.key_pem;
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl), args);
}

std::shared_ptr<grpc::Channel> GrpcClient::Impl::ChannelFor(const std::string& target) {
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] == target) return ChannelAt(i);
  }
  std::lock_guard lock(adhoc_mu);
  auto& ch = adhoc[target];
  if (!ch) ch = MakeChannel(target, options.tls);
  return ch;
}

void GrpcClient::Impl::MaybeProbeHome() {
  if (options.home_probe_interval.count() <= 0 || channels.size() < 2) return;
  {
    const auto now = Now();
    std::lock_guard lock(home_mu);
    if (home_probing || now < next_home_probe) return;
    home_probing = true;
    next_home_probe = now + options.home_probe_interval;
  }
  home_probes.fetch_add(1);
  // A linearizable read of one key (count only): it succeeds only on a member that is connected
  // to a quorum, not merely one whose port accepts (a member cut off from the others would
  // fail the replica's calls). It runs on gRPC's callback threads, beside the call.
  struct Probe {
    grpc::ClientContext ctx;
    etcdserverpb::RangeRequest req;
    etcdserverpb::RangeResponse resp;
  };
  auto probe = std::make_shared<Probe>();
  probe->req.set_key("br2k-home-probe");  // whether it exists does not matter
  probe->req.set_count_only(true);
  probe->ctx.set_deadline(Deadline::After(options.read_attempt_timeout).ToSystem());
  probe->ctx.set_wait_for_ready(false);
  auto channel = ChannelAt(kHome);
  channel->GetState(/*try_to_connect=*/true);
  std::weak_ptr<Impl> weak = weak_from_this();
  StubsAt(kHome).kv->async()->Range(
      &probe->ctx, &probe->req, &probe->resp, [weak, probe, channel](grpc::Status st) {
        auto impl = weak.lock();
        if (!impl) return;  // the client is gone
        if (st.ok()) {
          impl->NoteSuccess(kHome);
          size_t from = impl->preferred.load();
          if (from != kHome && impl->preferred.compare_exchange_strong(from, kHome)) {
            spdlog::info("etcd: back on the home member {} (was using {})", impl->targets[kHome],
                         impl->targets[from]);
          }
        }
        std::lock_guard lock(impl->home_mu);
        impl->home_probing = false;
      });
}

namespace {

enum class Kind { kRead, kMutation };

// Runs `rpc(channel, context)` on the preferred endpoint, failing over per the rules in
// grpc_client.h. `rpc` returns a grpc::Status.
template <typename Rpc>
br2k::Status Call(GrpcClient::Impl& impl, Kind kind, Deadline deadline, Rpc&& rpc) {
  if (deadline.expired()) return DeadlineExceededError("etcd: deadline exceeded before the call");
  const size_t n = impl.channels.size();
  const size_t start = impl.preferred.load();
  if (start != GrpcClient::Impl::kHome) impl.MaybeProbeHome();
  // Reads get two rounds over the endpoints (an election may be in progress); a mutation is
  // sent at most once, so it tries further endpoints only while nothing could have been sent.
  const size_t max_attempts = kind == Kind::kRead ? 2 * n : n;
  br2k::Status last;
  std::vector<std::string> tried;
  for (size_t attempt = 0; attempt < max_attempts; ++attempt) {
    if (attempt == n) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (deadline.expired()) break;
    const size_t i = (start + attempt) % n;
    auto channel = impl.ChannelAt(i);
    auto stubs = impl.StubsAt(i);
    const auto before = channel->GetState(/*try_to_connect=*/true);
    grpc::ClientContext ctx;
    Deadline attempt_deadline =
        kind == Kind::kRead && n > 1 ? deadline.Cap(impl.options.read_attempt_timeout) : deadline;
    ctx.set_deadline(attempt_deadline.ToSystem());
    ctx.set_wait_for_ready(false);
    grpc::Status s = rpc(stubs, ctx);
    if (s.ok()) {
      // Only when nobody moved the choice since this call began: a home probe that succeeded
      // meanwhile is not undone by a call that was already running elsewhere.
      size_t expected = start;
      impl.preferred.compare_exchange_strong(expected, i);
      impl.NoteSuccess(i);
      return br2k::Status::Ok();
    }
    if (before != GRPC_CHANNEL_READY && channel->GetState(false) != GRPC_CHANNEL_READY)
      impl.NoteConnectFailure(i);
    last = FromGrpc(s, impl.targets[i]);
    const bool transient =
        s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !deadline.expired());
    if (!transient) {
      if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) impl.Demote(i);
      if (kind == Kind::kMutation && s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        return br2k::Status(last.code(), last.message() + " (outcome unknown)");
      }
      return last;
    }
    impl.Demote(i);
    tried.push_back(impl.targets[i]);
    // A mutation goes to the next endpoint only when it cannot have been sent: the channel was
    // already failing, or it never connected (gRPC fails such calls before sending them).
    const bool never_sent = before == GRPC_CHANNEL_TRANSIENT_FAILURE ||
                            (before != GRPC_CHANNEL_READY &&
                             s.error_message().find("failed to connect") != std::string::npos);
    if (kind == Kind::kMutation && !never_sent) {
      return br2k::Status(last.code(), last.message() + " (outcome unknown)");
    }
  }
  if (last.ok()) return DeadlineExceededError("etcd: deadline exceeded");
  if (deadline.expired() && last.code() == StatusCode::kDeadlineExceeded) return last;
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  return UnavailableError("etcd: no endpoint answered (tried " + list +
                          "); last error: " + last.message());
}

}  // namespace

Result<std::unique_ptr<GrpcClient>> GrpcClient::Create(GrpcClientOptions options) {
  if (options.endpoints.empty()) return InvalidArgumentError("etcd: no endpoints given");
  BR2K_RETURN_IF_ERROR(options.tls.Check());
  auto impl = std::make_shared<Impl>();
  for (const auto& e : options.endpoints) {
    BR2K_ASSIGN_OR_RETURN(std::string target, NormalizeEndpoint(e));
    // A URL's scheme must agree with the TLS options: https:// without certificates would be
    // sent in plaintext to a TLS port, and http:// with them names a plaintext member.
    const bool https = e.rfind("https://", 0) == 0;
    if (https && !options.tls.enabled()) {
      return InvalidArgumentError("etcd endpoint '" + e +
                                  "' is https: give the CA, certificate and key (--etcd-ca, "
                                  "--etcd-cert, --etcd-key)");
    }
    if (e.rfind("http://", 0) == 0 && options.tls.enabled()) {
      return InvalidArgumentError("etcd endpoint '" + e +
                                  "' is plain http but TLS options were given: use https://");
    }
    impl->targets.push_back(target);
    impl->channels.push_back(Impl::MakeChannel(target, options.tls));
    impl->stubs.push_back(Impl::Stubs::For(impl->channels.back()));
    impl->failing_since.emplace_back();
  }
  impl->options = std::move(options);
  return std::unique_ptr<GrpcClient>(new GrpcClient(std::move(impl)));
}

GrpcClient::GrpcClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcClient::~GrpcClient() = default;

std::vector<std::string> GrpcClient::endpoints() const {
  return impl_->options.endpoints;
}

std::string GrpcClient::current_endpoint() const {
  return impl_->targets[impl_->preferred.load() % impl_->targets.size()];
}

uint64_t GrpcClient::home_probes() const {
  return impl_->home_probes.load();
}

Result<RangeResponse> GrpcClient::Range(const RangeRequest& req, Deadline deadline) {
  etcdserverpb::RangeRequest in;
  ToProto(req, &in);
  etcdserverpb::RangeResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kRead, deadline,
           [&](GrpcClient::Impl::Stubs& st, auto& ctx) { return st.kv->Range(&ctx, in, &out); }));
  return FromProto(out);
}

Result<PutResponse> GrpcClient::Put(const PutRequest& req, Deadline deadline) {
  etcdserverpb::PutRequest in;
  ToProto(req, &in);
  etcdserverpb::PutResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kMutation, deadline,
           [&](GrpcClient::Impl::Stubs& st, auto& ctx) { return st.kv->Put(&ctx, in, &out); }));
  return FromProto(out);
}

Result<DeleteResponse> GrpcClient::Delete(const DeleteRequest& req, Deadline deadline) {
  etcdserverpb::DeleteRangeRequest in;
  ToProto(req, &in);
  etcdserverpb::DeleteRangeResponse out;
  BR2K_RETURN_IF_ERROR(Call(
      *impl_, Kind::kMutation, deadline,
      [&](GrpcClient::Impl::Stubs& st, auto& ctx) { return st.kv->DeleteRange(&ctx, in, &out); }));
  return FromProto(out);
}

Result<TxnResponse> GrpcClient::Txn(const TxnRequest& req, Deadline deadline) {
  etcdserverpb::TxnRequest in;
  ToProto(req, &in);
  // A transaction without writes is a read and may be retried.
  bool writes = false;
  for (const auto* ops : {&req.success, &req.failure}) {
    for (const auto& op : *ops) writes |= !std::holds_alternative<RangeRequest>(op.request);
  }
  etcdserverpb::TxnResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, writes ? Kind::kMutation : Kind::kRead, deadline,
           [&](GrpcClient::Impl::Stubs& st, auto& ctx) { return st.kv->Txn(&ctx, in, &out); }));
  return FromProto(out);
}

Result<ResponseHeader> GrpcClient::Compact(int64_t revision, bool physical, Deadline deadline) {
  etcdserverpb::CompactionRequest in;
  in.set_revision(revision);
  in.set_physical(physical);
  etcdserverpb::CompactionResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kMutation, deadline,
           [&](GrpcClient::Impl::Stubs& st, auto& ctx) { return st.kv->Compact(&ctx, in, &out); }));
  return FromProto(out.header());
}

Result<LeaseGrantResponse> GrpcClient::LeaseGrant(int64_t ttl_seconds, int64_t id,
                                                  Deadline deadline) {
  if (ttl_seconds <= 0) return InvalidArgumentError("etcd: lease TTL must be positive");
  etcdserverpb::LeaseGrantRequest in;
  in.set_ttl(ttl_seconds);
  in.set_id(id);
  etcdserverpb::LeaseGrantResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kMutation, deadline, [&](GrpcClient::Impl::Stubs& st, auto& ctx) {
        return st.lease->LeaseGrant(&ctx, in, &out);
      }));
  if (!out.error().empty()) return InternalError("etcd: lease grant: " + out.error());
  return LeaseGrantResponse{.header = FromProto(out.header()), .id = out.id(), .ttl = out.ttl()};
}

br2k::Status GrpcClient::LeaseRevoke(int64_t id, Deadline deadline) {
  etcdserverpb::LeaseRevokeRequest in;
  in.set_id(id);
  etcdserverpb::LeaseRevokeResponse out;
  return Call(*impl_, Kind::kMutation, deadline, [&](GrpcClient::Impl::Stubs& st, auto& ctx) {
    return st.lease->LeaseRevoke(&ctx, in, &out);
  });
}

Result<LeaseKeepAliveResponse> GrpcClient::LeaseKeepAliveOnce(int64_t id, Deadline deadline) {
  etcdserverpb::LeaseKeepAliveResponse out;
  // Refreshing a lease twice is harmless, so this retries like a read.
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kRead, deadline, [&](GrpcClient::Impl::Stubs& st, auto& ctx) {
        auto stream = st.lease->LeaseKeepAlive(&ctx);
        etcdserverpb::LeaseKeepAliveRequest in;
        in.set_id(id);
        if (stream->Write(in) && stream->Read(&out)) {
          stream->WritesDone();
          ctx.TryCancel();
          stream->Finish();
          return grpc::Status::OK;
        }
        return stream->Finish();
      }));
  if (out.ttl() <= 0) return NotFoundError("etcdserver: requested lease not found");
  return LeaseKeepAliveResponse{
      .header = FromProto(out.header()), .id = out.id(), .ttl = out.ttl()};
}

Result<LeaseTimeToLiveResponse> GrpcClient::LeaseTimeToLive(int64_t id, bool keys,
                                                            Deadline deadline) {
  etcdserverpb::LeaseTimeToLiveRequest in;
  in.set_id(id);
  in.set_keys(keys);
  etcdserverpb::LeaseTimeToLiveResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kRead, deadline, [&](GrpcClient::Impl::Stubs& st, auto& ctx) {
        return st.lease->LeaseTimeToLive(&ctx, in, &out);
      }));
  LeaseTimeToLiveResponse r{.header = FromProto(out.header()),
                            .id = out.id(),
                            .ttl = out.ttl(),
                            .granted_ttl = out.grantedttl()};
  r.keys.assign(out.keys().begin(), out.keys().end());
  return r;
}

Result<MemberListResponse> GrpcClient::MemberList(Deadline deadline) {
  etcdserverpb::MemberListRequest in;
  etcdserverpb::MemberListResponse out;
  BR2K_RETURN_IF_ERROR(
      Call(*impl_, Kind::kRead, deadline, [&](GrpcClient::Impl::Stubs& st, auto& ctx) {
        return st.cluster->MemberList(&ctx, in, &out);
      }));
  return FromProto(out);
}

Result<MemberStatus> GrpcClient::EndpointStatus(const std::string& endpoint, Deadline deadline) {
  if (deadline.expired()) return DeadlineExceededError("etcd: deadline exceeded before the call");
  BR2K_ASSIGN_OR_RETURN(std::string target, NormalizeEndpoint(endpoint));
  auto channel = impl_->ChannelFor(target);
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline.ToSystem());
  ctx.set_wait_for_ready(false);
  etcdserverpb::StatusRequest in;
  etcdserverpb::StatusResponse out;
  grpc::Status s = etcdserverpb::Maintenance::NewStub(channel)->Status(&ctx, in, &out);
  if (!s.ok()) return FromGrpc(s, target);
  return FromProto(out);
}

}  // namespace br2k::etcd
