#include "registry_view.h"

#include <nlohmann/json.hpp>
#include <set>

namespace br2k::apps::dashboard {
namespace {

using eth::AbiValue;
using nlohmann::json;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  return s;
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json AddressList(const std::vector<eth::Address>& v) {
  json out = json::array();
  for (const auto& a : v) out.push_back(a.ToChecksum());
  return out;
}

json RecordJson(const std::string& id, const eth::ServiceRecord& r) {
  json images = json::array();
  for (const auto& i : r.recovery.images) images.push_back(SanitizeUtf8(i));
  return {{"id", id},
          {"location", SanitizeUtf8(r.location)},
          {"owner", r.owner.ToChecksum()},
          {"state", eth::ServiceStateName(r.state)},
          {"version", r.version},
          {"epoch", r.epoch},
          {"managers", AddressList(r.managers)},
          {"operators", AddressList(r.operators)},
          {"deployer", r.deployer.ToChecksum()},
          {"recovery",
           {{"deploy_context", SanitizeUtf8(r.recovery.deploy_context)},
            {"replicas", r.recovery.replicas},
            {"container_registry", SanitizeUtf8(r.recovery.container_registry)},
            {"images", images}}}};
}

}  // namespace

Result<replication::ChainCall> EncodeTx(const eth::Address& registry, const TxRequest& t) {
  BR2K_ASSIGN_OR_RETURN(const eth::AbiFunction* fn, eth::ServiceRegistry::Function(t.function));
  BR2K_ASSIGN_OR_RETURN(auto id, eth::Hash::FromHex(t.service));
  const AbiValue sid = AbiValue::Bytes_(id.ToBytes());
  auto info = [&] {
    std::vector<AbiValue> images;
    for (const auto& i : t.images) images.push_back(AbiValue::Str(i));
    return std::vector<AbiValue>{AbiValue::Str(t.deploy_context), AbiValue::Uint(t.replicas),
                                 AbiValue::Str(t.container_registry),
                                 AbiValue::List(std::move(images))};
  };
  std::vector<AbiValue> args{sid};
  const std::string& f = t.function;
  if (f == "register") {
    args.push_back(AbiValue::Str(t.location));
    for (auto& v : info()) args.push_back(std::move(v));
  } else if (f == "updateLocation") {
    args.push_back(AbiValue::Str(t.location));
    args.push_back(AbiValue::Uint(t.epoch));
  } else if (f == "updateState") {
    BR2K_ASSIGN_OR_RETURN(auto st, eth::ParseServiceState(t.state));
    args.push_back(AbiValue::Uint(static_cast<uint64_t>(st)));
  } else if (f == "updateRecoveryInfo") {
    for (auto& v : info()) args.push_back(std::move(v));
  } else if (f == "sendClaim") {
    args.push_back(AbiValue::Str(t.location));
    args.push_back(AbiValue::Str(t.reason));
  } else {  // add/remove manager/operator
    BR2K_ASSIGN_OR_RETURN(auto a, eth::Address::Parse(t.account));
    args.push_back(AbiValue::Addr(a));
  }
  BR2K_ASSIGN_OR_RETURN(auto data, fn->EncodeCall(args));
  return replication::ChainCall{.to = registry.ToChecksum(), .data = eth::ToHex(data)};
}

std::optional<ChainEvent> ToChainEvent(const eth::RegistryEvent& e) {
  using K = eth::RegistryEvent::Kind;
  if (e.kind != K::kRegistered && e.kind != K::kNewLocation && e.kind != K::kStateChanged &&
      e.kind != K::kClaim) {
    return std::nullopt;
  }
  ChainEvent c;
  c.kind = eth::RegistryEventKindName(e.kind);
  c.service = e.service.ToHex();
  c.tx = e.transaction_hash.ToHex();
  c.log_index = e.log_index;
  c.block = e.block_number;
  c.location = SanitizeUtf8(e.location.substr(0, kMaxTextBytes));
  if (e.kind == K::kClaim) c.reason = SanitizeUtf8(e.reason.substr(0, kMaxTextBytes));
  if (e.kind == K::kRegistered || e.kind == K::kClaim) c.account = Lower(e.account.ToChecksum());
  if (e.kind == K::kNewLocation) c.epoch = e.epoch;
  if (e.kind == K::kNewLocation || e.kind == K::kStateChanged) c.version = e.version;
  if (e.kind == K::kStateChanged) c.state = eth::ServiceStateName(e.state);
  return c;
}

Result<std::string> RegistryView::ServicesJson(Deadline deadline) {
  {
    std::lock_guard lock(mu_);
    if (!cached_.empty() && std::chrono::steady_clock::now() - cached_at_ < cache_for_) {
      return cached_;
    }
  }
  BR2K_ASSIGN_OR_RETURN(uint64_t head, client_->BlockNumber(deadline));
  BR2K_ASSIGN_OR_RETURN(
      auto registered, registry_.GetEvents(std::nullopt, {eth::RegistryEvent::Kind::kRegistered}, 0,
                                           head, deadline));
  json services = json::array();
  std::set<std::string> done;
  for (const auto& e : registered) {
    const std::string id = e.service.ToHex();
    if (!done.insert(id).second) continue;
    auto rec = registry_.GetService(e.service, deadline);
    json j;
    if (rec.ok()) {
      j = RecordJson(id, *rec);
    } else if (rec.status().code() == StatusCode::kNotFound ||
               rec.status().code() == StatusCode::kFailedPrecondition) {
      j = {{"id", id}, {"state", "None"}, {"error", rec.status().message()}};
    } else {
      return rec.status();
    }
    j["registered_block"] = e.block_number;
    services.push_back(std::move(j));
  }
  std::string out = Dump(
      {{"registry", registry_.address().ToChecksum()}, {"block", head}, {"services", services}});
  std::lock_guard lock(mu_);
  cached_ = out;
  cached_at_ = std::chrono::steady_clock::now();
  return out;
}

Result<std::string> RegistryView::ServiceJson(const std::string& id, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto sid, eth::Hash::FromHex(id));
  BR2K_ASSIGN_OR_RETURN(auto rec, registry_.GetService(sid, deadline));
  if (rec.owner == eth::Address()) return NotFoundError("no service " + id + " in the registry");
  return Dump(RecordJson(id, rec));
}

