// br2k manager: the manager daemon. Follows the registry's Claim events for the services it
// manages and redeploys a service that is really down from the chain's recovery information, on
// the pod runtime of its kind (process, podman or kubernetes; manager/container_backend.h), with
// the decision rules of manager/manager.h. Defaults come from the running `br2k up`, so
// `br2k manager --run-dir <dir>` is all `br2k up` needs to start it.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "br2k/client/service_client.h"
#include "br2k/common/etcd_limits.h"
#include "br2k/common/log_escape.h"
#include "br2k/deploy/contexts.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/kubernetes_runtime.h"
#include "br2k/deploy/podman_runtime.h"
#include "br2k/deploy/process_runtime.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/manager/container_backend.h"
#include "br2k/manager/manager.h"
#include "br2k/manager/outcome_reporter.h"
#include "commands.h"
#include "run_dir.h"

namespace br2k::cli {
namespace {

using namespace std::chrono_literals;

struct ManagerFlags {
  std::string run_dir;
  std::string rpc_url;
  std::string registry;
  std::vector<std::string> services;
  std::string key_file;
  std::optional<uint64_t> chain_id;
  int claim_window_s = 60;
  int claims_per_window = 1;
  int min_redeploy_interval_s = 30;
  int health_timeout_ms = 1000;
  int leader_timeout_s = 60;
  std::optional<uint64_t> from_block;
  bool once = false;
  std::string backend = "auto";
  std::string context;       // --backend kubernetes: the context to redeploy on
  std::string contexts_dir;  // "" = ContextStore::DefaultDir()
  std::string report_to;     // the dashboard service the outcomes go to; "" = the run's, if any
  bool no_report = false;
};

// The named context with its token, from --contexts-dir or the default store.
Result<deploy::Context> LoadContext(const ManagerFlags& f) {
  std::filesystem::path dir = f.contexts_dir;
  if (dir.empty()) {
    BR2K_ASSIGN_OR_RETURN(dir, deploy::ContextStore::DefaultDir());
  }
  return deploy::ContextStore(dir).Get(f.context);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "br2k: %s\n", message.c_str());
  return 1;
}

// What the daemon talks to on the chain.
struct Chain {
  std::shared_ptr<eth::RpcClient> rpc;
  std::shared_ptr<eth::TxSender> sender;
  std::shared_ptr<eth::ServiceRegistry> registry;
};

bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

Result<Chain> ConnectChain(const ManagerFlags& f, const eth::PrivateKey& key,
                           const eth::Address& registry, Deadline d) {
  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeTransport(f.rpc_url, d));
  auto client = std::make_shared<eth::RpcClient>(transport);
  Chain c;
  c.rpc = client;
  BR2K_ASSIGN_OR_RETURN(auto sender, eth::TxSender::Create(client, key, f.chain_id, d));
  c.sender = std::move(sender);
  BR2K_ASSIGN_OR_RETURN(auto reg, eth::ServiceRegistry::Connect(client, registry, d));
  c.registry = std::move(reg);
  return c;
}

// The reporter's sender: a client of the dashboard service, found through the registry (made on
// first use, so a dashboard registered after the manager started is still found; a fresh client
// id per process, so a restarted manager's writes are never taken for retries of the last one's).
manager::OutcomeReporterOptions MakeReporterOptions(const std::string& dashboard,
                                                    std::shared_ptr<eth::RpcClient> rpc,
                                                    const eth::Address& registry,
                                                    const eth::PrivateKey& key) {
  struct Lazy {
    std::mutex mu;
    std::unique_ptr<client::ServiceClient> client;
  };
  auto lazy = std::make_shared<Lazy>();
  manager::OutcomeReporterOptions ro{.registry = registry, .key = key};
  ro.send = [lazy, dashboard, rpc, registry](const std::string& path, const std::string& body,
                                             Deadline d) -> Result<int> {
    std::lock_guard lock(lazy->mu);
    if (!lazy->client) {
      BR2K_ASSIGN_OR_RETURN(lazy->client,
                            client::ServiceClient::Create(
                                {.rpc = rpc, .registry = registry, .service = dashboard}, d));
    }
    BR2K_ASSIGN_OR_RETURN(auto answer, lazy->client->Call("POST", path, body, d));
    return answer.status;
  };
  return ro;
}

