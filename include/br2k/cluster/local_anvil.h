// A local Ethereum development chain: Foundry's anvil as a child process on a loopback port,
// used by `br2k up` (the embedded chain of the local deployment) and by tests.
//
// anvil starts with ten funded development accounts derived from the well-known mnemonic
// "test test test test test test test test test test test junk"; kAnvilDevKeys are their
// private keys. They are public knowledge: never send real funds to them.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/key.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/proc/ownership.h"
#include "br2k/proc/process.h"

namespace br2k::cluster {

// anvil's default chain id.
inline constexpr uint64_t kAnvilChainId = 31337;

// Source: the "Private Keys" list anvil 1.x prints at start-up (derivation m/44'/60'/0'/0/i of
// the mnemonic above; the same accounts as Hardhat's defaults). Each holds 10000 ETH on a fresh
// anvil.
inline constexpr std::array<std::string_view, 10> kAnvilDevKeys = {
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
};

// Development key `index` (0-9). INVALID_ARGUMENT for another index.
Result<eth::PrivateKey> AnvilDevKey(size_t index);

// Where the anvil executable is, first match wins:
//   1. $BR2K_ANVIL_BIN;
//   2. node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil (the native binary of the npm
//      package pinned by package.json) in the directory of the running executable or one of its
//      parents (build/bin/br2k -> <repo>/node_modules), then in the working directory or one of
//      its parents;
//   3. `anvil` on $PATH (a Foundry installation).
// The npm wrapper node_modules/.bin/anvil is avoided on purpose: it is a node script that forks
// the native binary, so killing it could leave the node running.
// FAILED_PRECONDITION with what to do when none is found.
Result<std::filesystem::path> FindAnvilBinary();

struct LocalAnvilOptions {
  std::filesystem::path binary;  // "" = FindAnvilBinary()
  std::string host = "127.0.0.1";
  int port = 0;  // 0: a free port (retried with another one if it is taken meanwhile)
  uint64_t chain_id = kAnvilChainId;
  int block_time_s = 0;            // 0: a block per transaction (automine); else --block-time
  std::filesystem::path log_file;  // required: anvil's stdout and stderr (truncated at start)
  // "" or a file where anvil writes its configuration (accounts, keys, chain id) at start
  // (--config-out). Its path on the command line also tells which run directory a process is of.
  std::filesystem::path config_out;
  bool detach = false;                       // true: it outlives this process (`br2k up --detach`)
  std::shared_ptr<proc::Launcher> launcher;  // default proc::PosixLauncher()
};

// One anvil process. Not thread-safe: one owner drives it (the RpcClient it hands out is
// thread-safe). The destructor stops the process unless Release() was called.
class LocalAnvil {
 public:
  // Starts anvil and waits until it answers eth_chainId with options.chain_id.
  // FAILED_PRECONDITION when the binary cannot be found or run; INVALID_ARGUMENT for bad options
  // (no log file, port or chain id out of range); DEADLINE_EXCEEDED or UNAVAILABLE (with the end
  // of anvil's log) when it does not answer in time or exits. Nothing is left running on error.
  static Result<std::unique_ptr<LocalAnvil>> Start(LocalAnvilOptions options, Deadline deadline);
  ~LocalAnvil();
  LocalAnvil(const LocalAnvil&) = delete;
  LocalAnvil& operator=(const LocalAnvil&) = delete;

  const std::string& url() const { return url_; }  // http://<host>:<port>
  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // 0 once stopped
  // Who pid() is (argv, start time) for state.json (proc/ownership.h); captured at start.
  const proc::ProcessIdentity& identity() const { return identity_; }
  uint64_t chain_id() const { return options_.chain_id; }
  const std::filesystem::path& log_file() const { return options_.log_file; }
  const std::filesystem::path& binary() const { return options_.binary; }
  std::shared_ptr<eth::RpcClient> client() const { return client_; }

  // SIGTERM, then SIGKILL after `grace`. Idempotent; OK once the process is gone.
  Status Stop(std::chrono::milliseconds grace = std::chrono::seconds(3));
  // Forgets the process without stopping it (its pid is recorded elsewhere, e.g. state.json of a
  // detached `br2k up`); the destructor then leaves it running.
  void Release() { pid_ = 0; }

 private:
  explicit LocalAnvil(LocalAnvilOptions options) : options_(std::move(options)) {}

  LocalAnvilOptions options_;
  std::string url_;
  int port_ = 0;
  pid_t pid_ = 0;
  proc::ProcessIdentity identity_;
  std::shared_ptr<eth::RpcClient> client_;
};

}  // namespace br2k::cluster
