// br2k-logserver: the sample log server replicated by br2k. See docs/logserver.md.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "br2k/etcd/grpc_client.h"
#include "br2k/etcd/revision_floor.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/http/client.h"
#include "br2k/http/server.h"
#include "br2k/replication/eth_chain_effects.h"
#include "br2k/replication/frontend.h"
#include "br2k/replication/registry_publisher.h"
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

struct ChainFlags {
  std::string rpc_url, registry, service_name, operator_key_file;
  uint64_t chain_id = 0;
  // Any flag of the on-chain publisher (--rpc-url and --chain-id alone may serve --tx-key-file).
  bool any() const {
    return !registry.empty() || !service_name.empty() || !operator_key_file.empty();
  }
};

// The on-chain publisher for the chain flags (null without them). Flags are checked offline
// first; then, if the node answers, the chain id and the registry's code are checked too (a
// node that does not answer is not an error: the publisher retries in the background).
br2k::Result<std::unique_ptr<br2k::replication::RegistryLocationPublisher>> MakePublisher(
    const ChainFlags& f, const std::string& service) {
  using namespace br2k;
  if (!f.any()) return std::unique_ptr<replication::RegistryLocationPublisher>();
  if (f.rpc_url.empty() || f.registry.empty() || f.operator_key_file.empty()) {
    return InvalidArgumentError(
        "--rpc-url, --registry and --operator-key-file go together (--service-name needs them)");
  }
  if (!f.rpc_url.starts_with("http://")) {
    return InvalidArgumentError("--rpc-url: an http:// URL is needed, got '" + f.rpc_url + "'");
  }
  auto transport = eth::MakeHttpTransport(f.rpc_url);
  if (!transport.ok()) return transport.status().WithContext("--rpc-url");
  auto registry = eth::Address::Parse(f.registry);
  if (!registry.ok()) return registry.status().WithContext("--registry");
  auto key = eth::LoadKeyFile(f.operator_key_file);
  if (!key.ok()) return key.status().WithContext("--operator-key-file");
  const std::string name = f.service_name.empty() ? service : f.service_name;

  replication::RegistryPublisherOptions o;
  o.client = std::make_shared<eth::RpcClient>(*transport);
  o.registry = *registry;
  o.service = eth::ServiceIdFromName(name);
  o.operator_key = *key;
  if (f.chain_id != 0) o.chain_id = f.chain_id;

  Deadline d = Deadline::After(std::chrono::seconds(3));
  auto id = o.client->ChainId(d);
  if (!id.ok()) {
    spdlog::warn(
        "registry: {} does not answer ({}); serving anyway, the leader's location is "
        "published once it does",
        f.rpc_url, id.status().ToString());
  } else {
    if (f.chain_id != 0 && *id != f.chain_id) {
      return FailedPreconditionError("--chain-id: " + f.rpc_url + " is chain " +
                                     std::to_string(*id) + ", expected " +
                                     std::to_string(f.chain_id));
    }
    if (Status st = o.client->RequireCode(*registry, d); !st.ok()) {
      return st.WithContext("--registry");
    }
    eth::ServiceRegistry reg(o.client, *registry);
    auto op = reg.IsOperator(o.service, key->address(), d);
    auto mgr = reg.IsManager(o.service, key->address(), d);
    if (!op.ok()) {
      spdlog::error("registry: service '{}' ({}): {}; serving anyway, publishing will be retried",
                    name, o.service.ToHex(), op.status().ToString());
    } else if (!*op && mgr.ok() && !*mgr) {
      spdlog::error(
          "registry: {} is neither an operator nor a manager of service '{}'; serving "
          "anyway, publishing will be retried",
          key->address().ToChecksum(), name);
    }
  }
  auto p = replication::RegistryLocationPublisher::Create(std::move(o));
  if (p.ok()) {
    spdlog::info("registry: publishing the leader's location for service '{}' in {} on {} as {}",
                 name, registry->ToChecksum(), f.rpc_url, key->address().ToChecksum());
  }
  return p;
}

