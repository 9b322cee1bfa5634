// One chaos run: a br2k-logserver service on `nodes` network namespaces (netns.h; each node =
// its etcd member + its replica), anvil with the ServiceRegistry reached through the bridge,
// `clients` ServiceClients finding the service through the registry and redirects, the papers'
// attacker injecting faults, then heal, converge, check (checker.h) and report (report.h).
// Everything it starts and creates is removed at the end, also on error or interruption.
//
// Needs root. Not thread-safe: one run at a time per machine (the namespaces are global).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/chaos/checker.h"
#include "br2k/chaos/report.h"
#include "br2k/common/status.h"

namespace br2k::chaos {

struct Scenario {
  std::string name = "chaos";
  int nodes = 3;  // 1-9 (one anvil development key per replica)
  int run = 1;    // subnet 10.213.<run>.0/24, names br2k-<run>-*
  // "leader": the node whose replica leads now; "random": any node; "none": no attacker.
  std::string attacker = "leader";
  // What one fault does to its target: "cut" (its network, both directions), "link" (one link
  // to another node), "partition" (the target plus nothing else on the minority side: every link
  // to the others cut), "kill" (kill -9 the replica, restart after the hold), "pause"
  // (SIGSTOP/SIGCONT the replica), "etcd-kill" (kill -9 its etcd member, restart), "chain"
  // (anvil stopped, restarted with its state), "mixed" (a random one of cut/kill/pause/etcd-kill).
  std::string fault = "cut";
  double period_min_s = 10;  // time between the end of one fault and the next
  double period_max_s = 15;
  double hold_s = 5;         // how long a fault lasts (the papers' 20 s cut)
  double first_fault_s = 3;  // the attacker waits this long after the load starts
  int max_faults = 0;        // 0 = as many as fit
  int clients = 3;
  double rate = 0;         // writes per second per client; 0 = closed loop
  double duration_s = 30;  // load
  double give_up_s = 30;   // a write's deadline
  double converge_s = 60;  // after healing, how long to wait for the replicas to agree
  // Given to every replica (--failpoint=<it>); a replica that kills itself there is restarted.
  std::string failpoint;
  std::vector<std::string> logserver_args;  // extra flags for every replica
  uint64_t seed = 0;                        // 0 = from the clock
  std::filesystem::path out;                // required: logs, histories, report
  std::filesystem::path bin_dir;            // holds br2k-logserver; "" = next to this executable
  std::string etcd_binary = "etcd";
};

// Parses a scenario file: a JSON object whose keys are the fields above (out and bin_dir as
// strings; unknown keys refused). INVALID_ARGUMENT naming the key. Never throws.
Result<Scenario> ParseScenarioJson(std::string_view text, Scenario base = {});
// INVALID_ARGUMENT naming the first bad field.
Status ValidateScenario(const Scenario& s);

struct RunOutcome {
  CheckResult check;
  Report report;
  std::vector<FaultEvent> faults;
  std::vector<std::string> unexpected_deaths;  // replicas that died without being told to
  int failpoint_kills = 0;  // replicas that killed themselves at the failpoint (restarted)
  bool ok() const { return check.ok(); }
};

// Runs the scenario, writes <out>/{report.txt,report.json,timeline.svg,check.txt,check.json,
// faults.jsonl,history-<client>.jsonl,scenario.json} and the process logs, and returns the
// outcome (a failed check is an outcome, not an error). Errors: FAILED_PRECONDITION for
// leftovers of an earlier run or missing binaries, CANCELLED when `interrupted` became true,
// or what setting the cluster up failed with.
Result<RunOutcome> RunScenario(const Scenario& s, const std::atomic<bool>* interrupted = nullptr);

}  // namespace br2k::chaos
