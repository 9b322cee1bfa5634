// The typed C++ binding of contracts/ServiceRegistry.sol: deploy it, register and update
// services, read them, send claims, and follow its events.
//
// The contract's ABI and bytecode are compiled from the .sol file during the build and embedded
// (no selector or topic is written by hand). Refusals come back as Status codes:
//   UnknownService -> NOT_FOUND, ServiceDeregistered -> FAILED_PRECONDITION,
//   NotOwner/NotManager/NotOperator -> PERMISSION_DENIED, StaleEpoch and EpochHeldByOther ->
//   ABORTED, EpochJumpTooLarge -> OUT_OF_RANGE,
//   ServiceExists/AlreadyManager/AlreadyOperator -> ALREADY_EXISTS, other refusals ->
//   INVALID_ARGUMENT; the message is the decoded error, e.g. "StaleEpoch(0x12.., 3, 5)".
// Transactions are checked with eth_call first (so a refusal costs no gas) and then sent and
// waited for. Thread-safe: a ServiceRegistry may be shared; each transaction uses the TxSender
// passed to it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/eth/abi.h"
#include "br2k/eth/log_watcher.h"
#include "br2k/eth/rpc_client.h"
#include "br2k/eth/tx_sender.h"

namespace br2k::eth {

enum class ServiceState : uint8_t {
  kNone = 0,
  kActive = 1,
  kFailed = 2,
  kRecovering = 3,
  kRetired = 4
};
// "Active", "Failed", ...
std::string ServiceStateName(ServiceState s);
// Case-insensitive name; INVALID_ARGUMENT otherwise.
Result<ServiceState> ParseServiceState(std::string_view name);

using ServiceId = Hash;
// The id of a service named `name`: Keccak-256 of the name. A 0x-prefixed 64-digit hex string
// is taken as an id as it is.
ServiceId ServiceIdFromName(std::string_view name);

struct RecoveryInfo {
  std::string deploy_context;  // Kubernetes context used to deploy the service
  uint32_t replicas = 0;
  std::string container_registry;  // where its images live
  std::vector<std::string> images;
  friend bool operator==(const RecoveryInfo&, const RecoveryInfo&) = default;
};

struct ServiceRecord {
  std::string location;
  Address owner;
  ServiceState state = ServiceState::kNone;
  uint64_t version = 0;  // bumped by every change
  uint64_t epoch = 0;    // fencing value of the last location update
  std::vector<Address> managers;
  std::vector<Address> operators;
  Address deployer;
  RecoveryInfo recovery;
};

struct ServiceLocation {
  std::string location;
  uint64_t epoch = 0;
  ServiceState state = ServiceState::kNone;
};

struct RegistryEvent {
  enum class Kind {
    kRegistered,
    kNewLocation,
    kStateChanged,
    kRecoveryInfoUpdated,
    kManagerAdded,
    kManagerRemoved,
    kOperatorAdded,
    kOperatorRemoved,
    kOwnershipTransferred,
    kDeregistered,
    kClaim,
    kLocationRepaired  // last: `br2k registry watch --all` iterates up to it
  };
  Kind kind = Kind::kRegistered;
  ServiceId service;
  std::string location;                      // Registered, NewLocation; Claim: the failed location
  std::string reason;                        // Claim
  uint64_t epoch = 0;                        // NewLocation, LocationRepaired
  uint64_t previous_epoch = 0;               // LocationRepaired: the epoch it replaced
  uint64_t version = 0;                      // NewLocation, StateChanged, RecoveryInfoUpdated
  ServiceState state = ServiceState::kNone;  // StateChanged
  Address account;                           // Registered: owner; Manager*/Operator*: the account;
                                             // OwnershipTransferred: new owner; Claim: claimant;
                                             // LocationRepaired: the manager
  Address previous_owner;                    // OwnershipTransferred
  // Where it happened.
  uint64_t block_number = 0;
  Hash transaction_hash;
  uint64_t log_index = 0;
  bool removed = false;  // dropped by a reorg (subscriptions only)
};
std::string RegistryEventKindName(RegistryEvent::Kind k);

class ServiceRegistry {
 public:
  // The contract's MAX_EPOCH_JUMP: the largest rise of the epoch one update may make.
  static constexpr uint64_t kMaxEpochJump = uint64_t{1} << 48;
  // The compiled contract.
  static const ContractAbi& Abi();
  static const Bytes& Bytecode();

  // Deploys a new registry from `sender`'s account; returns its address.
  static Result<Address> Deploy(TxSender& sender, Deadline deadline);
  // Binds to the registry at `address`. FAILED_PRECONDITION when there is no code there.
  static Result<std::unique_ptr<ServiceRegistry>> Connect(std::shared_ptr<RpcClient> client,
                                                          const Address& address,
                                                          Deadline deadline);
  ServiceRegistry(std::shared_ptr<RpcClient> client, const Address& address)
      : client_(std::move(client)), address_(address) {}

