// br2k-dashboard: the Service Registry Dashboard replicated by br2k. See docs/dashboard.md.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <mutex>
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
#include "dashboard_app.h"
#include "dashboard_http.h"
#include "event_follower.h"
#include "registry_view.h"

namespace {

using namespace br2k;

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int Fail(const std::string& what, const Status& st) {
  spdlog::critical("{}: {}", what, st.ToString());
  std::cerr << "br2k-dashboard: " << what << ": " << st.ToString() << "\n";
  return 1;
}

struct ChainFlags {
  std::string rpc_url, registry, service_name, operator_key_file, tx_key_file;
  uint64_t chain_id = 0;
};

// The chain client for --rpc-url (null without it). A node that does not answer yet is not an
// error (every chain use retries); a node on another chain than --chain-id is.
Result<std::shared_ptr<eth::RpcClient>> MakeClient(const ChainFlags& f) {
  if (f.rpc_url.empty()) {
    if (!f.registry.empty() || !f.operator_key_file.empty() || !f.tx_key_file.empty()) {
      return InvalidArgumentError(
          "--registry, --operator-key-file and --tx-key-file need --rpc-url");
    }
    return std::shared_ptr<eth::RpcClient>();
  }
  if (!f.rpc_url.starts_with("http://")) {
    return InvalidArgumentError("--rpc-url: an http:// URL is needed, got '" + f.rpc_url + "'");
  }
  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeHttpTransport(f.rpc_url));
  auto client = std::make_shared<eth::RpcClient>(transport);
  auto id = client->ChainId(Deadline::After(std::chrono::seconds(3)));
  if (!id.ok()) {
    spdlog::warn("chain: {} does not answer ({}); serving anyway", f.rpc_url,
                 id.status().ToString());
  } else if (f.chain_id != 0 && *id != f.chain_id) {
    return FailedPreconditionError("--chain-id: " + f.rpc_url + " is chain " + std::to_string(*id) +
                                   ", expected " + std::to_string(f.chain_id));
  }
  return client;
}

