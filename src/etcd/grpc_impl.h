// Internal state of GrpcClient, shared with its watchers (which keep it alive).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "br2k/etcd/grpc_client.h"
#include "etcd/rpc.grpc.pb.h"

namespace br2k::etcd {

struct GrpcClient::Impl {
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
  std::vector<Stubs> stubs;  // one per channel
  std::atomic<size_t> preferred{0};
  std::mutex adhoc_mu;
  std::map<std::string, std::shared_ptr<grpc::Channel>> adhoc;  // EndpointStatus to others

  static std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target);
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
