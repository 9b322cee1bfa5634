// Internal state of GrpcClient, shared with its watchers (which keep it alive).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "br2k/etcd/grpc_client.h"
#include "etcd/rpc.grpc.pb.h"

namespace br2k::etcd {

struct GrpcClient::Impl : std::enable_shared_from_this<GrpcClient::Impl> {
  GrpcClientOptions options;
  std::vector<std::string> targets;  // normalized host:port, same order as options.endpoints
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  // Stubs are thread-safe and reused for every call on their channel.
  struct Stubs {
    std::shared_ptr<etcdserverpb::KV::Stub> kv;
    std::shared_ptr<etcdserverpb::Lease::Stub> lease;
    std::shared_ptr<etcdserverpb::Cluster::Stub> cluster;
    std::shared_ptr<etcdserverpb::Watch::Stub> watch;
    static Stubs For(const std::shared_ptr<grpc::Channel>& ch) {
      return Stubs{etcdserverpb::KV::NewStub(ch), etcdserverpb::Lease::NewStub(ch),
                   etcdserverpb::Cluster::NewStub(ch), etcdserverpb::Watch::NewStub(ch)};
    }
  };
  std::vector<Stubs> stubs;  // one per channel; channels[i] and stubs[i] guarded by chan_mu
  std::mutex chan_mu;
  // Since when channel i has failed to connect without a success in between (nullopt: fine).
  std::vector<std::optional<std::chrono::steady_clock::time_point>> failing_since;
  // A channel that has not connected for this long is replaced by a fresh one (see
  // NoteConnectFailure).
  static constexpr std::chrono::seconds kStuckChannel{2};

  std::shared_ptr<grpc::Channel> ChannelAt(size_t i) {
    std::lock_guard lock(chan_mu);
    return channels[i];
  }
  Stubs StubsAt(size_t i) {
    std::lock_guard lock(chan_mu);
    return stubs[i];
  }
  void NoteSuccess(size_t i) {
    std::lock_guard lock(chan_mu);
    failing_since[i].reset();
  }
  // A call on channel i failed without ever connecting. gRPC (1.51) can leave a channel whose
  // first attempts were refused unable to finish any later handshake with the member once it
  // serves (seen: a replica started beside an etcd member that was still starting, as in a pod,
  // never connected; and replicas did not recover after every member restarted). A fresh
  // channel connects at once, so one that has failed for kStuckChannel is replaced. Calls in
  // flight keep the old one alive through their shared_ptr.
  void NoteConnectFailure(size_t i) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(chan_mu);
    if (!failing_since[i]) {
      failing_since[i] = now;
    } else if (now - *failing_since[i] >= kStuckChannel) {
      channels[i] = MakeChannel(targets[i], options.tls);
      stubs[i] = Stubs::For(channels[i]);
      failing_since[i] = now;
    }
  }
  std::atomic<size_t> preferred{0};
  static constexpr size_t kHome = 0;  // the first endpoint: the replica's own member

  // Home probes (see GrpcClientOptions::home_probe_interval), guarded by home_mu.
  std::mutex home_mu;
  bool home_probing = false;
  std::chrono::steady_clock::time_point next_home_probe{};
  std::atomic<uint64_t> home_probes{0};
  std::chrono::steady_clock::time_point Now() const {
    return options.clock ? options.clock() : std::chrono::steady_clock::now();
  }
  // Called by a call that starts away from home: starts a probe of home when one is due.
  void MaybeProbeHome();
  std::mutex adhoc_mu;
  std::map<std::string, std::shared_ptr<grpc::Channel>> adhoc;  // EndpointStatus to others

  // A channel to `target`: plaintext, or TLS with `tls` (see GrpcClientOptions::tls).
  static std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, const EtcdTls& tls);
  std::shared_ptr<grpc::Channel> ChannelFor(const std::string& target);

  // Moves the preferred endpoint past `failed` (only if nobody moved it meanwhile).
  void Demote(size_t failed) {
    size_t expected = failed;
    preferred.compare_exchange_strong(expected, (failed + 1) % channels.size());
  }
};

// gRPC status -> br2k Status, naming the endpoint.
br2k::Status FromGrpc(const grpc::Status& s, const std::string& target);

}  // namespace br2k::etcd