Status RegistryView::DryRun(const replication::ChainCall& call, const eth::Address& from,
                            Deadline deadline) {
  eth::CallRequest req;
  req.from = from;
  BR2K_ASSIGN_OR_RETURN(auto to, eth::Address::Parse(call.to));
  req.to = to;
  BR2K_ASSIGN_OR_RETURN(req.data, eth::FromHex(call.data));
  BR2K_ASSIGN_OR_RETURN(auto out,
                        client_->EthCall(req, deadline, eth::ServiceRegistry::Abi().errors));
  if (out.reverted) return eth::RegistryRevertToStatus(out.revert);
  return Status::Ok();
}

Result<std::string> RegistryView::ReceiptJson(const std::string& tx, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto hash, eth::Hash::FromHex(tx));
  BR2K_ASSIGN_OR_RETURN(auto receipt, client_->GetTransactionReceipt(hash, deadline));
  if (!receipt) return Dump({{"tx", hash.ToHex()}, {"pending", true}});
  json events = json::array();
  for (const auto& log : receipt->logs) {
    auto ev = eth::ServiceRegistry::DecodeEvent(log);
    if (ev.ok() && *ev) events.push_back(eth::RegistryEventKindName((*ev)->kind));
  }
  return Dump({{"tx", hash.ToHex()},
               {"block", receipt->block_number},
               {"status", receipt->success ? "success" : "reverted"},
               {"from", receipt->from.ToChecksum()},
               {"to", receipt->to ? receipt->to->ToChecksum() : ""},
               {"gas_used", receipt->gas_used},
               {"logs", receipt->logs.size()},
               {"events", events}});
}

}  // namespace br2k::apps::dashboard
