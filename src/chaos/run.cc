#include "br2k/chaos/run.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "br2k/chaos/netns.h"
#include "br2k/client/service_client.h"
#include "br2k/cluster/local_anvil.h"
#include "br2k/common/atomic_file.h"
#include "br2k/common/etcd_limits.h"
#include "br2k/etcd/grpc_client.h"
#include "br2k/eth/rpc_transport.h"
#include "br2k/eth/service_registry.h"
#include "br2k/eth/tx_sender.h"
#include "br2k/http/client.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/node_process.h"

namespace br2k::chaos {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kReplicaPort = 8080;
constexpr int kAnvilPort = 8545;
constexpr const char* kService = "logserver";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::trunc);
  f << text;
  return f ? Status::Ok() : InternalError("cannot write " + p.string());
}

json ScenarioToJson(const Scenario& s) {
  return {{"name", s.name},
          {"nodes", s.nodes},
          {"run", s.run},
          {"attacker", s.attacker},
          {"fault", s.fault},
          {"period_min_s", s.period_min_s},
          {"period_max_s", s.period_max_s},
          {"hold_s", s.hold_s},
          {"first_fault_s", s.first_fault_s},
          {"max_faults", s.max_faults},
          {"clients", s.clients},
          {"rate", s.rate},
          {"duration_s", s.duration_s},
          {"give_up_s", s.give_up_s},
          {"converge_s", s.converge_s},
          {"failpoint", s.failpoint},
          {"logserver_args", s.logserver_args},
          {"seed", s.seed},
          {"out", s.out.string()},
          {"bin_dir", s.bin_dir.string()},
          {"etcd_binary", s.etcd_binary}};
}

// One process of the run: its launcher (its namespace), argv, log, pid; `held` keeps the
// supervisor from restarting it while a fault holds it down.
struct Proc {
  std::string name;
  std::shared_ptr<proc::Launcher> launcher;
  std::vector<std::string> argv;
  fs::path log;
  pid_t pid = 0;
  bool held = false;
  bool paused = false;
  int restarts = 0;
};

class Run {
 public:
  Run(Scenario s, const std::atomic<bool>* interrupted)
      : s_(std::move(s)), interrupted_(interrupted) {}
  ~Run() { Teardown(); }

  Result<RunOutcome> Execute();

 private:
  bool Stopping() const { return stop_.load() || (interrupted_ && interrupted_->load()); }
  // Sleeps up to `d`; false when the run is being stopped.
  bool Sleep(double seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      if (Stopping()) return false;
      std::this_thread::sleep_for(50ms);
    }
    return !Stopping();
  }
  Status SetUp();
  Status StartProc(Proc& p);
  void KillProc(Proc& p, int sig);
  Status StartAnvil();
  Status SetUpRegistry();
  void Supervise();
  void Monitor();
  void Attack();
  void Client(int k);
  Status Converge();
  CheckInput Collect();
  std::string LeaderNow();
  int NodeOf(const std::string& id) const;
  void Teardown();

  Scenario s_;
  const std::atomic<bool>* interrupted_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> load_over_{false};
  std::unique_ptr<NetLab> lab_;
  fs::path logserver_bin_;
  std::string anvil_url_;
  std::string registry_;

  std::mutex mu_;  // guards the Procs, faults_, leaders_, notes_
  std::vector<Proc> etcd_;
  std::vector<Proc> replicas_;
  Proc anvil_;
  std::vector<FaultEvent> faults_;
  std::vector<LeaderSample> leaders_;
  std::vector<std::string> unexpected_;
  int failpoint_kills_ = 0;

  std::vector<std::unique_ptr<client::ServiceClient>> clients_;
  int64_t load_start_ns_ = 0, load_end_ns_ = 0;
};

Status Run::StartProc(Proc& p) {
  proc::SpawnSpec spec;
  spec.argv = p.argv;
  spec.log_file = p.log;
  auto pid = p.launcher->Spawn(spec);
  if (!pid.ok()) return pid.status().WithContext(p.name);
  p.pid = *pid;
  return Status::Ok();
}

void Run::KillProc(Proc& p, int sig) {
  if (p.pid <= 0) return;
  if (p.paused) (void)p.launcher->Signal(p.pid, SIGCONT);
  (void)p.launcher->Signal(p.pid, sig);
  (void)p.launcher->Wait(p.pid, Deadline::After(10s));
  p.pid = 0;
  p.paused = false;
}

