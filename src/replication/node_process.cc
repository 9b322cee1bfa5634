#include "br2k/replication/node_process.h"

#include <nlohmann/json.hpp>

#include "br2k/http/client.h"

namespace br2k::replication {

std::vector<std::string> LogserverArgv(const std::filesystem::path& binary,
                                       const LogserverNode& node) {
  std::string etcd;
  for (const auto& u : node.etcd_urls) etcd += (etcd.empty() ? "" : ",") + u;
  std::string hostport = node.host + ":" + std::to_string(node.listen_port);
  std::vector<std::string> argv = {binary.string(),
                                   "--id=" + node.id,
                                   "--service=" + node.service,
                                   "--listen=" + hostport,
                                   "--etcd=" + etcd,
                                   "--local-etcd=" + node.local_etcd_url,
                                   "--data-dir=" + node.data_dir.string(),
                                   "--advertise-url=http://" + hostport};
  if (!node.etcd_ca.empty()) {
    argv.push_back("--etcd-ca=" + node.etcd_ca.string());
    argv.push_back("--etcd-cert=" + node.etcd_cert.string());
    argv.push_back("--etcd-key=" + node.etcd_key.string());
  }
  argv.insert(argv.end(), node.extra_args.begin(), node.extra_args.end());
  return argv;
}

Result<ReplicaProbe> ProbeReplica(const std::string& url, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto resp, http::Call(url, "GET", "/status", "", {}, deadline));
  if (resp.status != 200) {
    return UnavailableError(url + "/status answered HTTP " + std::to_string(resp.status));
  }
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError(url + "/status: not a JSON object");
  }
  ReplicaProbe p;
  try {
    p.id = j.at("id").get<std::string>();
    p.role = j.at("role").get<std::string>();
    p.lpi = j.at("lpi").get<uint64_t>();
    p.ssi = j.at("ssi").get<uint64_t>();
    p.ls = j.at("ls").get<uint64_t>();
    p.leader = j.at("leader").get<std::string>();
    p.leader_url = j.value("leader_url", "");
    p.url = j.value("url", url);
    p.healthy = j.value("healthy", true);
  } catch (const std::exception& e) {
    return InvalidArgumentError(url + "/status: " + e.what());
  }
  return p;
}

}  // namespace br2k::replication
