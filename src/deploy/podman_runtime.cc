#include "br2k/deploy/podman_runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "br2k/deploy/deployer.h"
#include "br2k/deploy/secret_files.h"
#include "br2k/proc/process.h"

namespace br2k::deploy {

namespace {

using nlohmann::json;

std::string KindOf(const json& o) {
  return o.value("kind", "");
}
std::string NameOf(const json& o) {
  return o.contains("metadata") ? o["metadata"].value("name", "") : "";
}

// The registries a pod's images come from, for TLS flags.
bool PullsFromLoopbackOnly(const json& pod) {
  for (const auto& c : pod["spec"].value("containers", json::array())) {
    std::string host = RegistryHostOf(c.value("image", ""));
    if (!host.empty() && !IsLoopbackRegistry(host)) return false;
  }
  return true;
}

bool CanBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Status PickLoopbackPorts(DeploymentSpec& spec) {
  std::set<int> taken;
  int bases[3] = {0, 0, 0};
  for (int& base : bases) {
    for (int tries = 0; tries < 200 && base == 0; ++tries) {
      auto p = proc::FreePort();
      if (!p.ok()) return p.status();
      bool ok = *p + static_cast<int>(spec.nodes) < 32768;
      for (size_t i = 0; ok && i < spec.nodes; ++i)
        ok =
            !taken.count(*p + static_cast<int>(i)) && (i == 0 || CanBind(*p + static_cast<int>(i)));
      if (!ok) continue;
      base = *p;
      for (size_t i = 0; i < spec.nodes; ++i) taken.insert(*p + static_cast<int>(i));
    }
    if (base == 0) return Status(StatusCode::kUnavailable, "no free loopback port range found");
  }
  spec.app_port_base = bases[0];
  spec.etcd_client_port_base = bases[1];
  spec.etcd_peer_port_base = bases[2];
  return Status::Ok();
}

PodmanRuntime::PodmanRuntime(ContainerEnv env, std::shared_ptr<proc::CommandRunner> runner,
                             PodmanOptions options)
    : env_(std::move(env)), runner_(std::move(runner)), options_(std::move(options)) {}

Result<proc::CommandResult> PodmanRuntime::Podman(std::vector<std::string> args, Deadline deadline,
                                                  const std::string& input) {
  auto argv = env_.Tool("podman");
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = runner_->Run({.argv = argv, .env = env_.Env(), .input = input}, deadline);
  if (!r.ok() && r.status().code() == StatusCode::kNotFound)
    return Status(StatusCode::kFailedPrecondition,
                  "podman is not installed (Debian package podman; scripts/setup.sh installs it)");
  return r;
}

Status PodmanRuntime::Play(const json& object, Deadline deadline) {
  // One object per play, fed on stdin ("-"): JSON is YAML, and podman reads it as is.
  std::vector<std::string> args{"kube", "play"};
  if (KindOf(object) == "Pod" && PullsFromLoopbackOnly(object))
    args.push_back("--tls-verify=false");
  if (!options_.authfile.empty()) args.insert(args.end(), {"--authfile", options_.authfile});
  args.push_back("-");
  auto r = Podman(args, deadline, object.dump());
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    std::string why = r->Summary(3);
    bool pull = why.find("pull") != std::string::npos ||
                why.find("manifest unknown") != std::string::npos ||
                why.find("connection refused") != std::string::npos;
    return Status(pull ? StatusCode::kUnavailable : StatusCode::kInvalidArgument,
                  "podman kube play " + KindOf(object) + " " + NameOf(object) + ": " + why);
  }
  return Status::Ok();
}

Result<std::string> PodmanRuntime::PodState(const std::string& pod, Deadline deadline) {
  auto r = Podman({"pod", "inspect", "--format", "{{.State}}", pod}, deadline);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    if (r->err.find("no such pod") != std::string::npos ||
        r->err.find("no pod with name") != std::string::npos)
      return Status(StatusCode::kNotFound, "no pod " + pod);
    return Status(StatusCode::kUnavailable, "podman pod inspect " + pod + ": " + r->Summary());
  }
  std::string s = r->out;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Status PodmanRuntime::Apply(const std::vector<json>& objects, Deadline deadline) {
  for (const auto& o : objects) {
    std::string kind = KindOf(o), name = NameOf(o);
    if (kind == "Service") continue;  // podman has no Services; nodes meet on loopback
    if (kind == "Secret") {
      // Not a podman secret: podman 4.3 would mount its values base64-encoded (etcd cannot read
      // a certificate so) and ignore `items`. Files below br2k's root instead (secret_files.h),
      // mounted as host paths.
      const auto dir = SecretDir(name);
      if (std::filesystem::exists(dir)) continue;  // kept as it is
      if (Status st = WriteSecretFiles(o, dir); !st.ok()) return st;
      continue;
    } else if (kind == "PersistentVolumeClaim") {
      auto r = Podman({"volume", "exists", name}, deadline);
      if (!r.ok()) return r.status();
      if (r->ok()) continue;  // its data stays
    } else if (kind == "Pod") {
      auto state = PodState(name, deadline);
      if (state.ok() && *state == "Running") continue;
      if (state.ok()) {  // exists but does not run: replace it
        auto rm = Podman({"pod", "rm", "--force", "--time", "2", name}, deadline);
        if (!rm.ok()) return rm.status();
      } else if (state.status().code() != StatusCode::kNotFound) {
        return state.status();
      }
      auto pod = WithSecretsAsHostPaths(o);
      if (!pod.ok()) return pod.status();
      if (auto st = Play(*pod, deadline); !st.ok()) return st;
      continue;
    } else {
      return Status(StatusCode::kInvalidArgument, "the podman runtime does not play kind " + kind);
    }
    if (auto st = Play(o, deadline); !st.ok()) return st;
  }
  return Status::Ok();
}

Result<std::vector<PodStatus>> PodmanRuntime::Pods(const DeploymentSpec& spec, Deadline deadline) {
  std::vector<PodStatus> out;
  for (size_t i = 0; i < spec.nodes; ++i) {
    PodStatus p{.name = spec.PodName(i)};
    auto state = PodState(p.name, deadline);
    if (!state.ok()) {
      if (state.status().code() != StatusCode::kNotFound) return state.status();
      p.phase = "Missing";
    } else {
      // podman's pod states: Created, Running, Degraded (some containers not running), Exited,
      // Stopped, Paused, Error.
      p.phase = *state == "Running"    ? "Running"
                : *state == "Created"  ? "Pending"
                : *state == "Degraded" ? "Degraded"
                                       : "Failed";
      if (*state != "Running") p.detail = "podman: " + *state;
    }
    if (p.phase == "Running") {
      p.ready = AppHealthy(spec, i, options_.health_timeout, deadline, &p.detail);
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::filesystem::path PodmanRuntime::SecretDir(const std::string& secret) const {
  return env_.root() / "secrets" / secret;
}

Result<json> PodmanRuntime::WithSecretsAsHostPaths(const json& pod) const {
  json out = pod;
  const std::string name = NameOf(pod);
  if (!out.contains("spec") || !out["spec"].contains("volumes")) return out;
  for (auto& v : out["spec"]["volumes"]) {
    if (!v.is_object() || !v.contains("secret")) continue;
    const std::string secret = v["secret"].value("secretName", "");
    const std::string vname = v.value("name", "");
    if (secret.empty() || secret.find('/') != std::string::npos || vname.empty() ||
        vname.find('/') != std::string::npos || secret == "." || secret == ".." || vname == "." ||
        vname == "..")
      return InvalidArgumentError("pod " + name + ": a secret volume without a usable name");
    // The pod's own copy holds only the files its `items` select.
    const auto to = env_.root() / "pod-secrets" / name / vname;
    if (Status st =
            WriteSecretItems(SecretDir(secret), v["secret"].value("items", json::array()), to);
        !st.ok())
      return st.WithContext("pod " + name);
    v = {{"name", vname}, {"hostPath", {{"path", to.string()}, {"type", "Directory"}}}};
  }
  return out;
}

Status PodmanRuntime::DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) {
  auto r = Podman({"pod", "rm", "--force", "--time", "0", spec.PodName(node)}, deadline);
  if (!r.ok()) return r.status();
  if (!r->ok() && r->err.find("no pod") == std::string::npos &&
      r->err.find("no such pod") == std::string::npos)
    return Status(StatusCode::kUnavailable,
                  "podman pod rm " + spec.PodName(node) + ": " + r->Summary());
  // Its copy of the Secret's files, once the pod is gone (not before: a pod left running keeps
  // its certificates).
  std::error_code ec;
  std::filesystem::remove_all(env_.root() / "pod-secrets" / spec.PodName(node), ec);
  return Status::Ok();
}

Status PodmanRuntime::Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) {
  for (size_t i = 0; i < spec.nodes; ++i)
    if (auto st = DeletePod(spec, i, deadline); !st.ok()) return st;
  if (!purge) return Status::Ok();
  for (size_t i = 0; i < spec.nodes; ++i)
    for (const char* suffix : {"-etcd", "-data"}) {
      auto r = Podman({"volume", "rm", "--force", spec.PodName(i) + suffix}, deadline);
      if (!r.ok()) return r.status();
    }
  std::error_code ec;
  std::filesystem::remove_all(SecretDir(spec.name + "-keys"), ec);
  if (ec)
    return Status(StatusCode::kInternal,
                  "cannot remove " + SecretDir(spec.name + "-keys").string());
  // A Secret an older br2k created in podman's own store.
  auto r = Podman({"secret", "rm", spec.name + "-keys"}, deadline);
  if (!r.ok()) return r.status();
  return Status::Ok();
}

}  // namespace br2k::deploy