Status Run::StartAnvil() {
  BR2K_RETURN_IF_ERROR(StartProc(anvil_));
  auto deadline = Deadline::After(30s);
  while (!deadline.expired()) {
    auto t = eth::MakeTransport(anvil_url_, Deadline::After(1s));
    if (t.ok()) {
      eth::RpcClient rpc(*t);
      if (rpc.Call("eth_chainId", json::array(), Deadline::After(1s)).ok()) return Status::Ok();
    }
    std::this_thread::sleep_for(200ms);
  }
  return DeadlineExceededError("anvil did not answer at " + anvil_url_ + "\n" +
                               proc::TailOfFile(anvil_.log, 20));
}

Status Run::SetUpRegistry() {
  auto deadline = Deadline::After(60s);
  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeTransport(anvil_url_, deadline));
  auto rpc = std::make_shared<eth::RpcClient>(transport);
  BR2K_ASSIGN_OR_RETURN(auto key0, cluster::AnvilDevKey(0));
  BR2K_ASSIGN_OR_RETURN(auto owner,
                        eth::TxSender::Create(rpc, key0, cluster::kAnvilChainId, deadline));
  BR2K_ASSIGN_OR_RETURN(eth::Address at, eth::ServiceRegistry::Deploy(*owner, deadline));
  registry_ = at.ToChecksum();
  BR2K_ASSIGN_OR_RETURN(auto reg, eth::ServiceRegistry::Connect(rpc, at, deadline));
  auto id = eth::ServiceIdFromName(kService);
  eth::RecoveryInfo info;
  info.replicas = static_cast<uint32_t>(s_.nodes);
  BR2K_RETURN_IF_ERROR(
      reg->Register(*owner, id, "http://" + lab_->Address(0) + ":" + std::to_string(kReplicaPort),
                    info, deadline)
          .status());
  for (int i = 0; i < s_.nodes; ++i) {
    BR2K_ASSIGN_OR_RETURN(auto key, cluster::AnvilDevKey(static_cast<size_t>(i + 1)));
    BR2K_RETURN_IF_ERROR(reg->AddOperator(*owner, id, key.address(), deadline).status());
  }
  return Status::Ok();
}

