#include "br2k/manager/registry_gateway.h"

#include <algorithm>

namespace br2k::manager {

namespace {

using Kind = eth::RegistryEvent::Kind;

bool Wanted(const std::vector<eth::ServiceId>& services, const eth::ServiceId& id) {
  return services.empty() || std::find(services.begin(), services.end(), id) != services.end();
}

// With exactly one service the node filters by its topic; otherwise we filter here.
std::optional<eth::ServiceId> TopicFilter(const std::vector<eth::ServiceId>& services) {
  if (services.size() == 1) return services.front();
  return std::nullopt;
}

class OnChainRegistryGateway final : public RegistryGateway {
 public:
  OnChainRegistryGateway(std::shared_ptr<eth::ServiceRegistry> registry,
                         std::shared_ptr<eth::TxSender> manager, eth::LogWatcher::Options watch)
      : registry_(std::move(registry)), manager_(std::move(manager)), watch_(watch) {}

  Result<uint64_t> HeadBlock(Deadline deadline) override {
    return manager_->client().BlockNumber(deadline);
  }

  Result<eth::ServiceRecord> GetService(const eth::ServiceId& service, Deadline deadline) override {
    return registry_->GetService(service, deadline);
  }

  Status UpdateState(const eth::ServiceId& service, eth::ServiceState state,
                     Deadline deadline) override {
    return registry_->UpdateState(*manager_, service, state, deadline).status();
  }

  Result<std::vector<eth::RegistryEvent>> PastClaims(const std::vector<eth::ServiceId>& services,
                                                     uint64_t from_block, uint64_t to_block,
                                                     Deadline deadline) override {
    BR2K_ASSIGN_OR_RETURN(auto events, registry_->GetEvents(TopicFilter(services), {Kind::kClaim},
                                                            from_block, to_block, deadline));
    std::vector<eth::RegistryEvent> out;
    for (auto& e : events) {
      if (e.kind == Kind::kClaim && Wanted(services, e.service)) out.push_back(std::move(e));
    }
    return out;
  }

  Status WatchClaims(const std::vector<eth::ServiceId>& services, uint64_t from_block,
                     const std::function<Status(const eth::RegistryEvent&)>& on_claim,
                     std::stop_token stop) override {
    return registry_->Watch(
        TopicFilter(services), {Kind::kClaim}, from_block,
        [&](const eth::RegistryEvent& e) -> Status {
          if (e.kind != Kind::kClaim || !Wanted(services, e.service)) return Status::Ok();
          return on_claim(e);
        },
        stop, Deadline::Infinite(), watch_);
  }

 private:
  std::shared_ptr<eth::ServiceRegistry> registry_;
  std::shared_ptr<eth::TxSender> manager_;
  eth::LogWatcher::Options watch_;
};

}  // namespace

std::shared_ptr<RegistryGateway> MakeOnChainRegistryGateway(
    std::shared_ptr<eth::ServiceRegistry> registry, std::shared_ptr<eth::TxSender> manager,
    eth::LogWatcher::Options watch) {
  return std::make_shared<OnChainRegistryGateway>(std::move(registry), std::move(manager), watch);
}

}  // namespace br2k::manager
