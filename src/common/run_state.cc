#include "br2k/common/run_state.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "br2k/common/atomic_file.h"

namespace br2k {
namespace {

using nlohmann::json;

// Typed field access that reports the path of a bad field instead of throwing.
class Reader {
 public:
  explicit Reader(Status& err) : err_(err) {}

  template <typename T>
  bool Get(const json& obj, const char* field, T& out, const std::string& where) {
    if (!err_.ok()) return false;
    auto it = obj.find(field);
    if (it == obj.end()) {
      err_ = InvalidArgumentError(where + "." + field + " is missing");
      return false;
    }
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) return Fail(where, field, "a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!it->is_boolean()) return Fail(where, field, "a boolean");
    } else {
      if (!it->is_number_integer()) return Fail(where, field, "an integer");
      auto v = it->template get<int64_t>();
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          v > static_cast<int64_t>(std::numeric_limits<T>::max())) {
        return Fail(where, field, "an integer in range");
      }
    }
    out = it->template get<T>();
    return true;
  }

 private:
  bool Fail(const std::string& where, const char* field, const char* what) {
    err_ = InvalidArgumentError(where + "." + field + " must be " + what);
    return false;
  }
  Status& err_;
};

// An optional array of strings, e.g. a recorded command line (absent = empty).
Status GetOptionalStrings(const json& obj, const char* field, std::vector<std::string>& out,
                          const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_array()) return InvalidArgumentError(where + "." + field + " must be an array");
  for (const auto& a : *it) {
    if (!a.is_string()) return InvalidArgumentError(where + "." + field + " must hold strings");
    out.push_back(a.get<std::string>());
  }
  return Status::Ok();
}

// An optional non-negative integer, e.g. a recorded start time (absent = 0).
Status GetOptionalUnsigned(const json& obj, const char* field, uint64_t& out,
                           const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end()) return Status::Ok();
  if (it->is_number_unsigned()) {
    out = it->get<uint64_t>();
    return Status::Ok();
  }
  return InvalidArgumentError(where + "." + field + " must be a non-negative integer");
}

// The optional identity fields of a recorded process (proc/ownership.h).
Status GetIdentity(const json& obj, const char* argv_field, const char* start_field,
                   std::vector<std::string>& argv, uint64_t& start_time, const std::string& where) {
  BR2K_RETURN_IF_ERROR(GetOptionalStrings(obj, argv_field, argv, where));
  return GetOptionalUnsigned(obj, start_field, start_time, where);
}

Result<EtcdMemberState> ParseEtcdMember(const json& m, const std::string& where) {
  if (!m.is_object()) return InvalidArgumentError(where + " must be an object");
  Status err;
  Reader r(err);
  EtcdMemberState e;
  r.Get(m, "name", e.name, where);
  r.Get(m, "client_url", e.client_url, where);
  r.Get(m, "peer_url", e.peer_url, where);
  r.Get(m, "pid", e.pid, where);
  r.Get(m, "data_dir", e.data_dir, where);
  r.Get(m, "log_file", e.log_file, where);
  if (!err.ok()) return err;
  if (e.pid < 0) return InvalidArgumentError(where + ".pid must not be negative");
  if (e.name.empty()) return InvalidArgumentError(where + ".name must not be empty");
  BR2K_RETURN_IF_ERROR(GetIdentity(m, "argv", "start_time", e.argv, e.start_time, where));
  return e;
}

Result<ReplicaState> ParseReplica(const json& m, const std::string& where) {
  if (!m.is_object()) return InvalidArgumentError(where + " must be an object");
  Status err;
  Reader r(err);
  ReplicaState rep;
  r.Get(m, "id", rep.id, where);
  r.Get(m, "url", rep.url, where);
  r.Get(m, "pid", rep.pid, where);
  r.Get(m, "etcd_member", rep.etcd_member, where);
  r.Get(m, "data_dir", rep.data_dir, where);
  r.Get(m, "log_file", rep.log_file, where);
  if (!err.ok()) return err;
  if (rep.pid < 0) return InvalidArgumentError(where + ".pid must not be negative");
  if (rep.id.empty()) return InvalidArgumentError(where + ".id must not be empty");
  BR2K_RETURN_IF_ERROR(GetIdentity(m, "argv", "start_time", rep.argv, rep.start_time, where));
  return rep;
}

