#include "anvil.h"

#include <fstream>
#include <sstream>
#include <thread>

#include "br2k/eth/rpc_transport.h"

namespace br2k::eth::testing {

Result<std::unique_ptr<Anvil>> Anvil::Start(const std::string& tag, int fixed_port) {
  auto root = br2k::testing::SourceDir();
  // The native binary directly (the .bin/anvil wrapper is a node script that forks it, and
  // a killed wrapper could leave the node running).
  auto native = root / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";
  std::string bin = std::filesystem::exists(native) ? native.string()
                                                    : (root / "node_modules/.bin/anvil").string();
  std::unique_ptr<Anvil> a(new Anvil());
  a->dir_ = std::make_unique<br2k::testing::ScratchDir>(tag);
  a->launcher_ = proc::PosixLauncher();
  Status last = UnavailableError("anvil did not start");
  for (int attempt = 0; attempt < (fixed_port ? 1 : 3); ++attempt) {
    int port = fixed_port;
    if (!port) {
      BR2K_ASSIGN_OR_RETURN(port, proc::FreePort("127.0.0.1"));
    }
    proc::SpawnSpec spec;
    spec.argv = {bin,
                 "--host",
                 "127.0.0.1",
                 "--port",
                 std::to_string(port),
                 "--chain-id",
                 std::to_string(kAnvilChainId)};
    spec.log_file = a->dir_->path() / "anvil.log";
    BR2K_ASSIGN_OR_RETURN(a->pid_, a->launcher_->Spawn(spec));
    a->url_ = "http://127.0.0.1:" + std::to_string(port);
    BR2K_ASSIGN_OR_RETURN(auto transport, MakeHttpTransport(a->url_));
    a->client_ = std::make_shared<RpcClient>(transport);
    Deadline ready = Deadline::After(std::chrono::seconds(30));
    while (!ready.expired() && a->launcher_->Alive(a->pid_)) {
      auto id = a->client_->ChainId(Deadline::After(std::chrono::seconds(2)));
      if (id.ok()) return a;
      last = id.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    (void)proc::Terminate(*a->launcher_, a->pid_, std::chrono::milliseconds(2000));
    a->pid_ = -1;
  }
  return last.WithContext("anvil: " + a->log());
}

Anvil::~Anvil() {
  if (pid_ > 0) (void)proc::Terminate(*launcher_, pid_, std::chrono::milliseconds(3000));
}

std::string Anvil::log() const {
  std::ifstream in(dir_->path() / "anvil.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace br2k::eth::testing
