#include "local_chain.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/eth/key.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/tx_sender.h"
#include "br2k/http/client.h"

namespace br2k::cli {

using namespace std::chrono_literals;

namespace {

// Development keys of the embedded anvil per role (kAnvilDevKeys indices).
constexpr size_t kOwnerDevKey = 0;
constexpr size_t kTxDevKey = 4;
constexpr size_t kManagerDevKey = 5;
// Replica i's operator key: 1, 2, 3, then the ones no other role uses.
constexpr std::array<size_t, 7> kOperatorDevKeys = {1, 2, 3, 6, 7, 8, 9};

// The recovery information of a service registered before its pods run: `up` replaces it with
// the pods' own (deploy/recovery.h) once they serve. A manager finds nothing to deploy in it
// (DecodeRecovery: NOT_FOUND) and says so.
eth::RecoveryInfo PendingRecoveryInfo(size_t replicas) {
  return {.deploy_context = "pending",
          .replicas = static_cast<uint32_t>(replicas),
          .container_registry = "",
          .images = {}};
}

// Writes a key file readable by its owner only.
Status WriteKeyFile(const std::filesystem::path& path, const eth::PrivateKey& key) {
  const std::string text = eth::ToHex(key.secret()) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return InternalError("cannot write " + path.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = errno;
  ::close(fd);
  if (!ok) return InternalError("cannot write " + path.string() + ": " + std::strerror(err));
  return Status::Ok();
}

// The key in `path` when it holds a valid one, else a new random key written there.
Result<eth::PrivateKey> LoadOrCreateKey(const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) {
    auto k = eth::LoadKeyFile(path);
    if (k.ok()) return k;
  }
  eth::PrivateKey k = eth::PrivateKey::Random();
  BR2K_RETURN_IF_ERROR(WriteKeyFile(path, k));
  return k;
}

Result<std::shared_ptr<eth::RpcClient>> Connect(const std::string& url, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeTransport(url, deadline));
  return std::make_shared<eth::RpcClient>(transport);
}

std::string Short(const eth::Address& a) {
  return a.ToChecksum();
}

}  // namespace

Result<std::unique_ptr<LocalChain>> LocalChain::Start(const LocalChainOptions& o,
                                                      Deadline deadline) {
  if (o.run_dir.empty()) return InvalidArgumentError("chain: no run directory");
  if (o.replicas == 0) return InvalidArgumentError("chain: no replicas");
  if (!o.rpc_url.empty() && o.owner_key_file.empty()) {
    return InvalidArgumentError(
        "--rpc-url needs --key-file: the owner account (funded) that "
        "deploys the registry and registers the service");
  }
  if (o.rpc_url.empty() && o.replicas > kOperatorDevKeys.size()) {
    return InvalidArgumentError("the embedded anvil has development keys for " +
                                std::to_string(kOperatorDevKeys.size()) +
                                " replicas; use --rpc-url for more");
  }
  std::unique_ptr<LocalChain> c(new LocalChain());
  c->options_ = o;
  ChainState& s = c->state_;
  s.service_name = o.service_name;
  if (o.rpc_url.empty()) {
    cluster::LocalAnvilOptions ao;
    if (o.chain_id) ao.chain_id = *o.chain_id;
    ao.block_time_s = o.block_time_s;
    ao.log_file = o.run_dir / "anvil.log";
    ao.config_out = o.run_dir / "anvil.json";
    ao.detach = o.detach;
    BR2K_ASSIGN_OR_RETURN(c->anvil_, cluster::LocalAnvil::Start(ao, deadline));
    c->client_ = c->anvil_->client();
    s.rpc_url = c->anvil_->url();
    s.chain_id = c->anvil_->chain_id();
    s.anvil_pid = c->anvil_->pid();
    s.anvil_argv = c->anvil_->identity().argv;
    s.anvil_start_time = c->anvil_->identity().start_time;
    s.anvil_log = c->anvil_->log_file().string();
  } else {
    BR2K_ASSIGN_OR_RETURN(c->client_, Connect(o.rpc_url, deadline));
    auto id = c->client_->ChainId(deadline.Cap(10s));
    if (!id.ok()) {
      return Status(id.status().code(),
                    "cannot reach the chain at " + o.rpc_url + ": " + id.status().message());
    }
    if (o.chain_id && *id != *o.chain_id) {
      return FailedPreconditionError("the node at " + o.rpc_url + " is on chain " +
                                     std::to_string(*id) + ", not --chain-id " +
                                     std::to_string(*o.chain_id));
    }
    s.rpc_url = o.rpc_url;
    s.chain_id = *id;
  }
  BR2K_RETURN_IF_ERROR(c->WriteRoleKeys(o));
  if (!c->embedded()) BR2K_RETURN_IF_ERROR(c->FundRoles(deadline));
  return c;
}