Status Run::SetUp() {
  BR2K_RETURN_IF_ERROR(ValidateScenario(s_));
  fs::create_directories(s_.out);
  fs::path bin = s_.bin_dir;
  if (bin.empty()) bin = fs::read_symlink("/proc/self/exe").parent_path();
  logserver_bin_ = bin / "br2k-logserver";
  if (::access(logserver_bin_.c_str(), X_OK) != 0) {
    return FailedPreconditionError(logserver_bin_.string() +
                                   " is not executable (build br2k-logserver)");
  }
  BR2K_ASSIGN_OR_RETURN(fs::path anvil_bin, cluster::FindAnvilBinary());
  BR2K_ASSIGN_OR_RETURN(lab_, NetLab::Create(s_.run, s_.nodes));
  BR2K_RETURN_IF_ERROR(WriteFile(s_.out / "scenario.json", ScenarioToJson(s_).dump(2) + "\n"));

  // etcd: one member per namespace, on the namespace's own address.
  std::string initial;
  for (int i = 0; i < s_.nodes; ++i) {
    initial += (i ? "," : "") + std::string("etcd-") + std::to_string(i) + "=http://" +
               lab_->Address(i) + ":2380";
  }
  std::vector<std::string> client_urls;
  for (int i = 0; i < s_.nodes; ++i) client_urls.push_back("http://" + lab_->Address(i) + ":2379");
  for (int i = 0; i < s_.nodes; ++i) {
    Proc p;
    p.name = "etcd-" + std::to_string(i);
    p.launcher = lab_->Launcher(i);
    p.log = s_.out / (p.name + ".log");
    std::string peer = "http://" + lab_->Address(i) + ":2380";
    p.argv = {s_.etcd_binary,
              "--name=" + p.name,
              "--data-dir=" + (s_.out / p.name).string(),
              "--listen-client-urls=" + client_urls[static_cast<size_t>(i)],
              "--advertise-client-urls=" + client_urls[static_cast<size_t>(i)],
              "--listen-peer-urls=" + peer,
              "--initial-advertise-peer-urls=" + peer,
              "--initial-cluster=" + initial,
              "--initial-cluster-state=new",
              "--initial-cluster-token=br2k-chaos-" + std::to_string(s_.run),
              "--heartbeat-interval=100",
              "--election-timeout=1000",
              "--pre-vote=true",
              EtcdMaxTxnOpsFlag(),
              "--max-request-bytes=10485760",
              "--logger=zap",
              "--log-outputs=stderr"};
    etcd_.push_back(p);
    BR2K_RETURN_IF_ERROR(StartProc(etcd_.back()));
  }
  {
    // A fresh client per attempt: a channel created before the members listen backs off.
    auto deadline = Deadline::After(60s);
    while (true) {
      std::this_thread::sleep_for(500ms);
      BR2K_ASSIGN_OR_RETURN(auto etcd, etcd::GrpcClient::Create({.endpoints = client_urls}));
      auto r = etcd->Range(etcd::RangeRequest::Key("/br2k/chaos-probe"), Deadline::After(3s));
      if (r.ok()) break;
      if (deadline.expired()) {
        return DeadlineExceededError("etcd did not form a cluster (" + r.status().ToString() +
                                     ")\n" + proc::TailOfFile(etcd_[0].log, 5));
      }
    }
  }

  // anvil in the root namespace on the bridge address, its chain kept in a state file so that
  // a chain outage (stop, restart) keeps the registry.
  anvil_url_ = "http://" + lab_->BridgeAddress() + ":" + std::to_string(kAnvilPort);
  anvil_.name = "anvil";
  anvil_.launcher = proc::PosixLauncher();
  anvil_.log = s_.out / "anvil.log";
  anvil_.argv = {anvil_bin.string(),
                 "--host",
                 lab_->BridgeAddress(),
                 "--port",
                 std::to_string(kAnvilPort),
                 "--chain-id",
                 "31337",
                 "--state",
                 (s_.out / "anvil-state.json").string(),
                 "--state-interval",
                 "1"};
  BR2K_RETURN_IF_ERROR(StartAnvil());
  BR2K_RETURN_IF_ERROR(SetUpRegistry());

  for (int i = 0; i < s_.nodes; ++i) {
    Proc p;
    p.name = "node-" + std::to_string(i);
    p.launcher = lab_->Launcher(i);
    p.log = s_.out / (p.name + ".log");
    fs::path data = s_.out / ("data-" + std::to_string(i));
    fs::create_directories(data);
    fs::path key = s_.out / ("operator-" + std::to_string(i) + ".key");
    BR2K_RETURN_IF_ERROR(
        WriteFile(key, std::string(cluster::kAnvilDevKeys[static_cast<size_t>(i + 1)]) + "\n"));
    replication::LogserverNode n{.id = p.name,
                                 .service = kService,
                                 .host = lab_->Address(i),
                                 .listen_port = kReplicaPort,
                                 .etcd_urls = client_urls,
                                 .local_etcd_url = client_urls[static_cast<size_t>(i)],
                                 .data_dir = data};
    n.extra_args = {"--leader-ttl=1",
                    "--takeover-grace-ms=500",
                    "--step-down-ms=1500",
                    "--request-timeout-ms=5000",
                    "--rpc-url=" + anvil_url_,
                    "--registry=" + registry_,
                    "--service-name=" + std::string(kService),
                    "--operator-key-file=" + key.string(),
                    "--chain-id=31337"};
    if (!s_.failpoint.empty()) n.extra_args.push_back("--failpoint=" + s_.failpoint);
    for (const auto& a : s_.logserver_args) n.extra_args.push_back(a);
    p.argv = replication::LogserverArgv(logserver_bin_, n);
    replicas_.push_back(p);
    BR2K_RETURN_IF_ERROR(StartProc(replicas_.back()));
  }
  // A leader, published on chain, before the load starts.
  auto deadline = Deadline::After(60s);
  while (LeaderNow().empty()) {
    if (deadline.expired() || Stopping()) {
      return DeadlineExceededError("no replica became leader\n" +
                                   proc::TailOfFile(replicas_[0].log, 30));
    }
    std::this_thread::sleep_for(200ms);
  }
  return Status::Ok();
}

std::string Run::LeaderNow() {
  for (int i = 0; i < s_.nodes; ++i) {
    auto p = replication::ProbeReplica(
        "http://" + lab_->Address(i) + ":" + std::to_string(kReplicaPort), Deadline::After(250ms));
    if (p.ok() && p->role == "Leader") return p->id;
  }
  return "";
}

