// br2k-bench-failover: how long the log server is without a leader that acknowledges writes after
// its leader replica fails, measured from outside as a client sees it.
//
// The service is deployed as `br2k up` deploys it (3 pods of etcd + br2k-logserver on the process
// runtime). One prober thread per replica sends POST /logs every `--probe-ms` (its own client id,
// a short per-request deadline). For each fault, the leader replica's process is killed
// (`kill`: SIGKILL) or paused (`stop`: SIGSTOP); the figure is the time from the fault to the first
// 200 answer from another replica. Then the fault is undone (the pod re-applied, or SIGCONT) and
// the next one waits until every replica answers again. The etcd members are not touched: this is
// the replica's failover, not etcd's (a network cut of the leader's node is the chaos tier's,
// docs/chaos.md).
//
// Prints each fault's figure and, per fault kind, p50/p99/max over `--faults`; `--profile fast`
// runs etcd with 50/500 ms heartbeat/election instead of 100/1000 ms.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>

#include "br2k/http/client.h"
#include "etcd_load.h"
#include "logserver_deployment.h"

namespace {

using namespace br2k;
using Clock = std::chrono::steady_clock;

// One thread per replica, writing all the time; remembers when each replica last acknowledged.
class Probers {
 public:
  Probers(const bench::LogServerDeployment& d, std::chrono::milliseconds every,
          std::chrono::milliseconds timeout) {
    for (size_t i = 0; i < d.nodes(); ++i) {
      last_ok_.push_back(std::make_unique<std::atomic<int64_t>>(0));
      threads_.emplace_back([this, url = d.AppUrl(i), i, every, timeout](std::stop_token stop) {
        auto hp = http::ParseHttpUrl(url);
        if (!hp.ok()) return;
        const std::string client =
            "failover-" + std::to_string(::getpid()) + "-" + std::to_string(i);
        uint64_t seq = 0;
        std::unique_ptr<http::Connection> conn;
        while (!stop.stop_requested()) {
          if (!conn) conn = std::make_unique<http::Connection>(hp->first, hp->second);
          auto r = conn->Call("POST", "/logs", R"({"user":"failover"})",
                              {{"X-Br2k-Client", client}, {"X-Br2k-Seq", std::to_string(++seq)}},
                              Deadline::After(timeout));
          if (r.ok() && r->status == 200) {
            last_ok_[i]->store(Clock::now().time_since_epoch().count());
          } else if (!r.ok()) {
            conn.reset();  // a fresh connection after a timeout or a reset
          }
          std::this_thread::sleep_for(every);
        }
      });
    }
  }
  // The first acknowledgement by a replica other than `except` after `since`.
  std::optional<Clock::time_point> FirstAckAfter(Clock::time_point since, size_t except) const {
    std::optional<Clock::time_point> best;
    for (size_t i = 0; i < last_ok_.size(); ++i) {
      if (i == except) continue;
      Clock::time_point t{Clock::duration(last_ok_[i]->load())};
      if (t > since && (!best || t < *best)) best = t;
    }
    return best;
  }

