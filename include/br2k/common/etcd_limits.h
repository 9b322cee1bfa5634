// Limits br2k's etcd clusters are started with, shared by every place that starts etcd (the local
// cluster, the pods' manifests, the chaos tier, benchmarks) and the replicas that must stay
// within them. Header only: the deployment library uses it without depending on br2k_cluster.
#pragma once

#include <string>

namespace br2k {

// Operations per etcd transaction (etcd's default is 128): one br2k group-commit transaction
// carries a whole batch of requests. Replicas get the same value as their --max-txn-ops.
inline constexpr int kEtcdMaxTxnOps = 4096;

// "--max-txn-ops=<kEtcdMaxTxnOps>", the flag for etcd and for br2k-logserver alike.
inline std::string EtcdMaxTxnOpsFlag() {
  return "--max-txn-ops=" + std::to_string(kEtcdMaxTxnOps);
}

}  // namespace br2k
