// Closed-loop load against etcd: N clients, each with its own connection, each issuing one
// operation at a time for a fixed duration. The raw-etcd baseline of every br2k benchmark.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::bench {

enum class EtcdOp {
  kPut,  // plain put of a 256-byte value
  kTxn,  // compare-and-swap: mod_revision of the client's key equals what it last wrote, then put
};

struct LoadResult {
  std::string op;
  int clients = 0;
  int64_t ops = 0;
  int64_t errors = 0;
  double seconds = 0;
  double ops_per_sec = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

// Runs the load. `endpoints` should list the leader first (clients stick to the first endpoint
// that answers). Errors are counted, not fatal.
Result<LoadResult> RunEtcdLoad(const std::vector<std::string>& endpoints, EtcdOp op, int clients,
                               std::chrono::duration<double> duration);

// "op  clients  ops/s  p50 ms  p99 ms  errors" lines.
std::string FormatHeader();
std::string FormatRow(const LoadResult& r);

// Percentile (0..100) of latencies in microseconds, in milliseconds.
double PercentileMs(std::vector<int64_t>& micros, double pct);

}  // namespace br2k::bench
