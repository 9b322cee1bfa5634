#include "br2k/deploy/manifests.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/etcd_limits.h"

namespace br2k::deploy {
namespace {

using nlohmann::json;

// Where the containers keep their state and read their keys.
constexpr const char* kEtcdMount = "/var/lib/etcd";
// etcd refuses a data dir holding foreign files (a fresh volume may hold lost+found): one level
// below the mount point.
constexpr const char* kEtcdDataDir = "/var/lib/etcd/data";
constexpr const char* kAppDataDir = "/var/lib/br2k";
constexpr const char* kKeysDir = "/etc/br2k/keys";

std::string Base64(std::string_view in) {
  return YAML::EncodeBase64(reinterpret_cast<const unsigned char*>(in.data()), in.size());
}

json AppLabels(const DeploymentSpec& spec) {
  return {{"app.kubernetes.io/name", spec.name}, {"app.kubernetes.io/managed-by", "br2k"}};
}

json Metadata(const DeploymentSpec& spec, const std::string& name, json labels) {
  return {{"name", name}, {"namespace", spec.namespace_name}, {"labels", std::move(labels)}};
}

// etcd's URLs: https:// when the deployment has etcd TLS.
std::string EtcdUrl(const DeploymentSpec& spec, const std::string& host, int port) {
  return (spec.EtcdTls() ? "https://" : "http://") + host + ":" + std::to_string(port);
}

std::string KeyPath(const std::string& file) {
  return std::string(kKeysDir) + "/" + file;
}

// The Secret's files pod i may see: all but the other nodes' own (their operator keys and etcd
// keys and certificates). On Kubernetes the pod's Secret volume projects only these (`items`).
std::vector<std::string> PodSecretFiles(const DeploymentSpec& spec, size_t i) {
  std::vector<std::string> out;
  for (const auto& f : spec.secrets.Names()) {
    bool other = false;
    for (size_t j = 0; j < spec.nodes && !other; ++j) {
      if (j == i) continue;
      other = f == "operator-" + std::to_string(j) + ".key" || f == EtcdCertFile(j) ||
              f == EtcdKeyFile(j);
    }
    if (!other) out.push_back(f);
  }
  return out;
}

json RenderSecret(const DeploymentSpec& spec) {
  json data = json::object();
  for (const auto& [file, contents] : spec.secrets.files) data[file] = Base64(contents);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", Metadata(spec, spec.name + "-keys", AppLabels(spec))},
          {"type", "Opaque"},
          {"data", std::move(data)}};
}

json RenderClaim(const DeploymentSpec& spec, const std::string& name) {
  json claim_spec = {{"accessModes", json::array({"ReadWriteOnce"})},
                     {"resources", {{"requests", {{"storage", spec.storage_size}}}}}};
  if (!spec.storage_class.empty()) claim_spec["storageClassName"] = spec.storage_class;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", Metadata(spec, name, AppLabels(spec))},
          {"spec", std::move(claim_spec)}};
}

json PodLabels(const DeploymentSpec& spec, size_t i) {
  json labels = AppLabels(spec);
  labels["br2k.io/pod"] = spec.PodName(i);
  return labels;
}

json RenderService(const DeploymentSpec& spec, size_t i) {
  json ports = json::array();
  ports.push_back({{"name", "app"},
                   {"port", spec.AppPort(i)},
                   {"targetPort", spec.AppPort(i)},
                   {"protocol", "TCP"}});
  ports.push_back({{"name", "etcd-peer"},
                   {"port", spec.EtcdPeerPort(i)},
                   {"targetPort", spec.EtcdPeerPort(i)},
                   {"protocol", "TCP"}});
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(spec, spec.PodName(i), PodLabels(spec, i))},
          {"spec",
           {{"type", "ClusterIP"},
            {"selector", {{"br2k.io/pod", spec.PodName(i)}}},
            {"ports", std::move(ports)},
            // etcd members must reach each other before any of them is ready.
            {"publishNotReadyAddresses", true}}}};
}

json Requests(const std::string& cpu, const std::string& memory) {
  return {{"requests", {{"cpu", cpu}, {"memory", memory}}}};
}

// Declared container ports, except with host networking: podman 4.3 `kube play` publishes every
// containerPort on the host and then refuses the pod ("PortMappings can only be used with Bridge
// or slirp4netns networking"); with host networking the ports are the host's anyway, and
// nothing refers to them by name (probes and Services use numbers). See docs/deploy-manifests.md.
void AddPorts(const DeploymentSpec& spec, json& container, json ports) {
  if (spec.addressing == Addressing::kLoopback) return;
  container["ports"] = std::move(ports);
}

