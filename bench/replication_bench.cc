// br2k-bench-replication: replicated requests/s and latency of the log server on a local
// 3-member etcd cluster, group commit vs the papers' one-at-a-time sequence vs the raw-etcd
// baseline (a plain CAS Txn loop on the same cluster), with 1 and 64 closed-loop clients.
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

#include "br2k/cluster/local_cluster.h"
#include "br2k/common/etcd_limits.h"
#include "br2k/http/client.h"
#include "br2k/proc/process.h"
#include "br2k/replication/node_process.h"
#include "etcd_load.h"

namespace {

using namespace br2k;
using Clock = std::chrono::steady_clock;

using Row = bench::LoadResult;

// Three logserver nodes in one mode, stopped by the destructor.
class Service {
 public:
  Service(cluster::LocalCluster& c, const std::filesystem::path& dir, const std::string& mode,
          const std::string& name, const std::filesystem::path& bin)
      : launcher_(proc::PosixLauncher()) {
    for (int i = 0; i < 3; ++i) {
      auto port = proc::FreePort();
      if (!port.ok()) continue;
      replication::LogserverNode n{.id = "n" + std::to_string(i),
                                   .service = name,
                                   .listen_port = *port,
                                   .etcd_urls = c.client_urls(),
                                   .local_etcd_url = c.members()[static_cast<size_t>(i)].client_url,
                                   .data_dir = dir / (name + "-" + std::to_string(i)),
                                   .extra_args = {"--mode=" + mode, "--request-timeout-ms=120000",
                                                  "--log-level=warn", EtcdMaxTxnOpsFlag()}};
      proc::SpawnSpec spec{.argv = replication::LogserverArgv(bin / "br2k-logserver", n),
                           .log_file = dir / (name + "-" + std::to_string(i) + ".log")};
      auto pid = launcher_->Spawn(spec);
      if (pid.ok()) {
        pids_.push_back(*pid);
        urls_.push_back("http://127.0.0.1:" + std::to_string(*port));
      }
    }
  }
  ~Service() {
    for (pid_t p : pids_) (void)proc::Terminate(*launcher_, p, std::chrono::seconds(3));
  }
  // The leader's URL (bounded wait), or "".
  std::string Leader() {
    auto until = Deadline::After(std::chrono::seconds(60));
    while (!until.expired()) {
      for (const auto& u : urls_) {
        auto p = replication::ProbeReplica(u, Deadline::After(std::chrono::seconds(1)));
        if (p.ok() && p->role == "Leader") return u;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "";
  }

 private:
  std::shared_ptr<proc::Launcher> launcher_;
  std::vector<pid_t> pids_;
  std::vector<std::string> urls_;
};

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
  cluster::LocalClusterOptions o;
  std::printf(
      "replication bench: local 3-member etcd (heartbeat %d ms, election %d ms), %.1f s "
      "per case, %d interleaved round(s) (each on a fresh cluster), closed-loop clients, POST "
      "/logs\n",
      o.heartbeat_ms, o.election_ms, seconds, n_rounds);

  // rounds[k]: every case of round k.
  std::vector<std::vector<Row>> rounds;
  int rc = 0;
  for (int k = 0; k < n_rounds; ++k) {
    // A fresh cluster per round: etcd slows down as its store ages (a later round's baseline
    // ran 30-40% slower on the cluster the previous rounds had used), and every case of a
    // round must meet the same store.
    o.run_dir = dir / ("etcd-r" + std::to_string(k));
    auto c = cluster::LocalCluster::Start(o, Deadline::After(std::chrono::seconds(60)));
    if (!c.ok()) {
      std::fprintf(stderr, "br2k-bench-replication: %s\n", c.status().ToString().c_str());
      return 1;
    }
    auto cl = std::move(c).value();
    std::vector<Row> rows;
    // The baseline talks to the Raft leader first, as the replicas' leader does (Check role);
    // leadership may move between rounds.
    auto endpoints = cl->client_urls();
    if (auto leader = cl->LeaderIndex(Deadline::After(std::chrono::seconds(5))); leader.ok()) {
      std::swap(endpoints[0], endpoints[static_cast<size_t>(*leader)]);
    }
    for (int n : counts) {
      auto r = bench::RunEtcdLoad(endpoints, bench::EtcdOp::kTxn, n,
                                  std::chrono::duration<double>(seconds));
      if (r.ok()) {
        r->name = "raw-etcd-txn";
        rows.push_back(*r);
      }
    }
    for (const std::string mode : {"group", "paper"}) {
      Service svc(*cl, dir, mode, "bench-" + mode + "-r" + std::to_string(k), bin);
      std::string leader = svc.Leader();
      if (leader.empty()) {
        std::fprintf(stderr, "br2k-bench-replication: no leader in %s mode\n", mode.c_str());
        rc = 1;
        continue;
      }
      for (int n : counts)
        rows.push_back(
            RunHttpLoad(mode == "group" ? "group-commit" : "paper-mode", leader, n, seconds));
    }
    rounds.push_back(std::move(rows));
    cl.reset();
    std::error_code ec;
    std::filesystem::remove_all(o.run_dir, ec);
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
