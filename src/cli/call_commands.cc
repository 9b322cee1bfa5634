// br2k call [METHOD] PATH [--data BODY]: one request (or --count of them) to the replicated
// service through the client library: found through the registry (defaults from a running
// `br2k up`) or seed URLs, redirects followed, retried exactly-once, Claims after repeated
// failure at every location.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "br2k/client/service_client.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_transport.h"
#include "commands.h"
#include "run_dir.h"

namespace br2k::cli {
namespace {

using client::Answer;
using client::HistoryRecord;
using client::RecordType;
using client::ServiceClient;
using client::ServiceClientOptions;

// With the default backoff (50 ms doubling to 2 s) the 8th failed round ends about 5 s into an
// outage: longer than a leader failover with the replicas' default lease (~3 s), so a normal
// failover does not send a Claim.
constexpr uint32_t kDefaultClaimAfter = 8;

struct CallFlags {
  std::vector<std::string> args;  // [METHOD] PATH
  std::string data;
  std::string rpc_url;
  std::string registry;
  std::string service;
  std::vector<std::string> urls;
  std::string client_id;
  uint64_t seq = 0;  // 0: start at 1
  int count = 1;
  double timeout_s = 30;
  int attempt_timeout_ms = 5000;
  std::optional<uint32_t> claim_after;
  std::string key_file;
  std::string history;
  std::string run_dir;
  bool json = false;
  bool verbose = false;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "br2k: %s\n", message.c_str());
  std::exit(1);
}

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

// With known replicas, how long the claim key's set-up (it asks the chain its id) may wait for
// the chain node before the call goes on without Claims.
constexpr std::chrono::seconds kClaimerWait{1};

// Where the service is, from the flags and a running `br2k up`. The chain is asked before `d`
// (the first request's deadline): a hung chain node never holds the call past --timeout.
// `no_claims` says why Claims are off although a key is known ("" when they are not).
ServiceClientOptions ResolveOptions(const CallFlags& f, Deadline d, bool& claims_possible,
                                    std::string& no_claims) {
  ServiceClientOptions o;
  o.seeds = f.urls;
  o.client_id = f.client_id;
  if (f.seq > 0) o.first_seq = f.seq;
  o.attempt_timeout = std::chrono::milliseconds(f.attempt_timeout_ms);

  bool chain_flags = !f.rpc_url.empty() || !f.registry.empty() || !f.service.empty();
  std::string rpc = f.rpc_url, registry = f.registry, service = f.service, key_file = f.key_file;
  std::optional<uint64_t> chain_id;
  if (f.urls.empty() || chain_flags) {
    if (rpc.empty() || registry.empty() || service.empty()) {
      auto run_dir = ResolveRunDir(f.run_dir);
      auto defaults = RunChainDefaults(run_dir, "--url, or --rpc-url, --registry and --service");
      if (!defaults.ok()) {
        // A `br2k up` without a chain still knows where its replicas answer.
        auto state = LoadRunStateIfAny(run_dir);
        if (!chain_flags && f.urls.empty() && state.ok() && *state && !(*state)->replicas.empty() &&
            !(*state)->chain) {
          for (const auto& r : (*state)->replicas) o.seeds.push_back(r.url);
          if (f.verbose) {
            std::fprintf(stderr, "br2k: the `br2k up` in %s runs no chain; using its replicas\n",
                         run_dir.c_str());
          }
          claims_possible = false;
          return o;
        }
        Die(defaults.status().message());
      }
      if (rpc.empty()) rpc = defaults->rpc_url;
      if (registry.empty()) registry = defaults->registry;
      if (service.empty()) service = defaults->service_name;
      if (key_file.empty()) key_file = defaults->owner_key_file;
      if (defaults->chain_id != 0) chain_id = defaults->chain_id;
      // The replicas `br2k up` runs are known locations too: a follower's redirect finds a new
      // leader before it has published itself on chain.
      auto state = LoadRunStateIfAny(run_dir);
      if (state.ok() && *state) {
        for (const auto& r : (*state)->replicas) o.seeds.push_back(r.url);
      }
    }
    auto transport = eth::MakeTransport(rpc, d);
    if (!transport.ok()) Die(transport.status().message());
    o.rpc = std::make_shared<eth::RpcClient>(*transport);
    auto addr = eth::Address::Parse(registry);
    if (!addr.ok()) Die("--registry: " + addr.status().message());
    o.registry = *addr;
    o.service = service;
    if (!key_file.empty()) {
      auto key = eth::LoadKeyFile(key_file);
      if (!key.ok()) Die("claim key " + key_file + ": " + key.status().message());
      // With known replicas a slow chain only costs the Claims: the replicas are tried anyway.
      Deadline kd = o.seeds.empty() ? d : d.Cap(kClaimerWait);
      auto sender = eth::TxSender::Create(o.rpc, *key, chain_id, kd);
      const auto code = sender.status().code();
      if (!sender.ok() && !o.seeds.empty() &&
          (code == StatusCode::kDeadlineExceeded || code == StatusCode::kUnavailable)) {
        no_claims = sender.status().message();
        o.registry_wait = std::chrono::milliseconds(0);  // the node just did not answer
      } else if (!sender.ok()) {
        Die(sender.status().message());
      } else {
        o.claimer = std::shared_ptr<eth::TxSender>(std::move(*sender));
      }
    }
  }
  claims_possible = o.claimer != nullptr;
  return o;
}

void PrintAttempts(const ServiceClient& c, uint64_t op) {
  for (const HistoryRecord& r : c.history().OpRecords(op)) {
    switch (r.type) {
      case RecordType::kAttempt: {
        std::string line = "  attempt " + std::to_string(r.attempt) +
                           (r.retry ? " (retry) " : " ") + r.url + r.target + " -> " + r.outcome;
        if (r.status) line += " " + std::to_string(r.status);
        if (!r.error.empty()) line += ": " + r.error;
        line += " (" + std::to_string(r.latency_ns / 1000000) + " ms)";
        std::fprintf(stderr, "%s\n", line.c_str());
        break;
      }
      case RecordType::kRedirect:
        std::fprintf(stderr, "  redirect %s -> %s%s\n", r.from.c_str(), r.url.c_str(),
                     r.leader.empty() ? "" : (" (leader " + r.leader + ")").c_str());
        break;
      case RecordType::kClaim:
        std::fprintf(stderr, "  claim sent for %s (tx %s, block %llu)\n", r.url.c_str(),
                     r.tx.c_str(), static_cast<unsigned long long>(r.block));
        break;
      case RecordType::kClaimFailed:
        std::fprintf(stderr, "  claim for %s failed: %s\n", r.url.c_str(), r.error.c_str());
        break;
      default:
        break;
    }
  }
}

nlohmann::json AnswerJson(const Answer& a) {
  nlohmann::json j = {{"status", a.status},
                      {"client", a.client},
                      {"seq", a.seq},
                      {"url", a.url},
                      {"attempts", a.attempts}};
  auto body = nlohmann::json::parse(a.body, nullptr, false);
  j["body"] = body.is_discarded() ? nlohmann::json(a.body) : body;
  if (a.index) j["index"] = *a.index;
  if (!a.state.empty()) j["state"] = a.state;
  if (a.duplicate) j["duplicate"] = true;
  return j;
}

int Run(const CallFlags& f) {
  std::string method, path;
  if (f.args.size() == 2) {
    method = Upper(f.args[0]);
    path = f.args[1];
  } else {
    path = f.args[0];
    method = f.data.empty() ? "GET" : "POST";
  }
  if (path.empty() || path.front() != '/') Die("PATH must start with '/', got '" + path + "'");
  if (f.count < 1) Die("--count must be at least 1");
  if (f.timeout_s <= 0) Die("--timeout must be positive");
  if (f.attempt_timeout_ms <= 0) Die("--attempt-timeout must be positive");
  bool verbose = f.verbose || spdlog::get_level() <= spdlog::level::debug;

  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  // The first request's deadline also bounds finding the service.
  Deadline first = Deadline::After(timeout);
  bool claims_possible = false;
  std::string no_claims;
  ServiceClientOptions o = ResolveOptions(f, first, claims_possible, no_claims);
  if (!no_claims.empty()) {
    std::fprintf(stderr, "br2k: no Claims will be sent, the chain did not answer: %s\n",
                 no_claims.c_str());
  } else if (f.claim_after && *f.claim_after > 0 && !claims_possible) {
    Die("--claim-after needs a registry and a key to sign the Claim (--key-file)");
  }
  o.claim_after = f.claim_after.value_or(claims_possible ? kDefaultClaimAfter : 0);
  if (!claims_possible) o.claim_after = 0;
  auto created = ServiceClient::Create(std::move(o), first);
  if (!created.ok()) Die(created.status().message());
  std::unique_ptr<ServiceClient> c = std::move(*created);
  if (verbose) {
    auto [loc, epoch] = c->registry_location();
    if (!loc.empty()) {
      std::fprintf(stderr, "br2k: registry location %s (epoch %llu)\n", loc.c_str(),
                   static_cast<unsigned long long>(epoch));
    }
    std::fprintf(stderr, "br2k: client %s\n", c->client_id().c_str());
  }

  int rc = 0;
  for (int i = 1; i <= f.count && rc == 0; ++i) {
    Deadline d = i == 1 ? first : Deadline::After(timeout);
    std::string body = ReplaceAll(f.data, "{i}", std::to_string(i));
    Result<Answer> a =
        (method == "GET" && body.empty()) ? c->Read(path, d) : c->Call(method, path, body, d);
    if (verbose) {
      uint64_t op = a.ok() ? a->op : 0;
      if (op == 0) {
        auto snap = c->history().Snapshot();
        if (!snap.empty()) op = snap.back().op;
      }
      std::fprintf(stderr, "%s %s%s\n", method.c_str(), path.c_str(),
                   a.ok() && a->seq ? (" seq " + std::to_string(a->seq)).c_str() : "");
      PrintAttempts(*c, op);
    }
    if (!a.ok()) {
      std::fprintf(stderr, "br2k: %s\n", a.status().message().c_str());
      rc = 1;
      break;
    }
    if (f.json) {
      std::cout << AnswerJson(*a).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << std::endl;
    } else {
      std::cout << a->body;
      if (a->body.empty() || a->body.back() != '\n') std::cout << "\n";
      std::cout.flush();
    }
    if (!a->ok()) {
      std::fprintf(stderr, "br2k: HTTP %d from %s\n", a->status, a->url.c_str());
      rc = 1;
    }
  }
  if (verbose) {
    auto n = c->history().counters();
    std::fprintf(
        stderr,
        "br2k: %llu ops (%llu ok, %llu fail, %llu unknown), %llu attempts, %llu retries, "
        "%llu redirects, %llu claims\n",
        static_cast<unsigned long long>(n.ops), static_cast<unsigned long long>(n.ok),
        static_cast<unsigned long long>(n.fail), static_cast<unsigned long long>(n.unknown),
        static_cast<unsigned long long>(n.attempts), static_cast<unsigned long long>(n.retries),
        static_cast<unsigned long long>(n.redirects), static_cast<unsigned long long>(n.claims));
  }
  if (!f.history.empty()) {
    Status s = c->history().WriteJsonLines(f.history);
    if (!s.ok()) Die("--history: " + s.message());
  }
  return rc;
}

}  // namespace