json EtcdContainer(const DeploymentSpec& spec, size_t i) {
  const bool loopback = spec.addressing == Addressing::kLoopback;
  const std::string client = EtcdUrl(spec, "127.0.0.1", spec.EtcdClientPort(i));
  std::string initial_cluster;
  for (size_t j = 0; j < spec.nodes; ++j) {
    if (j > 0) initial_cluster += ",";
    initial_cluster +=
        spec.PodName(j) + "=" + EtcdUrl(spec, spec.NodeHost(j), spec.EtcdPeerPort(j));
  }
  json args = json::array({
      "--name=" + spec.PodName(i),
      std::string("--data-dir=") + kEtcdDataDir,
      // Clients only inside the pod: the replica next to it is the member's only client.
      "--listen-client-urls=" + client,
      "--advertise-client-urls=" + client,
      "--listen-peer-urls=" +
          EtcdUrl(spec, loopback ? "127.0.0.1" : "0.0.0.0", spec.EtcdPeerPort(i)),
      "--initial-advertise-peer-urls=" + EtcdUrl(spec, spec.NodeHost(i), spec.EtcdPeerPort(i)),
      "--initial-cluster=" + initial_cluster,
      // Ignored once the data dir exists, so a restarted pod rejoins with the same arguments.
      "--initial-cluster-state=new",
      "--initial-cluster-token=" + spec.name,
      "--heartbeat-interval=" + std::to_string(spec.etcd_heartbeat_ms),
      "--election-timeout=" + std::to_string(spec.etcd_election_ms),
      "--pre-vote=true",
      // One br2k group-commit transaction carries a whole batch (common/etcd_limits.h).
      EtcdMaxTxnOpsFlag(),
      "--max-request-bytes=10485760",
  });
  json mounts = json::array({json{{"name", "etcd"}, {"mountPath", kEtcdMount}}});
  if (spec.EtcdTls()) {
    // Hardening item 11: TLS for clients and peers, and only certificates of the deployment's CA
    // are let in (flag names from etcd's op-guide/security.md). One certificate per node serves
    // as server and as peer client.
    const std::string cert = KeyPath(EtcdCertFile(i)), key = KeyPath(EtcdKeyFile(i));
    const std::string ca = KeyPath(kEtcdCaFile);
    for (const std::string& a :
         {"--cert-file=" + cert, "--key-file=" + key, "--trusted-ca-file=" + ca,
          std::string("--client-cert-auth"), "--peer-cert-file=" + cert, "--peer-key-file=" + key,
          "--peer-trusted-ca-file=" + ca, std::string("--peer-client-cert-auth")}) {
      args.push_back(a);
    }
    mounts.push_back({{"name", "keys"}, {"mountPath", kKeysDir}, {"readOnly", true}});
  }
  json ports = json::array();
  ports.push_back(
      {{"name", "etcd-client"}, {"containerPort", spec.EtcdClientPort(i)}, {"protocol", "TCP"}});
  ports.push_back(
      {{"name", "etcd-peer"}, {"containerPort", spec.EtcdPeerPort(i)}, {"protocol", "TCP"}});
  json c = {{"name", "etcd"},
            {"image", spec.etcd_image},
            {"imagePullPolicy", "IfNotPresent"},
            {"command", json::array({spec.etcd_command})},
            {"args", std::move(args)},
            {"resources", Requests(spec.etcd_cpu, spec.etcd_memory)},
            {"volumeMounts", std::move(mounts)}};
  AddPorts(spec, c, std::move(ports));
  return c;
}

json HealthProbe(const DeploymentSpec& spec, size_t i) {
  json get = {{"path", "/health"}, {"port", spec.AppPort(i)}, {"scheme", "HTTP"}};
  // With host networking the replica listens on 127.0.0.1 only; the default host is the pod IP.
  if (spec.addressing == Addressing::kLoopback) get["host"] = "127.0.0.1";
  return {{"httpGet", std::move(get)}};
}

