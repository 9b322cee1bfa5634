#include "logserver_fleet.h"

#include <signal.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "br2k/replication/node_process.h"
#include "test_env.h"

namespace br2k::testing {

using namespace std::chrono_literals;

Result<std::unique_ptr<LogserverFleet>> LogserverFleet::Create(LogserverFleetOptions options,
                                                               Deadline deadline) {
  if (options.dir.empty() || !std::filesystem::is_directory(options.dir)) {
    return InvalidArgumentError("LogserverFleet: dir must be an existing directory, got '" +
                                options.dir.string() + "'");
  }
  if (options.nodes < 1) return InvalidArgumentError("LogserverFleet: nodes must be >= 1");
  auto cluster_options = cluster::LocalClusterOptions::TestProfile(options.dir, options.nodes);
  cluster_options.tls_ca = options.etcd_tls_ca;
  cluster_options.extra_args = options.etcd_args;
  BR2K_ASSIGN_OR_RETURN(auto cluster,
                        cluster::LocalCluster::Start(std::move(cluster_options), deadline));
  std::unique_ptr<LogserverFleet> fleet(new LogserverFleet(std::move(options), std::move(cluster)));
  for (int i = 0; i < fleet->options_.nodes; ++i) {
    BR2K_ASSIGN_OR_RETURN(int port, proc::FreePort());
    fleet->ports_.push_back(port);
    fleet->pids_.push_back(0);
  }
  return fleet;
}

LogserverFleet::LogserverFleet(LogserverFleetOptions options,
                               std::unique_ptr<cluster::LocalCluster> cluster)
    : options_(std::move(options)),
      cluster_(std::move(cluster)),
      launcher_(proc::PosixLauncher()) {}

LogserverFleet::~LogserverFleet() {
  StopAll();
}

std::string LogserverFleet::Id(int i) const {
  return "node-" + std::to_string(i);
}

std::string LogserverFleet::Url(int i) const {
  return "http://127.0.0.1:" + std::to_string(ports_[i]);
}

std::filesystem::path LogserverFleet::Below(const std::string& pattern, int i) const {
  std::string rel = pattern;
  for (size_t at = rel.find("{i}"); at != std::string::npos; at = rel.find("{i}", at)) {
    rel.replace(at, 3, std::to_string(i));
  }
  return options_.dir / rel;
}

std::filesystem::path LogserverFleet::DataDir(int i) const {
  return Below(options_.data_dir, i);
}

std::filesystem::path LogserverFleet::LogFile(int i) const {
  return Below(options_.log_file, i);
}

std::vector<std::string> LogserverFleet::Argv(int i, const std::vector<std::string>& extra) const {
  replication::LogserverNode n{.id = Id(i),
                               .service = options_.service,
                               .listen_port = ports_[i],
                               .etcd_urls = cluster_->client_urls(),
                               .local_etcd_url = cluster_->members()[i].client_url,
                               .data_dir = DataDir(i)};
  if (options_.etcd_tls_ca) {
    const auto files = cluster::ClusterClientTlsFiles(options_.dir);
    n.etcd_ca = files.ca;
    n.etcd_cert = files.cert;
    n.etcd_key = files.key;
  }
  n.extra_args = options_.args;
  n.extra_args.insert(n.extra_args.end(), extra.begin(), extra.end());
  return replication::LogserverArgv(BinDir() / options_.binary, n);
}

Status LogserverFleet::Spawn(int i, const std::vector<std::string>& extra) {
  if (Running(i))
    return FailedPreconditionError(Id(i) + " already runs (pid " + std::to_string(pids_[i]) + ")");
  std::error_code ec;
  std::filesystem::create_directories(LogFile(i).parent_path(), ec);
  BR2K_ASSIGN_OR_RETURN(pid_t pid,
                        launcher_->Spawn({.argv = Argv(i, extra), .log_file = LogFile(i)}));
  pids_[i] = pid;
  return Status::Ok();
}

Status LogserverFleet::Start(int i, const std::vector<std::string>& extra) {
  BR2K_RETURN_IF_ERROR(Spawn(i, extra));
  // Bounded wait until it answers.
  auto until = Deadline::After(options_.start_timeout);
  while (!until.expired() && !replication::ProbeReplica(Url(i), Deadline::After(1s)).ok()) {
    std::this_thread::sleep_for(50ms);
  }
  auto probe = replication::ProbeReplica(Url(i), Deadline::After(2s));
  if (probe.ok()) return Status::Ok();
  return DeadlineExceededError(Id(i) + " not up at " + Url(i) + ": " + probe.status().ToString() +
                               "\n" + proc::TailOfFile(LogFile(i), 20, "  "));
}

void LogserverFleet::Stop(int i) {
  if (pids_[i] > 0) (void)proc::Terminate(*launcher_, pids_[i], 3s);
  pids_[i] = 0;
}

void LogserverFleet::StopAll() {
  for (int i = 0; i < size(); ++i) Stop(i);
}

Status LogserverFleet::Kill(int i) {
  BR2K_RETURN_IF_ERROR(Signal(i, SIGKILL));
  BR2K_RETURN_IF_ERROR(launcher_->Wait(pids_[i], Deadline::After(10s)).status());
  pids_[i] = 0;
  return Status::Ok();
}

Status LogserverFleet::Signal(int i, int sig) {
  if (!Running(i)) return FailedPreconditionError(Id(i) + " does not run");
  return launcher_->Signal(pids_[i], sig);
}

Result<proc::ExitInfo> LogserverFleet::WaitExit(int i, Deadline deadline) {
  if (!Running(i)) return FailedPreconditionError(Id(i) + " does not run");
  BR2K_ASSIGN_OR_RETURN(proc::ExitInfo exit, launcher_->Wait(pids_[i], deadline));
  pids_[i] = 0;
  return exit;
}

void LogserverFleet::Forget(int i) {
  pids_[i] = 0;
}

bool LogserverFleet::Alive(int i) const {
  return Running(i) && launcher_->Alive(pids_[i]);
}

std::set<int> LogserverFleet::RunningNodes() const {
  std::set<int> out;
  for (int i = 0; i < size(); ++i) {
    if (Running(i)) out.insert(i);
  }
  return out;
}

int LogserverFleet::WaitLeader(const std::set<int>& among, Deadline deadline) const {
  while (!deadline.expired()) {
    for (int i : among) {
      auto p = replication::ProbeReplica(Url(i), Deadline::After(1s));
      if (p.ok() && p->role == "Leader") return i;
    }
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

void LogserverFleet::DumpLogs(std::ostream& out, size_t tail_chars) const {
  for (int i = 0; i < size(); ++i) {
    std::ifstream in(LogFile(i));
    std::string all((std::istreambuf_iterator<char>(in)), {});
    if (all.size() > tail_chars) all = all.substr(all.size() - tail_chars);
    out << "---- " << Id(i) << " log tail (" << LogFile(i).string() << ") ----\n" << all << "\n";
  }
}

std::vector<std::string> FastFailoverArgs(int takeover_grace_ms) {
  return {"--leader-ttl=1", "--takeover-grace-ms=" + std::to_string(takeover_grace_ms),
          "--step-down-ms=1500", "--request-timeout-ms=5000"};
}

std::map<std::string, std::string> SessionHeaders(const std::string& client, uint64_t seq) {
  return {{"X-Br2k-Client", client}, {"X-Br2k-Seq", std::to_string(seq)}};
}

Result<http::ClientResponse> PostLog(const std::string& url, const std::string& user,
                                     const std::string& client, uint64_t seq, Deadline deadline) {
  return http::Call(url, "POST", "/logs", nlohmann::json{{"user", user}}.dump(),
                    SessionHeaders(client, seq), deadline);
}

}  // namespace br2k::testing