int Run::NodeOf(const std::string& id) const {
  for (int i = 0; i < s_.nodes; ++i) {
    if (id == "node-" + std::to_string(i)) return i;
  }
  return -1;
}

void Run::Supervise() {
  while (!stop_.load()) {
    {
      std::lock_guard lock(mu_);
      auto check = [&](Proc& p, bool is_replica) {
        if (p.pid <= 0 || p.launcher->Alive(p.pid)) {
          if (p.pid <= 0 && !p.held && !stop_.load()) {
            if (StartProc(p).ok()) ++p.restarts;
          }
          return;
        }
        auto info = p.launcher->Wait(p.pid, Deadline::After(1s));
        std::string how = info.ok() ? info->ToString() : "unknown exit";
        if (p.held) {
          p.pid = 0;  // killed by the attacker; restarted when released
          return;
        }
        if (is_replica && !s_.failpoint.empty() && info.ok() && info->signal == SIGKILL) {
          ++failpoint_kills_;
          spdlog::info("chaos: {} killed itself at failpoint {}; restarting", p.name, s_.failpoint);
        } else {
          unexpected_.push_back(
              p.name + " died unexpectedly at t=" +
              std::to_string(static_cast<double>(NowNs() - load_start_ns_) / 1e9) + "s (" + how +
              ")");
          spdlog::warn("chaos: {}", unexpected_.back());
        }
        p.pid = 0;
        if (StartProc(p).ok()) ++p.restarts;
      };
      for (auto& p : etcd_) check(p, false);
      for (auto& p : replicas_) check(p, true);
    }
    std::this_thread::sleep_for(200ms);
  }
}

void Run::Monitor() {
  while (!stop_.load()) {
    std::string leader = LeaderNow();
    {
      std::lock_guard lock(mu_);
      leaders_.push_back({NowNs(), leader});
    }
    std::this_thread::sleep_for(300ms);
  }
}

void Run::Attack() {
  if (s_.attacker == "none") return;
  std::mt19937_64 rng(s_.seed);
  std::uniform_real_distribution<double> period(s_.period_min_s, s_.period_max_s);
  if (!Sleep(s_.first_fault_s)) return;
  int count = 0;
  while (!Stopping() && !load_over_.load()) {
    if (s_.max_faults > 0 && count >= s_.max_faults) return;
    double left =
        static_cast<double>(load_start_ns_ + static_cast<int64_t>(s_.duration_s * 1e9) - NowNs()) /
        1e9;
    if (left < s_.hold_s + 1) return;  // a fault must end (and heal) while the load runs
    std::string leader;
    {
      std::lock_guard lock(mu_);
      for (auto it = leaders_.rbegin(); it != leaders_.rend(); ++it) {
        if (!it->leader.empty()) {
          leader = it->leader;
          break;
        }
      }
    }
    int target = 0;
    if (s_.attacker == "leader") {
      target = NodeOf(leader);
      if (target < 0) {
        if (!Sleep(0.5)) return;
        continue;
      }
    } else {
      target = static_cast<int>(rng() % static_cast<uint64_t>(s_.nodes));
    }
    std::string kind = s_.fault;
    if (kind == "mixed") {
      static const char* kinds[] = {"cut", "kill", "pause", "etcd-kill"};
      kind = kinds[rng() % 4];
    }
    FaultEvent f;
    f.kind = kind;
    f.leader_id = leader;
    f.target = "node-" + std::to_string(target);
    f.leader = f.target == leader && kind != "chain";
    int other = -1;
    Status st;
    f.start_ns = NowNs();
    if (kind == "cut") {
      st = lab_->CutNode(target);
    } else if (kind == "link") {
      other = static_cast<int>(
          (static_cast<uint64_t>(target) + 1 + rng() % static_cast<uint64_t>(s_.nodes - 1)) %
          static_cast<uint64_t>(s_.nodes));
      f.target += "|node-" + std::to_string(other);
      st = lab_->CutLink(target, other);
    } else if (kind == "partition") {
      st = lab_->Partition({target});
    } else if (kind == "kill" || kind == "pause" || kind == "etcd-kill") {
      std::lock_guard lock(mu_);
      Proc& p = kind == "etcd-kill" ? etcd_[static_cast<size_t>(target)]
                                    : replicas_[static_cast<size_t>(target)];
      if (kind == "pause") {
        st =
            p.pid > 0 ? p.launcher->Signal(p.pid, SIGSTOP) : FailedPreconditionError("not running");
        p.paused = st.ok();
      } else {
        p.held = true;
        KillProc(p, SIGKILL);
      }
      if (kind == "etcd-kill") f.target = "etcd-" + std::to_string(target);
    } else if (kind == "chain") {
      f.target = "anvil";
      std::lock_guard lock(mu_);
      KillProc(anvil_, SIGTERM);
    }
    if (!st.ok()) f.note = st.ToString();
    spdlog::info("chaos: fault {} on {} (leader {})", kind, f.target, leader);
    size_t slot;
    {
      std::lock_guard lock(mu_);
      faults_.push_back(f);
      slot = faults_.size() - 1;
    }
    ++count;
    Sleep(s_.hold_s);
    // Heal, whatever happens (also when the run is being stopped).
    Status heal;
    if (kind == "cut") {
      heal = lab_->HealNode(target);
    } else if (kind == "link") {
      heal = lab_->HealLink(target, other);
    } else if (kind == "partition") {
      heal = lab_->HealAll();
    } else if (kind == "pause") {
      std::lock_guard lock(mu_);
      Proc& p = replicas_[static_cast<size_t>(target)];
      if (p.pid > 0 && p.paused) heal = p.launcher->Signal(p.pid, SIGCONT);
      p.paused = false;
    } else if (kind == "kill" || kind == "etcd-kill") {
      std::lock_guard lock(mu_);
      Proc& p = kind == "etcd-kill" ? etcd_[static_cast<size_t>(target)]
                                    : replicas_[static_cast<size_t>(target)];
      p.held = false;  // the supervisor restarts it
    } else if (kind == "chain") {
      std::lock_guard lock(mu_);
      heal = StartAnvil();
    }
    {
      std::lock_guard lock(mu_);
      faults_[slot].end_ns = NowNs();
      if (!heal.ok())
        faults_[slot].note +=
            (faults_[slot].note.empty() ? "" : "; ") + ("heal: " + heal.ToString());
    }
    spdlog::info("chaos: healed {} on {}", kind, f.target);
    if (!Sleep(period(rng))) return;
  }
}

