#include "br2k/chaos/netns.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "br2k/common/deadline.h"

namespace br2k::chaos {
namespace {

using namespace std::chrono_literals;

Result<std::string> RunToolOutput(const std::vector<std::string>& argv, int* exit_code) {
  static std::atomic<uint64_t> counter{0};
  auto out = std::filesystem::temp_directory_path() /
             ("br2k-chaos-tool-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  auto launcher = proc::PosixLauncher();
  proc::SpawnSpec spec;
  spec.argv = argv;
  spec.log_file = out;
  auto pid = launcher->Spawn(spec);
  if (!pid.ok()) return pid.status();
  auto info = launcher->Wait(*pid, Deadline::After(20s));
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  std::error_code ec;
  std::filesystem::remove(out, ec);
  if (!info.ok()) {
    (void)launcher->Signal(*pid, SIGKILL);
    (void)launcher->Wait(*pid, Deadline::After(5s));
    return info.status();
  }
  *exit_code = info->exit_code;
  return ss.str();
}

std::string Join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class NsLauncher final : public proc::Launcher {
 public:
  NsLauncher(std::string ns, std::shared_ptr<proc::Launcher> base)
      : ns_(std::move(ns)), base_(std::move(base)) {}
  Result<pid_t> Spawn(const proc::SpawnSpec& spec) override {
    proc::SpawnSpec s = spec;
    s.argv = {"ip", "netns", "exec", ns_};
    s.argv.insert(s.argv.end(), spec.argv.begin(), spec.argv.end());
    return base_->Spawn(s);
  }
  Status Signal(pid_t pid, int sig) override { return base_->Signal(pid, sig); }
  bool Alive(pid_t pid) override { return base_->Alive(pid); }
  Result<proc::ExitInfo> Wait(pid_t pid, Deadline deadline) override {
    return base_->Wait(pid, deadline);
  }

 private:
  std::string ns_;
  std::shared_ptr<proc::Launcher> base_;
};

}  // namespace

Status RunTool(const std::vector<std::string>& argv) {
  int code = -1;
  auto out = RunToolOutput(argv, &code);
  if (!out.ok()) return out.status().WithContext(Join(argv));
  if (code != 0) return InternalError(Join(argv) + ": exit " + std::to_string(code) + ": " + *out);
  return Status::Ok();
}

std::vector<std::string> FindLeftovers() {
  std::vector<std::string> found;
  int code = -1;
  if (auto ns = RunToolOutput({"ip", "netns", "list"}, &code); ns.ok() && code == 0) {
    for (const auto& line : Lines(*ns)) {
      std::string name = line.substr(0, line.find(' '));
      if (name.rfind("br2k-", 0) == 0) found.push_back("netns " + name);
    }
  }
  if (auto links = RunToolOutput({"ip", "-o", "link", "show"}, &code); links.ok() && code == 0) {
    for (const auto& line : Lines(*links)) {
      // "7: br2k3v1@if2: <...>"
      auto a = line.find(": ");
      if (a == std::string::npos) continue;
      auto b = line.find_first_of("@:", a + 2);
      std::string name = line.substr(a + 2, b == std::string::npos ? std::string::npos : b - a - 2);
      if (name.rfind("br2k", 0) == 0) found.push_back("link " + name);
    }
  }
  return found;
}

Status CleanupLeftovers() {
  for (const auto& item : FindLeftovers()) {
    auto space = item.find(' ');
    std::string kind = item.substr(0, space), name = item.substr(space + 1);
    if (kind == "netns") {
      int code = -1;
      if (auto pids = RunToolOutput({"ip", "netns", "pids", name}, &code); pids.ok() && code == 0) {
        for (const auto& p : Lines(*pids)) {
          pid_t pid = static_cast<pid_t>(std::atoi(p.c_str()));
          if (pid > 1) ::kill(pid, SIGKILL);
        }
      }
      (void)RunTool({"ip", "netns", "del", name});
    } else {
      (void)RunTool({"ip", "link", "del", name});
    }
  }
  // Deleting a namespace removes its veth peers asynchronously.
  for (int i = 0; i < 50; ++i) {
    if (FindLeftovers().empty()) return Status::Ok();
    std::this_thread::sleep_for(100ms);
  }
  auto left = FindLeftovers();
  std::string s;
  for (const auto& l : left) s += (s.empty() ? "" : ", ") + l;
  return left.empty() ? Status::Ok() : InternalError("leftovers remain: " + s);
}

std::shared_ptr<proc::Launcher> NetnsLauncher(std::string ns,
                                              std::shared_ptr<proc::Launcher> base) {
  return std::make_shared<NsLauncher>(std::move(ns), std::move(base));
}

NetLab::NetLab(int run, int nodes) : run_(run), nodes_(nodes) {}

std::string NetLab::Namespace(int i) const {
  return "br2k-" + std::to_string(run_) + "-" + std::to_string(i);
}
std::string NetLab::Address(int i) const {
  return "10.213." + std::to_string(run_) + "." + std::to_string(10 + i);
}
std::string NetLab::BridgeAddress() const {
  return "10.213." + std::to_string(run_) + ".1";
}
std::string NetLab::Veth(int i) const {
  return "br2k" + std::to_string(run_) + "v" + std::to_string(i);
}
std::string NetLab::Bridge() const {
  return "br2kc" + std::to_string(run_);
}

Result<std::unique_ptr<NetLab>> NetLab::Create(int run, int nodes) {
  if (run < 1 || run > 250) return InvalidArgumentError("run number must be 1-250");
  if (nodes < 1 || nodes > 200) return InvalidArgumentError("nodes must be 1-200");
  if (auto left = FindLeftovers(); !left.empty()) {
    std::string s;
    for (const auto& l : left) s += (s.empty() ? "" : ", ") + l;
    return FailedPreconditionError("leftovers of an earlier chaos run (" + s +
                                   "): remove them with `br2k chaos --cleanup`");
  }
  std::unique_ptr<NetLab> lab(new NetLab(run, nodes));
  lab->created_ = true;
  auto fail = [&](Status s) {
    (void)lab->Destroy();
    return s;
  };
  const std::string br = lab->Bridge();
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"ip", "link", "add", br, "type", "bridge"},
           {"ip", "addr", "add", lab->BridgeAddress() + "/24", "dev", br},
           {"ip", "link", "set", br, "up"}}) {
    if (Status s = RunTool(argv); !s.ok()) return fail(s);
  }
  auto base = proc::PosixLauncher();
  for (int i = 0; i < nodes; ++i) {
    const std::string ns = lab->Namespace(i), veth = lab->Veth(i);
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "netns", "add", ns},
             {"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
             {"ip", "link", "set", veth, "master", br, "up"},
             {"ip", "-n", ns, "addr", "add", lab->Address(i) + "/24", "dev", "eth0"},
             {"ip", "-n", ns, "link", "set", "eth0", "up"},
             {"ip", "-n", ns, "link", "set", "lo", "up"}}) {
      if (Status s = RunTool(argv); !s.ok()) return fail(s);
    }
    lab->launchers_.push_back(NetnsLauncher(ns, base));
  }
  return lab;
}

