// The log server deployed for a benchmark as `br2k up` deploys it: N pods (an etcd member and a
// br2k-logserver replica each) on the process runtime, from the executables next to the bench
// binary (pinned by digest), on loopback ports. Removed with its data by the destructor.
//
// Thread safety: none; one benchmark thread owns it.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/deploy/process_runtime.h"
#include "br2k/deploy/spec.h"

namespace br2k::bench {

struct LogServerDeploymentOptions {
  std::filesystem::path dir;  // the runtime's root (created)
  std::filesystem::path bin;  // the folder holding br2k-logserver
  std::string name = "bench";
  size_t nodes = 3;
  int etcd_heartbeat_ms = 0;  // 0 = the spec's default
  int etcd_election_ms = 0;
  std::vector<std::string> app_args;  // extra br2k-logserver flags
};

class LogServerDeployment {
 public:
  // Deploys and waits (bounded: 2 minutes) until every pod runs and answers.
  static Result<std::unique_ptr<LogServerDeployment>> Deploy(LogServerDeploymentOptions options);
  ~LogServerDeployment();

  const deploy::DeploymentSpec& spec() const { return spec_; }
  size_t nodes() const { return spec_.nodes; }
  std::string AppUrl(size_t i) const { return spec_.AppUrl(i); }
  // The etcd members' client URLs, the Raft leader's first.
  std::vector<std::string> EtcdEndpoints() const;
  // The index of the replica that answers /status as Leader, waiting up to `wait`.
  std::optional<size_t> LeaderIndex(std::chrono::milliseconds wait) const;
  // The pid of pod i's container ("app" or "etcd"), 0 when it does not run.
  pid_t Pid(size_t i, const std::string& container) const;
  // Re-applies the deployment (restarts what died) and waits until every pod answers.
  Status Restore();

 private:
  LogServerDeployment(std::shared_ptr<deploy::ProcessRuntime> runtime, deploy::DeploymentSpec spec)
      : runtime_(std::move(runtime)), spec_(std::move(spec)) {}
  std::shared_ptr<deploy::ProcessRuntime> runtime_;
  deploy::DeploymentSpec spec_;
};

}  // namespace br2k::bench