json AppContainer(const DeploymentSpec& spec, size_t i) {
  const bool loopback = spec.addressing == Addressing::kLoopback;
  const std::string etcd = EtcdUrl(spec, "127.0.0.1", spec.EtcdClientPort(i));
  json args = json::array({
      "--id=node-" + std::to_string(i),
      "--service=" + spec.name,
      std::string("--listen=") + (loopback ? "127.0.0.1" : "0.0.0.0") + ":" +
          std::to_string(spec.AppPort(i)),
      "--advertise-url=" + spec.AppUrl(i),
      // etcd serves clients on the pod's localhost only: the replica reaches its own member.
      "--etcd=" + etcd,
      "--local-etcd=" + etcd,
  });
  if (spec.EtcdTls()) {
    args.push_back("--etcd-ca=" + KeyPath(kEtcdCaFile));
    args.push_back("--etcd-cert=" + KeyPath(EtcdCertFile(i)));
    args.push_back("--etcd-key=" + KeyPath(EtcdKeyFile(i)));
  }
  const std::vector<std::string> names = PodSecretFiles(spec, i);
  auto has = [&](const std::string& f) {
    return std::find(names.begin(), names.end(), f) != names.end();
  };
  const std::string operator_key = "operator-" + std::to_string(i) + ".key";
  // A replica publishes its location with its own operator key: without one there is nothing
  // for it to do on chain (a deployment whose keys are not br2k's to hold).
  if (!spec.chain.rpc_url.empty() && has(operator_key)) {
    args.push_back("--rpc-url=" + spec.chain.rpc_url);
    if (!spec.chain.registry.empty()) args.push_back("--registry=" + spec.chain.registry);
    if (!spec.chain.service_name.empty()) {
      args.push_back("--service-name=" + spec.chain.service_name);
    }
    if (spec.chain.chain_id != 0) {
      args.push_back("--chain-id=" + std::to_string(spec.chain.chain_id));
    }
    args.push_back(std::string("--operator-key-file=") + kKeysDir + "/" + operator_key);
    if (has("tx.key")) {
      args.push_back(std::string("--tx-key-file=") + kKeysDir + "/tx.key");
    }
  }
  args.push_back(std::string("--data-dir=") + kAppDataDir);
  for (const auto& a : spec.app_args) args.push_back(a);

  json mounts = json::array({json{{"name", "data"}, {"mountPath", kAppDataDir}}});
  if (!names.empty()) {
    mounts.push_back({{"name", "keys"}, {"mountPath", kKeysDir}, {"readOnly", true}});
  }
  json readiness = HealthProbe(spec, i);
  readiness["periodSeconds"] = 2;
  readiness["timeoutSeconds"] = 2;
  readiness["failureThreshold"] = 3;
  // Generous: a replica catching up on a long log after a restart must not be killed for it.
  json liveness = HealthProbe(spec, i);
  liveness["initialDelaySeconds"] = 30;
  liveness["periodSeconds"] = 10;
  liveness["timeoutSeconds"] = 5;
  liveness["failureThreshold"] = 6;
  json c = {{"name", "app"},
            {"image", spec.app_image},
            {"imagePullPolicy", "IfNotPresent"},
            {"command", json::array({spec.AppCommand()})},
            {"args", std::move(args)},
            {"readinessProbe", std::move(readiness)},
            {"resources", Requests(spec.app_cpu, spec.app_memory)},
            {"volumeMounts", std::move(mounts)}};
  // No liveness probe on one machine: podman turns it into a health check that runs curl in the
  // container (scratch images have none) and restarts the app on failure, a loop wherever
  // systemd schedules the checks. There restartPolicy restarts a crashed replica and the
  // manager's prober judges a running one.
  if (spec.addressing == Addressing::kServices) c["livenessProbe"] = std::move(liveness);
  AddPorts(spec, c,
           json::array(
               {json{{"name", "app"}, {"containerPort", spec.AppPort(i)}, {"protocol", "TCP"}}}));
  return c;
}

json Affinity(const DeploymentSpec& spec) {
  json expression = {{"key", spec.node_label_key},
                     {"operator", "In"},
                     {"values", json::array({spec.node_label_value})}};
  json term = {{"matchExpressions", json::array({expression})}};
  json node = {{"requiredDuringSchedulingIgnoredDuringExecution",
                {{"nodeSelectorTerms", json::array({term})}}}};
  json selector = {{"matchLabels", {{"app.kubernetes.io/name", spec.name}}}};
  json anti_term = {{"labelSelector", selector}, {"topologyKey", "kubernetes.io/hostname"}};
  json anti = {{"requiredDuringSchedulingIgnoredDuringExecution", json::array({anti_term})}};
  return {{"nodeAffinity", std::move(node)}, {"podAntiAffinity", std::move(anti)}};
}

