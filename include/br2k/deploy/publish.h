// The first half of a deploy: the service's images built (cached) and pushed to a container
// registry, the embedded one started when none is given. Records what it did in images.json and
// registry.json under the work directory, so a second run rebuilds and re-pushes nothing that
// did not change.
#pragma once

#include <filesystem>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/deploy/container_env.h"
#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/images.h"
#include "br2k/proc/command.h"
#include "br2k/proc/process.h"

namespace br2k::deploy {

struct PublishOptions {
  std::filesystem::path work_dir;    // images.json, registry.json, containers/, registry/
  std::filesystem::path app_binary;  // e.g. build/bin/br2k-logserver
  std::filesystem::path etcd_binary = "/usr/bin/etcd";
  std::string app_image_name = "br2k-logserver";
  std::string etcd_image_name = "br2k-etcd";
  // "host[:port]" of an existing registry; "" = the embedded one (started when not running).
  std::string registry;
  std::string repository = "br2k";
  std::string authfile;          // containers auth file ("" = the tools' default)
  bool detach_registry = false;  // the embedded registry outlives this process
};

struct Published {
  ContainerEnv env;
  ImageRecord app, etcd;      // as built
  std::string app_reference;  // by digest in the registry
  std::string etcd_reference;
  RegistryFile registry;          // as saved in registry.json
  bool started_registry = false;  // this call started the embedded registry
};

// Builds both images (reusing images.json's records when their inputs did not change), ensures
// the registry answers (starting the embedded one when `registry` is empty and it does not run),
// pushes both and saves the records. Errors of ImageBuilder::Build, StartEmbeddedRegistry and
// PushImage, with the step named.
Result<Published> BuildAndPublish(const PublishOptions& options, const ProgressFn& progress,
                                  Deadline deadline);

// The embedded registry of `work_dir`, when registry.json records one that still runs; the
// caller stops it with StopEmbeddedRegistry (`br2k down`, `br2k images registry stop`).
std::optional<EmbeddedRegistry> RunningEmbeddedRegistry(const std::filesystem::path& work_dir);

}  // namespace br2k::deploy
