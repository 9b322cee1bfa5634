#include "br2k/eth/service_registry.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "br2k/eth/keccak.h"
#include "service_registry_artifact.h"

namespace br2k::eth {
namespace {

struct KindInfo {
  RegistryEvent::Kind kind;
  const char* event;
};
constexpr KindInfo kKinds[] = {
    {RegistryEvent::Kind::kRegistered, "Registered"},
    {RegistryEvent::Kind::kNewLocation, "NewLocation"},
    {RegistryEvent::Kind::kStateChanged, "StateChanged"},
    {RegistryEvent::Kind::kRecoveryInfoUpdated, "RecoveryInfoUpdated"},
    {RegistryEvent::Kind::kManagerAdded, "ManagerAdded"},
    {RegistryEvent::Kind::kManagerRemoved, "ManagerRemoved"},
    {RegistryEvent::Kind::kOperatorAdded, "OperatorAdded"},
    {RegistryEvent::Kind::kOperatorRemoved, "OperatorRemoved"},
    {RegistryEvent::Kind::kOwnershipTransferred, "OwnershipTransferred"},
    {RegistryEvent::Kind::kDeregistered, "Deregistered"},
    {RegistryEvent::Kind::kClaim, "Claim"},
    {RegistryEvent::Kind::kLocationRepaired, "LocationRepaired"},
};

const char* EventName(RegistryEvent::Kind k) {
  for (const auto& i : kKinds) {
    if (i.kind == k) return i.event;
  }
  return "?";
}

AbiValue Id(const ServiceId& id) {
  return AbiValue::Bytes_(id.ToBytes());
}
AbiValue Str(const std::string& s) {
  return AbiValue::Str(s);
}
AbiValue Addr(const Address& a) {
  return AbiValue::Addr(a);
}

std::vector<AbiValue> InfoArgs(const RecoveryInfo& info) {
  std::vector<AbiValue> images;
  for (const auto& i : info.images) images.push_back(AbiValue::Str(i));
  return {Str(info.deploy_context), AbiValue::Uint(info.replicas), Str(info.container_registry),
          AbiValue::List(std::move(images))};
}

Result<ServiceState> StateFromWord(const U256& w) {
  if (w > U256(4)) return DataLossError("registry: unknown state " + w.ToDecimal());
  return static_cast<ServiceState>(w.low64());
}

// Named members of a decoded tuple.
class Members {
 public:
  Members(const AbiType& t, const AbiValue& v) : t_(t), v_(v) {}
  Result<const AbiValue*> Get(std::string_view name) const {
    for (size_t i = 0; i < t_.names.size() && i < v_.items.size(); ++i) {
      if (t_.names[i] == name) return &v_.items[i];
    }
    return DataLossError("registry: getService result has no member " + std::string(name));
  }

