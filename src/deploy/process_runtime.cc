#include "br2k/deploy/process_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <thread>

#include "br2k/common/atomic_file.h"
#include "br2k/deploy/deployer.h"
#include "br2k/deploy/executable_image.h"
#include "br2k/deploy/pod_record.h"
#include "br2k/deploy/secret_files.h"

namespace br2k::deploy {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string NameOf(const json& o) {
  return o.contains("metadata") && o["metadata"].is_object() ? o["metadata"].value("name", "") : "";
}

// Object names become file names below root: DNS-1123 names only.
bool IsSafeName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  return s != "." && s != "..";
}

Status Bad(const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "process runtime: " + what);
}

// An exclusive flock on <root>/runtime.lock, polled until the deadline.
class RootLock {
 public:
  static Result<std::unique_ptr<RootLock>> Acquire(const std::filesystem::path& root,
                                                   Deadline deadline) {
    // Every writer holds the lock, so this is where the layout is made: reading (Pods,
    // Processes: `br2k status`) creates nothing.
    std::error_code ec;
    for (const char* sub : {"pods", "volumes", "secrets", "logs"})
      std::filesystem::create_directories(root / sub, ec);
    if (ec)
      return Status(StatusCode::kInternal, "cannot create " + root.string() + ": " + ec.message());
    const auto file = root / "runtime.lock";
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status(StatusCode::kInternal, "cannot open " + file.string());
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (deadline.expired()) {
        ::close(fd);
        return Status(StatusCode::kDeadlineExceeded, "another br2k process holds " + file.string());
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::unique_ptr<RootLock>(new RootLock(fd));
  }
  ~RootLock() { ::close(fd_); }
  RootLock(const RootLock&) = delete;
  RootLock& operator=(const RootLock&) = delete;

 private:
  explicit RootLock(int fd) : fd_(fd) {}
  int fd_;
};

// Replaces a volume's mount path by its directory where it stands as the argument's path: the
// whole argument, or its value after the first '='; the path itself or a path below it.
std::string MapPath(const std::string& arg,
                    const std::vector<std::pair<std::string, std::string>>& mounts) {
  const size_t eq = arg.find('=');
  const size_t start = arg.starts_with("/") ? 0 : (eq == std::string::npos ? arg.size() : eq + 1);
  if (start >= arg.size() || arg[start] != '/') return arg;
  const std::string_view path = std::string_view(arg).substr(start);
  for (const auto& [mount, dir] : mounts) {  // longest mount path first
    if (path.starts_with(mount) && (path.size() == mount.size() || path[mount.size()] == '/'))
      return arg.substr(0, start) + dir + std::string(path.substr(mount.size()));
  }
  return arg;
}

}  // namespace

Result<std::shared_ptr<ProcessRuntime>> ProcessRuntime::Create(ProcessRuntimeOptions options) {
  if (options.root.empty()) return Bad("a root directory is required");
  options.root = std::filesystem::absolute(options.root).lexically_normal();
  if (!options.launcher) options.launcher = proc::PosixLauncher();
  return std::shared_ptr<ProcessRuntime>(new ProcessRuntime(std::move(options)));
}

std::filesystem::path ProcessRuntime::RecordFile(const std::string& pod) const {
  return options_.root / "pods" / (pod + ".json");
}
std::filesystem::path ProcessRuntime::LogFile(const std::string& pod,
                                              const std::string& container) const {
  return options_.root / "logs" / (pod + "-" + container + ".log");
}
std::filesystem::path ProcessRuntime::VolumeDir(const std::string& claim) const {
  return options_.root / "volumes" / claim;
}

std::vector<ContainerProcess> ProcessRuntime::Processes(const std::string& pod) const {
  std::ifstream in(RecordFile(pod));
  if (!in) return {};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto decoded = DecodePodRecord(text);
  if (!decoded.ok()) return {};  // a record we cannot trust names no process of ours
  auto out = std::move(*decoded);
  for (auto& p : out)
    // Alive() first: it reaps an exited child of ours, which /proc shows as a zombie until then.
    p.running = options_.launcher->Alive(p.identity.pid) && proc::IsOurs(p.identity);
  return out;
}

Status ProcessRuntime::SaveRecord(const std::string& pod,
                                  const std::vector<ContainerProcess>& processes) const {
  return WriteFileAtomically(RecordFile(pod), EncodePodRecord(processes));
}

