// The local deployment backend: the service runs as child processes on this machine, the way
// `br2k up` starts them, described by <run dir>/state.json (RunState).
//
// Deploy restarts every replica whose process is gone, with the exact argv it was started with
// (RunState's ReplicaState::argv), so it keeps its id, port/URL and data directory (its durable
// state is intact), appending to the same log file, detached from the manager (it outlives it,
// like `br2k up --detach` children). The new pids are written back into state.json with a
// load-modify-save under the StateLock (state_lock.h), so `br2k down` stops them, with their
// start times. A replica is taken as running when its pid is alive and still the process we
// started (proc::IsOurs: same executable, exact argv, same start time when recorded; pids get
// reused). etcd members are not restarted: when one is down the report warns.
//
// Endpoints and Check read state.json without the lock (it is replaced atomically).
// Thread-safe: concurrent Deploys are serialised by the state lock.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "br2k/common/run_state.h"
#include "br2k/manager/deployment_backend.h"
#include "br2k/manager/health_prober.h"
#include "br2k/proc/process.h"

namespace br2k::manager {

struct LocalBackendOptions {
  std::filesystem::path run_dir;  // required
  // The registry ids this backend deploys. Empty: the one named by the run state's chain section
  // (keccak256(chain.service_name)), read at each call.
  std::vector<eth::ServiceId> services;
  std::shared_ptr<proc::Launcher> launcher;  // default proc::PosixLauncher()
  std::shared_ptr<HealthProber> prober;      // default MakeHttpHealthProber()
  // Is this replica's process running? Default: launcher->Alive(pid) and proc::IsOurs on its
  // pid, argv and start time (so a reused pid is not taken for the replica).
  std::function<bool(const ReplicaState&)> is_running;
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(10)};
};

class LocalBackend final : public DeploymentBackend {
 public:
  explicit LocalBackend(LocalBackendOptions options);

  std::string Name() const override { return "local"; }
  // The replicas' URLs from state.json. NOT_FOUND for a service this backend does not deploy;
  // FAILED_PRECONDITION when state.json is missing (nothing deployed here, or `br2k down` ran)
  // or corrupt.
  Result<std::vector<std::string>> Endpoints(const eth::ServiceId& service,
                                             Deadline deadline) override;
  // CheckLocalRecoveryInfo (local_recovery.h) against the run state, plus: every replica has a
  // recorded argv (FAILED_PRECONDITION naming the replica otherwise).
  Status Check(const eth::ServiceId& service, const eth::RecoveryInfo& info,
               Deadline deadline) override;
  // See the file comment. Returns when every restarted replica answers GET /health 200;
  // UNAVAILABLE naming the replica and its log when one cannot be started or exits first.
  Result<DeployReport> Deploy(const eth::ServiceId& service, const eth::RecoveryInfo& info,
                              Deadline deadline) override;

 private:
  Result<RunState> LoadState() const;
  Status CheckServed(const eth::ServiceId& service, const RunState& state) const;
  Status CheckDeployable(const eth::RecoveryInfo& info, const RunState& state) const;
  bool IsRunning(const ReplicaState& r) const;

  LocalBackendOptions options_;
};

}  // namespace br2k::manager
