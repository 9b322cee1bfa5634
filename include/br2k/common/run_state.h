// The run-state document: what `br2k up` started and where, so that `br2k status` and
// `br2k down` (other processes, possibly much later) can find it. Stored as JSON in
// <run dir>/state.json, written atomically (temporary file + rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"

namespace br2k {

struct EtcdMemberState {
  std::string name;
  std::string client_url;  // http://127.0.0.1:PORT
  std::string peer_url;
  int pid = 0;
  std::string data_dir;
  std::string log_file;
  // Who the pid is (proc/ownership.h): the command line it was started with and its start time
  // (field 22 of /proc/<pid>/stat). Optional in the document (absent = empty / 0 = unknown).
  std::vector<std::string> argv;
  uint64_t start_time = 0;
};

// One replica of the replicated service (br2k-logserver for now).
struct ReplicaState {
  std::string id;   // node-<i>
  std::string url;  // http://127.0.0.1:PORT (its advertised URL)
  int pid = 0;
  std::string etcd_member;  // name of the etcd member beside it
  std::string data_dir;
  std::string log_file;
  // The exact command line it was started with (argv[0] = binary), so a deployment backend can
  // restart it as it was. Optional in the document (absent = empty).
  std::vector<std::string> argv;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat; optional (absent = 0 = unknown)
};

// The Ethereum side of a `br2k up` run: the chain the registry lives on and the accounts the
// local deployment uses. Key files hold one 0x-prefixed hex private key each (mode 0600); for the
// embedded anvil they are anvil's well-known development keys, never real funds.
struct ChainState {
  std::string rpc_url;  // http://127.0.0.1:PORT (or the configured external endpoint)
  uint64_t chain_id = 0;
  int anvil_pid = 0;      // 0 when the chain is external (not started by br2k up)
  std::string anvil_log;  // "" when external
  // The embedded anvil's command line and start time (proc/ownership.h). Optional in the
  // document (absent = empty / 0 = unknown).
  std::vector<std::string> anvil_argv;
  uint64_t anvil_start_time = 0;
  std::string registry;          // 0x-address of the ServiceRegistry contract
  std::string service_name;      // the registry id is keccak256(service_name)
  std::string owner_key_file;    // owner and manager of the service
  std::string manager_key_file;  // the manager daemon's key (a registered manager)
  std::string tx_key_file;       // the service's own key for Normal requests that send txs
  std::vector<std::string> operator_key_files;  // one per replica, same order as `replicas`
};

// The manager daemon `br2k up` started.
struct ManagerState {
  int pid = 0;
  std::string log_file;
  // Its command line and start time (proc/ownership.h). Optional in the document (absent =
  // empty / 0 = unknown).
  std::vector<std::string> argv;
  uint64_t start_time = 0;
};

// The service's deployment: pods (an etcd member and a replica each) on a pod runtime of the
// deployment library. The replicas' URLs are in RunState::replicas; their pids are the process
// runtime's records at the time of saving (0 for podman: not our children). A run state of an
// older `br2k up` has no such section (bare processes, RunState::replicas only).
struct ContainerState {
  std::string kind = "podman";  // "process" (`br2k up`), "podman" (`--containers`), "kubernetes"
  std::string context;          // context name ("local" for process)
  std::string root;  // process: the runtime's root (the run directory); podman: br2k's container
                     // environment (deploy/container_env.h)
  std::string name;  // deployment name (pods "<name>-<i>")
  std::string namespace_name = "default";
  int nodes = 0;
  int app_port_base = 0;
  int etcd_client_port_base = 0;
  int etcd_peer_port_base = 0;
  std::string container_registry;   // "<host>/<repository>" ("file://" for process)
  std::vector<std::string> images;  // [app, etcd] by digest (executable images for process)
  int registry_pid = 0;             // the embedded docker-registry (0 = none)
  int registry_port = 0;
  std::string registry_root;
};

// A second replicated service `br2k up` runs beside the first (the Service Registry Dashboard,
// br2k-dashboard): its own deployment of the deployment library (its own pods, etcd members and
// on-chain recovery information, so that a manager recovers it alone), registered in the same
// registry as `name` by the same owner, with its own accounts: one operator key per replica and
// its own tx key (never shared with the first service's, whose leader sends from those).
// The replicas' pids are the process runtime's records at the time of saving (0 for podman).
struct ServiceState {
  std::string name;  // registry name (id keccak256(name)) and deployment name
  std::string tx_key_file;
  std::vector<std::string> operator_key_files;  // one per replica, same order as `replicas`
  ContainerState deployment;
  std::vector<ReplicaState> replicas;  // optional in the document (absent = none)
  std::vector<EtcdMemberState> etcd;   // optional in the document (absent = none)
};

struct RunState {
  static constexpr int kVersion = 1;
  std::string run_dir;
  int64_t started_at_unix = 0;
  int heartbeat_ms = 0;
  int election_ms = 0;
  bool detached = false;
  int owner_pid = 0;  // the `br2k up` process that owns the children (0 when detached)
  std::vector<EtcdMemberState> etcd;
  std::string service;                       // service id of the replicas ("" when none run)
  std::vector<ReplicaState> replicas;        // optional in the document (absent = none)
  std::optional<ChainState> chain;           // optional (absent = no chain)
  std::optional<ManagerState> manager;       // optional (absent = no manager)
  std::optional<ContainerState> containers;  // optional (absent = local processes)
  // Optional (absent = no dashboard: `up --no-dashboard`, or a state of an older `br2k up`).
  std::optional<ServiceState> dashboard;

  // Parses and validates a document. INVALID_ARGUMENT (with the offending field named) for
  // malformed JSON, a wrong version, missing or mistyped fields, or out-of-range values.
  // Never throws.
  static Result<RunState> Parse(std::string_view json);
  std::string Serialize() const;

  // NOT_FOUND when the file does not exist; INVALID_ARGUMENT when it is corrupt.
  static Result<RunState> Load(const std::filesystem::path& file);
  // Writes `file` atomically. INTERNAL with errno text on I/O failure.
  Status Save(const std::filesystem::path& file) const;
};

}  // namespace br2k
