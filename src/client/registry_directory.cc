// ServiceDirectory over the on-chain ServiceRegistry binding.
#include <memory>

#include "br2k/client/service_directory.h"

namespace br2k::client {
namespace {

using eth::RegistryEvent;

class RegistryDirectory final : public ServiceDirectory {
 public:
  RegistryDirectory(std::shared_ptr<eth::RpcClient> rpc, std::unique_ptr<eth::ServiceRegistry> reg,
                    eth::ServiceId service, std::shared_ptr<eth::TxSender> claimer,
                    std::chrono::milliseconds poll, std::chrono::milliseconds step)
      : rpc_(std::move(rpc)),
        registry_(std::move(reg)),
        service_(service),
        claimer_(std::move(claimer)),
        poll_(poll),
        step_(step) {}

  std::string Describe() const override {
    return "registry " + registry_->address().ToChecksum() + " service " + service_.ToHex();
  }

  Result<eth::ServiceLocation> Lookup(Deadline deadline) override {
    return registry_->GetServiceLocation(service_, deadline);
  }

  Result<uint64_t> NextBlock(Deadline deadline) override {
    BR2K_ASSIGN_OR_RETURN(uint64_t head, rpc_->BlockNumber(deadline));
    return head + 1;
  }

  Status Watch(uint64_t from_block, const std::function<void(const LocationEvent&)>& on_event,
               std::stop_token stop) override {
    eth::LogWatcher::Options o;
    o.poll_interval = poll_;
    o.step_timeout = step_;
    return registry_->Watch(
        service_, {RegistryEvent::Kind::kNewLocation, RegistryEvent::Kind::kLocationRepaired},
        from_block,
        [&](const RegistryEvent& e) -> Status {
          const bool repaired = e.kind == RegistryEvent::Kind::kLocationRepaired;
          if ((e.kind != RegistryEvent::Kind::kNewLocation && !repaired) || e.removed) {
            return Status::Ok();
          }
          on_event(LocationEvent{e.location, e.epoch, e.block_number, e.transaction_hash.ToHex(),
                                 repaired});
          return Status::Ok();
        },
        stop, Deadline::Infinite(), o);
  }

  bool can_claim() const override { return claimer_ != nullptr; }

  Result<ClaimReceipt> Claim(const std::string& failed_location, const std::string& reason,
                             Deadline deadline) override {
    if (!claimer_) return FailedPreconditionError("no claim key: cannot send a Claim");
    BR2K_ASSIGN_OR_RETURN(
        auto receipt, registry_->SendClaim(*claimer_, service_, failed_location, reason, deadline));
    return ClaimReceipt{receipt.transaction_hash.ToHex(), receipt.block_number};
  }

 private:
  std::shared_ptr<eth::RpcClient> rpc_;
  std::unique_ptr<eth::ServiceRegistry> registry_;
  eth::ServiceId service_;
  std::shared_ptr<eth::TxSender> claimer_;
  std::chrono::milliseconds poll_;
  std::chrono::milliseconds step_;
};

}  // namespace

Result<std::shared_ptr<ServiceDirectory>> ConnectRegistryDirectory(
    std::shared_ptr<eth::RpcClient> rpc, const eth::Address& registry,
    const eth::ServiceId& service, std::shared_ptr<eth::TxSender> claimer, Deadline deadline,
    std::chrono::milliseconds poll_interval, std::chrono::milliseconds step_timeout) {
  if (!rpc) return InvalidArgumentError("registry directory: no RPC client");
  BR2K_ASSIGN_OR_RETURN(auto reg, eth::ServiceRegistry::Connect(rpc, registry, deadline));
  return std::shared_ptr<ServiceDirectory>(std::make_shared<RegistryDirectory>(
      std::move(rpc), std::move(reg), service, std::move(claimer), poll_interval, step_timeout));
}

}  // namespace br2k::client
