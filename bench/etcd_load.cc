#include "etcd_load.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "br2k/etcd/grpc_client.h"

namespace br2k::bench {

using Clock = std::chrono::steady_clock;

double PercentileMs(std::vector<int64_t>& micros, double pct) {
  if (micros.empty()) return 0;
  size_t k = static_cast<size_t>(pct / 100.0 * static_cast<double>(micros.size() - 1));
  std::nth_element(micros.begin(), micros.begin() + static_cast<std::ptrdiff_t>(k), micros.end());
  return static_cast<double>(micros[k]) / 1000.0;
}

LoadResult RunClosedLoop(std::string name, int clients, std::chrono::duration<double> duration,
                         const std::function<ClientOp(int)>& make_client) {
  std::atomic<bool> go{false};
  std::atomic<int64_t> errors{0};
  std::mutex mu;
  std::vector<int64_t> all;
  std::vector<std::thread> threads;
  const auto run_for = std::chrono::duration_cast<Clock::duration>(duration);
  Clock::time_point start;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      ClientOp op = make_client(i);
      (void)op();  // warm the connection up before the clock starts
      std::vector<int64_t> lat;
      while (!go.load()) std::this_thread::yield();
      const auto end = start + run_for;
      while (Clock::now() < end) {
        auto t0 = Clock::now();
        if (op()) {
          lat.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
        } else {
          ++errors;
        }
      }
      std::lock_guard lock(mu);
      all.insert(all.end(), lat.begin(), lat.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  LoadResult r;
  r.name = std::move(name);
  r.clients = clients;
  r.ops = static_cast<int64_t>(all.size());
  r.errors = errors;
  r.seconds = secs;
  r.ops_per_sec = static_cast<double>(r.ops) / secs;
  r.p50_ms = PercentileMs(all, 50);
  r.p99_ms = PercentileMs(all, 99);
  return r;
}

Result<LoadResult> RunEtcdLoad(const std::vector<std::string>& endpoints, EtcdOp op, int clients,
                               std::chrono::duration<double> duration) {
  std::vector<std::shared_ptr<etcd::GrpcClient>> conns;
  for (int i = 0; i < clients; ++i) {
    BR2K_ASSIGN_OR_RETURN(auto c, etcd::GrpcClient::Create({.endpoints = endpoints}));
    conns.push_back(std::move(c));
  }
  const std::string value(256, 'x');
  return RunClosedLoop(
      op == EtcdOp::kPut ? "put" : "txn", clients, duration, [&](int i) -> ClientOp {
        auto c = conns[static_cast<size_t>(i)];
        const std::string key = "/bench/etcd/" + std::to_string(i);
        if (op == EtcdOp::kPut) {
          return [c, key, &value] {
            return c->Put(key, value, Deadline::After(std::chrono::seconds(5))).ok();
          };
        }
        // Compare-and-swap on the client's own key: the revision it last saw must still hold.
        auto last_rev = std::make_shared<int64_t>(0);
        return [c, key, &value, last_rev] {
          auto r = c->Txn(etcd::TxnRequest{.compare = {etcd::Compare::ModRevision(
                                               key, etcd::CompareOp::kEqual, *last_rev)},
                                           .success = {etcd::Op::Put(key, value)},
                                           .failure = {etcd::Op::Get(key)}},
                          Deadline::After(std::chrono::seconds(5)));
          if (!r.ok()) return false;
          if (r->succeeded) {
            *last_rev = r->header.revision;
          } else {
            const auto& kvs = r->responses.at(0).range()->kvs;
            *last_rev = kvs.empty() ? 0 : kvs.front().mod_revision;
          }
          return r->succeeded;
        };
      });
}

std::string FormatHeader() {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%-5s %8s %10s %9s %9s %7s", "op", "clients", "ops/s", "p50 ms",
                "p99 ms", "errors");
  return buf;
}

std::string FormatRow(const LoadResult& r) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%-5s %8d %10.0f %9.2f %9.2f %7lld", r.name.c_str(), r.clients,
                r.ops_per_sec, r.p50_ms, r.p99_ms, static_cast<long long>(r.errors));
  return buf;
}

}  // namespace br2k::bench
