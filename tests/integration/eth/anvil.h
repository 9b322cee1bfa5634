// A private anvil (Foundry's local Ethereum node) for integration tests: started on a free
// loopback port with the project's node_modules binary, stopped by the destructor.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "br2k/common/status.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/proc/process.h"
#include "test_env.h"

namespace br2k::eth::testing {

// anvil's first default account (mnemonic "test test ... junk"), funded with 10000 ETH.
inline constexpr const char* kAnvilKey0 =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
inline constexpr const char* kAnvilKey1 =
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
inline constexpr uint64_t kAnvilChainId = 31337;

class Anvil {
 public:
  // Starts anvil and waits until it answers eth_chainId. Retries on a port race.
  static Result<std::unique_ptr<Anvil>> Start(const std::string& tag);
  ~Anvil();
  Anvil(const Anvil&) = delete;
  Anvil& operator=(const Anvil&) = delete;

  const std::string& url() const { return url_; }
  std::shared_ptr<RpcClient> client() const { return client_; }
  std::string log() const;

 private:
  Anvil() = default;
  std::unique_ptr<br2k::testing::ScratchDir> dir_;
  std::shared_ptr<proc::Launcher> launcher_;
  pid_t pid_ = -1;
  std::string url_;
  std::shared_ptr<RpcClient> client_;
};

}  // namespace br2k::eth::testing
