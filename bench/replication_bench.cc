// br2k-bench-replication: replicated requests/s and latency of the log server deployed as
// `br2k up` deploys it (3 pods of etcd + br2k-logserver on the process runtime), group commit vs
// the papers' one-at-a-time sequence vs the raw-etcd baseline (a plain CAS Txn loop on the
// group-commit deployment's etcd), with 1 and 64 closed-loop clients.
// The cases run interleaved in `--rounds` rounds (raw, group, paper, raw, group, ...), each
// ratio is taken within its round, and the summary reports the median round, so a burst of
// noise from the machine hits one round of every case rather than one case.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "br2k/http/client.h"
#include "etcd_load.h"
#include "logserver_deployment.h"

namespace {

using namespace br2k;
using Clock = std::chrono::steady_clock;

using Row = bench::LoadResult;

Row RunHttpLoad(const std::string& name, const std::string& url, int clients, double seconds) {
  auto hp = http::ParseHttpUrl(url);
  if (!hp.ok()) return Row{.name = name, .clients = clients};
  static std::atomic<int> run_id{0};
  const int run = run_id++;
  return bench::RunClosedLoop(
      name, clients, std::chrono::duration<double>(seconds), [&](int i) -> bench::ClientOp {
        auto conn = std::make_shared<http::Connection>(hp->first, hp->second);
        std::string client = "bench-" + std::to_string(::getpid()) + "-" + std::to_string(run) +
                             "-" + std::to_string(i);
        auto seq = std::make_shared<uint64_t>(0);
        return [conn, client, seq] {
          auto r = conn->Call("POST", "/logs", "{\"user\":\"" + client + "\"}",
                              {{"X-Br2k-Client", client}, {"X-Br2k-Seq", std::to_string(++*seq)}},
                              Deadline::After(std::chrono::seconds(120)));
          return r.ok() && r->status == 200;
        };
      });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"br2k replication throughput: group commit vs paper mode vs raw etcd"};
  double seconds = 5;
  std::string clients_list = "1,64";
  app.add_option("--seconds", seconds, "Duration of each case")->capture_default_str();
  app.add_option("--clients", clients_list, "Comma-separated client counts")->capture_default_str();
  int n_rounds = 3;
  app.add_option("--rounds", n_rounds,
                 "Interleaved rounds of every case; the summary is the median")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<int> counts;
  std::stringstream ss(clients_list);
  for (std::string tok; std::getline(ss, tok, ',');) counts.push_back(std::stoi(tok));
  signal(SIGPIPE, SIG_IGN);

  auto bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  auto dir =
      std::filesystem::temp_directory_path() / ("br2k-bench-repl-" + std::to_string(::getpid()));
  std::printf(
      "replication bench: 3 pods (etcd + br2k-logserver) on the process runtime, etcd "
      "heartbeat %d ms, election %d ms; %.1f s per case, %d interleaved round(s) (each mode on "
      "a fresh deployment), closed-loop clients, POST /logs\n",
      deploy::DeploymentSpec{}.etcd_heartbeat_ms, deploy::DeploymentSpec{}.etcd_election_ms,
      seconds, n_rounds);

  // rounds[k]: every case of round k.
  std::vector<std::vector<Row>> rounds;
  int rc = 0;
  for (int k = 0; k < n_rounds; ++k) {
    // A fresh deployment per mode and round: etcd slows down as its store ages (a later round's
    // baseline ran 30-40% slower on a cluster earlier rounds had used), and the cases a ratio
    // compares must meet the same store. The raw baseline runs on the group-commit deployment's
    // etcd, before its load.
    std::vector<Row> rows;
    for (const std::string mode : {"group", "paper"}) {
      auto svc = bench::LogServerDeployment::Deploy(
          {.dir = dir / ("r" + std::to_string(k)) / ("pods-" + mode),
           .bin = bin,
           .name = "bench-" + mode,
           .app_args = {"--mode=" + mode, "--request-timeout-ms=120000"}});
      if (!svc.ok()) {
        std::fprintf(stderr, "br2k-bench-replication: %s mode: %s\n", mode.c_str(),
                     svc.status().ToString().c_str());
        rc = 1;
        continue;
      }
      auto leader_index = (*svc)->LeaderIndex(std::chrono::seconds(60));
      const std::string leader = leader_index ? (*svc)->AppUrl(*leader_index) : "";
      if (leader.empty()) {
        std::fprintf(stderr, "br2k-bench-replication: no leader in %s mode\n", mode.c_str());
        rc = 1;
        continue;
      }
      if (mode == "group") {
        for (int n : counts) {
          auto r = bench::RunEtcdLoad((*svc)->EtcdEndpoints(), bench::EtcdOp::kTxn, n,
                                      std::chrono::duration<double>(seconds));
          if (r.ok()) {
            r->name = "raw-etcd-txn";
            rows.push_back(*r);
          }
        }
      }
      for (int n : counts)
        rows.push_back(
            RunHttpLoad(mode == "group" ? "group-commit" : "paper-mode", leader, n, seconds));
    }
    rounds.push_back(std::move(rows));
  }
  auto find = [](const std::vector<Row>& rows, const std::string& name, int n) -> const Row* {
    for (const auto& r : rows) {
      if (r.name == name && r.clients == n) return &r;
    }
    return nullptr;
  };
  auto ratio = [](const Row* base, double v) {
    return base && base->ops_per_sec > 0 ? v / base->ops_per_sec : 0.0;
  };
  auto print_row = [&](const char* label, const Row& r, double x_raw, double x_paper) {
    std::printf("%-6s %-14s %7d %10.1f %9.2f %9.2f %7lld %10.2f %10.2f\n", label, r.name.c_str(),
                r.clients, r.ops_per_sec, r.p50_ms, r.p99_ms, static_cast<long long>(r.errors),
                x_raw, x_paper);
  };
  std::printf("%-6s %-14s %7s %10s %9s %9s %7s %10s %10s\n", "round", "case", "clients", "req/s",
              "p50 ms", "p99 ms", "errors", "x raw-etcd", "x paper");
  for (size_t k = 0; k < rounds.size(); ++k) {
    const std::string label = std::to_string(k + 1);
    for (const auto& r : rounds[k]) {
      print_row(label.c_str(), r, ratio(find(rounds[k], "raw-etcd-txn", r.clients), r.ops_per_sec),
                ratio(find(rounds[k], "paper-mode", r.clients), r.ops_per_sec));
    }
  }
  if (rounds.size() > 1) {
    // Per case: the round with the (lower) median ratio to raw etcd (raw etcd itself: its median
    // rate); the ratio against paper mode is that round's.
    for (const auto& r : rounds[0]) {
      std::vector<std::pair<double, size_t>> by;  // (key, round)
      for (size_t k = 0; k < rounds.size(); ++k) {
        const Row* mine = find(rounds[k], r.name, r.clients);
        if (!mine) continue;
        double x = ratio(find(rounds[k], "raw-etcd-txn", r.clients), mine->ops_per_sec);
        by.emplace_back(r.name == "raw-etcd-txn" ? mine->ops_per_sec : x, k);
      }
      if (by.empty()) continue;
      std::sort(by.begin(), by.end());
      const auto& [key, k] = by[(by.size() - 1) / 2];  // the lower median of an even count
      const Row& m = *find(rounds[k], r.name, r.clients);
      print_row("median", m, ratio(find(rounds[k], "raw-etcd-txn", r.clients), m.ops_per_sec),
                ratio(find(rounds[k], "paper-mode", r.clients), m.ops_per_sec));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
