// Closed-loop load: N clients, each with its own connection, each issuing one operation at a
// time for a fixed duration. RunEtcdLoad is the raw-etcd baseline of every br2k benchmark.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::bench {

enum class EtcdOp {
  kPut,  // plain put of a 256-byte value
  kTxn,  // compare-and-swap: mod_revision of the client's key equals what it last wrote, then put
};

struct LoadResult {
  std::string name;  // the case ("put", "txn", "group-commit", ...)
  int clients = 0;
  int64_t ops = 0;
  int64_t errors = 0;
  double seconds = 0;
  double ops_per_sec = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

// One client's operation: returns true on success. Called once before the clock starts (warm-up,
// not counted), then repeatedly until the duration is over. Runs on the client's own thread.
using ClientOp = std::function<bool()>;

// Runs `clients` threads; `make_client(i)` (called on client i's thread) sets up its connection
// and returns its operation. Latencies of successful operations give p50/p99; failures count as
// errors.
LoadResult RunClosedLoop(std::string name, int clients, std::chrono::duration<double> duration,
                         const std::function<ClientOp(int)>& make_client);

// Runs the etcd load. `endpoints` should list the leader first (clients stick to the first endpoint
// that answers). Errors are counted, not fatal.
Result<LoadResult> RunEtcdLoad(const std::vector<std::string>& endpoints, EtcdOp op, int clients,
                               std::chrono::duration<double> duration);

// "op  clients  ops/s  p50 ms  p99 ms  errors" lines.
std::string FormatHeader();
std::string FormatRow(const LoadResult& r);

// Percentile (0..100) of latencies in microseconds, in milliseconds.
double PercentileMs(std::vector<int64_t>& micros, double pct);

}  // namespace br2k::bench