Result<ContainerState> ParseContainers(const json& ct, const std::string& where) {
  if (!ct.is_object()) return InvalidArgumentError(where + " must be an object");
  Status err;
  Reader r(err);
  ContainerState c;
  r.Get(ct, "kind", c.kind, where);
  r.Get(ct, "context", c.context, where);
  r.Get(ct, "root", c.root, where);
  r.Get(ct, "name", c.name, where);
  r.Get(ct, "namespace", c.namespace_name, where);
  r.Get(ct, "nodes", c.nodes, where);
  r.Get(ct, "app_port_base", c.app_port_base, where);
  r.Get(ct, "etcd_client_port_base", c.etcd_client_port_base, where);
  r.Get(ct, "etcd_peer_port_base", c.etcd_peer_port_base, where);
  r.Get(ct, "container_registry", c.container_registry, where);
  r.Get(ct, "registry_pid", c.registry_pid, where);
  r.Get(ct, "registry_port", c.registry_port, where);
  r.Get(ct, "registry_root", c.registry_root, where);
  if (!err.ok()) return err;
  auto images = ct.find("images");
  if (images == ct.end() || !images->is_array())
    return InvalidArgumentError(where + ".images must be an array");
  for (const auto& i : *images) {
    if (!i.is_string()) return InvalidArgumentError(where + ".images must hold strings");
    c.images.push_back(i.get<std::string>());
  }
  if (c.nodes < 1 || c.nodes > 16) return InvalidArgumentError(where + ".nodes must be 1..16");
  for (int port : {c.app_port_base, c.etcd_client_port_base, c.etcd_peer_port_base})
    if (port < 1 || port + c.nodes > 65536)
      return InvalidArgumentError(where + " ports must be 1..65535");
  if (c.registry_pid < 0 || c.registry_port < 0 || c.registry_port > 65535)
    return InvalidArgumentError(where + ".registry_pid/registry_port out of range");
  return c;
}

Result<ServiceState> ParseService(const json& obj, const std::string& where) {
  if (!obj.is_object()) return InvalidArgumentError(where + " must be an object");
  Status err;
  Reader r(err);
  ServiceState s;
  r.Get(obj, "name", s.name, where);
  r.Get(obj, "tx_key_file", s.tx_key_file, where);
  if (!err.ok()) return err;
  if (s.name.empty()) return InvalidArgumentError(where + ".name must not be empty");
  BR2K_RETURN_IF_ERROR(GetOptionalStrings(obj, "operator_key_files", s.operator_key_files, where));
  auto dep = obj.find("deployment");
  if (dep == obj.end()) return InvalidArgumentError(where + ".deployment is missing");
  BR2K_ASSIGN_OR_RETURN(s.deployment, ParseContainers(*dep, where + ".deployment"));
  for (const char* field : {"replicas", "etcd"}) {
    auto it = obj.find(field);
    if (it == obj.end()) continue;
    if (!it->is_array()) return InvalidArgumentError(where + "." + field + " must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string w = where + "." + field + "[" + std::to_string(i) + "]";
      if (std::string_view(field) == "replicas") {
        BR2K_ASSIGN_OR_RETURN(auto rep, ParseReplica((*it)[i], w));
        s.replicas.push_back(std::move(rep));
      } else {
        BR2K_ASSIGN_OR_RETURN(auto m, ParseEtcdMember((*it)[i], w));
        s.etcd.push_back(std::move(m));
      }
    }
  }
  return s;
}

json EtcdMemberJson(const EtcdMemberState& e) {
  json j = {{"name", e.name}, {"client_url", e.client_url}, {"peer_url", e.peer_url},
            {"pid", e.pid},   {"data_dir", e.data_dir},     {"log_file", e.log_file}};
  if (!e.argv.empty()) j["argv"] = e.argv;
  if (e.start_time != 0) j["start_time"] = e.start_time;
  return j;
}

json ReplicaJson(const ReplicaState& r) {
  json j = {{"id", r.id},
            {"url", r.url},
            {"pid", r.pid},
            {"etcd_member", r.etcd_member},
            {"data_dir", r.data_dir},
            {"log_file", r.log_file}};
  if (!r.argv.empty()) j["argv"] = r.argv;
  if (r.start_time != 0) j["start_time"] = r.start_time;
  return j;
}

