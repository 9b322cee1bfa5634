// The chain side of `br2k up`: the Ethereum node (an embedded anvil, or an external one given by
// --rpc-url), the accounts of the local deployment, and the ServiceRegistry entry of the sample
// service (deployed or reused, registered, managers and operators added), so that the replicas
// can publish the leader's location and the manager can act on claims.
//
// Accounts, each in <run dir>/keys/<role>.key (one 0x-hex line, mode 0600):
//   owner        registers the service and adds the others (a manager too, as the owner)
//   manager      the manager daemon's account (a registered manager)
//   tx           the service's own account: the leader signs Normal requests' transactions
//   operator-<i> replica i's account (a registered operator): publishes the leader's location
// With the embedded anvil they are anvil's development keys (owner 0, operators 1-3 (then 6-9
// for more replicas), tx 4, manager 5; public, never real funds). With --rpc-url the owner is the
// --key-file given (not copied) and the other roles get fresh random keys, kept in keys/ and reused
// by later runs, each topped up from the owner to kRoleFunding when below kRoleMinBalance.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "br2k/cluster/local_anvil.h"
#include "br2k/common/deadline.h"
#include "br2k/common/run_state.h"
#include "br2k/common/status.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/service_registry.h"

namespace br2k::cli {

struct LocalChainOptions {
  std::filesystem::path run_dir;     // required; keys/ and anvil.log go there
  std::string rpc_url;               // "" = start an anvil
  std::optional<uint64_t> chain_id;  // expected chain id (the node's is checked against it)
  std::string owner_key_file;        // required with rpc_url; "" with anvil = development key 0
  std::string registry;              // "" = deploy a new ServiceRegistry
  std::string service_name = "logserver";
  size_t replicas = 3;   // operator accounts, one per replica
  int block_time_s = 0;  // anvil --block-time (0 = automine)
  bool detach = false;   // anvil outlives this process
};

// What SetUpRegistry found and did.
struct RegistrySetup {
  eth::Address registry;
  bool deployed = false;    // false: an existing registry was reused
  bool registered = false;  // false: the service was registered already
  eth::ServiceId service_id;
  uint64_t stored_epoch = 0;         // the fencing epoch on chain after set-up
  std::vector<std::string> changes;  // e.g. "added operator 0x..", for the progress line
};

// The accounts of a further service `br2k up` runs beside the first (the dashboard): fresh
// random keys in <run dir>/keys/<prefix>operator-<i>.key and <prefix>tx.key (0600, reused by
// later runs), on the embedded anvil and an external chain alike, never an account of the first
// service (two senders on one account collide on nonces).
struct ServiceKeys {
  std::string tx_key_file;
  std::vector<std::string> operator_key_files;  // one per replica
};

// One `br2k up`'s chain. Not thread-safe: `br2k up` drives it from one thread.
class LocalChain {
 public:
  // Top-up rule for the roles' accounts on an external chain (wei).
  static constexpr uint64_t kRoleMinBalance = 10'000'000'000'000'000;  // 0.01 ETH
  static constexpr uint64_t kRoleFunding = 50'000'000'000'000'000;     // 0.05 ETH

  // Starts anvil (or checks the node at rpc_url answers with the expected chain id), writes the
  // role keys and, on an external chain, funds them. INVALID_ARGUMENT for bad options (a key
  // file missing with --rpc-url, a malformed key), FAILED_PRECONDITION when anvil cannot be
  // found or the owner cannot fund the roles, UNAVAILABLE when the node does not answer. On
  // error nothing it started is left running.
  static Result<std::unique_ptr<LocalChain>> Start(const LocalChainOptions& options,
                                                   Deadline deadline);
  ~LocalChain();  // stops the embedded anvil unless Release()d
  LocalChain(const LocalChain&) = delete;
  LocalChain& operator=(const LocalChain&) = delete;

  // The chain section of the run state (registry filled in by SetUpRegistry).
  const ChainState& state() const { return state_; }
  bool embedded() const { return anvil_ != nullptr; }
  std::shared_ptr<eth::RpcClient> client() const { return client_; }
  // The role accounts topped up at start (external chain), as "<role> 0x..".
  const std::vector<std::string>& funded() const { return funded_; }

  // Deploys the registry (or connects to options.registry: FAILED_PRECONDITION when there is no
  // contract there), registers the service when it is not (location `placeholder_location`
  // until the leader publishes its own; recovery information "pending" with `replicas` until the
  // pods' own is written, see PendingRecoveryInfo), and adds the manager
  // and operator accounts that are missing. Idempotent. PERMISSION_DENIED (with the service's
  // owner) when the owner key may not change an existing service; FAILED_PRECONDITION when it
  // was deregistered.
  Result<RegistrySetup> SetUpRegistry(const std::string& placeholder_location, Deadline deadline);

  // Writes (or reuses) the keys of a further service under `prefix` (e.g. "dashboard-") with one
  // operator account per replica, and tops each up from the owner to kRoleFunding when below
  // kRoleMinBalance (on anvil too: the keys are not development keys). The accounts topped up
  // are appended to funded(). FAILED_PRECONDITION when the owner cannot fund them.
  Result<ServiceKeys> MakeServiceKeys(const std::string& prefix, size_t replicas,
                                      Deadline deadline);

  // In the registry SetUpRegistry set up: registers `name` when it is not (as SetUpRegistry does
  // for the first service: `placeholder_location`, recovery information pending), and adds the
  // manager account and the operators of `operator_key_files` that are missing. Idempotent.
  // Errors as SetUpRegistry's; FAILED_PRECONDITION before SetUpRegistry ran.
  Result<RegistrySetup> SetUpService(const std::string& name,
                                     const std::vector<std::string>& operator_key_files,
                                     const std::string& placeholder_location, Deadline deadline);

  // Stops the embedded anvil (OK when there is none).
  Status Stop();
  // Leaves the embedded anvil running (its pid is in state()), e.g. for `br2k up --detach`.
  void Release();

 private:
  LocalChain() = default;
  Status WriteRoleKeys(const LocalChainOptions& o);
  Status FundRoles(Deadline deadline);
  // Tops up each (role, key file) below kRoleMinBalance to kRoleFunding from the owner.
  Status FundAccounts(const std::vector<std::pair<std::string, std::string>>& roles,
                      Deadline deadline);

  LocalChainOptions options_;
  std::unique_ptr<cluster::LocalAnvil> anvil_;
  std::shared_ptr<eth::RpcClient> client_;
  ChainState state_;
  std::vector<std::string> funded_;
};

// Where the registry says the service is.
struct PublishedLocation {
  std::string location;
  uint64_t epoch = 0;
  eth::ServiceState state = eth::ServiceState::kNone;
};

// Reads the service's location from the registry of `chain`. Errors of the RPC client and of
// ServiceRegistry (NOT_FOUND for an unknown service).
// Writes the service's recovery information on chain with the owner's key (a manager of it).
// Errors of the registry call (PERMISSION_DENIED when the owner is no manager).
Status WriteRecoveryInfo(const ChainState& chain, const eth::RecoveryInfo& info, Deadline deadline);

Result<PublishedLocation> ReadPublishedLocation(const ChainState& chain, Deadline deadline);

// Waits until the registry of `chain` gives `leader_url` as the service's location.
// DEADLINE_EXCEEDED saying what the registry holds and the leader's last publishing error (from
// its GET /status), and naming `leader_log`.
Status WaitForPublishedLocation(const ChainState& chain, const std::string& leader_url,
                                const std::string& leader_log, Deadline deadline);

}  // namespace br2k::cli