NetLab::~NetLab() {
  (void)Destroy();
}

Status NetLab::CutNode(int i) {
  BR2K_RETURN_IF_ERROR(RunTool({"ip", "link", "set", Veth(i), "down"}));
  cut_nodes_.insert(i);
  return Status::Ok();
}

Status NetLab::HealNode(int i) {
  BR2K_RETURN_IF_ERROR(RunTool({"ip", "link", "set", Veth(i), "up"}));
  cut_nodes_.erase(i);
  return Status::Ok();
}

Status NetLab::CutLink(int a, int b) {
  if (a == b) return InvalidArgumentError("a link joins two different nodes");
  for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    BR2K_RETURN_IF_ERROR(RunTool({"ip", "netns", "exec", Namespace(x), "iptables", "-A", "INPUT",
                                  "-s", Address(y), "-j", "DROP"}));
    BR2K_RETURN_IF_ERROR(RunTool({"ip", "netns", "exec", Namespace(x), "iptables", "-A", "OUTPUT",
                                  "-d", Address(y), "-j", "DROP"}));
  }
  cut_links_.insert({std::min(a, b), std::max(a, b)});
  return Status::Ok();
}

Status NetLab::HealLink(int a, int b) {
  for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    BR2K_RETURN_IF_ERROR(RunTool({"ip", "netns", "exec", Namespace(x), "iptables", "-D", "INPUT",
                                  "-s", Address(y), "-j", "DROP"}));
    BR2K_RETURN_IF_ERROR(RunTool({"ip", "netns", "exec", Namespace(x), "iptables", "-D", "OUTPUT",
                                  "-d", Address(y), "-j", "DROP"}));
  }
  cut_links_.erase({std::min(a, b), std::max(a, b)});
  return Status::Ok();
}

Status NetLab::Partition(const std::set<int>& minority) {
  for (int a : minority) {
    for (int b = 0; b < nodes_; ++b) {
      if (!minority.count(b)) BR2K_RETURN_IF_ERROR(CutLink(a, b));
    }
  }
  return Status::Ok();
}

Status NetLab::HealAll() {
  Status first;
  for (int i : std::set<int>(cut_nodes_)) {
    if (Status s = HealNode(i); !s.ok() && first.ok()) first = s;
  }
  for (auto [a, b] : std::set<std::pair<int, int>>(cut_links_)) {
    if (Status s = HealLink(a, b); !s.ok() && first.ok()) first = s;
  }
  return first;
}

Status NetLab::Destroy() {
  if (!created_) return Status::Ok();
  created_ = false;
  for (int i = 0; i < nodes_; ++i) {
    int code = -1;
    if (auto pids = RunToolOutput({"ip", "netns", "pids", Namespace(i)}, &code);
        pids.ok() && code == 0) {
      for (const auto& p : Lines(*pids)) {
        pid_t pid = static_cast<pid_t>(std::atoi(p.c_str()));
        if (pid > 1) ::kill(pid, SIGKILL);
      }
    }
    (void)RunTool({"ip", "link", "del", Veth(i)});
    (void)RunTool({"ip", "netns", "del", Namespace(i)});
  }
  (void)RunTool({"ip", "link", "del", Bridge()});
  for (int k = 0; k < 50; ++k) {
    bool any = false;
    for (const auto& l : FindLeftovers()) {
      if (l.find("br2k-" + std::to_string(run_) + "-") != std::string::npos ||
          l.find("br2k" + std::to_string(run_) + "v") != std::string::npos ||
          l == "link " + Bridge()) {
        any = true;
      }
    }
    if (!any) return Status::Ok();
    std::this_thread::sleep_for(100ms);
  }
  return InternalError("chaos run " + std::to_string(run_) +
                       ": network leftovers remain after cleanup");
}

}  // namespace br2k::chaos