void Run::Client(int k) {
  auto& c = *clients_[static_cast<size_t>(k)];
  auto interval =
      s_.rate > 0 ? std::chrono::duration<double>(1.0 / s_.rate) : std::chrono::duration<double>(0);
  auto next = std::chrono::steady_clock::now();
  while (!Stopping() && !load_over_.load()) {
    std::string value = c.client_id() + "." + std::to_string(c.next_seq());
    (void)c.Call("POST", "/logs", json{{"user", value}}.dump(),
                 Deadline::After(std::chrono::duration<double>(s_.give_up_s)));
    if (s_.rate > 0) {
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
      while (std::chrono::steady_clock::now() < next && !Stopping() && !load_over_.load()) {
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            next - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
      }
    }
  }
}

Status Run::Converge() {
  auto deadline = Deadline::After(std::chrono::duration<double>(s_.converge_s));
  while (!deadline.expired()) {
    if (interrupted_ && interrupted_->load()) return CancelledError("interrupted");
    bool same = true;
    std::optional<std::string> first;
    for (int i = 0; i < s_.nodes && same; ++i) {
      std::string url = "http://" + lab_->Address(i) + ":" + std::to_string(kReplicaPort);
      auto probe = replication::ProbeReplica(url, Deadline::After(1s));
      auto st = http::Call(url, "GET", "/replica?state=1", "", {}, Deadline::After(2s));
      if (!probe.ok() || !st.ok() || st->status != 200 || probe->ssi != probe->ls ||
          probe->lpi != probe->ssi) {
        same = false;
        break;
      }
      auto rs = ParseReplicaState(st->body);
      if (!rs.ok()) {
        same = false;
        break;
      }
      json j = rs->values;
      std::string key = std::to_string(rs->lpi) + j.dump();
      if (!first) first = key;
      same = *first == key;
    }
    if (same && !LeaderNow().empty()) return Status::Ok();
    std::this_thread::sleep_for(500ms);
  }
  return DeadlineExceededError("replicas did not converge in " + std::to_string(s_.converge_s) +
                               " s");
}