json ContainersJson(const ContainerState& c) {
  return {{"kind", c.kind},
          {"context", c.context},
          {"root", c.root},
          {"name", c.name},
          {"namespace", c.namespace_name},
          {"nodes", c.nodes},
          {"app_port_base", c.app_port_base},
          {"etcd_client_port_base", c.etcd_client_port_base},
          {"etcd_peer_port_base", c.etcd_peer_port_base},
          {"container_registry", c.container_registry},
          {"images", c.images},
          {"registry_pid", c.registry_pid},
          {"registry_port", c.registry_port},
          {"registry_root", c.registry_root}};
}

}  // namespace

Result<RunState> RunState::Parse(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgumentError("run state: not valid JSON");
  if (!doc.is_object()) return InvalidArgumentError("run state: top level must be an object");
  Status err;
  Reader r(err);
  RunState s;
  int version = 0;
  r.Get(doc, "version", version, "run state");
  if (err.ok() && version != kVersion) {
    return InvalidArgumentError("run state: unsupported version " + std::to_string(version));
  }
  r.Get(doc, "run_dir", s.run_dir, "run state");
  r.Get(doc, "started_at_unix", s.started_at_unix, "run state");
  r.Get(doc, "heartbeat_ms", s.heartbeat_ms, "run state");
  r.Get(doc, "election_ms", s.election_ms, "run state");
  r.Get(doc, "detached", s.detached, "run state");
  r.Get(doc, "owner_pid", s.owner_pid, "run state");
  if (!err.ok()) return err;
  auto it = doc.find("etcd");
  if (it == doc.end() || !it->is_array()) {
    return InvalidArgumentError("run state.etcd must be an array");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    BR2K_ASSIGN_OR_RETURN(auto e,
                          ParseEtcdMember((*it)[i], "run state.etcd[" + std::to_string(i) + "]"));
    s.etcd.push_back(std::move(e));
  }
  if (auto svc = doc.find("service"); svc != doc.end()) {
    if (!svc->is_string()) return InvalidArgumentError("run state.service must be a string");
    s.service = svc->get<std::string>();
  }
  if (auto reps = doc.find("replicas"); reps != doc.end()) {
    if (!reps->is_array()) return InvalidArgumentError("run state.replicas must be an array");
    for (size_t i = 0; i < reps->size(); ++i) {
      BR2K_ASSIGN_OR_RETURN(
          auto rep, ParseReplica((*reps)[i], "run state.replicas[" + std::to_string(i) + "]"));
      s.replicas.push_back(std::move(rep));
    }
  }
  if (auto ch = doc.find("chain"); ch != doc.end()) {
    const std::string where = "run state.chain";
    if (!ch->is_object()) return InvalidArgumentError(where + " must be an object");
    ChainState c;
    r.Get(*ch, "rpc_url", c.rpc_url, where);
    int64_t chain_id = 0;
    r.Get(*ch, "chain_id", chain_id, where);
    r.Get(*ch, "anvil_pid", c.anvil_pid, where);
    r.Get(*ch, "anvil_log", c.anvil_log, where);
    r.Get(*ch, "registry", c.registry, where);
    r.Get(*ch, "service_name", c.service_name, where);
    r.Get(*ch, "owner_key_file", c.owner_key_file, where);
    r.Get(*ch, "manager_key_file", c.manager_key_file, where);
    r.Get(*ch, "tx_key_file", c.tx_key_file, where);
    if (!err.ok()) return err;
    if (chain_id < 0) return InvalidArgumentError(where + ".chain_id must not be negative");
    c.chain_id = static_cast<uint64_t>(chain_id);
    if (c.anvil_pid < 0) return InvalidArgumentError(where + ".anvil_pid must not be negative");
    if (c.rpc_url.empty()) return InvalidArgumentError(where + ".rpc_url must not be empty");
    BR2K_RETURN_IF_ERROR(GetIdentity(*ch, "anvil_argv", "anvil_start_time", c.anvil_argv,
                                     c.anvil_start_time, where));
    auto ops = ch->find("operator_key_files");
    if (ops == ch->end() || !ops->is_array()) {
      return InvalidArgumentError(where + ".operator_key_files must be an array");
    }
    for (const auto& f : *ops) {
      if (!f.is_string()) {
        return InvalidArgumentError(where + ".operator_key_files must hold strings");
      }
      c.operator_key_files.push_back(f.get<std::string>());
    }
    s.chain = std::move(c);
  }
  if (auto mg = doc.find("manager"); mg != doc.end()) {
    const std::string where = "run state.manager";
    if (!mg->is_object()) return InvalidArgumentError(where + " must be an object");
    ManagerState m;
    r.Get(*mg, "pid", m.pid, where);
    r.Get(*mg, "log_file", m.log_file, where);
    if (!err.ok()) return err;
    if (m.pid < 0) return InvalidArgumentError(where + ".pid must not be negative");
    BR2K_RETURN_IF_ERROR(GetIdentity(*mg, "argv", "start_time", m.argv, m.start_time, where));
    s.manager = std::move(m);
  }
  if (auto ct = doc.find("containers"); ct != doc.end()) {
    BR2K_ASSIGN_OR_RETURN(auto c, ParseContainers(*ct, "run state.containers"));
    s.containers = std::move(c);
  }
  if (auto db = doc.find("dashboard"); db != doc.end()) {
    BR2K_ASSIGN_OR_RETURN(auto d, ParseService(*db, "run state.dashboard"));
    s.dashboard = std::move(d);
  }
  return s;
}

