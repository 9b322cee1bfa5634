// br2k chaos: one chaos run (network namespaces, faults, clients, checker, report); see
// docs/chaos.md.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "br2k/chaos/netns.h"
#include "br2k/chaos/run.h"
#include "commands.h"

namespace br2k::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void OnInterrupt(int) {
  g_interrupted.store(true);
}

struct ChaosFlags {
  chaos::Scenario s;
  std::string file;
  std::string out;
  bool cleanup = false;
  bool json = false;
};

int RunChaos(ChaosFlags& f, const CLI::App& cmd) {
  if (f.cleanup) {
    auto left = chaos::FindLeftovers();
    for (const auto& l : left) std::printf("removing %s\n", l.c_str());
    Status s = chaos::CleanupLeftovers();
    if (!s.ok()) {
      std::fprintf(stderr, "br2k: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("no chaos leftovers\n");
    return 0;
  }
  chaos::Scenario s = f.s;
  if (!f.file.empty()) {
    std::ifstream in(f.file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      std::fprintf(stderr, "br2k: cannot read %s\n", f.file.c_str());
      return 1;
    }
    // The file gives the scenario; flags given on the command line as well win.
    auto parsed = chaos::ParseScenarioJson(ss.str());
    if (!parsed.ok()) {
      std::fprintf(stderr, "br2k: %s: %s\n", f.file.c_str(), parsed.status().ToString().c_str());
      return 2;
    }
    chaos::Scenario base = *parsed;
    auto given = [&](const char* name) { return cmd.get_option(name)->count() > 0; };
    if (given("--nodes")) base.nodes = s.nodes;
    if (given("--attacker")) base.attacker = s.attacker;
    if (given("--fault")) base.fault = s.fault;
    if (given("--duration")) base.duration_s = s.duration_s;
    if (given("--clients")) base.clients = s.clients;
    if (given("--seed")) base.seed = s.seed;
    s = base;
  }
  if (!f.out.empty()) s.out = f.out;
  if (Status v = chaos::ValidateScenario(s); !v.ok()) {
    std::fprintf(stderr, "br2k: %s\n", v.ToString().c_str());
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto r = chaos::RunScenario(s, &g_interrupted);
  if (!r.ok()) {
    std::fprintf(stderr, "br2k: chaos: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (f.json) {
    std::cout << chaos::ReportJson(r->report) << "\n";
  } else {
    std::cout << chaos::ReportText(r->report) << "\n" << r->check.ToText();
    std::cout << "files in " << s.out.string() << "\n";
  }
  return r->ok() ? 0 : 3;
}

}  // namespace

void RegisterChaosCommands(CLI::App& app) {
  auto f = std::make_shared<ChaosFlags>();
  auto* c = app.add_subcommand(
      "chaos",
      "Run a chaos scenario: nodes in network namespaces, the papers' attacker, "
      "clients, then the history checker and the report (needs root). Exit 3 when "
      "the checker fails.");
  c->add_option("--scenario", f->file, "scenario JSON file (keys as in docs/chaos.md)");
  c->add_option("--out", f->out, "directory for logs, histories and the report (required)");
  c->add_option("--nodes", f->s.nodes, "nodes (etcd member + replica each), 1-9")
      ->capture_default_str();
  c->add_option("--run", f->s.run, "run number: subnet 10.213.<run>.0/24")->capture_default_str();
  c->add_option("--attacker", f->s.attacker, "leader | random | none")->capture_default_str();
  c->add_option("--fault", f->s.fault,
                "cut | link | partition | kill | pause | etcd-kill | chain | mixed")
      ->capture_default_str();
  c->add_option("--period-min", f->s.period_min_s, "seconds between faults, at least")
      ->capture_default_str();
  c->add_option("--period-max", f->s.period_max_s, "seconds between faults, at most")
      ->capture_default_str();
  c->add_option("--hold", f->s.hold_s, "seconds a fault lasts")->capture_default_str();
  c->add_option("--first-fault", f->s.first_fault_s, "seconds of load before the first fault")
      ->capture_default_str();
  c->add_option("--max-faults", f->s.max_faults, "at most this many faults (0: as many as fit)")
      ->capture_default_str();
  c->add_option("--clients", f->s.clients, "clients, each with its own id")->capture_default_str();
  c->add_option("--rate", f->s.rate, "writes/s per client (0: closed loop)")->capture_default_str();
  c->add_option("--duration", f->s.duration_s, "seconds of load")->capture_default_str();
  c->add_option("--give-up", f->s.give_up_s, "seconds a write is retried")->capture_default_str();
  c->add_option("--converge", f->s.converge_s, "seconds to wait for the replicas to agree")
      ->capture_default_str();
  c->add_option("--failpoint", f->s.failpoint,
                "br2k-logserver --failpoint for every replica (e.g. mid_apply:20)");
  c->add_option("--logserver-arg", f->s.logserver_args, "extra br2k-logserver flag (repeatable)");
  c->add_option("--seed", f->s.seed, "attacker's random seed (0: from the clock)");
  c->add_option("--bin-dir", f->s.bin_dir, "directory of br2k-logserver (default: next to br2k)");
  c->add_flag("--cleanup", f->cleanup,
              "remove namespaces, links and processes left by earlier runs, then exit");
  c->add_flag("--json", f->json, "print the report as JSON");
  c->callback([f, c] { std::exit(RunChaos(*f, *c)); });
}

}  // namespace br2k::cli