Status ProcessRuntime::Apply(const std::vector<json>& objects, Deadline deadline) {
  std::lock_guard<std::mutex> guard(mu_);
  auto lock = RootLock::Acquire(options_.root, deadline);
  if (!lock.ok()) return lock.status();
  for (const auto& o : objects) {
    if (!o.is_object()) return Bad("an object is not a JSON object");
    const std::string kind = o.value("kind", ""), name = NameOf(o);
    if (!IsSafeName(name)) return Bad(kind + " has no usable name (\"" + name + "\")");
    if (deadline.expired()) return Status(StatusCode::kDeadlineExceeded, "apply: out of time");
    if (kind == "Service") continue;
    std::error_code ec;
    if (kind == "PersistentVolumeClaim") {
      std::filesystem::create_directories(VolumeDir(name), ec);
      if (ec) return Status(StatusCode::kInternal, "cannot create volume " + name);
    } else if (kind == "Secret") {
      const auto dir = options_.root / "secrets" / name;
      if (std::filesystem::exists(dir)) continue;  // kept as it is
      if (Status st = WriteSecretFiles(o, dir); !st.ok()) {
        return st.code() == StatusCode::kInvalidArgument ? Bad(st.message()) : st;
      }
    } else if (kind == "Pod") {
      if (Status st = ApplyPod(o); !st.ok()) return st;
    } else {
      return Bad("the process runtime does not play kind " + kind);
    }
  }
  return Status::Ok();
}

