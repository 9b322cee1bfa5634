#include "br2k/cluster/local_cluster.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "br2k/common/atomic_file.h"
#include "br2k/common/etcd_limits.h"
#include "br2k/etcd/grpc_client.h"

namespace br2k::cluster {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<etcd::GrpcClient> ProbeClient(const std::vector<std::string>& urls,
                                              const etcd::EtcdTls& tls) {
  auto c = etcd::GrpcClient::Create(etcd::GrpcClientOptions{.endpoints = urls, .tls = tls});
  return c.ok() ? std::move(c).value() : nullptr;
}

MemberHealth Probe(etcd::Client& client, const std::string& name, const std::string& url, pid_t pid,
                   bool alive, Deadline deadline) {
  MemberHealth h{.name = name, .client_url = url, .pid = pid};
  if (!alive) {
    h.error = pid > 0 ? "process " + std::to_string(pid) + " is not running" : "stopped";
    return h;
  }
  auto st = client.EndpointStatus(url, deadline.Cap(1s));
  if (!st.ok()) {
    h.error = st.status().message();
    return h;
  }
  h.member_id = st->header.member_id;
  h.raft_term = st->raft_term;
  h.is_leader = st->is_leader();
  if (st->leader == 0) {
    h.error = "no leader";
  } else if (!st->errors.empty()) {
    h.error = st->errors.front();
  } else {
    h.healthy = true;
  }
  return h;
}

}  // namespace

LocalClusterOptions LocalClusterOptions::TestProfile(std::filesystem::path run_dir, int members) {
  LocalClusterOptions o;
  o.members = members;
  o.run_dir = std::move(run_dir);
  o.heartbeat_ms = 50;
  o.election_ms = 500;
  return o;
}

LocalCluster::LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {
  if (!options_.launcher) options_.launcher = proc::PosixLauncher();
}

LocalCluster::~LocalCluster() {
  if (!options_.detach) (void)Stop();
}

Result<std::unique_ptr<LocalCluster>> LocalCluster::Start(LocalClusterOptions options,
                                                          Deadline deadline) {
  if (options.members < 1) return InvalidArgumentError("cluster: members must be >= 1");
  if (options.run_dir.empty()) return InvalidArgumentError("cluster: run_dir is required");
  if (options.heartbeat_ms <= 0 || options.election_ms < 5 * options.heartbeat_ms) {
    return InvalidArgumentError(
        "cluster: election timeout must be at least 5 heartbeats (etcd requires it)");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.run_dir, ec);
  if (ec) {
    return InternalError("cluster: cannot create " + options.run_dir.string() + ": " +
                         ec.message());
  }
  br2k::Status last;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    std::unique_ptr<LocalCluster> c(new LocalCluster(options));
    std::set<int> used;
    c->members_.resize(static_cast<size_t>(options.members));
    for (int i = 0; i < options.members; ++i) {
      auto& m = c->members_[static_cast<size_t>(i)];
      int ports[2];
      for (int& p : ports) {
        do {
          BR2K_ASSIGN_OR_RETURN(p, proc::FreePort(options.host));
        } while (!used.insert(p).second);
      }
      m.name = "etcd-" + std::to_string(i);
      const std::string scheme = options.tls_ca ? "https://" : "http://";
      m.client_url = scheme + options.host + ":" + std::to_string(ports[0]);
      m.peer_url = scheme + options.host + ":" + std::to_string(ports[1]);
      m.data_dir = options.run_dir / m.name / "data";
      m.log_file = options.run_dir / m.name / "etcd.log";
      c->initial_cluster_ += (i ? "," : "") + m.name + "=" + m.peer_url;
    }
    if (options.tls_ca) BR2K_RETURN_IF_ERROR(c->WriteTlsFiles());
    for (int i = 0; i < options.members; ++i) {
      auto& m = c->members_[static_cast<size_t>(i)];
      std::filesystem::remove_all(m.data_dir, ec);  // a new cluster needs empty data dirs
      std::filesystem::create_directories(m.data_dir.parent_path(), ec);
      std::filesystem::remove(m.log_file, ec);
      last = c->StartMember(i, /*initial=*/true);
      if (!last.ok()) {
        if (last.code() == StatusCode::kNotFound) {
          return FailedPreconditionError(
              "cluster: cannot run '" + options.etcd_binary +
              "' (install Debian's etcd-server: scripts/setup.sh does): " + last.message());
        }
        break;
      }
    }
    if (last.ok()) last = c->WaitHealthy(deadline);
    if (last.ok()) {
      spdlog::info("local etcd cluster of {} members is healthy", options.members);
      return c;
    }
    // A member that exited at once most likely lost a port race: retry with new ports.
    bool someone_died = false;
    for (auto& m : c->members_) {
      if (m.pid > 0 && !c->options_.launcher->Alive(m.pid)) someone_died = true;
    }
    std::string logs;
    for (auto& m : c->members_)
      logs += "  " + m.name + ":\n" + proc::TailOfFile(m.log_file, 5, "    ");
    last = br2k::Status(last.code(), last.message() + "\nlast lines of the member logs:\n" + logs);
    (void)c->Stop();
    if (!someone_died || deadline.expired()) break;
    spdlog::warn("etcd member exited during start-up (attempt {}), retrying with new ports",
                 attempt);
  }
  return last;
}