 private:
  const AbiType& t_;
  const AbiValue& v_;
};

}  // namespace

std::string ServiceStateName(ServiceState s) {
  switch (s) {
    case ServiceState::kNone:
      return "None";
    case ServiceState::kActive:
      return "Active";
    case ServiceState::kFailed:
      return "Failed";
    case ServiceState::kRecovering:
      return "Recovering";
    case ServiceState::kRetired:
      return "Retired";
  }
  return "?";
}

Result<ServiceState> ParseServiceState(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (auto s : {ServiceState::kActive, ServiceState::kFailed, ServiceState::kRecovering,
                 ServiceState::kRetired}) {
    std::string n = ServiceStateName(s);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (n == lower) return s;
  }
  return InvalidArgumentError("unknown service state '" + std::string(name) +
                              "' (want Active, Failed, Recovering or Retired)");
}

ServiceId ServiceIdFromName(std::string_view name) {
  if (name.size() == 66 && name.starts_with("0x")) {
    if (auto h = Hash::FromHex(name); h.ok()) return *h;
  }
  return Keccak256(name);
}

std::string RegistryEventKindName(RegistryEvent::Kind k) {
  return EventName(k);
}

Status RegistryRevertToStatus(const RevertReason& r) {
  std::string msg = r.ToString();
  if (r.kind != RevertReason::Kind::kCustom) return AbortedError(msg);
  static const std::map<std::string, StatusCode> kCodes = {
      {"UnknownService", StatusCode::kNotFound},
      {"ServiceDeregistered", StatusCode::kFailedPrecondition},
      {"ServiceExists", StatusCode::kAlreadyExists},
      {"AlreadyManager", StatusCode::kAlreadyExists},
      {"AlreadyOperator", StatusCode::kAlreadyExists},
      {"NotOwner", StatusCode::kPermissionDenied},
      {"NotManager", StatusCode::kPermissionDenied},
      {"NotOperator", StatusCode::kPermissionDenied},
      {"StaleEpoch", StatusCode::kAborted},
      {"EpochHeldByOther", StatusCode::kAborted},
      {"EpochJumpTooLarge", StatusCode::kOutOfRange},
  };
  auto it = kCodes.find(r.error_name);
  return Status(it == kCodes.end() ? StatusCode::kInvalidArgument : it->second, msg);
}

const ContractAbi& ServiceRegistry::Abi() {
  static const ContractAbi abi = [] {
    auto a = ParseContractAbi(internal::kServiceRegistryAbi);
    assert(a.ok() && "embedded ServiceRegistry ABI does not parse");
    return *a;
  }();
  return abi;
}

const Bytes& ServiceRegistry::Bytecode() {
  static const Bytes code = [] {
    auto b = FromHex(internal::kServiceRegistryBytecode);
    assert(b.ok() && "embedded ServiceRegistry bytecode is not hex");
    return *b;
  }();
  return code;
}

Result<Address> ServiceRegistry::Deploy(TxSender& sender, Deadline deadline) {
  return sender.Deploy(Bytecode(), deadline);
}

Result<std::unique_ptr<ServiceRegistry>> ServiceRegistry::Connect(std::shared_ptr<RpcClient> client,
                                                                  const Address& address,
                                                                  Deadline deadline) {
  BR2K_RETURN_IF_ERROR(client->RequireCode(address, deadline));
  return std::make_unique<ServiceRegistry>(std::move(client), address);
}

Result<Receipt> ServiceRegistry::Transact(TxSender& sender, std::string_view function,
                                          const std::vector<AbiValue>& args, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(const AbiFunction* f, Abi().Function(function));
  BR2K_ASSIGN_OR_RETURN(Bytes data, f->EncodeCall(args));
  // Dry run first: a refusal is reported with its typed error and costs nothing.
  CallRequest req{sender.address(), address_, data, U256(), std::nullopt};
  BR2K_ASSIGN_OR_RETURN(CallOutcome dry, client_->EthCall(req, deadline, Abi().errors));
  if (dry.reverted) return RegistryRevertToStatus(dry.revert).WithContext(f->name);
  SendOptions opts;
  opts.errors = Abi().errors;
  auto r = sender.SendAndWait(address_, data, opts, deadline);
  if (!r.ok()) return r.status().WithContext(f->name);
  return r;
}

Result<std::vector<AbiValue>> ServiceRegistry::Read(std::string_view function,
                                                    const std::vector<AbiValue>& args,
                                                    Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(const AbiFunction* f, Abi().Function(function));
  BR2K_ASSIGN_OR_RETURN(Bytes data, f->EncodeCall(args));
  CallRequest req{std::nullopt, address_, data, U256(), std::nullopt};
  BR2K_ASSIGN_OR_RETURN(CallOutcome out, client_->EthCall(req, deadline, Abi().errors));
  if (out.reverted) return RegistryRevertToStatus(out.revert).WithContext(f->name);
  if (out.data.empty()) {
    // A call to an address without code "succeeds" with no data.
    BR2K_RETURN_IF_ERROR(client_->RequireCode(address_, deadline));
  }
  auto v = f->DecodeOutput(out.data);
  if (!v.ok()) return v.status().WithContext(f->name);
  return v;
}

Result<Receipt> ServiceRegistry::Register(TxSender& sender, const ServiceId& id,
                                          const std::string& location, const RecoveryInfo& info,
                                          Deadline deadline) {
  std::vector<AbiValue> args = {Id(id), Str(location)};
  for (auto& a : InfoArgs(info)) args.push_back(std::move(a));
  return Transact(sender, "register", args, deadline);
}

Result<Receipt> ServiceRegistry::UpdateLocation(TxSender& sender, const ServiceId& id,
                                                const std::string& location, uint64_t epoch,
                                                Deadline deadline) {
  return Transact(sender, "updateLocation", {Id(id), Str(location), AbiValue::Uint(epoch)},
                  deadline);
}

Result<Receipt> ServiceRegistry::RepairLocation(TxSender& sender, const ServiceId& id,
                                                const std::string& location, uint64_t epoch,
                                                Deadline deadline) {
  return Transact(sender, "repairLocation", {Id(id), Str(location), AbiValue::Uint(epoch)},
                  deadline);
}

Result<Receipt> ServiceRegistry::UpdateState(TxSender& sender, const ServiceId& id,
                                             ServiceState state, Deadline deadline) {
  return Transact(sender, "updateState", {Id(id), AbiValue::Uint(static_cast<uint64_t>(state))},
                  deadline);
}

Result<Receipt> ServiceRegistry::UpdateRecoveryInfo(TxSender& sender, const ServiceId& id,
                                                    const RecoveryInfo& info, Deadline deadline) {
  std::vector<AbiValue> args = {Id(id)};
  for (auto& a : InfoArgs(info)) args.push_back(std::move(a));
  return Transact(sender, "updateRecoveryInfo", args, deadline);
}

Result<Receipt> ServiceRegistry::AddManager(TxSender& s, const ServiceId& id, const Address& a,
                                            Deadline d) {
  return Transact(s, "addManager", {Id(id), Addr(a)}, d);
}
Result<Receipt> ServiceRegistry::RemoveManager(TxSender& s, const ServiceId& id, const Address& a,
                                               Deadline d) {
  return Transact(s, "removeManager", {Id(id), Addr(a)}, d);
}
Result<Receipt> ServiceRegistry::AddOperator(TxSender& s, const ServiceId& id, const Address& a,
                                             Deadline d) {
  return Transact(s, "addOperator", {Id(id), Addr(a)}, d);
}
Result<Receipt> ServiceRegistry::RemoveOperator(TxSender& s, const ServiceId& id, const Address& a,
                                                Deadline d) {
  return Transact(s, "removeOperator", {Id(id), Addr(a)}, d);
}
Result<Receipt> ServiceRegistry::TransferOwnership(TxSender& s, const ServiceId& id,
                                                   const Address& new_owner, Deadline d) {
  return Transact(s, "transferOwnership", {Id(id), Addr(new_owner)}, d);
}
Result<Receipt> ServiceRegistry::Deregister(TxSender& s, const ServiceId& id, Deadline d) {
  return Transact(s, "deregister", {Id(id)}, d);
}
Result<Receipt> ServiceRegistry::SendClaim(TxSender& s, const ServiceId& id,
                                           const std::string& failed_location,
                                           const std::string& reason, Deadline d) {
  return Transact(s, "sendClaim", {Id(id), Str(failed_location), Str(reason)}, d);
}

Result<ServiceLocation> ServiceRegistry::GetServiceLocation(const ServiceId& id,
                                                            Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto v, Read("getServiceLocation", {Id(id)}, deadline));
  ServiceLocation out;
  out.location = v.at(0).AsString();
  out.epoch = v.at(1).word.low64();
  BR2K_ASSIGN_OR_RETURN(out.state, StateFromWord(v.at(2).word));
  return out;
}

