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
// Accounts 2-4 of the same mnemonic (as anvil prints them under "Private Keys" at start-up),
// for tests that need several funded keys (e.g. one operator key per replica).
inline constexpr const char* kAnvilKey2 =
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
inline constexpr const char* kAnvilKey3 =
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";
inline constexpr const char* kAnvilKey4 =
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
inline constexpr uint64_t kAnvilChainId = 31337;

class Anvil {
 public:
  // Starts anvil and waits until it answers eth_chainId. Retries on a port race. With `port`
  // (non-zero) it listens there, without retries (e.g. a node that comes up where clients have
  // been failing to connect).
  static Result<std::unique_ptr<Anvil>> Start(const std::string& tag, int port = 0);
  ~Anvil();
  Anvil(const Anvil&) = delete;
  Anvil& operator=(const Anvil&) = delete;

  const std::string& url() const { return url_; }
  std::shared_ptr<RpcClient> client() const { return client_; }
  // The anvil process, for fault injection (e.g. SIGSTOP to hang the node).
  pid_t pid() const { return pid_; }
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
