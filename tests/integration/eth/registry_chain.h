// A private anvil with a freshly deployed ServiceRegistry, for integration tests that need the
// on-chain registry (client, manager): the owner (anvil key 0) deployed it; a second funded key
// (anvil key 1) acts as a claimer or a manager.
#pragma once

#include <memory>
#include <string>

#include "anvil.h"
#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/service_registry.h"
#include "br2k/eth/tx_sender.h"

namespace br2k::eth::testing {

// Owns everything; destroy it to stop anvil. Not thread-safe beyond what its parts document.
struct RegistryChain {
  std::unique_ptr<Anvil> anvil;
  std::unique_ptr<TxSender> owner;       // anvil key 0, the registry's deployer
  std::shared_ptr<TxSender> second_key;  // anvil key 1
  std::shared_ptr<ServiceRegistry> registry;
};

// Errors of Anvil::Start, TxSender::Create and ServiceRegistry::Deploy/Connect.
Result<std::unique_ptr<RegistryChain>> StartRegistryChain(const std::string& tag,
                                                          Deadline deadline);

}  // namespace br2k::eth::testing