// The service's own key for Normal requests that send a transaction (POST /anchor), or null
// without --tx-key-file. Needs --rpc-url; a node that does not answer yet is not an error.
br2k::Result<std::unique_ptr<br2k::replication::EthChainEffects>> MakeChainEffects(
    const ChainFlags& f, const std::string& tx_key_file) {
  using namespace br2k;
  if (tx_key_file.empty()) return std::unique_ptr<replication::EthChainEffects>();
  if (f.rpc_url.empty()) return InvalidArgumentError("--tx-key-file needs --rpc-url");
  auto transport = eth::MakeHttpTransport(f.rpc_url);
  if (!transport.ok()) return transport.status().WithContext("--rpc-url");
  auto key = eth::LoadKeyFile(tx_key_file);
  if (!key.ok()) return key.status().WithContext("--tx-key-file");
  std::optional<uint64_t> chain_id;
  if (f.chain_id != 0) chain_id = f.chain_id;
  auto fx = std::make_unique<replication::EthChainEffects>(
      std::make_shared<eth::RpcClient>(*transport), *key, chain_id);
  spdlog::info("chain effects: Normal requests send their transactions from {}",
               fx->address().ToChecksum());
  return fx;
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
  size_t trim_threshold = 10000;
  int64_t trim_interval_ms = 5000;
  uint64_t trim_bytes = 64ull << 20, etcd_quota_bytes = 2ull << 30;
  int64_t etcd_status_interval_ms = 5000;
  unsigned etcd_quota_warn_percent = 80;
  uint64_t trim_max_lag = 100000;
  cli.add_option("--id", id, "replica id ([A-Za-z0-9._-], unique per service)")->required();
  cli.add_option("--service", service, "service id (etcd prefix /br2k/<service>/)");
  cli.add_option("--listen", listen, "host:port to serve HTTP on");
  cli.add_option("--etcd", etcd_urls, "comma-separated client URLs of all etcd members")
      ->required();
  cli.add_option("--local-etcd", local_etcd, "this node's own etcd member URL (Check role)");
  std::string etcd_ca, etcd_cert, etcd_key;
  cli.add_option("--etcd-ca", etcd_ca,
                 "PEM file: the CA of the etcd members' certificates (https:// --etcd URLs)");
  cli.add_option("--etcd-cert", etcd_cert,
                 "PEM file: this replica's client certificate for etcd (--client-cert-auth)");
  cli.add_option("--etcd-key", etcd_key, "PEM file: the private key of --etcd-cert");
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
  cli.add_option("--session-ttl-s", session_ttl_s,
                 "floors and records of trimmed requests (dedupe after trimming) expire after");
  cli.add_option("--max-body", max_body, "maximum request body in bytes");
  cli.add_option("--trim-threshold", trim_threshold,
                 "the leader snapshots and trims the log in etcd when it holds more entries than "
                 "this (0 = no bound by count; with --trim-bytes=0 too: never)");
  cli.add_option("--trim-bytes", trim_bytes,
                 "the leader also trims when the retained log entries hold more bytes (keys and "
                 "values in etcd) than this (0 = no bound by bytes)");
  cli.add_option("--trim-interval-ms", trim_interval_ms, "how often the leader checks the log size")
      ->check(CLI::Range(int64_t{10}, int64_t{86400000}));
  cli.add_option("--etcd-quota-bytes", etcd_quota_bytes,
                 "the etcd cluster's --quota-backend-bytes: /status warns (etcd_quota_warning) "
                 "above --etcd-quota-warn-percent of it")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  cli.add_option("--etcd-quota-warn-percent", etcd_quota_warn_percent,
                 "warn (and, with trimming on, trim whatever may be trimmed) above this share of "
                 "--etcd-quota-bytes")
      ->check(CLI::Range(1u, 100u));
  cli.add_option("--etcd-status-interval-ms", etcd_status_interval_ms,
                 "how often the replica reads etcd's database size and alarms (0 = never)")
      ->check(CLI::Range(int64_t{0}, int64_t{86400000}));
  cli.add_option("--trim-max-lag", trim_max_lag,
                 "a replica more entries behind than this does not hold trimming back (it "
                 "restores from the snapshot)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  cli.add_option("--failpoint", failpoint,
                 "TESTS ONLY: crash at "
                 "after_append|after_inprocess|mid_apply|after_result|after_broadcast[:n]");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  ChainFlags chain;
  cli.add_option("--rpc-url", chain.rpc_url,
                 "http:// JSON-RPC URL of the chain holding the ServiceRegistry: the leader "
                 "publishes its location there (with --registry and --operator-key-file)");
  cli.add_option("--registry", chain.registry, "ServiceRegistry contract address (0x + 40 hex)");
  cli.add_option("--service-name", chain.service_name,
                 "the service's name in the registry (id = keccak256(name); default: --service)");
  cli.add_option("--operator-key-file", chain.operator_key_file,
                 "file holding this replica's operator key (one hex line)");
  cli.add_option("--chain-id", chain.chain_id, "expected chain id (default: the node's)");
  int64_t revision_floor = 0;
  cli.add_option("--revision-floor", revision_floor,
                 "before serving, raise etcd's revision above this (the registry's epoch from an "
                 "earlier etcd cluster, so that a leader here can publish its location)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  std::string tx_key_file;
  cli.add_option("--tx-key-file", tx_key_file,
                 "file holding the service's own key (one hex line), shared by all replicas: "
                 "the leader signs the transactions of Normal requests (POST /anchor) with it");
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

  // The node's own member first: the leader replica runs where its member is the Raft leader
  // (Check role), so its transactions are not forwarded by another member, and a follower's
  // serializable reads are served by its own member.
  std::vector<std::string> endpoints = SplitComma(etcd_urls);
  if (auto it = std::find(endpoints.begin(), endpoints.end(), local_etcd); it != endpoints.end()) {
    std::rotate(endpoints.begin(), it, it + 1);
  }
  auto etcd_tls = etcd::LoadTlsFiles(etcd_ca, etcd_cert, etcd_key);
  if (!etcd_tls.ok()) return Fail("--etcd-ca/--etcd-cert/--etcd-key", etcd_tls.status());
  auto client = etcd::GrpcClient::Create({.endpoints = endpoints, .tls = *etcd_tls});
  if (!client.ok()) return Fail("--etcd", client.status());
  if (revision_floor > 0) {
    // The member may still be starting (it shares the pod): retry while it is unreachable.
    Status st;
    for (Deadline d = Deadline::After(std::chrono::minutes(2)); !d.expired();) {
      st = etcd::RaiseRevisionAbove(**client, revision_floor, d);
      if (st.ok() ||
          (st.code() != StatusCode::kUnavailable && st.code() != StatusCode::kDeadlineExceeded))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!st.ok()) return Fail("--revision-floor", st);
    spdlog::info("etcd revision raised above {} (--revision-floor)", revision_floor);
  }
  auto store = replication::FileStore::Open(data_dir);
  if (!store.ok()) return Fail("--data-dir", store.status());
  apps::LogServerApp app;
  auto routes = replication::RouteTable::Create(app.Routes());
  if (!routes.ok()) return Fail("routes", routes.status());

  auto publisher = MakePublisher(chain, service);
  if (!publisher.ok()) return Fail("registry", publisher.status());
  auto chain_effects = MakeChainEffects(chain, tx_key_file);
  if (!chain_effects.ok()) return Fail("chain effects", chain_effects.status());

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
  opt.trim_threshold = trim_threshold;
  opt.trim_interval = std::chrono::milliseconds(trim_interval_ms);
  opt.trim_bytes = trim_bytes;
  opt.etcd_quota_bytes = etcd_quota_bytes;
  opt.etcd_quota_warn_percent = etcd_quota_warn_percent;
  opt.etcd_status_interval = std::chrono::milliseconds(etcd_status_interval_ms);
  opt.max_lag = trim_max_lag;
  auto replica = replication::Replica::Create(opt, {.client = client->get(),
                                                    .app = &app,
                                                    .store = store->get(),
                                                    .publisher = publisher->get(),
                                                    .failpoints = &failpoints,
                                                    .chain = chain_effects->get()});
  if (!replica.ok()) return Fail("recovering local state", replica.status());

  http::ServerOptions sopt;
  sopt.host = hp->first;
  sopt.port = hp->second;
  sopt.limits.max_body_bytes = max_body;
  replication::FrontendOptions fopt{
      .advertise_url = advertise, .request_timeout = std::chrono::milliseconds(request_timeout_ms)};
  if (*publisher) {
    fopt.registry_status = [p = publisher->get()] { return p->StateJson(); };
  }
  auto server = http::Server::Start(sopt, replication::MakeHandler(**replica, app, *routes, fopt));
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
