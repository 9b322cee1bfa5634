#include "registry_chain.h"

namespace br2k::eth::testing {

Result<std::unique_ptr<RegistryChain>> StartRegistryChain(const std::string& tag,
                                                          Deadline deadline) {
  auto c = std::make_unique<RegistryChain>();
  BR2K_ASSIGN_OR_RETURN(c->anvil, Anvil::Start(tag));
  auto sender = [&](const char* hex) {
    return TxSender::Create(c->anvil->client(), *PrivateKey::FromHex(hex), kAnvilChainId, deadline);
  };
  BR2K_ASSIGN_OR_RETURN(c->owner, sender(kAnvilKey0));
  BR2K_ASSIGN_OR_RETURN(c->second_key, sender(kAnvilKey1));
  BR2K_ASSIGN_OR_RETURN(Address at, ServiceRegistry::Deploy(*c->owner, deadline));
  BR2K_ASSIGN_OR_RETURN(c->registry, ServiceRegistry::Connect(c->anvil->client(), at, deadline));
  return c;
}

}  // namespace br2k::eth::testing
