// br2k registry ...: deploy the on-chain ServiceRegistry and use it (register, update-location,
// show, locate, claim, watch) against any JSON-RPC endpoint.
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "br2k/common/numbers.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "commands.h"
#include "run_dir.h"

namespace br2k::cli {
namespace {

using namespace br2k::eth;

int Fail(const Status& s) {
  std::fprintf(stderr, "br2k: %s\n", s.message().c_str());
  return 1;
}

Deadline CmdDeadline(int seconds) {
  return Deadline::After(std::chrono::seconds(seconds));
}

Result<uint64_t> ParseEpoch(const std::string& text) {
  return ParseDecimalU64(text, "--epoch");
}

constexpr const char* kDefaultRpc = "http://127.0.0.1:8545";

struct Common {
  std::string rpc;  // "" = the running `br2k up`'s, else kDefaultRpc
  std::string registry;
  std::optional<uint64_t> chain_id;
  KeySource key;
  bool json = false;
  std::string run_dir;
};

void AddCommon(CLI::App* c, Common& f, bool needs_registry, bool needs_key) {
  c->add_option("-r,--rpc-url", f.rpc,
                "Node (default: the running `br2k up`'s chain, else http://127.0.0.1:8545)")
      ->envname("ETH_RPC_URL");
  c->add_option("--chain,--chain-id", f.chain_id, "Expected chain id");
  c->add_option("--run-dir", f.run_dir,
                "Run directory of the `br2k up` whose chain, registry and owner key are the "
                "defaults (default $BR2K_RUN_DIR or ./.br2k)");
  if (needs_registry) {
    c->add_option("--registry", f.registry,
                  "Registry contract address (default: the running `br2k up`'s)")
        ->envname("BR2K_REGISTRY");
  }
  if (needs_key) {
    c->add_option("--private-key", f.key.private_key,
                  "Signing key as hex (default: the running `br2k up`'s owner key)")
        ->envname("BR2K_ETH_KEY");
    c->add_option("--key-file", f.key.key_file, "File holding the signing key as hex");
    c->add_option("--key-env", f.key.key_env, "Environment variable holding the signing key");
    c->add_option("--keystore", f.key.keystore, "Web3 v3 keystore file");
    c->add_option("--password", f.key.password, "Keystore password");
    c->add_option("--password-file", f.key.password_file, "File whose first line is the password");
  }
  c->add_flag("--json", f.json, "Machine-readable output");
}

struct Session {
  std::shared_ptr<RpcClient> client;
  std::unique_ptr<TxSender> sender;  // when a key was given
  std::unique_ptr<ServiceRegistry> registry;
};

// Fills in what the flags leave out from a running `br2k up` (its chain, registry, owner key and
// service name), so that a newcomer types no addresses. The registry, key and service are only
// taken from it when the node is its node too. `name` (a service name argument) may be null.
Status ApplyUpDefaults(Common& f, bool needs_registry, bool needs_key, std::string* name) {
  const auto run_dir = ResolveRunDir(f.run_dir);
  auto state = LoadRunStateIfAny(run_dir);
  std::optional<ChainState> up;
  if (state.ok() && *state && (*state)->chain) up = (*state)->chain;
  if (f.rpc.empty()) f.rpc = up ? up->rpc_url : kDefaultRpc;
  const bool same_chain = up && up->rpc_url == f.rpc;
  if (same_chain && !f.chain_id && up->chain_id != 0) f.chain_id = up->chain_id;
  const bool any_key = !f.key.private_key.empty() || !f.key.key_file.empty() ||
                       !f.key.key_env.empty() || !f.key.keystore.empty();
  if (needs_key && !any_key && same_chain) f.key.key_file = up->owner_key_file;
  auto hint = [&](const std::string& what) -> Status {
    if (!state.ok()) return state.status();
    if (up && !same_chain) {
      return InvalidArgumentError("pass " + what + " (the `br2k up` in " + run_dir.string() +
                                  " runs another chain, " + up->rpc_url + ")");
    }
    return RunChainDefaults(run_dir, what).status();
  };
  if (needs_registry && f.registry.empty()) {
    if (!same_chain) return hint("--registry");
    f.registry = up->registry;
  }
  if (name && name->empty()) {
    if (!same_chain) return hint("the service name");
    *name = up->service_name;
  }
  return Status::Ok();
}

Result<Session> Open(Common& f, bool needs_registry, bool needs_key, Deadline d,
                     std::string* name = nullptr) {
  BR2K_RETURN_IF_ERROR(ApplyUpDefaults(f, needs_registry, needs_key, name));
  Session s;
  BR2K_ASSIGN_OR_RETURN(auto t, MakeTransport(f.rpc, d));
  s.client = std::make_shared<RpcClient>(t);
  if (f.chain_id) BR2K_RETURN_IF_ERROR(s.client->CheckChainId(*f.chain_id, d));
  if (needs_key) {
    BR2K_ASSIGN_OR_RETURN(PrivateKey key, LoadKey(f.key));
    BR2K_ASSIGN_OR_RETURN(s.sender, TxSender::Create(s.client, key, f.chain_id, d));
  }
  if (needs_registry) {
    BR2K_ASSIGN_OR_RETURN(Address a, Address::Parse(f.registry));
    BR2K_ASSIGN_OR_RETURN(s.registry, ServiceRegistry::Connect(s.client, a, d));
  }
  return s;
}

nlohmann::json RecordJson(const ServiceId& id, const ServiceRecord& r) {
  auto addrs = [](const std::vector<Address>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : v) a.push_back(x.ToChecksum());
    return a;
  };
  return {{"id", id.ToHex()},
          {"location", r.location},
          {"owner", r.owner.ToChecksum()},
          {"state", ServiceStateName(r.state)},
          {"version", r.version},
          {"epoch", r.epoch},
          {"managers", addrs(r.managers)},
          {"operators", addrs(r.operators)},
          {"deployer", r.deployer.ToChecksum()},
          {"deploy_context", r.recovery.deploy_context},
          {"replicas", r.recovery.replicas},
          {"container_registry", r.recovery.container_registry},
          {"images", r.recovery.images}};
}

nlohmann::json EventJson(const RegistryEvent& e) {
  nlohmann::json j = {{"event", RegistryEventKindName(e.kind)},
                      {"service", e.service.ToHex()},
                      {"block", e.block_number},
                      {"tx", e.transaction_hash.ToHex()}};
  switch (e.kind) {
    case RegistryEvent::Kind::kNewLocation:
      j["location"] = e.location;
      j["epoch"] = e.epoch;
      j["version"] = e.version;
      break;
    case RegistryEvent::Kind::kClaim:
      j["failed_location"] = e.location;
      j["reason"] = e.reason;
      j["claimant"] = e.account.ToChecksum();
      break;
    case RegistryEvent::Kind::kRegistered:
      j["location"] = e.location;
      j["owner"] = e.account.ToChecksum();
      break;
    case RegistryEvent::Kind::kStateChanged:
      j["state"] = ServiceStateName(e.state);
      j["version"] = e.version;
      break;
    case RegistryEvent::Kind::kOwnershipTransferred:
      j["previous_owner"] = e.previous_owner.ToChecksum();
      j["new_owner"] = e.account.ToChecksum();
      break;
    case RegistryEvent::Kind::kRecoveryInfoUpdated:
      j["version"] = e.version;
      break;
    case RegistryEvent::Kind::kDeregistered:
      break;
    case RegistryEvent::Kind::kLocationRepaired:
      j["location"] = e.location;
      j["epoch"] = e.epoch;
      j["previous_epoch"] = e.previous_epoch;
      j["manager"] = e.account.ToChecksum();
      break;
    default:
      j["account"] = e.account.ToChecksum();
  }
  if (e.removed) j["removed"] = true;
  return j;
}

std::string EventLine(const RegistryEvent& e) {
  nlohmann::json j = EventJson(e);
  std::string line = j["event"].get<std::string>() + " service=" + e.service.ToHex() +
                     " block=" + std::to_string(e.block_number);
  for (const auto& [k, v] : j.items()) {
    if (k == "event" || k == "service" || k == "block" || k == "tx") continue;
    line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return line;
}

std::stop_source* g_stop = nullptr;
void OnSignal(int) {
  if (g_stop) g_stop->request_stop();
}

void PrintReceiptLine(const Receipt& r, bool json) {
  if (json) {
    std::cout << nlohmann::json{{"tx", r.transaction_hash.ToHex()},
                                {"block", r.block_number},
                                {"gas_used", r.gas_used}}
                     .dump()
              << "\n";
  } else {
    std::cout << "tx " << r.transaction_hash.ToHex() << " mined in block " << r.block_number
              << " (gas " << r.gas_used << ")\n";
  }
}

}  // namespace

void RegisterRegistryCommands(CLI::App& app) {
  CLI::App* reg = app.add_subcommand("registry", "The on-chain service registry");
  reg->require_subcommand(1);

  {
    auto f = std::make_shared<Common>();
    auto* c = reg->add_subcommand("deploy", "Deploy a new ServiceRegistry; prints its address");
    AddCommon(c, *f, false, true);
    c->callback([f] {
      Deadline d = CmdDeadline(120);
      auto s = Open(*f, false, true, d);
      if (!s.ok()) std::exit(Fail(s.status()));
      auto a = ServiceRegistry::Deploy(*s->sender, d);
      if (!a.ok()) std::exit(Fail(a.status()));
      if (f->json)
        std::cout << nlohmann::json{{"registry", a->ToChecksum()}}.dump() << "\n";
      else
        std::cout << a->ToChecksum() << "\n";
      std::exit(0);
    });
  }
  {
    struct F : Common {
      std::string name, location, context, container_registry;
      uint32_t replicas = 0;
      std::vector<std::string> images, operators;
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand("register", "Register a service (the sender becomes its owner)");
    c->add_option("name", f->name, "Service name (or 0x id)")->required();
    c->add_option("location", f->location, "Where it answers, e.g. 10.0.0.1:7000")->required();
    c->add_option("--context", f->context, "Deploy context (Kubernetes context)");
    c->add_option("--replicas", f->replicas, "Number of replicas");
    c->add_option("--container-registry", f->container_registry, "Where its images live");
    c->add_option("--image", f->images, "Image reference (repeatable)");
    c->add_option("--operator", f->operators, "Replica address allowed to update the location");
    AddCommon(c, *f, true, true);
    c->callback([f] {
      Deadline d = CmdDeadline(120);
      auto s = Open(*f, true, true, d);
      if (!s.ok()) std::exit(Fail(s.status()));
      ServiceId id = ServiceIdFromName(f->name);
      RecoveryInfo info{f->context, f->replicas, f->container_registry, f->images};
      auto r = s->registry->Register(*s->sender, id, f->location, info, d);
      if (!r.ok()) std::exit(Fail(r.status()));
      for (const auto& op : f->operators) {
        auto a = Address::Parse(op);
        if (!a.ok()) std::exit(Fail(a.status()));
        auto o = s->registry->AddOperator(*s->sender, id, *a, d);
        if (!o.ok()) std::exit(Fail(o.status()));
      }
      if (f->json) {
        std::cout << nlohmann::json{{"id", id.ToHex()}, {"tx", r->transaction_hash.ToHex()}}.dump()
                  << "\n";
      } else {
        std::cout << "registered " << f->name << " as " << id.ToHex() << "\n";
      }
      std::exit(0);
    });
  }
  {
    struct F : Common {
      std::string name, location;
      std::string epoch;  // parsed by ParseEpoch: CLI11 saturated 2^64, -1 and bigger to 2^64-1
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand(
        "update-location", "Set a service's location, fenced by an epoch (managers and operators)");
    c->add_option("name", f->name, "Service name (or 0x id)")->required();
    c->add_option("location", f->location, "New location")->required();
    c->add_option("--epoch", f->epoch, "Fencing value; refused when below the stored one")
        ->required();
    AddCommon(c, *f, true, true);
    c->callback([f] {
      auto epoch = ParseEpoch(f->epoch);
      if (!epoch.ok()) std::exit(Fail(epoch.status()));
      Deadline d = CmdDeadline(120);
      auto s = Open(*f, true, true, d);
      if (!s.ok()) std::exit(Fail(s.status()));
      auto r = s->registry->UpdateLocation(*s->sender, ServiceIdFromName(f->name), f->location,
                                           *epoch, d);
      if (!r.ok()) std::exit(Fail(r.status()));
      PrintReceiptLine(*r, f->json);
      std::exit(0);
    });
  }
  {
    // The managers' repair of a pinned epoch or a hijacked location (docs/security.md, "The
    // fence on chain"). The epoch is read as text and refused unless it is a decimal in
    // [0, 2^64-1]: a saturated typo here is what the repair exists to undo.
    struct F : Common {
      std::string name, location, epoch;
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand(
        "repair-location",
        "Replace a service's location and epoch, lower if need be (managers; emits "
        "LocationRepaired)");
    c->add_option("name", f->name, "Service name (or 0x id)")->required();
    c->add_option("location", f->location, "New location")->required();
    c->add_option("--epoch", f->epoch,
                  "New epoch (decimal, 0..2^64-1); a running leader with a higher epoch publishes "
                  "its own location over it (0 hands the location back to it)")
        ->required();
    AddCommon(c, *f, true, true);
    c->callback([f] {
      uint64_t epoch = 0;
      const std::string& e = f->epoch;
      auto [end, ec] = std::from_chars(e.data(), e.data() + e.size(), epoch);
      if (e.empty() || ec != std::errc() || end != e.data() + e.size()) {
        std::exit(Fail(InvalidArgumentError(
            "--epoch '" + e + "' is not a decimal integer in 0..18446744073709551615")));
      }
      Deadline d = CmdDeadline(120);
      auto s = Open(*f, true, true, d);
      if (!s.ok()) std::exit(Fail(s.status()));
      auto r = s->registry->RepairLocation(*s->sender, ServiceIdFromName(f->name), f->location,
                                           epoch, d);
      if (!r.ok()) std::exit(Fail(r.status()));
      PrintReceiptLine(*r, f->json);
      std::exit(0);
    });
  }
  {
    struct F : Common {
      std::string name;
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand("show", "Everything the registry holds about a service");
    c->add_option("name", f->name, "Service name (or 0x id; default: the running `br2k up`'s)");
    AddCommon(c, *f, true, false);
    c->callback([f] {
      Deadline d = CmdDeadline(30);
      auto s = Open(*f, true, false, d, &f->name);
      if (!s.ok()) std::exit(Fail(s.status()));
      ServiceId id = ServiceIdFromName(f->name);
      auto r = s->registry->GetService(id, d);
      if (!r.ok()) std::exit(Fail(r.status()));
      nlohmann::json j = RecordJson(id, *r);
      if (f->json) {
        std::cout << j.dump() << "\n";
      } else {
        for (const auto& [k, v] : j.items()) {
          std::string key = k;
          key.resize(std::max<size_t>(key.size() + 1, 20), ' ');
          std::cout << key << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
        }
      }
      std::exit(0);
    });
  }
  {
    struct F : Common {
      std::string name;
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand("locate", "Print a service's location");
    c->add_option("name", f->name, "Service name (or 0x id; default: the running `br2k up`'s)");
    AddCommon(c, *f, true, false);
    c->callback([f] {
      Deadline d = CmdDeadline(30);
      auto s = Open(*f, true, false, d, &f->name);
      if (!s.ok()) std::exit(Fail(s.status()));
      auto l = s->registry->GetServiceLocation(ServiceIdFromName(f->name), d);
      if (!l.ok()) std::exit(Fail(l.status()));
      if (f->json) {
        std::cout << nlohmann::json{{"location", l->location},
                                    {"epoch", l->epoch},
                                    {"state", ServiceStateName(l->state)}}
                         .dump()
                  << "\n";
      } else {
        std::cout << l->location << "\n";
      }
      std::exit(0);
    });
  }
  {
    struct F : Common {
      std::string name, failed_location, reason;
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand("claim", "Report that a service is failing (anyone may)");
    c->add_option("name", f->name, "Service name (or 0x id)")->required();
    c->add_option("failed-location", f->failed_location,
                  "Where it failed (default: the location the registry holds)");
    c->add_option("--reason", f->reason, "Why (free text)");
    AddCommon(c, *f, true, true);
    c->callback([f] {
      Deadline d = CmdDeadline(120);
      auto s = Open(*f, true, true, d);
      if (!s.ok()) std::exit(Fail(s.status()));
      if (f->failed_location.empty()) {
        // What a user claims against is where the registry sends clients: its location.
        auto l = s->registry->GetServiceLocation(ServiceIdFromName(f->name), d);
        if (!l.ok()) std::exit(Fail(l.status()));
        f->failed_location = l->location;
      }
      auto r = s->registry->SendClaim(*s->sender, ServiceIdFromName(f->name), f->failed_location,
                                      f->reason, d);
      if (!r.ok()) std::exit(Fail(r.status()));
      PrintReceiptLine(*r, f->json);
      std::exit(0);
    });
  }
  {
    struct F : Common {
      std::string name;
      uint64_t from_block = 0;
      bool all = false;
      int seconds = 0;
    };
    auto f = std::make_shared<F>();
    auto* c = reg->add_subcommand("watch", "Print NewLocation and Claim events as they happen");
    c->add_option("name", f->name, "Only this service (name or 0x id)");
    c->add_option("--from-block", f->from_block, "Start here (default: the current block)");
    c->add_flag("--all", f->all, "Every registry event, not just NewLocation and Claim");
    c->add_option("--for", f->seconds, "Stop after this many seconds (default: until Ctrl-C)");
    AddCommon(c, *f, true, false);
    c->callback([f] {
      Deadline d = CmdDeadline(30);
      auto s = Open(*f, true, false, d);
      if (!s.ok()) std::exit(Fail(s.status()));
      uint64_t from = f->from_block;
      if (from == 0) {
        auto head = s->client->BlockNumber(d);
        if (!head.ok()) std::exit(Fail(head.status()));
        from = *head + 1;
      }
      std::optional<ServiceId> id;
      if (!f->name.empty()) id = ServiceIdFromName(f->name);
      std::vector<RegistryEvent::Kind> kinds;
      if (f->all) {
        for (int k = 0; k <= static_cast<int>(RegistryEvent::Kind::kLocationRepaired); ++k) {
          kinds.push_back(static_cast<RegistryEvent::Kind>(k));
        }
      }
      std::stop_source stop;
      g_stop = &stop;
      ::signal(SIGINT, OnSignal);
      ::signal(SIGTERM, OnSignal);
      Deadline until =
          f->seconds > 0 ? Deadline::After(std::chrono::seconds(f->seconds)) : Deadline::Infinite();
      bool json = f->json;
      Status st = s->registry->Watch(
          id, kinds, from,
          [json](const RegistryEvent& e) {
            std::cout << (json ? EventJson(e).dump() : EventLine(e)) << std::endl;
            return Status::Ok();
          },
          stop.get_token(), until);
      g_stop = nullptr;
      if (!st.ok() && st.code() != StatusCode::kDeadlineExceeded) std::exit(Fail(st));
      std::exit(0);
    });
  }
}

}  // namespace br2k::cli