Status LocalChain::WriteRoleKeys(const LocalChainOptions& o) {
  const auto dir = o.run_dir / "keys";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InternalError("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  ChainState& s = state_;
  s.operator_key_files.clear();
  auto role_file = [&](const std::string& role) { return (dir / (role + ".key")).string(); };
  if (embedded()) {
    auto write_dev = [&](const std::string& role, size_t index) -> Result<std::string> {
      BR2K_ASSIGN_OR_RETURN(auto key, cluster::AnvilDevKey(index));
      std::string file = role_file(role);
      BR2K_RETURN_IF_ERROR(WriteKeyFile(file, key));
      return file;
    };
    BR2K_ASSIGN_OR_RETURN(s.owner_key_file, write_dev("owner", kOwnerDevKey));
    BR2K_ASSIGN_OR_RETURN(s.manager_key_file, write_dev("manager", kManagerDevKey));
    BR2K_ASSIGN_OR_RETURN(s.tx_key_file, write_dev("tx", kTxDevKey));
    for (size_t i = 0; i < o.replicas; ++i) {
      BR2K_ASSIGN_OR_RETURN(auto f,
                            write_dev("operator-" + std::to_string(i), kOperatorDevKeys[i]));
      s.operator_key_files.push_back(f);
    }
    return Status::Ok();
  }
  auto owner = eth::LoadKeyFile(o.owner_key_file);
  if (!owner.ok()) {
    return InvalidArgumentError("--key-file " + o.owner_key_file + ": " + owner.status().message());
  }
  s.owner_key_file = std::filesystem::absolute(o.owner_key_file).lexically_normal().string();
  auto make = [&](const std::string& role) -> Result<std::string> {
    std::string file = role_file(role);
    BR2K_RETURN_IF_ERROR(LoadOrCreateKey(file).status());
    return file;
  };
  BR2K_ASSIGN_OR_RETURN(s.manager_key_file, make("manager"));
  BR2K_ASSIGN_OR_RETURN(s.tx_key_file, make("tx"));
  for (size_t i = 0; i < o.replicas; ++i) {
    BR2K_ASSIGN_OR_RETURN(auto f, make("operator-" + std::to_string(i)));
    s.operator_key_files.push_back(f);
  }
  return Status::Ok();
}

Status LocalChain::FundRoles(Deadline deadline) {
  std::vector<std::pair<std::string, std::string>> roles = {{"manager", state_.manager_key_file},
                                                            {"tx", state_.tx_key_file}};
  for (size_t i = 0; i < state_.operator_key_files.size(); ++i) {
    roles.push_back({"operator-" + std::to_string(i), state_.operator_key_files[i]});
  }
  return FundAccounts(roles, deadline);
}

Status LocalChain::FundAccounts(const std::vector<std::pair<std::string, std::string>>& roles,
                                Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto owner_key, eth::LoadKeyFile(state_.owner_key_file));
  BR2K_ASSIGN_OR_RETURN(auto owner,
                        eth::TxSender::Create(client_, owner_key, state_.chain_id, deadline));
  for (const auto& [role, file] : roles) {
    BR2K_ASSIGN_OR_RETURN(auto key, eth::LoadKeyFile(file));
    BR2K_ASSIGN_OR_RETURN(auto balance, client_->GetBalance(key.address(), deadline));
    if (balance >= eth::U256(kRoleMinBalance)) continue;
    eth::SendOptions send;
    send.value = eth::U256(kRoleFunding);
    auto r = owner->SendAndWait(key.address(), {}, send, deadline);
    if (!r.ok()) {
      return FailedPreconditionError("the owner " + Short(owner->address()) + " cannot fund the " +
                                     role + " account " + Short(key.address()) + ": " +
                                     r.status().message());
    }
    funded_.push_back(role + " " + Short(key.address()));
  }
  return Status::Ok();
}