CheckInput Run::Collect() {
  CheckInput in;
  for (auto& c : clients_) {
    auto recs = c->history().Snapshot();
    (void)c->history().WriteJsonLines(s_.out / ("history-" + c->client_id() + ".jsonl"));
    in.history.insert(in.history.end(), recs.begin(), recs.end());
  }
  for (int i = 0; i < s_.nodes; ++i) {
    ReplicaState r;
    std::string url = "http://" + lab_->Address(i) + ":" + std::to_string(kReplicaPort);
    auto st = http::Call(url, "GET", "/replica?state=1", "", {}, Deadline::After(5s));
    if (st.ok() && st->status == 200) {
      auto parsed = ParseReplicaState(st->body);
      if (parsed.ok()) {
        r = *parsed;
      } else {
        r.reachable = false;
        r.error = parsed.status().ToString();
      }
    } else {
      r.reachable = false;
      r.error = st.ok() ? "HTTP " + std::to_string(st->status) : st.status().ToString();
    }
    r.id = "node-" + std::to_string(i);
    {
      std::lock_guard lock(mu_);
      const Proc& p = replicas_[static_cast<size_t>(i)];
      r.alive = p.pid > 0 && p.launcher->Alive(p.pid);
    }
    // With a failpoint armed a replica may kill itself at any time, also after convergence:
    // such a death was asked for by the scenario.
    if (!r.alive && !s_.failpoint.empty()) r.expected_alive = false;
    in.replicas.push_back(r);
  }
  std::vector<std::string> urls;
  for (int i = 0; i < s_.nodes; ++i) urls.push_back("http://" + lab_->Address(i) + ":2379");
  auto etcd = etcd::GrpcClient::Create({.endpoints = urls});
  if (etcd.ok()) {
    replication::KeyLayout keys(kService);
    auto dl = Deadline::After(30s);
    auto num = [&](const std::string& key) -> std::optional<uint64_t> {
      auto r = (*etcd)->Range(etcd::RangeRequest::Key(key), dl);
      if (!r.ok()) return std::nullopt;
      if (r->kvs.empty()) return 0;
      return replication::ParseIndex(r->kvs[0].value);
    };
    auto ls = num(keys.log_size());
    auto ssi = num(keys.ssi());
    auto start = num(keys.log_start());
    auto rle = (*etcd)->Range(etcd::RangeRequest::Prefix(keys.rle_prefix()), dl);
    auto rs = (*etcd)->Range(etcd::RangeRequest::Prefix(keys.rs_prefix()), dl);
    if (ls && ssi && start && rle.ok() && rs.ok()) {
      in.etcd.read = true;
      in.etcd.log_size = *ls;
      in.etcd.ssi = *ssi;
      in.etcd.log_start = *start == 0 ? 1 : *start;
      std::map<uint64_t, std::string> states;
      for (const auto& kv : rs->kvs) {
        if (auto i = replication::KeyLayout::IndexOf(kv.key)) states[*i] = kv.value;
      }
      for (const auto& kv : rle->kvs) {
        auto i = replication::KeyLayout::IndexOf(kv.key);
        if (!i) continue;
        auto e = DecodeEtcdEntry(*i, kv.value, states.count(*i) ? states[*i] : "");
        if (e.ok()) in.etcd.entries.push_back(*e);
      }
    }
  }
  return in;
}

void Run::Teardown() {
  stop_.store(true);
  clients_.clear();
  std::lock_guard lock(mu_);
  for (auto& p : replicas_) KillProc(p, SIGKILL);
  for (auto& p : etcd_) KillProc(p, SIGKILL);
  KillProc(anvil_, SIGTERM);
  if (lab_) {
    if (Status s = lab_->Destroy(); !s.ok()) spdlog::error("chaos: {}", s.ToString());
    lab_.reset();
  }
}

