#include "br2k/manager/container_backend.h"

#include <spdlog/spdlog.h>

#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/recovery.h"

namespace br2k::manager {

Result<std::shared_ptr<ContainerBackend>> ContainerBackend::Create(ContainerBackendOptions o) {
  if (!o.runtime || !o.registry)
    return Status(StatusCode::kInvalidArgument,
                  "container backend: runtime and registry are required");
  if (o.context_name.empty())
    return Status(StatusCode::kInvalidArgument, "container backend: a context name is required");
  if (!o.runner) o.runner = proc::PosixCommandRunner();
  if (!o.image_exists) {
    auto env = o.env;
    auto runner = o.runner;
    auto authfile = o.authfile;
    o.image_exists = [env, runner, authfile](const std::string& ref, Deadline d) {
      return deploy::CheckImageInRegistry(env, *runner, ref, authfile, d);
    };
  }
  return std::shared_ptr<ContainerBackend>(new ContainerBackend(std::move(o)));
}

deploy::DeploymentSpec ContainerBackend::SpecFor(const eth::ServiceId& service,
                                                 const deploy::ContainerRecovery& r) const {
  auto spec = deploy::SpecForRecovery(r, options_.base);
  if (auto it = options_.service_names.find(service.ToHex()); it != options_.service_names.end())
    spec.chain.service_name = it->second;
  return spec;
}

Result<std::vector<std::string>> ContainerBackend::Endpoints(const eth::ServiceId& service,
                                                             Deadline deadline) {
  auto record = options_.registry->GetService(service, deadline);
  if (!record.ok()) return record.status();
  auto r = deploy::DecodeRecovery(record->recovery);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound) return r.status();
    return Status(StatusCode::kFailedPrecondition, r.status().message());
  }
  auto spec = SpecFor(service, *r);
  std::vector<std::string> urls;
  for (size_t i = 0; i < spec.nodes; ++i) urls.push_back(spec.AppUrl(i));
  return urls;
}

Status ContainerBackend::Check(const eth::ServiceId&, const eth::RecoveryInfo& info,
                               Deadline deadline) {
  auto r = deploy::DecodeRecovery(info);
  // Not a container deployment, or malformed: either way nothing this backend can deploy.
  if (!r.ok()) return Status(StatusCode::kFailedPrecondition, r.status().message());
  if (r->kind != options_.runtime->Kind())
    return Status(StatusCode::kFailedPrecondition, "the service was deployed on " + r->kind +
                                                       ", this manager deploys on " +
                                                       options_.runtime->Kind());
  if (r->context != options_.context_name)
    return Status(StatusCode::kFailedPrecondition, "unknown context \"" + r->context +
                                                       "\" (this manager has \"" +
                                                       options_.context_name + "\")");
  if (r->kind == "kubernetes" && r->server != options_.context_server)
    return Status(StatusCode::kFailedPrecondition,
                  "context \"" + r->context + "\" points at " + options_.context_server +
                      " here, but the service was deployed at " + r->server);
  for (const auto& image : {r->app_image, r->etcd_image}) {
    Status st = options_.image_exists(image, deadline);
    if (st.code() == StatusCode::kNotFound)
      return Status(StatusCode::kFailedPrecondition, "missing digest: " + st.message());
    if (!st.ok())
      return Status(StatusCode::kFailedPrecondition, "container registry " + r->container_registry +
                                                         " cannot be reached: " + st.message());
  }
  return Status::Ok();
}

Result<DeployReport> ContainerBackend::Deploy(const eth::ServiceId& service,
                                              const eth::RecoveryInfo& info, Deadline deadline) {
  if (Status st = Check(service, info, deadline); !st.ok()) return st;
  auto r = deploy::DecodeRecovery(info);
  auto spec = SpecFor(service, *r);
  DeployReport report;
  auto before = options_.runtime->Pods(spec, deadline);
  if (!before.ok()) return before.status();
  for (const auto& p : *before) {
    if (p.phase == "Running")
      report.already_running.push_back(p.name);
    else
      report.started.push_back(p.name + " (was " + p.phase + ")");
  }
  auto progress = [&](const std::string& line) {
    spdlog::info("manager: {}: {}", spec.name, line);
  };
  auto out = deploy::DeployAndWait(*options_.runtime, spec, spec.nodes / 2 + 1, progress, deadline);
  if (!out.ok()) return out.status();
  for (const auto& p : out->pods)
    if (!p.ready) report.warnings.push_back(p.name + " not ready yet: " + p.phase);
  return report;
}

}  // namespace br2k::manager