Result<ServiceKeys> LocalChain::MakeServiceKeys(const std::string& prefix, size_t replicas,
                                                Deadline deadline) {
  const auto dir = options_.run_dir / "keys";
  ServiceKeys out;
  std::vector<std::pair<std::string, std::string>> roles;
  auto make = [&](const std::string& role) -> Result<std::string> {
    std::string file = (dir / (prefix + role + ".key")).string();
    BR2K_RETURN_IF_ERROR(LoadOrCreateKey(file).status());
    roles.push_back({prefix + role, file});
    return file;
  };
  BR2K_ASSIGN_OR_RETURN(out.tx_key_file, make("tx"));
  for (size_t i = 0; i < replicas; ++i) {
    BR2K_ASSIGN_OR_RETURN(auto f, make("operator-" + std::to_string(i)));
    out.operator_key_files.push_back(f);
  }
  BR2K_RETURN_IF_ERROR(FundAccounts(roles, deadline));
  return out;
}

Result<RegistrySetup> LocalChain::SetUpRegistry(const std::string& placeholder_location,
                                                Deadline deadline) {
  RegistrySetup out;
  BR2K_ASSIGN_OR_RETURN(auto owner_key, eth::LoadKeyFile(state_.owner_key_file));
  BR2K_ASSIGN_OR_RETURN(auto owner,
                        eth::TxSender::Create(client_, owner_key, state_.chain_id, deadline));
  if (options_.registry.empty()) {
    auto a = eth::ServiceRegistry::Deploy(*owner, deadline);
    if (!a.ok()) return a.status().WithContext("deploying the ServiceRegistry");
    out.registry = *a;
    out.deployed = true;
  } else {
    auto a = eth::Address::Parse(options_.registry);
    if (!a.ok()) return InvalidArgumentError("--registry: " + a.status().message());
    out.registry = *a;
  }
  state_.registry = out.registry.ToChecksum();
  BR2K_ASSIGN_OR_RETURN(RegistrySetup svc,
                        SetUpService(options_.service_name, state_.operator_key_files,
                                     placeholder_location, deadline));
  svc.registry = out.registry;
  svc.deployed = out.deployed;
  return svc;
}

Result<RegistrySetup> LocalChain::SetUpService(const std::string& name,
                                               const std::vector<std::string>& operator_key_files,
                                               const std::string& placeholder_location,
                                               Deadline deadline) {
  if (state_.registry.empty()) return FailedPreconditionError("no registry set up yet");
  RegistrySetup out;
  BR2K_ASSIGN_OR_RETURN(out.registry, eth::Address::Parse(state_.registry));
  BR2K_ASSIGN_OR_RETURN(auto owner_key, eth::LoadKeyFile(state_.owner_key_file));
  BR2K_ASSIGN_OR_RETURN(auto owner,
                        eth::TxSender::Create(client_, owner_key, state_.chain_id, deadline));
  auto reg = eth::ServiceRegistry::Connect(client_, out.registry, deadline);
  if (!reg.ok()) return reg.status().WithContext("registry " + out.registry.ToChecksum());
  out.service_id = eth::ServiceIdFromName(name);
  const eth::RecoveryInfo info = PendingRecoveryInfo(operator_key_files.size());
  auto record = (*reg)->GetService(out.service_id, deadline);
  if (!record.ok() && record.status().code() == StatusCode::kNotFound) {
    auto r = (*reg)->Register(*owner, out.service_id, placeholder_location, info, deadline);
    if (!r.ok()) return r.status().WithContext("registering '" + name + "'");
    out.registered = true;
    record = (*reg)->GetService(out.service_id, deadline);
  }
  if (!record.ok()) return record.status().WithContext("reading '" + name + "'");
  if (record->state == eth::ServiceState::kRetired) {
    return FailedPreconditionError("service '" + name + "' was deregistered from registry " +
                                   out.registry.ToChecksum() +
                                   "; choose another --service-name or another registry");
  }
  BR2K_ASSIGN_OR_RETURN(bool owner_manages,
                        (*reg)->IsManager(out.service_id, owner->address(), deadline));
  if (!owner_manages) {
    return PermissionDeniedError("service '" + name + "' in registry " + out.registry.ToChecksum() +
                                 " belongs to " + record->owner.ToChecksum() + ", and " +
                                 owner->address().ToChecksum() +
                                 " is not one of its managers: pass its owner's --key-file, or "
                                 "choose another --service-name");
  }
  if (!out.registered && record->recovery != info) {
    auto r = (*reg)->UpdateRecoveryInfo(*owner, out.service_id, info, deadline);
    if (!r.ok()) return r.status().WithContext("updating the recovery information");
    out.changes.push_back("recovery information set for the local backend");
  }
  BR2K_ASSIGN_OR_RETURN(auto manager_key, eth::LoadKeyFile(state_.manager_key_file));
  BR2K_ASSIGN_OR_RETURN(bool is_manager,
                        (*reg)->IsManager(out.service_id, manager_key.address(), deadline));
  if (!is_manager) {
    auto r = (*reg)->AddManager(*owner, out.service_id, manager_key.address(), deadline);
    if (!r.ok()) return r.status().WithContext("adding the manager");
    out.changes.push_back("manager " + Short(manager_key.address()));
  }
  int operators_added = 0;
  for (const auto& file : operator_key_files) {
    BR2K_ASSIGN_OR_RETURN(auto key, eth::LoadKeyFile(file));
    BR2K_ASSIGN_OR_RETURN(bool is_op, (*reg)->IsOperator(out.service_id, key.address(), deadline));
    if (is_op) continue;
    auto r = (*reg)->AddOperator(*owner, out.service_id, key.address(), deadline);
    if (!r.ok()) return r.status().WithContext("adding operator " + Short(key.address()));
    ++operators_added;
  }
  if (operators_added > 0) {
    out.changes.push_back(std::to_string(operators_added) + " operator(s)");
  }
  if (!out.registered && record->state != eth::ServiceState::kActive) {
    // Left Failed or Recovering by an earlier run: this run brings it up.
    auto r = (*reg)->UpdateState(*owner, out.service_id, eth::ServiceState::kActive, deadline);
    if (!r.ok()) return r.status().WithContext("marking it Active");
    out.changes.push_back("state " + eth::ServiceStateName(record->state) + " -> Active");
  }
  out.stored_epoch = record->epoch;
  return out;
}