Result<RunOutcome> Run::Execute() {
  if (s_.seed == 0) s_.seed = static_cast<uint64_t>(NowNs());
  BR2K_RETURN_IF_ERROR(SetUp());
  std::jthread supervisor([this] { Supervise(); });
  std::jthread monitor([this] { Monitor(); });
  // Destroyed before the threads: stops them on every return path.
  struct StopOnExit {
    std::atomic<bool>& stop;
    ~StopOnExit() { stop.store(true); }
  } stop_on_exit{stop_};
  auto stop_threads = [&] {
    stop_.store(true);
    if (supervisor.joinable()) supervisor.join();
    if (monitor.joinable()) monitor.join();
  };

  BR2K_ASSIGN_OR_RETURN(auto transport, eth::MakeTransport(anvil_url_, Deadline::After(10s)));
  auto rpc = std::make_shared<eth::RpcClient>(transport);
  for (int k = 0; k < s_.clients; ++k) {
    client::ServiceClientOptions o;
    o.rpc = rpc;
    o.registry = *eth::Address::Parse(registry_);
    o.service = kService;
    o.client_id = "u" + std::to_string(k);
    o.attempt_timeout = 2s;
    auto c = client::ServiceClient::Create(o, Deadline::After(30s));
    if (!c.ok()) {
      stop_threads();
      return c.status().WithContext("client " + o.client_id);
    }
    clients_.push_back(std::move(*c));
  }
  load_start_ns_ = NowNs();
  {
    std::vector<std::jthread> threads;
    for (int k = 0; k < s_.clients; ++k) threads.emplace_back([this, k] { Client(k); });
    std::jthread attacker([this] { Attack(); });
    Sleep(s_.duration_s);
    load_over_.store(true);
    load_end_ns_ = NowNs();
    if (attacker.joinable()) attacker.join();
    for (auto& t : threads) t.join();  // each Call ends by its give-up deadline
  }
  if (interrupted_ && interrupted_->load()) {
    stop_threads();
    return CancelledError("interrupted");
  }
  // Heal whatever is left and let the replicas agree.
  (void)lab_->HealAll();
  Status converged = Converge();
  stop_threads();
  CheckInput in = Collect();
  RunOutcome out;
  out.check = Check(in);
  for (const auto& u : unexpected_) {
    out.check.violations.push_back({ViolationKind::kReplicaDead, u, {{"note", u}}});
  }
  out.unexpected_deaths = unexpected_;
  out.failpoint_kills = failpoint_kills_;
  out.faults = faults_;
  ReportInput ri;
  ri.title = s_.name + ": " + std::to_string(s_.nodes) + " nodes, attacker " + s_.attacker +
             ", fault " + s_.fault + " " + std::to_string(static_cast<int>(s_.hold_s)) +
             " s every " + std::to_string(static_cast<int>(s_.period_min_s)) + "-" +
             std::to_string(static_cast<int>(s_.period_max_s)) + " s, " +
             std::to_string(s_.clients) + " clients";
  ri.history = in.history;
  ri.faults = faults_;
  ri.leaders = leaders_;
  ri.etcd = in.etcd;
  ri.check = out.check;
  ri.load_start_ns = load_start_ns_;
  ri.load_end_ns = load_end_ns_;
  ri.failpoint_kills = failpoint_kills_;
  if (!converged.ok()) ri.notes.push_back(converged.ToString());
  if (failpoint_kills_)
    ri.notes.push_back(std::to_string(failpoint_kills_) + " replica restarts after failpoint " +
                       s_.failpoint);
  for (const auto& u : unexpected_) ri.notes.push_back(u);
  out.report = MakeReport(ri);
  std::string faults_text;
  for (const auto& f : faults_) faults_text += FaultToJson(f) + "\n";
  (void)WriteFile(s_.out / "faults.jsonl", faults_text);
  (void)WriteFile(s_.out / "check.txt", out.check.ToText());
  (void)WriteFile(s_.out / "check.json", out.check.ToJson() + "\n");
  (void)WriteFile(s_.out / "report.txt", ReportText(out.report));
  (void)WriteFile(s_.out / "report.json", ReportJson(out.report) + "\n");
  (void)WriteFile(s_.out / "timeline.svg", TimelineSvg(out.report, faults_, load_start_ns_));
  return out;
}

}  // namespace

Status ValidateScenario(const Scenario& s) {
  if (s.nodes < 1 || s.nodes > 9) return InvalidArgumentError("nodes must be 1-9");
  if (s.run < 1 || s.run > 250) return InvalidArgumentError("run must be 1-250");
  if (s.attacker != "leader" && s.attacker != "random" && s.attacker != "none") {
    return InvalidArgumentError("attacker must be leader, random or none");
  }
  static const std::vector<std::string> kinds = {"cut",   "link",      "partition", "kill",
                                                 "pause", "etcd-kill", "chain",     "mixed"};
  if (std::find(kinds.begin(), kinds.end(), s.fault) == kinds.end()) {
    return InvalidArgumentError(
        "fault must be one of cut, link, partition, kill, pause, etcd-kill, chain, mixed");
  }
  if ((s.fault == "link" || s.fault == "partition") && s.nodes < 2)
    return InvalidArgumentError("fault needs 2 nodes");
  if (s.period_min_s < 0 || s.period_max_s < s.period_min_s)
    return InvalidArgumentError("bad period range");
  if (s.hold_s <= 0 || s.duration_s <= 0 || s.give_up_s <= 0 || s.converge_s <= 0 ||
      s.first_fault_s < 0) {
    return InvalidArgumentError("times must be positive");
  }
  if (s.clients < 1 || s.clients > 64) return InvalidArgumentError("clients must be 1-64");
  if (s.rate < 0) return InvalidArgumentError("rate must be >= 0");
  if (s.out.empty()) return InvalidArgumentError("out is required");
  return Status::Ok();
}