Result<ServiceRecord> ServiceRegistry::GetService(const ServiceId& id, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto v, Read("getService", {Id(id)}, deadline));
  BR2K_ASSIGN_OR_RETURN(const AbiFunction* f, Abi().Function("getService"));
  Members m(f->outputs.at(0), v.at(0));
  ServiceRecord r;
  auto get = [&](std::string_view n) { return m.Get(n); };
  BR2K_ASSIGN_OR_RETURN(auto location, get("location"));
  r.location = location->AsString();
  BR2K_ASSIGN_OR_RETURN(auto owner, get("owner"));
  r.owner = owner->AsAddress();
  BR2K_ASSIGN_OR_RETURN(auto state, get("state"));
  BR2K_ASSIGN_OR_RETURN(r.state, StateFromWord(state->word));
  BR2K_ASSIGN_OR_RETURN(auto version, get("version"));
  r.version = version->word.low64();
  BR2K_ASSIGN_OR_RETURN(auto epoch, get("epoch"));
  r.epoch = epoch->word.low64();
  BR2K_ASSIGN_OR_RETURN(auto managers, get("managers"));
  for (const auto& a : managers->items) r.managers.push_back(a.AsAddress());
  BR2K_ASSIGN_OR_RETURN(auto operators, get("operators"));
  for (const auto& a : operators->items) r.operators.push_back(a.AsAddress());
  BR2K_ASSIGN_OR_RETURN(auto deployer, get("deployer"));
  r.deployer = deployer->AsAddress();
  BR2K_ASSIGN_OR_RETURN(auto ctx, get("deployContext"));
  r.recovery.deploy_context = ctx->AsString();
  BR2K_ASSIGN_OR_RETURN(auto replicas, get("replicas"));
  r.recovery.replicas = static_cast<uint32_t>(replicas->word.low64());
  BR2K_ASSIGN_OR_RETURN(auto reg, get("containerRegistry"));
  r.recovery.container_registry = reg->AsString();
  BR2K_ASSIGN_OR_RETURN(auto images, get("images"));
  for (const auto& i : images->items) r.recovery.images.push_back(i.AsString());
  return r;
}

