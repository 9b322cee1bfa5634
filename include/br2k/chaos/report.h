// The report of a chaos run: the papers' Table 2 columns (leader changes; RS Ignore / Success /
// InProcess out of the total; failed requests; replication success) beside both papers' figures
// (protocol.md section 8), plus what they never measured: failover time per leader fault (the
// fault -> the first acknowledged request answered by another replica; p50 / max), the longest
// gap between acknowledgements, latency p50 / p99 and throughput. As text, JSON and an SVG
// timeline (acknowledgements per second, faults marked).
//
// Pure: computed from recorded data only. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "br2k/chaos/checker.h"
#include "br2k/client/history.h"

namespace br2k::chaos {

// One injected fault. Times are steady-clock nanoseconds (the clock of client::History).
struct FaultEvent {
  std::string kind;       // "cut", "link", "partition", "kill", "pause", "etcd-kill", "chain"
  std::string target;     // e.g. "node-2", "node-0|node-3", "anvil"
  bool leader = false;    // the target was the leading replica when the fault began
  std::string leader_id;  // the leader then ("" when none was known)
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // healed / restarted (0 while it lasts)
  std::string note;    // e.g. an error while healing
};
std::string FaultToJson(const FaultEvent& f);

// The leader as the monitor saw it.
struct LeaderSample {
  int64_t mono_ns = 0;
  std::string leader;  // "" when no replica said "Leader"
};

struct ReportInput {
  std::string title;  // e.g. "leader test, 5 nodes, cut 20 s every 60-120 s"
  std::vector<client::HistoryRecord> history;
  std::vector<FaultEvent> faults;
  std::vector<LeaderSample> leaders;
  EtcdLog etcd;
  CheckResult check;
  int64_t load_start_ns = 0;       // clients started
  int64_t load_end_ns = 0;         // clients stopped
  std::vector<std::string> notes;  // e.g. "node-1 died unexpectedly at t=12.3s"
  int failpoint_kills = 0;         // replicas that killed themselves at the failpoint
};

struct Report {
  std::string title;
  double duration_s = 0;
  uint64_t leader_changes = 0;
  uint64_t entries = 0;  // etcd entries (RS) in all
  uint64_t ignore = 0, success = 0, in_process = 0, fail = 0, null = 0;
  uint64_t requests = 0;             // write operations
  uint64_t acked = 0;                // ok
  uint64_t failed_requests = 0;      // fail + unknown: not acknowledged
  bool replication_success = false;  // the checker passed
  uint64_t faults = 0, leader_faults = 0;
  std::vector<double> failover_s;  // per leader fault; -1 when no ack followed
  double failover_p50_s = 0, failover_max_s = 0;
  double longest_ack_gap_s = 0;
  double longest_ack_gap_at_s = 0;  // when it began, since the load started
  double latency_p50_ms = 0, latency_p99_ms = 0;
  double throughput = 0;  // acknowledged writes per second of load
  std::vector<uint64_t> acks_per_second;
  int failpoint_kills = 0;
  std::vector<std::string> notes;
};

Report MakeReport(const ReportInput& in);
std::string ReportText(const Report& r);
std::string ReportJson(const Report& r);
// A self-contained SVG: acknowledgements per second, fault intervals shaded and labelled.
std::string TimelineSvg(const Report& r, const std::vector<FaultEvent>& faults,
                        int64_t load_start_ns);

}  // namespace br2k::chaos