Result<Scenario> ParseScenarioJson(std::string_view text, Scenario s) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgumentError("scenario: not a JSON object");
  for (auto& [k, v] : j.items()) {
    auto num = [&](double& dst) -> Status {
      if (!v.is_number()) return InvalidArgumentError("scenario: '" + k + "' must be a number");
      dst = v.get<double>();
      return Status::Ok();
    };
    auto integer = [&](int& dst) -> Status {
      if (!v.is_number_integer() || v.get<int64_t>() < -1000000 || v.get<int64_t>() > 1000000) {
        return InvalidArgumentError("scenario: '" + k + "' must be an integer");
      }
      dst = static_cast<int>(v.get<int64_t>());
      return Status::Ok();
    };
    auto str = [&](std::string& dst) -> Status {
      if (!v.is_string()) return InvalidArgumentError("scenario: '" + k + "' must be a string");
      dst = v.get<std::string>();
      return Status::Ok();
    };
    std::string tmp;
    if (k == "name")
      BR2K_RETURN_IF_ERROR(str(s.name));
    else if (k == "nodes")
      BR2K_RETURN_IF_ERROR(integer(s.nodes));
    else if (k == "run")
      BR2K_RETURN_IF_ERROR(integer(s.run));
    else if (k == "attacker")
      BR2K_RETURN_IF_ERROR(str(s.attacker));
    else if (k == "fault")
      BR2K_RETURN_IF_ERROR(str(s.fault));
    else if (k == "period_min_s")
      BR2K_RETURN_IF_ERROR(num(s.period_min_s));
    else if (k == "period_max_s")
      BR2K_RETURN_IF_ERROR(num(s.period_max_s));
    else if (k == "hold_s")
      BR2K_RETURN_IF_ERROR(num(s.hold_s));
    else if (k == "first_fault_s")
      BR2K_RETURN_IF_ERROR(num(s.first_fault_s));
    else if (k == "max_faults")
      BR2K_RETURN_IF_ERROR(integer(s.max_faults));
    else if (k == "clients")
      BR2K_RETURN_IF_ERROR(integer(s.clients));
    else if (k == "rate")
      BR2K_RETURN_IF_ERROR(num(s.rate));
    else if (k == "duration_s")
      BR2K_RETURN_IF_ERROR(num(s.duration_s));
    else if (k == "give_up_s")
      BR2K_RETURN_IF_ERROR(num(s.give_up_s));
    else if (k == "converge_s")
      BR2K_RETURN_IF_ERROR(num(s.converge_s));
    else if (k == "failpoint")
      BR2K_RETURN_IF_ERROR(str(s.failpoint));
    else if (k == "etcd_binary")
      BR2K_RETURN_IF_ERROR(str(s.etcd_binary));
    else if (k == "out") {
      BR2K_RETURN_IF_ERROR(str(tmp));
      s.out = tmp;
    } else if (k == "bin_dir") {
      BR2K_RETURN_IF_ERROR(str(tmp));
      s.bin_dir = tmp;
    } else if (k == "seed") {
      if (!v.is_number_unsigned())
        return InvalidArgumentError("scenario: 'seed' must be an unsigned integer");
      s.seed = v.get<uint64_t>();
    } else if (k == "logserver_args") {
      if (!v.is_array())
        return InvalidArgumentError("scenario: 'logserver_args' must be an array of strings");
      s.logserver_args.clear();
      for (const auto& a : v) {
        if (!a.is_string())
          return InvalidArgumentError("scenario: 'logserver_args' must be an array of strings");
        s.logserver_args.push_back(a.get<std::string>());
      }
    } else {
      return InvalidArgumentError("scenario: unknown key '" + k + "'");
    }
  }
  return s;
}

Result<RunOutcome> RunScenario(const Scenario& s, const std::atomic<bool>* interrupted) {
  Run run(s, interrupted);
  return run.Execute();
}

}  // namespace br2k::chaos