 private:
  std::vector<std::unique_ptr<std::atomic<int64_t>>> last_ok_;
  std::vector<std::jthread> threads_;
};

struct Stats {
  std::vector<int64_t> micros;
  int failed = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"br2k failover: time to the first acknowledged write after the leader fails"};
  int faults = 20;
  std::string kinds_list = "kill,stop";
  std::string profile = "default";
  int probe_ms = 10;
  int probe_timeout_ms = 250;
  app.add_option("--faults", faults, "Faults of each kind")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--kinds", kinds_list, "Comma-separated: kill (SIGKILL), stop (SIGSTOP)")
      ->capture_default_str();
  app.add_option("--profile", profile, "default (etcd 100/1000 ms) or fast (50/500 ms)")
      ->check(CLI::IsMember({"default", "fast"}))
      ->capture_default_str();
  app.add_option("--probe-ms", probe_ms, "Pause between a prober's writes")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--probe-timeout-ms", probe_timeout_ms, "Deadline of one probe write")
      ->check(CLI::Range(10, 10000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<std::string> kinds;
  std::stringstream ss(kinds_list);
  for (std::string tok; std::getline(ss, tok, ',');) {
    if (tok != "kill" && tok != "stop") {
      std::fprintf(stderr, "br2k-bench-failover: unknown fault kind '%s'\n", tok.c_str());
      return 2;
    }
    kinds.push_back(tok);
  }
  signal(SIGPIPE, SIG_IGN);

  const bool fast = profile == "fast";
  auto bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  auto dir = std::filesystem::temp_directory_path() /
             ("br2k-bench-failover-" + std::to_string(::getpid()));
  auto d = bench::LogServerDeployment::Deploy({.dir = dir,
                                               .bin = bin,
                                               .name = "failover",
                                               .etcd_heartbeat_ms = fast ? 50 : 100,
                                               .etcd_election_ms = fast ? 500 : 1000});
  if (!d.ok()) {
    std::fprintf(stderr, "br2k-bench-failover: deploy: %s\n", d.status().ToString().c_str());
    return 1;
  }
  auto& svc = **d;
  std::printf(
      "failover bench: 3 pods (etcd + br2k-logserver) on the process runtime, etcd heartbeat %d "
      "ms, election %d ms (profile %s); probes every %d ms per replica (deadline %d ms); %d "
      "fault(s) per kind\n",
      svc.spec().etcd_heartbeat_ms, svc.spec().etcd_election_ms, profile.c_str(), probe_ms,
      probe_timeout_ms, faults);
  Probers probers(svc, std::chrono::milliseconds(probe_ms),
                  std::chrono::milliseconds(probe_timeout_ms));
  std::map<std::string, Stats> stats;
  int rc = 0;
  for (int n = 0; n < faults; ++n) {
    for (const auto& kind : kinds) {
      // Steady state: a leader that acknowledges, and every replica answering.
      auto leader = svc.LeaderIndex(std::chrono::seconds(60));
      if (!leader) {
        std::fprintf(stderr, "br2k-bench-failover: no leader before fault %d\n", n + 1);
        rc = 1;
        break;
      }
      const pid_t pid = svc.Pid(*leader, "app");
      if (pid <= 0) {
        std::fprintf(stderr, "br2k-bench-failover: the leader's process is not running\n");
        rc = 1;
        break;
      }
      const auto t0 = Clock::now();
      ::kill(pid, kind == "kill" ? SIGKILL : SIGSTOP);
      std::optional<Clock::time_point> ack;
      for (Deadline until = Deadline::After(std::chrono::seconds(60)); !until.expired();) {
        ack = probers.FirstAckAfter(t0, *leader);
        if (ack) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (kind == "stop") ::kill(pid, SIGCONT);
      Stats& s = stats[kind];
      if (ack) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(*ack - t0).count();
        s.micros.push_back(us);
        std::printf(
            "fault %2d %-4s leader %zu: first acknowledged write at another replica after "
            "%.3f s\n",
            n + 1, kind.c_str(), *leader, static_cast<double>(us) / 1e6);
      } else {
        ++s.failed;
        std::printf("fault %2d %-4s leader %zu: no other replica acknowledged within 60 s\n", n + 1,
                    kind.c_str(), *leader);
      }
      std::fflush(stdout);
      if (Status st = svc.Restore(); !st.ok()) {
        std::fprintf(stderr, "br2k-bench-failover: restore: %s\n", st.ToString().c_str());
        rc = 1;
        break;
      }
    }
    if (rc != 0) break;
  }
  std::printf("%-6s %-8s %7s %9s %9s %9s %7s\n", "kind", "profile", "faults", "p50 s", "p99 s",
              "max s", "failed");
  for (auto& [kind, s] : stats) {
    auto copy = s.micros;
    const double p50 = bench::PercentileMs(copy, 50) / 1000.0;
    const double p99 = bench::PercentileMs(copy, 99) / 1000.0;
    const double mx =
        copy.empty() ? 0 : static_cast<double>(*std::max_element(copy.begin(), copy.end())) / 1e6;
    std::printf("%-6s %-8s %7zu %9.3f %9.3f %9.3f %7d\n", kind.c_str(), profile.c_str(),
                s.micros.size(), p50, p99, mx, s.failed);
    if (s.failed > 0) rc = 1;
  }
  d->reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
