#include "br2k/deploy/container_env.h"

#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "br2k/common/atomic_file.h"

namespace br2k::deploy {

namespace {

// An explicit limit no higher than this process's own hard limit (a container may not raise
// it: runc's setrlimit is refused otherwise).
uint64_t Limit(int resource, uint64_t want) {
  rlimit r{};
  if (getrlimit(resource, &r) != 0 || r.rlim_max == RLIM_INFINITY) return want;
  return std::min<uint64_t>(want, r.rlim_max);
}

std::string ContainersConf() {
  // runc: crun refuses hybrid cgroup layouts. Explicit low rlimits: podman's defaults are
  // refused in some sandboxes. k8s-file logs: no journald here.
  std::string nofile = std::to_string(Limit(RLIMIT_NOFILE, 16384));
  std::string nproc = std::to_string(Limit(RLIMIT_NPROC, 8192));
  return "# Written by br2k; used through CONTAINERS_CONF, never installed in /etc.\n"
         "[containers]\n"
         "default_ulimits = [\"nofile=" +
         nofile + ":" + nofile + "\", \"nproc=" + nproc + ":" + nproc +
         "\"]\n"
         "log_driver = \"k8s-file\"\n"
         "[engine]\n"
         "runtime = \"runc\"\n"
         "cgroup_manager = \"cgroupfs\"\n"
         "events_logger = \"file\"\n";
}

std::string StorageConf(const std::filesystem::path& root) {
  // vfs: works on every filesystem (no overlay mounts inside a sandbox); images are small.
  return "# Written by br2k; used through CONTAINERS_STORAGE_CONF.\n"
         "[storage]\n"
         "driver = \"vfs\"\n"
         "runroot = \"" +
         (root / "storage" / "run").string() +
         "\"\n"
         "graphroot = \"" +
         (root / "storage" / "graph").string() + "\"\n";
}

Status WriteIfDifferent(const std::filesystem::path& file, const std::string& content) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream have;
  have << in.rdbuf();
  if (in && have.str() == content) return Status::Ok();
  return WriteFileAtomically(file, content);
}

}  // namespace

Result<ContainerEnv> ContainerEnv::Prepare(const std::filesystem::path& root) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(root, ec);
  if (ec)
    return Status(StatusCode::kInternal, "container root " + root.string() + ": " + ec.message());
  for (auto dir : {abs, abs / "storage" / "graph", abs / "storage" / "run", abs / "tmp"}) {
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return Status(StatusCode::kInternal, "cannot create " + dir.string() + ": " + ec.message());
  }
  if (auto st = WriteIfDifferent(abs / "containers.conf", ContainersConf()); !st.ok()) return st;
  if (auto st = WriteIfDifferent(abs / "storage.conf", StorageConf(abs)); !st.ok()) return st;
  ContainerEnv env;
  env.root_ = abs;
  return env;
}

std::map<std::string, std::string> ContainerEnv::Env() const {
  return {{"CONTAINERS_CONF", (root_ / "containers.conf").string()},
          {"CONTAINERS_STORAGE_CONF", (root_ / "storage.conf").string()},
          {"TMPDIR", (root_ / "tmp").string()}};
}

std::vector<std::string> ContainerEnv::Tool(const std::string& name) const {
  // The storage configuration file is honoured by every tool; the driver flag is repeated so
  // that a stray ~/.config/containers/storage.conf cannot switch it.
  if (name == "podman" || name == "buildah") return {name, "--storage-driver", "vfs"};
  return {name};
}

bool IsLoopbackRegistry(const std::string& host) {
  std::string h = host;
  if (h.starts_with("[")) {
    auto close = h.find(']');
    h = close == std::string::npos ? h : h.substr(1, close - 1);
  } else if (auto colon = h.rfind(':'); colon != std::string::npos) {
    h = h.substr(0, colon);
  }
  if (h == "localhost" || h == "::1") return true;
  // Only a literal 127.0.0.0/8 address: a host *named* "127.example.com" is not loopback.
  in_addr a{};
  return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

std::string RegistryHostOf(const std::string& reference) {
  auto slash = reference.find('/');
  if (slash == std::string::npos) return "";
  std::string first = reference.substr(0, slash);
  // As the containers tools read it: the first component is a registry when it has a '.' or a
  // ':' or is "localhost".
  if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
      first == "localhost" || first.starts_with("["))
    return first;
  return "";
}

}  // namespace br2k::deploy