void RegisterCallCommands(CLI::App& app) {
  auto f = std::make_shared<CallFlags>();
  auto* c = app.add_subcommand(
      "call",
      "Send a request to the replicated service: found through the registry (or --url), "
      "redirects followed, retried with the same (client, seq) so it runs once");
  c->add_option("args", f->args, "[METHOD] PATH (METHOD defaults to POST with --data, else GET)")
      ->required()
      ->expected(1, 2);
  c->add_option("-d,--data", f->data, "Request body; {i} is replaced by the request number");
  c->add_option("-r,--rpc-url", f->rpc_url, "Ethereum node (default: the running br2k up's)");
  c->add_option("--registry", f->registry, "ServiceRegistry address (default: br2k up's)");
  c->add_option("--service", f->service, "Service name or 0x id (default: br2k up's)");
  c->add_option("--url", f->urls, "Seed URL of a replica (repeatable); no chain needed");
  c->add_option("--client", f->client_id, "Client id (default: random c-<12 hex>)");
  c->add_option("--seq", f->seq, "Sequence number of the first request (default 1)")
      ->check(CLI::Range(uint64_t{1}, std::numeric_limits<uint64_t>::max()));
  c->add_option("-n,--count", f->count, "Send this many requests in a row (default 1)");
  c->add_option("--timeout", f->timeout_s,
                "Seconds per request, retries included; the first also covers finding the "
                "service (default 30)");
  c->add_option("--attempt-timeout", f->attempt_timeout_ms,
                "Milliseconds per HTTP attempt (default 5000)");
  c->add_option("--claim-after", f->claim_after,
                "Rounds with every location failing before one Claim is sent (0 = never; "
                "default 8, about 5 s, when a claim key is known, else 0)");
  c->add_option("--key-file", f->key_file,
                "Key that signs Claims (default: the br2k up owner key, when the registry "
                "comes from br2k up)");
  c->add_option("--history", f->history, "Write the client's history here (JSON lines)");
  c->add_option("--run-dir", f->run_dir,
                "Run directory of br2k up (default $BR2K_RUN_DIR or ./.br2k)");
  c->add_flag("--json", f->json, "One JSON object per answer");
  c->add_flag("-v,--verbose", f->verbose, "Print every attempt to stderr");
  c->callback([f] { std::exit(Run(*f)); });
}

}  // namespace br2k::cli