Status ProcessRuntime::ApplyPod(const json& pod) {
  const std::string name = NameOf(pod);
  if (!pod.contains("spec") || !pod["spec"].is_object()) return Bad("pod " + name + " has no spec");
  const json& spec = pod["spec"];
  // Volumes -> directories.
  std::map<std::string, std::string> volumes;
  for (const auto& v : spec.value("volumes", json::array())) {
    const std::string vname = v.value("name", "");
    if (v.contains("persistentVolumeClaim")) {
      const std::string claim = v["persistentVolumeClaim"].value("claimName", "");
      if (!IsSafeName(claim)) return Bad("pod " + name + ": bad claim name");
      std::error_code ec;
      std::filesystem::create_directories(VolumeDir(claim), ec);
      volumes[vname] = VolumeDir(claim).string();
    } else if (v.contains("secret")) {
      const std::string secret = v["secret"].value("secretName", "");
      if (!IsSafeName(secret)) return Bad("pod " + name + ": bad secret name");
      const auto dir = options_.root / "secrets" / secret;
      if (!std::filesystem::is_directory(dir))
        return Status(StatusCode::kFailedPrecondition,
                      "pod " + name + " mounts Secret " + secret + ", which does not exist");
      volumes[vname] = dir.string();
    } else {
      return Bad("pod " + name + ": volume " + vname + " is neither a claim nor a Secret");
    }
  }
  std::vector<ContainerProcess> record = Processes(name);
  std::vector<ContainerProcess> next;
  for (const auto& c : spec.value("containers", json::array())) {
    const std::string cname = c.value("name", "");
    if (!IsSafeName(cname)) return Bad("pod " + name + " has a container without a usable name");
    auto running = std::find_if(record.begin(), record.end(), [&](const ContainerProcess& p) {
      return p.container == cname && p.running;
    });
    if (running != record.end()) {  // left alone
      next.push_back(*running);
      continue;
    }
    auto exe = OpenExecutableImage(c.value("image", ""));
    if (!exe.ok()) {
      if (exe.status().code() == StatusCode::kInvalidArgument)
        return Status(StatusCode::kFailedPrecondition,
                      "pod " + name + " container " + cname + ": " + exe.status().message());
      return Status(exe.status().code(),
                    "pod " + name + " container " + cname + ": " + exe.status().message());
    }
    std::vector<std::pair<std::string, std::string>> mounts;
    for (const auto& m : c.value("volumeMounts", json::array())) {
      auto v = volumes.find(m.value("name", ""));
      if (v == volumes.end())
        return Bad("pod " + name + " container " + cname + " mounts an undeclared volume");
      std::string path = m.value("mountPath", "");
      if (!path.starts_with("/")) return Bad("pod " + name + ": a mount path is not absolute");
      while (path.size() > 1 && path.back() == '/') path.pop_back();
      mounts.emplace_back(path, v->second);
    }
    std::sort(mounts.begin(), mounts.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    std::vector<std::string> argv{exe->string()};
    for (const auto& a : c.value("args", json::array()))
      if (a.is_string()) argv.push_back(MapPath(a.get<std::string>(), mounts));
    std::map<std::string, std::string> env;
    for (const auto& e : c.value("env", json::array()))
      if (e.contains("value") && e["value"].is_string())
        env[e.value("name", "")] = MapPath(e["value"].get<std::string>(), mounts);
    ContainerProcess p{.container = cname, .log_file = LogFile(name, cname).string()};
    auto pid = options_.launcher->Spawn(proc::SpawnSpec{.argv = argv,
                                                        .log_file = p.log_file,
                                                        .env = env,
                                                        .cwd = options_.root,
                                                        .detach = options_.detach});
    if (!pid.ok()) {
      (void)SaveRecord(name, next);
      return Status(pid.status().code(), "pod " + name + " container " + cname +
                                             " did not start: " + pid.status().message());
    }
    // The child execs right after the fork: wait (briefly) until /proc shows the executable, so
    // that the recorded identity has its start time and the process is recognised as ours.
    p.identity = proc::IdentityAfterSpawn(*pid, argv);
    for (int tries = 0; tries < 200 && p.identity.start_time == 0 && options_.launcher->Alive(*pid);
         ++tries) {
      std::this_thread::sleep_for(10ms);
      p.identity = proc::IdentityAfterSpawn(*pid, argv);
    }
    p.running = true;
    next.push_back(std::move(p));
    if (Status st = SaveRecord(name, next); !st.ok()) return st;
  }
  return SaveRecord(name, next);
}

Result<std::vector<PodStatus>> ProcessRuntime::Pods(const DeploymentSpec& spec, Deadline deadline) {
  std::vector<PodStatus> out;
  for (size_t i = 0; i < spec.nodes; ++i) {
    PodStatus s{.name = spec.PodName(i)};
    auto processes = Processes(s.name);
    size_t running = 0;
    std::string stopped;
    for (const auto& p : processes) {
      if (p.running) {
        ++running;
      } else {
        stopped += (stopped.empty() ? "" : ", ") + p.container;
      }
    }
    if (processes.empty()) {
      s.phase = "Missing";
    } else if (running == processes.size()) {
      s.phase = "Running";
    } else {
      s.phase = running > 0 ? "Degraded" : "Failed";
      s.detail = "not running: " + stopped + " (logs in " + (options_.root / "logs").string() + ")";
    }
    if (s.phase == "Running")
      s.ready = AppHealthy(spec, i, options_.health_timeout, deadline, &s.detail);
    out.push_back(std::move(s));
  }
  return out;
}

Status ProcessRuntime::StopPod(const std::string& pod, std::chrono::milliseconds grace) {
  Status first;
  for (const auto& p : Processes(pod)) {
    if (!p.running) continue;
    Status st = grace.count() > 0 ? proc::Terminate(*options_.launcher, p.identity.pid, grace)
                                  : options_.launcher->Signal(p.identity.pid, SIGKILL);
    if (st.ok() && grace.count() == 0)
      st = options_.launcher->Wait(p.identity.pid, Deadline::After(10s)).status();
    if (!st.ok() && st.code() != StatusCode::kNotFound && first.ok()) first = st;
  }
  if (!first.ok()) return first;
  std::error_code ec;
  std::filesystem::remove(RecordFile(pod), ec);
  return Status::Ok();
}

Status ProcessRuntime::DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) {
  std::lock_guard<std::mutex> guard(mu_);
  auto lock = RootLock::Acquire(options_.root, deadline);
  if (!lock.ok()) return lock.status();
  return StopPod(spec.PodName(node), 0ms);
}

Status ProcessRuntime::Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) {
  std::lock_guard<std::mutex> guard(mu_);
  auto lock = RootLock::Acquire(options_.root, deadline);
  if (!lock.ok()) return lock.status();
  for (size_t i = 0; i < spec.nodes; ++i)
    if (Status st = StopPod(spec.PodName(i), options_.stop_grace); !st.ok()) return st;
  if (!purge) return Status::Ok();
  std::error_code ec;
  for (size_t i = 0; i < spec.nodes; ++i) {
    for (const char* suffix : {"-etcd", "-data"})
      std::filesystem::remove_all(VolumeDir(spec.PodName(i) + suffix), ec);
    for (const char* container : {"etcd", "app"})
      std::filesystem::remove(LogFile(spec.PodName(i), container), ec);
  }
  std::filesystem::remove_all(options_.root / "secrets" / (spec.name + "-keys"), ec);
  if (ec) return Status(StatusCode::kInternal, "cannot purge " + options_.root.string());
  return Status::Ok();
}

}  // namespace br2k::deploy
