#include "br2k/cluster/local_anvil.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "br2k/eth/rpc_transport.h"

namespace br2k::cluster {

using namespace std::chrono_literals;

namespace {

constexpr const char* kNativeAnvil = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

bool Executable(const std::filesystem::path& p) {
  return !p.empty() && ::access(p.c_str(), X_OK) == 0 && !std::filesystem::is_directory(p);
}

// `start` and each of its parents, looking for node_modules' native anvil.
std::filesystem::path FindUpwards(std::filesystem::path start) {
  std::error_code ec;
  start = std::filesystem::weakly_canonical(start, ec);
  for (auto dir = start; !dir.empty(); dir = dir.parent_path()) {
    auto candidate = dir / kNativeAnvil;
    if (Executable(candidate)) return candidate;
    if (dir == dir.root_path()) break;
  }
  return {};
}

}  // namespace

Result<eth::PrivateKey> AnvilDevKey(size_t index) {
  if (index >= kAnvilDevKeys.size()) {
    return InvalidArgumentError("anvil has development keys 0-9, not " + std::to_string(index));
  }
  return eth::PrivateKey::FromHex(kAnvilDevKeys[index]);
}

Result<std::filesystem::path> FindAnvilBinary() {
  if (const char* env = std::getenv("BR2K_ANVIL_BIN"); env && *env) {
    if (!Executable(env)) {
      return FailedPreconditionError(std::string("BR2K_ANVIL_BIN=") + env +
                                     " is not an executable file");
    }
    return std::filesystem::path(env);
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    if (auto p = FindUpwards(self.parent_path()); !p.empty()) return p;
  }
  if (auto p = FindUpwards(std::filesystem::current_path(ec)); !p.empty()) return p;
  if (const char* path = std::getenv("PATH"); path && *path) {
    std::string_view rest = path;
    while (!rest.empty()) {
      auto colon = rest.find(':');
      std::filesystem::path dir(std::string(rest.substr(0, colon)));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      if (!dir.empty() && Executable(dir / "anvil")) return dir / "anvil";
    }
  }
  return FailedPreconditionError(
      std::string("anvil not found (looked for ") + kNativeAnvil +
      " beside the br2k executable and the working directory, and on $PATH): run "
      "scripts/setup.sh (npm ci installs it), set BR2K_ANVIL_BIN, or use an existing chain "
      "with --rpc-url");
}

Result<std::unique_ptr<LocalAnvil>> LocalAnvil::Start(LocalAnvilOptions options,
                                                      Deadline deadline) {
  if (options.log_file.empty()) return InvalidArgumentError("anvil: a log file is required");
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgumentError("anvil: port " + std::to_string(options.port) + " out of range");
  }
  if (options.chain_id == 0) return InvalidArgumentError("anvil: chain id must not be 0");
  if (options.block_time_s < 0) return InvalidArgumentError("anvil: negative block time");
  if (options.binary.empty()) {
    BR2K_ASSIGN_OR_RETURN(options.binary, FindAnvilBinary());
  }
  if (!Executable(options.binary)) {
    return FailedPreconditionError("anvil: cannot run " + options.binary.string());
  }
  if (!options.launcher) options.launcher = proc::PosixLauncher();
  std::error_code ec;
  std::filesystem::create_directories(options.log_file.parent_path(), ec);

  std::unique_ptr<LocalAnvil> a(new LocalAnvil(std::move(options)));
  const auto& o = a->options_;
  Status last = UnavailableError("anvil did not start");
  // A free port may be taken between FreePort and anvil's bind: try a few.
  const int attempts = o.port ? 1 : 3;
  for (int attempt = 0; attempt < attempts && !deadline.expired(); ++attempt) {
    int port = o.port;
    if (!port) {
      BR2K_ASSIGN_OR_RETURN(port, proc::FreePort(o.host));
    }
    std::filesystem::remove(o.log_file, ec);
    proc::SpawnSpec spec;
    spec.argv = {
        o.binary.string(),         "--host", o.host, "--port", std::to_string(port), "--chain-id",
        std::to_string(o.chain_id)};
    if (o.block_time_s > 0) {
      spec.argv.push_back("--block-time");
      spec.argv.push_back(std::to_string(o.block_time_s));
    }
    if (!o.config_out.empty()) {
      spec.argv.push_back("--config-out");
      spec.argv.push_back(o.config_out.string());
    }
    spec.log_file = o.log_file;
    spec.detach = o.detach;
    auto pid = o.launcher->Spawn(spec);
    if (!pid.ok()) {
      return FailedPreconditionError("anvil: cannot start " + o.binary.string() + ": " +
                                     pid.status().message());
    }
    a->pid_ = *pid;
    a->identity_ = proc::IdentityAfterSpawn(*pid, spec.argv);
    a->port_ = port;
    a->url_ = "http://" + o.host + ":" + std::to_string(port);
    BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeHttpTransport(a->url_));
    a->client_ = std::make_shared<eth::RpcClient>(transport);
    while (!deadline.expired() && o.launcher->Alive(a->pid_)) {
      auto id = a->client_->ChainId(deadline.Cap(2s));
      if (id.ok()) {
        if (*id == o.chain_id) return a;
        last = FailedPreconditionError("anvil at " + a->url_ + " reports chain " +
                                       std::to_string(*id) + ", expected " +
                                       std::to_string(o.chain_id));
        break;
      }
      last = id.status();
      std::this_thread::sleep_for(50ms);
    }
    if (!o.launcher->Alive(a->pid_)) {
      last = UnavailableError("anvil exited at start");
    } else if (deadline.expired()) {
      last = DeadlineExceededError("anvil did not answer at " + a->url_ + " in time");
    }
    std::string tail = proc::TailOfFile(o.log_file, 8);
    (void)a->Stop(1s);
    last = Status(last.code(), "anvil: " + last.message() + " (log " + o.log_file.string() +
                                   (tail.empty() ? ")" : "):\n" + tail));
    if (last.code() == StatusCode::kFailedPrecondition) break;
  }
  return last;
}

Status LocalAnvil::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return Status::Ok();
  Status st = proc::Terminate(*options_.launcher, pid_, grace);
  if (st.ok()) pid_ = 0;
  return st;
}

LocalAnvil::~LocalAnvil() {
  (void)Stop();
}

}  // namespace br2k::cluster
