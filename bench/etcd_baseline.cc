// br2k-bench-etcd: the raw-etcd baseline. Put and txn throughput and latency against a local
// 3-member cluster (started here unless --endpoints is given), 1 and 64 concurrent clients.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

#include "br2k/cluster/local_cluster.h"
#include "etcd_load.h"

int main(int argc, char** argv) {
  using namespace br2k;
  CLI::App app{"Raw etcd throughput baseline"};
  double seconds = 3;
  std::string clients_list = "1,64";
  std::vector<std::string> endpoints;
  app.add_option("--seconds", seconds, "Duration of each case")->capture_default_str();
  app.add_option("--clients", clients_list, "Comma-separated client counts")->capture_default_str();
  app.add_option("--endpoints", endpoints,
                 "Use this cluster instead of starting one (leader first)")
      ->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  std::vector<int> counts;
  std::stringstream ss(clients_list);
  for (std::string tok; std::getline(ss, tok, ',');) counts.push_back(std::stoi(tok));

  std::unique_ptr<cluster::LocalCluster> local;
  std::filesystem::path dir;
  if (endpoints.empty()) {
    dir = std::filesystem::temp_directory_path() / ("br2k-bench-" + std::to_string(::getpid()));
    cluster::LocalClusterOptions o;
    o.run_dir = dir;
    auto c = cluster::LocalCluster::Start(o, Deadline::After(std::chrono::seconds(60)));
    if (!c.ok()) {
      std::fprintf(stderr, "br2k-bench-etcd: %s\n", c.status().ToString().c_str());
      return 1;
    }
    local = std::move(c).value();
    auto leader = local->LeaderIndex(Deadline::After(std::chrono::seconds(5)));
    endpoints = local->client_urls();
    if (leader.ok()) std::swap(endpoints[0], endpoints[static_cast<size_t>(*leader)]);
    std::printf(
        "etcd baseline: local %d-member cluster (heartbeat %d ms, election %d ms), "
        "%.1f s per case\n",
        o.members, o.heartbeat_ms, o.election_ms, seconds);
  } else {
    std::printf("etcd baseline: %zu given endpoints, %.1f s per case\n", endpoints.size(), seconds);
  }
  std::printf("%s\n", bench::FormatHeader().c_str());
  int rc = 0;
  for (auto op : {bench::EtcdOp::kPut, bench::EtcdOp::kTxn}) {
    for (int n : counts) {
      auto r = bench::RunEtcdLoad(endpoints, op, n, std::chrono::duration<double>(seconds));
      if (!r.ok()) {
        std::fprintf(stderr, "br2k-bench-etcd: %s\n", r.status().ToString().c_str());
        rc = 1;
        continue;
      }
      std::printf("%s\n", bench::FormatRow(*r).c_str());
      std::fflush(stdout);
    }
  }
  local.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return rc;
}