Status LocalChain::Stop() {
  if (!anvil_) return Status::Ok();
  return anvil_->Stop();
}

void LocalChain::Release() {
  if (anvil_) anvil_->Release();
}

LocalChain::~LocalChain() = default;

Result<PublishedLocation> ReadPublishedLocation(const ChainState& chain, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto client, Connect(chain.rpc_url, deadline));
  BR2K_ASSIGN_OR_RETURN(auto address, eth::Address::Parse(chain.registry));
  eth::ServiceRegistry reg(client, address);
  BR2K_ASSIGN_OR_RETURN(
      auto l, reg.GetServiceLocation(eth::ServiceIdFromName(chain.service_name), deadline));
  return PublishedLocation{.location = l.location, .epoch = l.epoch, .state = l.state};
}

Status WriteRecoveryInfo(const ChainState& chain, const eth::RecoveryInfo& info,
                         Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto client, Connect(chain.rpc_url, deadline));
  BR2K_ASSIGN_OR_RETURN(auto address, eth::Address::Parse(chain.registry));
  BR2K_ASSIGN_OR_RETURN(auto owner_key, eth::LoadKeyFile(chain.owner_key_file));
  BR2K_ASSIGN_OR_RETURN(auto owner,
                        eth::TxSender::Create(client, owner_key, chain.chain_id, deadline));
  eth::ServiceRegistry reg(client, address);
  auto r =
      reg.UpdateRecoveryInfo(*owner, eth::ServiceIdFromName(chain.service_name), info, deadline);
  if (!r.ok()) return r.status().WithContext("writing the recovery information");
  return Status::Ok();
}

Status WaitForPublishedLocation(const ChainState& chain, const std::string& leader_url,
                                const std::string& leader_log, Deadline deadline) {
  std::string seen = "nothing read yet";
  while (!deadline.expired()) {
    auto l = ReadPublishedLocation(chain, deadline.Cap(5s));
    if (l.ok()) {
      if (l->location == leader_url) return Status::Ok();
      seen = "'" + l->location + "' (epoch " + std::to_string(l->epoch) + ")";
    } else {
      seen = l.status().ToString();
    }
    std::this_thread::sleep_for(100ms);
  }
  // Why: the leader's publisher says it in its /status.
  std::string why;
  auto st = http::Call(leader_url, "GET", "/status", "", {}, Deadline::After(2s));
  if (st.ok()) {
    auto doc = nlohmann::json::parse(st->body, nullptr, false);
    if (doc.is_object() && doc.contains("registry") && doc["registry"].is_object()) {
      why = doc["registry"].value("last_error", "");
    }
  }
  return DeadlineExceededError("the leader " + leader_url +
                               " did not publish its location in the registry in time (it holds " +
                               seen + (why.empty() ? "" : "; last publishing error: " + why) +
                               "); see " + leader_log);
}

}  // namespace br2k::cli
