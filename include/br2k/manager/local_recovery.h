// Whether a service's on-chain recovery information asks for something the local deployment
// backend can deploy. The recovery information is external input (written by any manager of the
// service), so it is checked field by field and a refusal says what was asked and what the
// backend has.
//
// The local backend accepts:
//   deploy_context      "local", or "local:<run dir>" naming this backend's run directory
//                       (compared as absolute, normalised paths)
//   replicas            exactly the number of replicas in the run state (at least 1)
//   container_registry  "local" or "" (the images are binaries on this machine)
//   images              one or more, each the replicas' binary name ("br2k-logserver"),
//                       optionally with a ":tag" or "@digest" suffix
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "br2k/common/status.h"
#include "br2k/eth/service_registry.h"

namespace br2k::manager {

// What a local deployment (one run directory) consists of.
struct LocalDeployment {
  std::filesystem::path run_dir;
  size_t replicas = 0;
  std::string binary_name;  // basename of the replicas' argv[0], e.g. "br2k-logserver"
};

// The image name without a registry-independent ":tag" or "@digest" suffix
// ("br2k-logserver:dev" -> "br2k-logserver"). A ':' inside a path component before the last '/'
// (a registry port, "host:5000/app") is kept.
std::string ImageName(std::string_view image);

// OK when `info` asks for `have`; FAILED_PRECONDITION naming the first mismatching field
// otherwise (e.g. `deploy context "k8s-prod" is not local (the local backend deploys "local" or
// "local:/run/dir")`). Never throws; safe on any input.
Status CheckLocalRecoveryInfo(const eth::RecoveryInfo& info, const LocalDeployment& have);

}  // namespace br2k::manager