std::string RunState::Serialize() const {
  json doc = {{"version", kVersion},
              {"run_dir", run_dir},
              {"started_at_unix", started_at_unix},
              {"heartbeat_ms", heartbeat_ms},
              {"election_ms", election_ms},
              {"detached", detached},
              {"owner_pid", owner_pid},
              {"etcd", json::array()}};
  for (const auto& e : etcd) doc["etcd"].push_back(EtcdMemberJson(e));
  if (!service.empty()) doc["service"] = service;
  if (!replicas.empty()) {
    doc["replicas"] = json::array();
    for (const auto& r : replicas) doc["replicas"].push_back(ReplicaJson(r));
  }
  if (chain) {
    doc["chain"] = {{"rpc_url", chain->rpc_url},
                    {"chain_id", chain->chain_id},
                    {"anvil_pid", chain->anvil_pid},
                    {"anvil_log", chain->anvil_log},
                    {"registry", chain->registry},
                    {"service_name", chain->service_name},
                    {"owner_key_file", chain->owner_key_file},
                    {"manager_key_file", chain->manager_key_file},
                    {"tx_key_file", chain->tx_key_file},
                    {"operator_key_files", chain->operator_key_files}};
    if (!chain->anvil_argv.empty()) doc["chain"]["anvil_argv"] = chain->anvil_argv;
    if (chain->anvil_start_time != 0) doc["chain"]["anvil_start_time"] = chain->anvil_start_time;
  }
  if (manager) {
    doc["manager"] = {{"pid", manager->pid}, {"log_file", manager->log_file}};
    if (!manager->argv.empty()) doc["manager"]["argv"] = manager->argv;
    if (manager->start_time != 0) doc["manager"]["start_time"] = manager->start_time;
  }
  if (containers) doc["containers"] = ContainersJson(*containers);
  if (dashboard) {
    const auto& d = *dashboard;
    doc["dashboard"] = {{"name", d.name},
                        {"tx_key_file", d.tx_key_file},
                        {"operator_key_files", d.operator_key_files},
                        {"deployment", ContainersJson(d.deployment)},
                        {"replicas", json::array()},
                        {"etcd", json::array()}};
    for (const auto& r : d.replicas) doc["dashboard"]["replicas"].push_back(ReplicaJson(r));
    for (const auto& e : d.etcd) doc["dashboard"]["etcd"].push_back(EtcdMemberJson(e));
  }
  return doc.dump(2) + "\n";
}

Result<RunState> RunState::Load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return NotFoundError("no run state at " + file.string());
    return InternalError("cannot read " + file.string() + ": " + std::strerror(errno));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = Parse(ss.str());
  if (!parsed.ok()) return parsed.status().WithContext(file.string());
  return parsed;
}

Status RunState::Save(const std::filesystem::path& file) const {
  return WriteFileAtomically(file, Serialize());
}

}  // namespace br2k