std::vector<std::string> LocalCluster::MemberArgs(int index, bool /*initial*/) const {
  const auto& m = members_[static_cast<size_t>(index)];
  // With an existing data directory etcd ignores the --initial-* flags, so the same arguments
  // serve for the first start and for restarts.
  std::vector<std::string> args = {
      options_.etcd_binary, "--name=" + m.name, "--data-dir=" + m.data_dir.string(),
      "--listen-client-urls=" + m.client_url, "--advertise-client-urls=" + m.client_url,
      "--listen-peer-urls=" + m.peer_url, "--initial-advertise-peer-urls=" + m.peer_url,
      "--initial-cluster=" + initial_cluster_, "--initial-cluster-state=new",
      "--initial-cluster-token=br2k-" + options_.run_dir.filename().string(),
      "--heartbeat-interval=" + std::to_string(options_.heartbeat_ms),
      "--election-timeout=" + std::to_string(options_.election_ms),
      std::string("--pre-vote=") + (options_.pre_vote ? "true" : "false"),
      // One br2k group-commit transaction carries a whole batch of requests.
      EtcdMaxTxnOpsFlag(), "--max-request-bytes=10485760", "--logger=zap", "--log-outputs=stderr"};
  if (options_.tls_ca) {
    // Flag names from etcd's documentation (op-guide/security.md, "Transport security").
    const auto files = ClusterClientTlsFiles(options_.run_dir);
    const auto dir = m.data_dir.parent_path() / "tls";
    const std::string cert = (dir / "member.crt").string();
    const std::string key = (dir / "member.key").string();
    for (std::string flag :
         {"--cert-file=" + cert, "--key-file=" + key, "--trusted-ca-file=" + files.ca.string(),
          std::string("--client-cert-auth"), "--peer-cert-file=" + cert, "--peer-key-file=" + key,
          "--peer-trusted-ca-file=" + files.ca.string(), std::string("--peer-client-cert-auth")}) {
      args.push_back(std::move(flag));
    }
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  return args;
}

br2k::Status LocalCluster::WriteTlsFiles() {
  const auto& ca = *options_.tls_ca;
  const auto files = ClusterClientTlsFiles(options_.run_dir);
  std::error_code ec;
  std::filesystem::create_directories(files.ca.parent_path(), ec);
  if (ec) return InternalError("cluster: cannot create " + files.ca.parent_path().string());
  std::filesystem::permissions(files.ca.parent_path(), std::filesystem::perms::owner_all, ec);
  // The host is an IP address unless it has letters (then a DNS name, like "localhost").
  const bool host_is_ip =
      options_.host.find_first_of("ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ-") == std::string::npos;
  deploy::LeafOptions leaf{.ip_addresses = {}, .dns_names = {"localhost"}};
  if (host_is_ip) {
    leaf.ip_addresses.push_back(options_.host);
  } else if (options_.host != "localhost") {
    leaf.dns_names.push_back(options_.host);
  }
  leaf.common_name = "br2k-client";
  BR2K_ASSIGN_OR_RETURN(auto client, deploy::IssueCertificate(ca, leaf));
  BR2K_RETURN_IF_ERROR(WriteFileAtomically(files.ca, ca.cert_pem));
  BR2K_RETURN_IF_ERROR(WriteFileAtomically(files.cert, client.cert_pem));
  BR2K_RETURN_IF_ERROR(WriteFileAtomically(files.key, client.key_pem, 0600));
  for (const auto& m : members_) {
    const auto dir = m.data_dir.parent_path() / "tls";
    std::filesystem::create_directories(dir, ec);
    if (ec) return InternalError("cluster: cannot create " + dir.string());
    leaf.common_name = m.name;
    BR2K_ASSIGN_OR_RETURN(auto member, deploy::IssueCertificate(ca, leaf));
    BR2K_RETURN_IF_ERROR(WriteFileAtomically(dir / "member.crt", member.cert_pem));
    BR2K_RETURN_IF_ERROR(WriteFileAtomically(dir / "member.key", member.key_pem, 0600));
  }
  client_tls_ =
      etcd::EtcdTls{.ca_pem = ca.cert_pem, .cert_pem = client.cert_pem, .key_pem = client.key_pem};
  return br2k::Status::Ok();
}

br2k::Status LocalCluster::StartMember(int index, bool initial) {
  auto& m = members_[static_cast<size_t>(index)];
  proc::SpawnSpec spec{
      .argv = MemberArgs(index, initial), .log_file = m.log_file, .detach = options_.detach};
  BR2K_ASSIGN_OR_RETURN(m.pid, options_.launcher->Spawn(spec));
  m.identity = proc::IdentityAfterSpawn(m.pid, spec.argv);
  spdlog::debug("started {} pid {} client {}", m.name, m.pid, m.client_url);
  return br2k::Status::Ok();
}

std::vector<std::string> LocalCluster::client_urls() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m.client_url);
  return out;
}