Result<bool> ServiceRegistry::IsManager(const ServiceId& id, const Address& a, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto v, Read("isManager", {Id(id), Addr(a)}, deadline));
  return v.at(0).AsBool();
}

Result<bool> ServiceRegistry::IsOperator(const ServiceId& id, const Address& a, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto v, Read("isOperator", {Id(id), Addr(a)}, deadline));
  return v.at(0).AsBool();
}

Result<Address> ServiceRegistry::GetEpochWriter(const ServiceId& id, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto v, Read("getEpochWriter", {Id(id)}, deadline));
  return v.at(0).AsAddress();
}

Result<std::optional<RegistryEvent>> ServiceRegistry::DecodeEvent(const Log& log) {
  if (log.topics.empty()) return std::optional<RegistryEvent>();
  const AbiEvent* ev = Abi().EventByTopic(log.topics[0]);
  if (ev == nullptr) return std::optional<RegistryEvent>();
  BR2K_ASSIGN_OR_RETURN(auto args, DecodeLog(*ev, log.topics, log.data));
  RegistryEvent e;
  bool found = false;
  for (const auto& k : kKinds) {
    if (ev->name == k.event) {
      e.kind = k.kind;
      found = true;
    }
  }
  if (!found) return std::optional<RegistryEvent>();
  e.block_number = log.block_number;
  e.transaction_hash = log.transaction_hash;
  e.log_index = log.log_index;
  e.removed = log.removed;
  for (const auto& a : args) {
    const std::string& n = a.name;
    if (n == "serviceId") {
      BR2K_ASSIGN_OR_RETURN(e.service, Hash::FromView(a.value.bytes));
    } else if (n == "location" || n == "failedLocation") {
      e.location = a.value.AsString();
    } else if (n == "reason") {
      e.reason = a.value.AsString();
    } else if (n == "epoch") {
      e.epoch = a.value.word.low64();
    } else if (n == "previousEpoch") {
      e.previous_epoch = a.value.word.low64();
    } else if (n == "version") {
      e.version = a.value.word.low64();
    } else if (n == "state") {
      BR2K_ASSIGN_OR_RETURN(e.state, StateFromWord(a.value.word));
    } else if (n == "owner" || n == "manager" || n == "operator" || n == "newOwner" ||
               n == "claimant") {
      e.account = a.value.AsAddress();
    } else if (n == "previousOwner") {
      e.previous_owner = a.value.AsAddress();
    }
  }
  return std::optional<RegistryEvent>(std::move(e));
}

LogFilter ServiceRegistry::EventFilter(std::optional<ServiceId> service,
                                       const std::vector<RegistryEvent::Kind>& kinds,
                                       uint64_t from_block) const {
  LogFilter f;
  f.addresses = {address_};
  f.from_block = from_block;
  std::vector<Hash> topic0;
  for (auto k : kinds) {
    auto ev = Abi().Event(EventName(k));
    if (ev.ok()) topic0.push_back((*ev)->Topic());
  }
  f.topics.push_back(topic0);
  if (service) f.topics.push_back({*service});
  return f;
}

Result<std::vector<RegistryEvent>> ServiceRegistry::GetEvents(
    std::optional<ServiceId> service, const std::vector<RegistryEvent::Kind>& kinds,
    uint64_t from_block, std::optional<uint64_t> to_block, Deadline deadline) {
  LogFilter f = EventFilter(service, kinds, from_block);
  f.to_block = to_block;
  BR2K_ASSIGN_OR_RETURN(std::vector<Log> logs, client_->GetLogs(f, deadline));
  std::vector<RegistryEvent> out;
  for (const auto& l : logs) {
    BR2K_ASSIGN_OR_RETURN(auto e, DecodeEvent(l));
    if (e) out.push_back(std::move(*e));
  }
  return out;
}

Status ServiceRegistry::Watch(std::optional<ServiceId> service,
                              std::vector<RegistryEvent::Kind> kinds, uint64_t from_block,
                              const std::function<Status(const RegistryEvent&)>& on_event,
                              std::stop_token stop, Deadline deadline,
                              LogWatcher::Options options) {
  if (kinds.empty()) kinds = {RegistryEvent::Kind::kNewLocation, RegistryEvent::Kind::kClaim};
  LogWatcher w(client_, EventFilter(service, kinds, from_block), options);
  return w.Run(
      [&](const Log& l) -> Status {
        BR2K_ASSIGN_OR_RETURN(auto e, DecodeEvent(l));
        if (!e) return Status::Ok();
        return on_event(*e);
      },
      stop, deadline);
}

}  // namespace br2k::eth