int RunManager(ManagerFlags f) {
  // Block the stop signals before any thread exists; one thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  if (spdlog::get_level() > spdlog::level::info) spdlog::set_level(spdlog::level::info);

  const auto run_dir = ResolveRunDir(f.run_dir);
  if (f.rpc_url.empty() || f.registry.empty() || f.services.empty() || f.key_file.empty()) {
    auto chain = RunChainDefaults(run_dir, "--rpc-url, --registry, --service and --key-file");
    if (!chain.ok()) return Fail(chain.status().message());
    if (f.rpc_url.empty()) f.rpc_url = chain->rpc_url;
    if (f.registry.empty()) f.registry = chain->registry;
    if (f.key_file.empty()) f.key_file = chain->manager_key_file;
    if (!f.chain_id && chain->chain_id != 0) f.chain_id = chain->chain_id;
    if (f.services.empty() && !chain->service_name.empty()) {
      f.services = {chain->service_name};
      // `br2k up`'s dashboard is a second service of the run, recovered like the first.
      if (auto st = LoadRunStateIfAny(run_dir); st.ok() && *st && (*st)->dashboard)
        f.services.push_back((*st)->dashboard->name);
    }
  }
  // The outcomes of claims go to `br2k up`'s dashboard unless told otherwise.
  if (f.report_to.empty() && !f.no_report) {
    if (auto st = LoadRunStateIfAny(run_dir); st.ok() && *st && (*st)->dashboard)
      f.report_to = (*st)->dashboard->name;
  }
  if (f.no_report) f.report_to.clear();
  if (f.registry.empty()) return Fail("no registry address: pass --registry");
  if (f.services.empty()) return Fail("no service to manage: pass --service NAME");
  if (f.key_file.empty()) return Fail("no manager key: pass --key-file");
  auto registry_address = eth::Address::Parse(f.registry);
  if (!registry_address.ok()) {
    return Fail("--registry: " + registry_address.status().message());
  }
  auto key = eth::LoadKeyFile(f.key_file);
  if (!key.ok()) return Fail("--key-file " + f.key_file + ": " + key.status().message());

  std::vector<manager::ManagedService> services;
  for (const auto& name : f.services) services.push_back({eth::ServiceIdFromName(name), name});

  std::stop_source stop;
  std::atomic<bool> finished{false};
  const auto state_file = StateFile(run_dir);
  const bool had_state = std::filesystem::exists(state_file);
  std::thread signals([&] {
    while (!finished.load()) {
      timespec tick{0, 200'000'000};
      int sig = sigtimedwait(&stop_signals, nullptr, &tick);
      if (sig > 0) {
        spdlog::info("manager: {} received; stopping", ::strsignal(sig));
        stop.request_stop();
        return;
      }
      if (had_state && !std::filesystem::exists(state_file)) {
        spdlog::info("manager: {} was removed (`br2k down`); stopping", state_file.string());
        stop.request_stop();
        return;
      }
    }
  });
  auto finish = [&](int code) {
    finished = true;
    signals.join();
    return code;
  };

  // Connect, retrying while the chain is unreachable (the daemon may start before it).
  std::optional<Chain> chain;
  while (!chain) {
    auto c = ConnectChain(f, *key, *registry_address, Deadline::After(10s));
    if (c.ok()) {
      chain = std::move(*c);
    } else if (!Transient(c.status()) || f.once) {
      return finish(Fail(f.rpc_url + ": " + c.status().message()));
    } else {
      spdlog::warn("manager: cannot reach {} ({}); retrying in 2 s", f.rpc_url,
                   c.status().ToString());
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock l(m);
      cv.wait_for(l, stop.get_token(), 2s, [] { return false; });
      if (stop.stop_requested()) return finish(0);
    }
  }
  for (const auto& s : services) {
    auto is = chain->registry->IsManager(s.id, chain->sender->address(), Deadline::After(10s));
    if (is.ok() && !*is) {
      spdlog::warn(
          "manager: {} is not a manager of {}: claims will be checked but the service "
          "cannot be marked Recovering or redeployed",
          chain->sender->address().ToChecksum(), s.name);
    }
  }

  manager::ManagerOptions o;
  o.services = services;
  o.health_timeout = std::chrono::milliseconds(f.health_timeout_ms);
  o.claim_window = std::chrono::seconds(f.claim_window_s);
  o.claims_per_window = f.claims_per_window;
  o.min_redeploy_interval = std::chrono::seconds(f.min_redeploy_interval_s);
  o.leader_timeout = std::chrono::seconds(f.leader_timeout_s);
  o.from_block = f.from_block;
  auto gateway = manager::MakeOnChainRegistryGateway(chain->registry, chain->sender);
  std::shared_ptr<manager::DeploymentBackend> backend;
  std::optional<RunState> state;
  if (auto loaded = LoadRunStateIfAny(run_dir); loaded.ok()) state = *loaded;
  std::string kind = f.backend;
  // auto: the kind of pods the run state records; without one (no run state, or one of an older
  // `br2k up` that ran bare processes), the process runtime below the run directory.
  if (kind == "auto") kind = state && state->containers ? state->containers->kind : "process";
  if (kind == "kubernetes" && f.context.empty() && state && state->containers)
    f.context = state->containers->context;
  if (kind == "process" || kind == "podman" || kind == "kubernetes") {
    // Everything about the deployment comes from the chain's recovery information; locally only
    // the runtime (and its image checks), the context's credentials and what pods need to reach
    // the chain.
    manager::ContainerBackendOptions co;
    std::string pod_rpc_url = f.rpc_url;
    if (kind == "process") {
      // The pods as local processes: the executables the chain pins (by digest) must be on this
      // machine; the redeployed processes outlive the manager.
      const auto root =
          state && state->containers ? std::filesystem::path(state->containers->root) : run_dir;
      auto runtime = deploy::ProcessRuntime::Create({.root = root, .detach = true});
      if (!runtime.ok()) return finish(Fail(runtime.status().message()));
      co.runtime = *runtime;
      co.context_name = "local";
      co.image_exists = [](const std::string& reference, Deadline) {
        return deploy::CheckExecutableImage(reference);
      };
    } else {
      auto root = state && state->containers ? std::filesystem::path(state->containers->root)
                                             : run_dir / "containers";
      auto env = deploy::ContainerEnv::Prepare(root);
      if (!env.ok()) return finish(Fail(env.status().message()));
      co.env = *env;
      if (kind == "podman") {
        co.runtime = std::make_shared<deploy::PodmanRuntime>(*env, proc::PosixCommandRunner());
        co.context_name = "podman";
      } else {
        if (f.context.empty()) return finish(Fail("--backend kubernetes needs --context NAME"));
        auto ctx = LoadContext(f);
        if (!ctx.ok())
          return finish(Fail("--context " + f.context + ": " + ctx.status().message()));
        auto endpoint = deploy::ApiEndpointOf(*ctx);
        if (!endpoint.ok()) return finish(Fail(endpoint.status().message()));
        co.runtime = std::make_shared<deploy::KubernetesRuntime>(kube::ApiClient(*endpoint),
                                                                 ctx->namespace_name);
        co.context_name = ctx->name;
        co.context_server = ctx->server;
        co.base.namespace_name = ctx->namespace_name;
        co.base.storage_class = ctx->storage_class;
        // The chain as the pods reach it: the context's "rpc" endpoint when it names one.
        if (auto it = ctx->external_endpoints.find("rpc"); it != ctx->external_endpoints.end())
          pod_rpc_url = it->second;
      }
    }
    co.base.chain = {.rpc_url = pod_rpc_url,
                     .chain_id = f.chain_id.value_or(0),
                     .registry = registry_address->ToChecksum(),
                     .service_name = services.empty() ? "" : services[0].name};
    if (state) {
      if (state->heartbeat_ms > 0) co.base.etcd_heartbeat_ms = state->heartbeat_ms;
      if (state->election_ms > 0) co.base.etcd_election_ms = state->election_ms;
    }
    co.base.app_args = {EtcdMaxTxnOpsFlag()};
    // Each service's replicas publish under its own name (the dashboard's as "dashboard").
    for (const auto& s : services) co.service_names[s.id.ToHex()] = s.name;
    co.registry = gateway;
    auto b = manager::ContainerBackend::Create(co);
    if (!b.ok()) return finish(Fail(b.status().message()));
    backend = *b;
  } else {
    return finish(Fail("--backend must be auto, process, podman or kubernetes"));
  }
  std::unique_ptr<manager::OutcomeReporter> reporter;
  if (!f.report_to.empty()) {
    reporter = std::make_unique<manager::OutcomeReporter>(
        MakeReporterOptions(f.report_to, chain->rpc, *registry_address, *key));
    o.on_action = [r = reporter.get()](const manager::ManagerAction& a) { r->Report(a); };
    spdlog::info("manager: reporting the outcome of each claim to {}", EscapeForLog(f.report_to));
  }
  auto m = manager::Manager::Create(o, gateway, backend, manager::MakeHttpHealthProber());
  if (!m.ok()) return finish(Fail(m.status().message()));
  spdlog::info("manager: account {}, registry {} on {}, run dir {}",
               chain->sender->address().ToChecksum(), registry_address->ToChecksum(), f.rpc_url,
               run_dir.string());

  Status st;
  if (f.once) {
    st = (*m)->RunOnce(Deadline::After(o.deploy_timeout + o.leader_timeout + 120s));
    if (reporter && !reporter->WaitIdle(Deadline::After(30s)))
      spdlog::warn("manager: some outcome reports were not delivered before exiting");
  } else {
    st = (*m)->Run(stop.get_token());
  }
  auto c = (*m)->counters();
  spdlog::info(
      "manager: claims seen {}, ignored healthy {}, rate-limited {}, coalesced {}, too soon {}, "
      "redeploys {}, failures {}",
      c.claims_seen, c.ignored_healthy, c.rate_limited, c.coalesced, c.too_soon, c.redeploys,
      c.failures);
  m->reset();
  if (!st.ok()) return finish(Fail(st.message()));
  return finish(f.once && c.failures > 0 ? 1 : 0);
}

}  // namespace