json RenderPod(const DeploymentSpec& spec, size_t i) {
  json volumes = json::array();
  volumes.push_back(
      {{"name", "etcd"}, {"persistentVolumeClaim", {{"claimName", spec.PodName(i) + "-etcd"}}}});
  volumes.push_back(
      {{"name", "data"}, {"persistentVolumeClaim", {{"claimName", spec.PodName(i) + "-data"}}}});
  const auto files = PodSecretFiles(spec, i);
  if (!files.empty()) {
    // Only the pod's own files (items); podman 4.3 ignores items and mounts the whole Secret
    // (docs/security.md). optional: false spelled out: podman 4.3's kube play dereferences it
    // unchecked.
    json items = json::array();
    for (const auto& f : files) items.push_back({{"key", f}, {"path", f}});
    volumes.push_back({{"name", "keys"},
                       {"secret",
                        {{"secretName", spec.name + "-keys"},
                         {"defaultMode", 0400},
                         {"optional", false},
                         {"items", std::move(items)}}}});
  }
  json pod_spec = {{"restartPolicy", "Always"},
                   {"hostNetwork", spec.addressing == Addressing::kLoopback},
                   {"containers", json::array({EtcdContainer(spec, i), AppContainer(spec, i)})},
                   {"volumes", std::move(volumes)}};
  if (spec.addressing == Addressing::kServices) pod_spec["affinity"] = Affinity(spec);
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", Metadata(spec, spec.PodName(i), PodLabels(spec, i))},
          {"spec", std::move(pod_spec)}};
}

// --- YAML ---

// Would a plain (unquoted) scalar `s` be read back as something other than this string, by a
// YAML 1.1 or 1.2 reader? Errs towards quoting: a needless quote costs nothing.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* const kWords[] = {
      "~",     "null",  "Null",  "NULL",  "y",     "Y",    "yes",  "Yes",   "YES",   "n",
      "N",     "no",    "No",    "NO",    "true",  "True", "TRUE", "false", "False", "FALSE",
      "on",    "On",    "ON",    "off",   "Off",   "OFF",  ".inf", ".Inf",  ".INF",  "-.inf",
      "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan", ".NaN", ".NAN",  "<<"};
  for (const char* w : kWords) {
    if (s == w) return true;
  }
  const char first = s.front();
  if ((first >= '0' && first <= '9') || first == '+' || first == '-' || first == '.') {
    // Numbers in every YAML spelling: 12, -1.5e3, 0x1F, 0o17, 1_000, 1:30 (sexagesimal).
    if (s.find_first_not_of("0123456789abcdefABCDEFxXoO._:+-") == std::string::npos) return true;
  }
  return false;
}

void Emit(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, v] : j.items()) {
        out << YAML::Key;
        if (NeedsQuotes(k)) {
          out << YAML::DoubleQuoted << k;
        } else {
          out << k;
        }
        out << YAML::Value;
        Emit(out, v);
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& v : j) Emit(out, v);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      if (NeedsQuotes(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      break;
    case json::value_t::number_integer:
      out << j.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << j.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << j.dump();
      break;
    default:
      out << YAML::Null;
      break;
  }
}

}  // namespace

Result<std::vector<nlohmann::json>> RenderManifests(const DeploymentSpec& spec) {
  BR2K_RETURN_IF_ERROR(spec.Validate());
  std::vector<json> out;
  if (!spec.secrets.files.empty()) out.push_back(RenderSecret(spec));
  for (size_t i = 0; i < spec.nodes; ++i) {
    out.push_back(RenderClaim(spec, spec.PodName(i) + "-etcd"));
    out.push_back(RenderClaim(spec, spec.PodName(i) + "-data"));
  }
  for (size_t i = 0; i < spec.nodes; ++i) out.push_back(RenderService(spec, i));
  for (size_t i = 0; i < spec.nodes; ++i) out.push_back(RenderPod(spec, i));
  return out;
}

std::string ToYaml(const std::vector<nlohmann::json>& objects) {
  std::string text;
  for (size_t k = 0; k < objects.size(); ++k) {
    YAML::Emitter out;
    out.SetIndent(2);
    out.SetSeqFormat(YAML::Block);
    Emit(out, objects[k]);
    if (k > 0) text += "---\n";
    text += out.c_str();
    text += "\n";
  }
  return text;
}

std::string ToJson(const std::vector<nlohmann::json>& objects) {
  json list = {{"apiVersion", "v1"},
               {"kind", "List"},
               {"items", json::array()},
               {"metadata", {{"resourceVersion", ""}}}};
  for (const auto& o : objects) list["items"].push_back(o);
  return list.dump(4) + "\n";
}

}  // namespace br2k::deploy
