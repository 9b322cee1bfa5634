#include "br2k/deploy/container_registry.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "br2k/common/atomic_file.h"
#include "br2k/http/client.h"
#include "br2k/proc/ownership.h"

namespace br2k::deploy {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The registry's command line, as StartEmbeddedRegistry runs it.
std::vector<std::string> RegistryArgv(const std::filesystem::path& config) {
  return {"docker-registry", "serve", config.string()};
}

bool RunsOurRegistry(int pid, const std::filesystem::path& config) {
  // No start time is recorded for it (registry.json predates it): executable and exact argv, so
  // a reused pid running anything else is never taken for it.
  return proc::IsOurs({.pid = pid, .argv = RegistryArgv(config)});
}

std::vector<std::string> TlsFlags(const std::string& registry, const std::string& authfile) {
  std::vector<std::string> f;
  if (IsLoopbackRegistry(registry)) f.push_back("--tls-verify=false");
  if (!authfile.empty()) f.insert(f.end(), {"--authfile", authfile});
  return f;
}

}  // namespace

Status CheckRegistryAnswers(const std::string& host, Deadline deadline) {
  auto r = http::Call("http://" + host, "GET", "/v2/", "", {}, deadline);
  if (!r.ok()) return r.status().WithContext("container registry " + host);
  if (r->status != 200 && r->status != 401)
    return Status(StatusCode::kUnavailable, "container registry " + host + ": GET /v2/ answered " +
                                                std::to_string(r->status));
  return Status::Ok();
}

Result<EmbeddedRegistry> StartEmbeddedRegistry(proc::Launcher& launcher,
                                               const std::filesystem::path& root_in, bool detach,
                                               Deadline deadline) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::absolute(root_in, ec);
  fs::create_directories(root / "data", ec);
  if (ec)
    return Status(StatusCode::kInternal, "cannot create " + root.string() + ": " + ec.message());
  Status last(StatusCode::kUnavailable, "not started");
  for (int attempt = 0; attempt < 3 && !deadline.expired(); ++attempt) {
    auto port = proc::FreePort();
    if (!port.ok()) return port.status();
    // CNCF Distribution's configuration (docs:
    // distribution.github.io/distribution/about/configuration).
    std::string config =
        "# Written by br2k: the embedded container registry, loopback only.\n"
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n  filesystem:\n    rootdirectory: " +
        (root / "data").string() +
        "\n  delete:\n    enabled: true\n"
        "http:\n  addr: 127.0.0.1:" +
        std::to_string(*port) + "\n";
    if (auto st = WriteFileAtomically(root / "config.yml", config); !st.ok()) return st;
    auto pid = launcher.Spawn({.argv = RegistryArgv(root / "config.yml"),
                               .log_file = root / "registry.log",
                               .detach = detach});
    if (!pid.ok()) {
      if (pid.status().code() == StatusCode::kNotFound)
        return Status(StatusCode::kFailedPrecondition,
                      "docker-registry is not installed (Debian package docker-registry; "
                      "scripts/setup.sh installs it)");
      return pid.status();
    }
    EmbeddedRegistry r{.pid = *pid, .port = *port, .root = root.string()};
    while (!deadline.expired()) {
      if (!launcher.Alive(*pid)) {
        last =
            Status(StatusCode::kUnavailable, "docker-registry exited at start; its log:\n" +
                                                 proc::TailOfFile(root / "registry.log", 10, "  "));
        break;
      }
      if (CheckRegistryAnswers("127.0.0.1:" + std::to_string(*port), deadline.Cap(1s)).ok())
        return r;
      std::this_thread::sleep_for(50ms);
    }
    if (launcher.Alive(*pid)) {
      (void)proc::Terminate(launcher, *pid, 2s);
      if (deadline.expired())
        return Status(StatusCode::kDeadlineExceeded,
                      "docker-registry did not answer GET /v2/ in time");
    }
  }
  return last;
}

Status StopEmbeddedRegistry(proc::Launcher& launcher, const EmbeddedRegistry& r) {
  if (r.pid <= 0 || !RunsOurRegistry(r.pid, std::filesystem::path(r.root) / "config.yml"))
    return Status::Ok();  // gone already, or the pid was reused by someone else
  return proc::Terminate(launcher, r.pid, 5s);
}

Result<PushedImage> PushImage(const ContainerEnv& env, proc::CommandRunner& runner,
                              const ImageRecord& image, const std::string& registry,
                              const std::string& repository, const std::string& authfile,
                              Deadline deadline) {
  std::string repo = RepositoryOf(registry, repository, image.name);
  std::filesystem::path digest_file = env.root() / "tmp" / (image.name + ".digest");
  std::filesystem::remove(digest_file);
  auto argv = env.Tool("buildah");
  argv.insert(argv.end(), {"push", "--quiet", "--digestfile", digest_file.string()});
  for (auto& f : TlsFlags(registry, authfile)) argv.push_back(f);
  argv.insert(argv.end(), {image.local, "docker://" + repo + ":" + image.tag});
  auto r = proc::RunChecked(runner, {.argv = argv, .env = env.Env()}, deadline,
                            StatusCode::kUnavailable);
  if (!r.ok()) return r.status().WithContext("push " + image.name + " to " + registry);
  std::string digest = ReadAll(digest_file);
  while (!digest.empty() && (digest.back() == '\n' || digest.back() == ' ')) digest.pop_back();
  PushedImage p{image.name, repo + "@" + digest};
  if (!ParseDigestReference(p.reference).ok())
    return Status(StatusCode::kInternal,
                  "buildah push wrote no usable digest (\"" + digest + "\")");
  return p;
}

Status CheckImageInRegistry(const ContainerEnv& env, proc::CommandRunner& runner,
                            const std::string& reference, const std::string& authfile,
                            Deadline deadline) {
  auto argv = env.Tool("skopeo");
  argv.insert(argv.end(), {"inspect", "--raw"});
  for (auto& f : TlsFlags(RegistryHostOf(reference), authfile)) argv.push_back(f);
  argv.push_back("docker://" + reference);
  auto r = runner.Run({.argv = argv, .env = env.Env()}, deadline);
  if (!r.ok()) return r.status();
  if (r->ok()) return Status::Ok();
  std::string why = r->Summary();
  if (why.find("manifest unknown") != std::string::npos ||
      why.find("not found") != std::string::npos || why.find("NAME_UNKNOWN") != std::string::npos)
    return Status(StatusCode::kNotFound,
                  "image " + reference + " is not in its registry (" + why + ")");
  return Status(StatusCode::kUnavailable, "container registry for " + reference + ": " + why);
}

}  // namespace br2k::deploy