void RegisterManagerCommands(CLI::App& app) {
  auto f = std::make_shared<ManagerFlags>();
  auto* c = app.add_subcommand(
      "manager",
      "Run the manager daemon: watch Claim events and redeploy a managed service that is down");
  c->add_option("--run-dir", f->run_dir,
                "Run directory of the deployment (default $BR2K_RUN_DIR or ./.br2k)");
  c->add_option("--rpc-url", f->rpc_url, "Ethereum node (default: the running `br2k up`'s)");
  c->add_option("--chain-id", f->chain_id, "Expected chain id");
  c->add_option("--registry", f->registry, "ServiceRegistry address (default: `br2k up`'s)");
  c->add_option("--service", f->services,
                "Service name (or 0x id) to manage; repeatable (default: `br2k up`'s)");
  c->add_option("--key-file", f->key_file,
                "File holding the manager account's key as hex (default: `br2k up`'s)");
  c->add_option("--claim-window", f->claim_window_s,
                "Seconds: each claimant gets --claims-per-window claims acted on per window")
      ->check(CLI::Range(1, 86400));
  c->add_option("--claims-per-window", f->claims_per_window, "Claims acted on per window")
      ->check(CLI::Range(1, 1000));
  c->add_option("--min-redeploy-interval", f->min_redeploy_interval_s,
                "Seconds between two redeploy attempts of one service")
      ->check(CLI::Range(0, 86400));
  c->add_option("--health-timeout-ms", f->health_timeout_ms, "Per-endpoint probe timeout")
      ->check(CLI::Range(50, 60000));
  c->add_option("--leader-timeout", f->leader_timeout_s,
                "Seconds to wait for a leader after a redeploy")
      ->check(CLI::Range(1, 3600));
  c->add_option("--from-block", f->from_block,
                "First block to look at (default: the head; with --once, 0)");
  c->add_option("--backend", f->backend,
                "Where to redeploy: process (pods as local processes), podman (pods), "
                "kubernetes (pods on --context's cluster), or auto (the kind the run state "
                "records)")
      ->check(CLI::IsMember({"auto", "process", "podman", "kubernetes"}));
  c->add_option("--context", f->context,
                "--backend kubernetes: the context whose cluster and token to use");
  c->add_option("--contexts-dir", f->contexts_dir,
                "Context store (default $BR2K_HOME/contexts or ~/.br2k/contexts)");
  c->add_option("--report-to", f->report_to,
                "Dashboard service (name or 0x id) that gets a signed report of what the manager "
                "did about each claim (default: `br2k up`'s dashboard, if it runs one)");
  c->add_flag("--no-report", f->no_report, "Report the outcomes of claims to no dashboard");
  c->add_flag("--once", f->once, "Handle the claims already on-chain, then exit");
  c->callback([f] { std::exit(RunManager(*f)); });
}

}  // namespace br2k::cli