// The publisher of the leader's location (null without --operator-key-file).
Result<std::unique_ptr<replication::RegistryLocationPublisher>> MakePublisher(
    const ChainFlags& f, const std::shared_ptr<eth::RpcClient>& client,
    const eth::Address& registry, const std::string& service) {
  if (f.operator_key_file.empty()) {
    if (!f.service_name.empty())
      return InvalidArgumentError("--service-name needs --operator-key-file");
    return std::unique_ptr<replication::RegistryLocationPublisher>();
  }
  BR2K_ASSIGN_OR_RETURN(auto key, eth::LoadKeyFile(f.operator_key_file));
  const std::string name = f.service_name.empty() ? service : f.service_name;
  replication::RegistryPublisherOptions o;
  o.client = client;
  o.registry = registry;
  o.service = eth::ServiceIdFromName(name);
  o.operator_key = key;
  if (f.chain_id != 0) o.chain_id = f.chain_id;
  spdlog::info("registry: publishing the leader's location for service '{}' as {}", name,
               key.address().ToChecksum());
  return replication::RegistryLocationPublisher::Create(std::move(o));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"br2k-dashboard: the Service Registry Dashboard, replicated over etcd by br2k"};
  std::string id, service = "dashboard", listen = "127.0.0.1:8090", etcd_urls, local_etcd, data_dir,
                  advertise, mode = "group", failpoint, log_level = "info";
  size_t max_batch = 256, max_body = 256 * 1024, max_txn_ops = 128;
  int64_t linger_us = 0, leader_ttl = 2, takeover_grace_ms = 1000, step_down_ms = 3000;
  int64_t request_timeout_ms = 10000, session_ttl_s = 3600, poll_ms = 500;
  size_t trim_threshold = 10000;
  int64_t trim_interval_ms = 5000;
  uint64_t trim_bytes = 64ull << 20, etcd_quota_bytes = 2ull << 30;
  int64_t etcd_status_interval_ms = 5000;
  unsigned etcd_quota_warn_percent = 80;
  uint64_t trim_max_lag = 100000, confirmations = 0;
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
                 "snapshot and trim the log in etcd beyond this many entries (0 = no bound by "
                 "count; with --trim-bytes=0 too: never)");
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
                 "a replica more entries behind than this does not hold trimming back")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  cli.add_option("--failpoint", failpoint,
                 "TESTS ONLY: crash at "
                 "after_append|after_inprocess|mid_apply|after_result|after_broadcast[:n]");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  ChainFlags chain;
  cli.add_option("--rpc-url", chain.rpc_url,
                 "http:// JSON-RPC URL of the chain holding the ServiceRegistry the dashboard "
                 "shows (with --registry)");
  cli.add_option("--registry", chain.registry, "ServiceRegistry contract address (0x + 40 hex)");
  cli.add_option("--service-name", chain.service_name,
                 "the dashboard's own name in the registry (default: --service)");
  cli.add_option("--operator-key-file", chain.operator_key_file,
                 "file holding this replica's operator key: the leader publishes its location");
  cli.add_option("--chain-id", chain.chain_id, "expected chain id (default: the node's)");
  cli.add_option("--tx-key-file", chain.tx_key_file,
                 "file holding the dashboard's own key, shared by all replicas: the leader sends "
                 "POST /api/send transactions with it (for managers who made it a manager)");
  cli.add_option("--poll-ms", poll_ms, "how often the leader polls the registry's events")
      ->check(CLI::Range(int64_t{20}, int64_t{60000}));
  cli.add_option("--confirmations", confirmations,
                 "record an event once its block has this many blocks on top");
  int64_t revision_floor = 0;
  cli.add_option("--revision-floor", revision_floor,
                 "before serving, raise etcd's revision above this (the registry's epoch from an "
                 "earlier etcd cluster)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  CLI11_PARSE(cli, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e [%l] [" + id + "] %v");

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

  // The chain: the registry the pages show, the publisher, the dashboard's own key.
  auto client = MakeClient(chain);
  if (!client.ok()) return Fail("--rpc-url", client.status());
  std::optional<eth::Address> registry;
  if (!chain.registry.empty()) {
    auto a = eth::Address::Parse(chain.registry);
    if (!a.ok()) return Fail("--registry", a.status());
    registry = *a;
  } else if (*client && !chain.operator_key_file.empty()) {
    return Fail("--operator-key-file", InvalidArgumentError("needs --registry"));
  }
  std::unique_ptr<replication::RegistryLocationPublisher> publisher;
  if (registry) {
    auto p = MakePublisher(chain, *client, *registry, service);
    if (!p.ok()) return Fail("registry", p.status());
    publisher = std::move(*p);
  }
  std::unique_ptr<replication::EthChainEffects> chain_effects;
  std::string sender;
  if (!chain.tx_key_file.empty()) {
    if (!registry) return Fail("--tx-key-file", InvalidArgumentError("needs --registry"));
    auto key = eth::LoadKeyFile(chain.tx_key_file);
    if (!key.ok()) return Fail("--tx-key-file", key.status());
    std::optional<uint64_t> chain_id;
    if (chain.chain_id != 0) chain_id = chain.chain_id;
    chain_effects = std::make_unique<replication::EthChainEffects>(*client, *key, chain_id);
    sender = chain_effects->address().ToChecksum();
    spdlog::info("chain effects: POST /api/send transactions are sent from {}", sender);
  }

  std::vector<std::string> endpoints = SplitComma(etcd_urls);
  if (auto it = std::find(endpoints.begin(), endpoints.end(), local_etcd); it != endpoints.end()) {
    std::rotate(endpoints.begin(), it, it + 1);
  }
  auto etcd_tls = etcd::LoadTlsFiles(etcd_ca, etcd_cert, etcd_key);
  if (!etcd_tls.ok()) return Fail("--etcd-ca/--etcd-cert/--etcd-key", etcd_tls.status());
  auto etcd_client = etcd::GrpcClient::Create({.endpoints = endpoints, .tls = *etcd_tls});
  if (!etcd_client.ok()) return Fail("--etcd", etcd_client.status());
  if (revision_floor > 0) {
    Status st;
    for (Deadline d = Deadline::After(std::chrono::minutes(2)); !d.expired();) {
      st = etcd::RaiseRevisionAbove(**etcd_client, revision_floor, d);
      if (st.ok() ||
          (st.code() != StatusCode::kUnavailable && st.code() != StatusCode::kDeadlineExceeded))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!st.ok()) return Fail("--revision-floor", st);
  }
  auto store = replication::FileStore::Open(data_dir);
  if (!store.ok()) return Fail("--data-dir", store.status());

  apps::dashboard::DashboardOptions app_options;
  if (registry && chain_effects) {
    app_options.encode = [reg = *registry](const apps::dashboard::TxRequest& t) {
      return apps::dashboard::EncodeTx(reg, t);
    };
  }
  if (registry) {
    // Claim reports: from the registry's managers (or owner) of the service, asked at admission.
    app_options.registry = registry->ToChecksum();
    auto reg = std::make_shared<eth::ServiceRegistry>(*client, *registry);
    // A "yes" is remembered for a minute, so a retried report (answered from the log) and a
    // manager's reports in a row cost no chain call; a "no" or an error is asked again.
    struct Allowed {
      std::mutex mu;
      std::map<std::string, std::chrono::steady_clock::time_point> until;
    };
    auto allowed = std::make_shared<Allowed>();
    app_options.may_report = [reg, allowed](const std::string& service_hex,
                                            const std::string& account) -> Result<bool> {
      const std::string key = service_hex + "/" + account;
      const auto now = std::chrono::steady_clock::now();
      {
        std::lock_guard lock(allowed->mu);
        if (auto it = allowed->until.find(key); it != allowed->until.end() && it->second > now)
          return true;
      }
      BR2K_ASSIGN_OR_RETURN(auto sid, eth::Hash::FromHex(service_hex));
      BR2K_ASSIGN_OR_RETURN(auto who, eth::Address::Parse(account));
      const Deadline d = Deadline::After(std::chrono::seconds(5));
      BR2K_ASSIGN_OR_RETURN(bool yes, reg->IsManager(sid, who, d));
      if (!yes) {
        BR2K_ASSIGN_OR_RETURN(auto record, reg->GetService(sid, d));
        yes = record.owner == who;
      }
      if (yes) {
        std::lock_guard lock(allowed->mu);
        if (allowed->until.size() > 1024) allowed->until.clear();
        allowed->until[key] = now + std::chrono::minutes(1);
      }
      return yes;
    };
  }
  apps::dashboard::DashboardApp app(std::move(app_options));
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
  opt.trim_threshold = trim_threshold;
  opt.trim_interval = std::chrono::milliseconds(trim_interval_ms);
  opt.trim_bytes = trim_bytes;
  opt.etcd_quota_bytes = etcd_quota_bytes;
  opt.etcd_quota_warn_percent = etcd_quota_warn_percent;
  opt.etcd_status_interval = std::chrono::milliseconds(etcd_status_interval_ms);
  opt.max_lag = trim_max_lag;
  auto replica = replication::Replica::Create(opt, {.client = etcd_client->get(),
                                                    .app = &app,
                                                    .store = store->get(),
                                                    .publisher = publisher.get(),
                                                    .failpoints = &failpoints,
                                                    .chain = chain_effects.get()});
  if (!replica.ok()) return Fail("recovering local state", replica.status());

  std::unique_ptr<apps::dashboard::RegistryView> view;
  if (registry) view = std::make_unique<apps::dashboard::RegistryView>(*client, *registry);

  http::ServerOptions sopt;
  sopt.host = hp->first;
  sopt.port = hp->second;
  sopt.limits.max_body_bytes = max_body;
  replication::FrontendOptions fopt{
      .advertise_url = advertise, .request_timeout = std::chrono::milliseconds(request_timeout_ms)};
  if (publisher) fopt.registry_status = [p = publisher.get()] { return p->StateJson(); };
  auto handler = apps::dashboard::MakeDashboardHandler(
      **replica, view.get(), replication::MakeHandler(**replica, app, *routes, fopt),
      {.advertise_url = advertise, .sender = sender});
  auto server = http::Server::Start(sopt, std::move(handler));
  if (!server.ok()) return Fail("--listen", server.status());
  if (Status st = (*replica)->Start(); !st.ok()) return Fail("start", st);

  std::unique_ptr<apps::dashboard::EventFollower> follower;
  if (registry) {
    follower = std::make_unique<apps::dashboard::EventFollower>(
        *client, *registry, **replica,
        apps::dashboard::EventFollowerOptions{.poll_interval = std::chrono::milliseconds(poll_ms),
                                              .confirmations = confirmations});
    follower->Start();
    spdlog::info("event follower: recording the events of registry {}", registry->ToChecksum());
  }
  spdlog::info("serving {} (service {}) on {} as {}", id, service, listen, advertise);

  int sig = 0;
  sigwait(&sigs, &sig);
  spdlog::info("signal {}: stopping", sig);
  if (follower) follower->Stop();
  (*server)->Stop();
  (*replica)->Stop();
  return 0;
}