std::vector<MemberHealth> LocalCluster::Health(Deadline deadline) const {
  auto client = ProbeClient(client_urls(), client_tls_);
  std::vector<MemberHealth> out;
  for (const auto& m : members_) {
    bool alive = m.pid > 0 && options_.launcher->Alive(m.pid);
    out.push_back(Probe(*client, m.name, m.client_url, m.pid, alive, deadline));
  }
  return out;
}

Result<int> LocalCluster::LeaderIndex(Deadline deadline) const {
  auto health = Health(deadline);
  for (size_t i = 0; i < health.size(); ++i) {
    if (health[i].healthy && health[i].is_leader) return static_cast<int>(i);
  }
  return UnavailableError("cluster: no member is the leader right now");
}

br2k::Status LocalCluster::WaitHealthy(Deadline deadline) const {
  std::string why = "not probed yet";
  while (!deadline.expired()) {
    auto health = Health(deadline);
    uint64_t leader_id = 0;
    bool ok = true;
    for (const auto& m : members_) {
      if (m.pid > 0 && !options_.launcher->Alive(m.pid)) {
        auto exit = options_.launcher->Wait(m.pid, Deadline::After(100ms));
        return UnavailableError("cluster: " + m.name + " exited (" +
                                (exit.ok() ? exit->ToString() : "gone") + "); see " +
                                m.log_file.string());
      }
    }
    for (const auto& h : health) {
      if (h.pid == 0) continue;  // deliberately stopped
      if (!h.healthy) {
        ok = false;
        why = h.name + ": " + h.error;
        break;
      }
      if (h.is_leader) leader_id = h.member_id;
    }
    if (ok && leader_id == 0) {
      ok = false;
      why = "no member claims leadership yet";
    }
    if (ok) {
      // The leader is known; a linearizable read proves that a quorum serves requests.
      auto client = ProbeClient(client_urls(), client_tls_);
      auto r = client->Range(etcd::RangeRequest::Key("/br2k/health"), deadline.Cap(2s));
      if (r.ok()) return br2k::Status::Ok();
      why = "quorum read failed: " + r.status().message();
    }
    std::this_thread::sleep_for(50ms);
  }
  return DeadlineExceededError("cluster: not healthy before the deadline (" + why + ")");
}

