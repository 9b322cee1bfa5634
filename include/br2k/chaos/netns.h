// Real network faults for chaos runs: every node lives in its own Linux network namespace,
// joined by a veth pair to a bridge in the root namespace. Everything carries the `br2k` prefix
// and the run number r (1-250):
//
//   bridge      br2kc<r>             10.213.<r>.1/24 (the root namespace: the driver, its
//                                    clients and anvil reach the nodes through it)
//   namespace   br2k-<r>-<i>         eth0 = 10.213.<r>.<10+i>/24, lo up
//   veth        br2k<r>v<i>          the bridge side of node i's pair
//
// Faults: CutNode (the bridge-side veth down: node i hears nothing and says nothing, to anyone),
// CutLink (iptables DROP both ways between two nodes, inside both namespaces), Partition
// (CutLink across the two sides), HealAll. Traffic only ever goes to addresses of this subnet.
//
// Needs root (CAP_NET_ADMIN) and the `ip` and `iptables` commands. Not thread-safe: one owner
// drives it (the attacker thread); Launcher() is thread-safe. The destructor removes everything
// it created (namespaces, veths, the bridge; iptables rules live in the namespaces).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/proc/process.h"

namespace br2k::chaos {

// Runs argv (no shell) and waits up to 20 s. INTERNAL with its output when it exits non-zero.
Status RunTool(const std::vector<std::string>& argv);

// Names of leftovers of earlier runs: namespaces whose name starts with "br2k-" and links whose
// name starts with "br2k" ("netns br2k-3-0", "link br2kc3").
std::vector<std::string> FindLeftovers();
// Removes every leftover FindLeftovers lists (and kills processes still inside such a
// namespace). OK when nothing is left.
Status CleanupLeftovers();

// A proc::Launcher that starts processes inside namespace `ns` (`ip netns exec <ns> argv...`:
// ip execs the command, so the pid is the process's own). Other calls forward to `base`.
std::shared_ptr<proc::Launcher> NetnsLauncher(std::string ns, std::shared_ptr<proc::Launcher> base);

class NetLab {
 public:
  // Creates the bridge and `nodes` namespaces. FAILED_PRECONDITION when leftovers exist (run
  // `br2k chaos --cleanup`); INVALID_ARGUMENT for r outside 1-250 or nodes outside 1-200;
  // INTERNAL when a command fails (what was created is removed again).
  static Result<std::unique_ptr<NetLab>> Create(int run, int nodes);
  ~NetLab();
  NetLab(const NetLab&) = delete;
  NetLab& operator=(const NetLab&) = delete;

  int nodes() const { return nodes_; }
  std::string Namespace(int i) const;  // br2k-<r>-<i>
  std::string Address(int i) const;    // 10.213.<r>.<10+i>
  std::string BridgeAddress() const;   // 10.213.<r>.1
  std::shared_ptr<proc::Launcher> Launcher(int i) const {
    return launchers_[static_cast<size_t>(i)];
  }

  Status CutNode(int i);
  Status HealNode(int i);
  Status CutLink(int a, int b);
  Status HealLink(int a, int b);
  // Cuts every link between `minority` and the other nodes.
  Status Partition(const std::set<int>& minority);
  // Every node up, every cut link healed.
  Status HealAll();
  // Removes everything. Idempotent; the destructor calls it.
  Status Destroy();

 private:
  NetLab(int run, int nodes);
  std::string Veth(int i) const;
  std::string Bridge() const;

  int run_;
  int nodes_;
  bool created_ = false;
  std::set<int> cut_nodes_;
  std::set<std::pair<int, int>> cut_links_;
  std::vector<std::shared_ptr<proc::Launcher>> launchers_;
};

}  // namespace br2k::chaos
