// br2k-logserver: the sample log server replicated by br2k. See docs/logserver.md.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "br2k/etcd/grpc_client.h"
#include "br2k/http/client.h"
#include "br2k/http/server.h"
#include "br2k/replication/frontend.h"
#include "br2k/replication/replica.h"
#include "br2k/replication/routes.h"
#include "log_server_app.h"

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int Fail(const std::string& what, const br2k::Status& st) {
  spdlog::critical("{}: {}", what, st.ToString());
  std::cerr << "br2k-logserver: " << what << ": " << st.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace br2k;
  CLI::App cli{"br2k-logserver: a log server replicated over etcd by br2k"};
  std::string id, service = "logserver", listen = "127.0.0.1:8080", etcd_urls, local_etcd, data_dir,
                  advertise, mode = "group", failpoint, log_level = "info";
  size_t max_batch = 256, max_body = 1024 * 1024, max_txn_ops = 128;
  int64_t linger_us = 0, leader_ttl = 2, takeover_grace_ms = 1000, step_down_ms = 3000;
  int64_t request_timeout_ms = 10000, session_ttl_s = 3600;
  cli.add_option("--id", id, "replica id ([A-Za-z0-9._-], unique per service)")->required();
  cli.add_option("--service", service, "service id (etcd prefix /br2k/<service>/)");
  cli.add_option("--listen", listen, "host:port to serve HTTP on");
  cli.add_option("--etcd", etcd_urls, "comma-separated client URLs of all etcd members")
      ->required();
  cli.add_option("--local-etcd", local_etcd, "this node's own etcd member URL (Check role)");
  cli.add_option("--data-dir", data_dir, "directory for state.json and journal.dat")->required();
  cli.add_option("--advertise-url", advertise,
                 "URL clients are redirected to (default http://<listen>)");
  cli.add_option("--mode", mode, "group (group commit) or paper (one request at a time)")
      ->check(CLI::IsMember({"group", "paper"}));
  cli.add_option("--max-batch", max_batch, "requests per group commit")->check(CLI::Range(1, 4096));
  cli.add_option("--max-txn-ops", max_txn_ops,
                 "operations per etcd transaction; at most the cluster's --max-txn-ops")
      ->check(CLI::Range(16, 100000));
  cli.add_option("--linger-us", linger_us, "wait this long for a batch to fill")
      ->check(CLI::Range(0, 1000000));
  cli.add_option("--leader-ttl", leader_ttl, "seconds: lease TTL of the leader claim")
      ->check(CLI::Range(1, 60));
  cli.add_option("--takeover-grace-ms", takeover_grace_ms,
                 "vacancy before a replica not beside the Raft leader claims leadership");
  cli.add_option("--step-down-ms", step_down_ms,
                 "a leader whose member is not the Raft leader this long resigns");
  cli.add_option("--request-timeout-ms", request_timeout_ms, "per-request deadline");
  cli.add_option("--session-ttl-s", session_ttl_s, "client sessions (dedupe records) expire after");
  cli.add_option("--max-body", max_body, "maximum request body in bytes");
  cli.add_option("--failpoint", failpoint,
                 "TESTS ONLY: crash at after_append|after_inprocess|mid_apply|after_result[:n]");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(cli, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e [%l] [" + id + "] %v");

  // Signals are handled by sigwait below; block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto hp = http::ParseHttpUrl("http://" + listen);
  if (!hp.ok()) return Fail("--listen", hp.status());
  if (advertise.empty()) advertise = "http://" + listen;

  replication::Failpoints failpoints;
  if (Status st = failpoints.ConfigureFromEnv(); !st.ok()) return Fail("BR2K_FAILPOINT", st);
  if (!failpoint.empty()) {
    if (Status st = failpoints.Configure(failpoint); !st.ok()) return Fail("--failpoint", st);
  }

  auto client = etcd::GrpcClient::Create({.endpoints = SplitComma(etcd_urls)});
  if (!client.ok()) return Fail("--etcd", client.status());
  auto store = replication::FileStore::Open(data_dir);
  if (!store.ok()) return Fail("--data-dir", store.status());
  apps::LogServerApp app;
  auto routes = replication::RouteTable::Create(app.Routes());
  if (!routes.ok()) return Fail("routes", routes.status());

  replication::ReplicaOptions opt;
  opt.service_id = service;
  opt.replica_id = id;
  opt.advertise_url = advertise;
  opt.local_endpoint = local_etcd;
  opt.mode =
      mode == "paper" ? replication::CommitMode::kPaper : replication::CommitMode::kGroupCommit;
  opt.max_batch = max_batch;
  opt.max_txn_ops = max_txn_ops;
  opt.linger = std::chrono::microseconds(linger_us);
  opt.leader_ttl_seconds = leader_ttl;
  opt.takeover_grace = std::chrono::milliseconds(takeover_grace_ms);
  opt.step_down_after = std::chrono::milliseconds(step_down_ms);
  opt.session_ttl = std::chrono::seconds(session_ttl_s);
  auto replica = replication::Replica::Create(
      opt,
      {.client = client->get(), .app = &app, .store = store->get(), .failpoints = &failpoints});
  if (!replica.ok()) return Fail("recovering local state", replica.status());

  http::ServerOptions sopt;
  sopt.host = hp->first;
  sopt.port = hp->second;
  sopt.limits.max_body_bytes = max_body;
  auto server = http::Server::Start(
      sopt,
      replication::MakeHandler(**replica, app, *routes,
                               {.advertise_url = advertise,
                                .request_timeout = std::chrono::milliseconds(request_timeout_ms)}));
  if (!server.ok()) return Fail("--listen", server.status());
  if (Status st = (*replica)->Start(); !st.ok()) return Fail("start", st);
  spdlog::info("serving {} (service {}) on {} as {}", id, service, listen, advertise);

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("signal {}: stopping", sig);
  (*server)->Stop();
  (*replica)->Stop();
  return 0;
}