br2k::Status LocalCluster::KillMember(int index, int sig) {
  if (index < 0 || index >= static_cast<int>(members_.size())) {
    return InvalidArgumentError("cluster: no member " + std::to_string(index));
  }
  auto& m = members_[static_cast<size_t>(index)];
  if (m.pid == 0) return FailedPreconditionError("cluster: " + m.name + " is not running");
  BR2K_RETURN_IF_ERROR(options_.launcher->Signal(m.pid, sig));
  auto waited = options_.launcher->Wait(m.pid, Deadline::After(10s));
  if (!waited.ok()) return waited.status();
  m.pid = 0;
  return br2k::Status::Ok();
}

br2k::Status LocalCluster::PauseMember(int index) {
  auto& m = members_.at(static_cast<size_t>(index));
  BR2K_RETURN_IF_ERROR(options_.launcher->Signal(m.pid, SIGSTOP));
  // Only once it is stopped may a test assume the member answers nothing (a write sent just
  // after kill() could otherwise still commit).
  return proc::WaitStopped(m.pid, Deadline::After(5s));
}

br2k::Status LocalCluster::ResumeMember(int index) {
  auto& m = members_.at(static_cast<size_t>(index));
  return options_.launcher->Signal(m.pid, SIGCONT);
}

br2k::Status LocalCluster::RestartMember(int index, Deadline deadline) {
  if (index < 0 || index >= static_cast<int>(members_.size())) {
    return InvalidArgumentError("cluster: no member " + std::to_string(index));
  }
  auto& m = members_[static_cast<size_t>(index)];
  if (m.pid != 0) return FailedPreconditionError("cluster: " + m.name + " is still running");
  BR2K_RETURN_IF_ERROR(StartMember(index, /*initial=*/false));
  return WaitHealthy(deadline);
}

br2k::Status LocalCluster::Stop() {
  br2k::Status first;
  for (auto& m : members_) {
    if (m.pid == 0) continue;
    br2k::Status st = proc::Terminate(*options_.launcher, m.pid, 3s);
    if (!st.ok() && first.ok()) first = st;
    m.pid = 0;
  }
  return first;
}

std::vector<EtcdMemberState> LocalCluster::ToState() const {
  std::vector<EtcdMemberState> out;
  for (const auto& m : members_) {
    out.push_back(EtcdMemberState{.name = m.name,
                                  .client_url = m.client_url,
                                  .peer_url = m.peer_url,
                                  .pid = m.pid,
                                  .data_dir = m.data_dir.string(),
                                  .log_file = m.log_file.string(),
                                  .argv = m.identity.argv,
                                  .start_time = m.identity.start_time});
  }
  return out;
}

std::vector<MemberHealth> ProbeMembers(const std::vector<EtcdMemberState>& members,
                                       Deadline deadline, const etcd::EtcdTls& tls) {
  std::vector<std::string> urls;
  for (const auto& m : members) urls.push_back(m.client_url);
  std::vector<MemberHealth> out;
  // Certificates only for TLS members (a run directory may keep them from an earlier run).
  const bool https = std::any_of(urls.begin(), urls.end(),
                                 [](const std::string& u) { return u.rfind("https://", 0) == 0; });
  auto client = urls.empty() ? nullptr : ProbeClient(urls, https ? tls : etcd::EtcdTls{});
  auto launcher = proc::PosixLauncher();
  for (const auto& m : members) {
    // pid 0: a member in a pod (`up --containers`), not our child: judged by its URL alone.
    bool alive = m.pid == 0 || launcher->Alive(m.pid);
    if (!client) {
      out.push_back(MemberHealth{
          .name = m.name,
          .client_url = m.client_url,
          .pid = m.pid,
          .error = "bad client url (or https without the cluster's client certificate)"});
      continue;
    }
    out.push_back(Probe(*client, m.name, m.client_url, m.pid, alive, deadline));
  }
  return out;
}

ClusterTlsFiles ClusterClientTlsFiles(const std::filesystem::path& run_dir) {
  const auto dir = run_dir / "tls";
  return {.ca = dir / "ca.crt", .cert = dir / "client.crt", .key = dir / "client.key"};
}

Result<etcd::EtcdTls> LoadClusterClientTls(const std::filesystem::path& run_dir) {
  const auto files = ClusterClientTlsFiles(run_dir);
  return etcd::LoadTlsFiles(files.ca.string(), files.cert.string(), files.key.string());
}

}  // namespace br2k::cluster