  const Address& address() const { return address_; }

  // ---- transactions (each returns the mined receipt) ----
  Result<Receipt> Register(TxSender& sender, const ServiceId& id, const std::string& location,
                           const RecoveryInfo& info, Deadline deadline);
  // Managers and operators. ABORTED (StaleEpoch) when `epoch` is below the stored epoch;
  // ABORTED (EpochHeldByOther) when it equals the stored epoch and another account wrote that
  // one; OUT_OF_RANGE (EpochJumpTooLarge) when it is more than kMaxEpochJump above it.
  Result<Receipt> UpdateLocation(TxSender& sender, const ServiceId& id, const std::string& location,
                                 uint64_t epoch, Deadline deadline);
  // Managers only: sets location and epoch, lower than the stored epoch if need be (repairs a
  // pinned epoch or a hijacked location); emits LocationRepaired and NewLocation.
  // PERMISSION_DENIED (NotManager); OUT_OF_RANGE (EpochJumpTooLarge) as UpdateLocation.
  Result<Receipt> RepairLocation(TxSender& sender, const ServiceId& id, const std::string& location,
                                 uint64_t epoch, Deadline deadline);
  Result<Receipt> UpdateState(TxSender& sender, const ServiceId& id, ServiceState state,
                              Deadline deadline);
  Result<Receipt> UpdateRecoveryInfo(TxSender& sender, const ServiceId& id,
                                     const RecoveryInfo& info, Deadline deadline);
  Result<Receipt> AddManager(TxSender& sender, const ServiceId& id, const Address& a,
                             Deadline deadline);
  Result<Receipt> RemoveManager(TxSender& sender, const ServiceId& id, const Address& a,
                                Deadline deadline);
  Result<Receipt> AddOperator(TxSender& sender, const ServiceId& id, const Address& a,
                              Deadline deadline);
  Result<Receipt> RemoveOperator(TxSender& sender, const ServiceId& id, const Address& a,
                                 Deadline deadline);
  Result<Receipt> TransferOwnership(TxSender& sender, const ServiceId& id, const Address& new_owner,
                                    Deadline deadline);
  Result<Receipt> Deregister(TxSender& sender, const ServiceId& id, Deadline deadline);
  // Anyone: "service `id` is failing at `failed_location`".
  Result<Receipt> SendClaim(TxSender& sender, const ServiceId& id,
                            const std::string& failed_location, const std::string& reason,
                            Deadline deadline);

  // ---- reads ----
  Result<ServiceLocation> GetServiceLocation(const ServiceId& id, Deadline deadline);
  Result<ServiceRecord> GetService(const ServiceId& id, Deadline deadline);
  Result<bool> IsManager(const ServiceId& id, const Address& a, Deadline deadline);
  Result<bool> IsOperator(const ServiceId& id, const Address& a, Deadline deadline);
  // The account that wrote the stored epoch (the zero address before the first update).
  Result<Address> GetEpochWriter(const ServiceId& id, Deadline deadline);

  // ---- events ----
  // Decodes a log of this contract; nullopt for a log that is not a registry event.
  static Result<std::optional<RegistryEvent>> DecodeEvent(const Log& log);
  // The filter for this registry's events, optionally of one service and some kinds only.
  LogFilter EventFilter(std::optional<ServiceId> service = std::nullopt,
                        const std::vector<RegistryEvent::Kind>& kinds = {},
                        uint64_t from_block = 0) const;
  // Past events in [from_block, to_block or latest].
  Result<std::vector<RegistryEvent>> GetEvents(std::optional<ServiceId> service,
                                               const std::vector<RegistryEvent::Kind>& kinds,
                                               uint64_t from_block,
                                               std::optional<uint64_t> to_block, Deadline deadline);
  // Follows events (NewLocation and Claim by default) from `from_block` until `stop` or
  // `deadline`; see LogWatcher for delivery guarantees.
  Status Watch(std::optional<ServiceId> service, std::vector<RegistryEvent::Kind> kinds,
               uint64_t from_block, const std::function<Status(const RegistryEvent&)>& on_event,
               std::stop_token stop, Deadline deadline,
               LogWatcher::Options options = LogWatcher::Options());

  // The function of the registry's ABI named `name` (for the CLI).
  static Result<const AbiFunction*> Function(std::string_view name) { return Abi().Function(name); }

 private:
  Result<Receipt> Transact(TxSender& sender, std::string_view function,
                           const std::vector<AbiValue>& args, Deadline deadline);
  Result<std::vector<AbiValue>> Read(std::string_view function, const std::vector<AbiValue>& args,
                                     Deadline deadline);

  std::shared_ptr<RpcClient> client_;
  Address address_;
};

// Maps a decoded registry revert to a Status (see the table above).
Status RegistryRevertToStatus(const RevertReason& r);

}  // namespace br2k::eth
