#include "br2k/deploy/kubernetes_runtime.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace br2k::deploy {

namespace {

using nlohmann::json;

std::string KindOf(const json& o) {
  return o.value("kind", "");
}
std::string NameOf(const json& o) {
  return o.contains("metadata") && o["metadata"].is_object() ? o["metadata"].value("name", "") : "";
}

// The same code, the message prefixed with the object it concerns.
Status About(const std::string& kind, const std::string& name, const Status& st) {
  if (st.ok()) return st;
  return Status(st.code(), kind + " " + name + ": " + st.message());
}

std::string StringAt(const json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
}

json ObjectAt(const json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_object() ? o[key] : json::object();
}

json ArrayAt(const json& o, const char* key) {
  return o.is_object() && o.contains(key) && o[key].is_array() ? o[key] : json::array();
}

// Pod status fields as the API documents them (PodStatus: phase, conditions[type,status,reason,
// message], containerStatuses[name, state{waiting|running|terminated}, lastState, restartCount];
// https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/ and
// https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#PodStatus).
std::string PhaseOf(const json& pod) {
  std::string phase = StringAt(ObjectAt(pod, "status"), "phase");
  // A pod the scheduler has not looked at yet may have no status: it is pending.
  return phase.empty() ? "Pending" : phase;
}

bool Terminating(const json& pod) {
  return ObjectAt(pod, "metadata").contains("deletionTimestamp");
}

bool ReadyOf(const json& pod) {
  for (const auto& c : ArrayAt(ObjectAt(pod, "status"), "conditions"))
    if (StringAt(c, "type") == "Ready") return StringAt(c, "status") == "True";
  return false;
}

std::string Terminated(const json& t) {
  std::string reason = StringAt(t, "reason");
  std::string s = reason.empty() ? "terminated" : reason;
  if (t.contains("exitCode") && t["exitCode"].is_number_integer())
    s += " (exit " + std::to_string(t["exitCode"].get<int64_t>()) + ")";
  return s;
}

std::string DetailOf(const json& pod) {
  json status = ObjectAt(pod, "status");
  std::vector<std::string> parts;
  if (Terminating(pod)) parts.push_back("being deleted");
  for (const auto& cs : ArrayAt(status, "containerStatuses")) {
    std::string name = "container " + StringAt(cs, "name");
    json state = ObjectAt(cs, "state");
    if (state.contains("waiting")) {
      std::string reason = StringAt(state["waiting"], "reason");
      std::string message = StringAt(state["waiting"], "message");
      parts.push_back(name + " waiting: " + (reason.empty() ? "?" : reason) +
                      (message.empty() ? "" : " (" + message + ")"));
    } else if (state.contains("terminated")) {
      parts.push_back(name + " " + Terminated(state["terminated"]));
    }
    json last = ObjectAt(cs, "lastState");
    if (last.contains("terminated")) {
      std::string restarts;
      if (cs.contains("restartCount") && cs["restartCount"].is_number_integer())
        restarts = ", " + std::to_string(cs["restartCount"].get<int64_t>()) + " restarts";
      parts.push_back(name + " last " + Terminated(last["terminated"]) + restarts);
    }
  }
  // Nothing from the containers: the pod-level reasons (Unschedulable, Evicted, ...).
  if (parts.empty()) {
    for (const auto& c : ArrayAt(status, "conditions")) {
      if (StringAt(c, "status") != "False" || StringAt(c, "type") == "Ready" ||
          StringAt(c, "type") == "ContainersReady")
        continue;
      std::string reason = StringAt(c, "reason");
      std::string message = StringAt(c, "message");
      if (!reason.empty() || !message.empty())
        parts.push_back(StringAt(c, "type") + ": " + reason +
                        (message.empty() ? "" : " (" + message + ")"));
    }
    std::string reason = StringAt(status, "reason");
    std::string message = StringAt(status, "message");
    if (!reason.empty() || !message.empty())
      parts.push_back(reason + (message.empty() ? "" : (reason.empty() ? "" : ": ") + message));
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

Result<kube::ApiEndpoint> ApiEndpointOf(const Context& context) {
  if (context.kind != ContextKind::kKubernetes)
    return Status(StatusCode::kFailedPrecondition,
                  "context \"" + context.name + "\" is not a kubernetes context");
  kube::ApiEndpoint e{.server = context.server,
                      .ca_pem = context.ca_pem,
                      .token = context.token,
                      .insecure_skip_tls_verify = context.insecure_skip_tls_verify};
  if (e.ca_pem.empty() && !context.ca_file.empty()) {
    std::ifstream in(context.ca_file);
    if (!in)
      return Status(StatusCode::kNotFound,
                    "context \"" + context.name + "\": cannot read its CA file " + context.ca_file);
    std::stringstream ss;
    ss << in.rdbuf();
    e.ca_pem = ss.str();
  }
  return e;
}

KubernetesRuntime::KubernetesRuntime(kube::ApiClient client, std::string namespace_name,
                                     KubernetesOptions options)
    : client_(std::move(client)), namespace_(std::move(namespace_name)), options_(options) {}

Status KubernetesRuntime::WaitGone(const std::string& pod, Deadline deadline) {
  // Deleting a Pod is graceful: the object stays, with metadata.deletionTimestamp set, until the
  // kubelet has stopped its containers (up to terminationGracePeriodSeconds; "Termination of
  // Pods", https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/). A Pod of the same
  // name can only be created once it is gone.
  while (true) {
    auto got = client_.Get("v1", "Pod", namespace_, pod, deadline);
    if (!got.ok() && got.status().code() == StatusCode::kNotFound) return Status::Ok();
    if (!got.ok()) return got.status();
    if (deadline.expired())
      return Status(StatusCode::kDeadlineExceeded, "still being deleted (replacing it)");
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(options_.delete_poll, deadline.remaining()));
  }
}

Status KubernetesRuntime::ApplyPod(const json& pod, Deadline deadline) {
  const std::string name = NameOf(pod);
  auto existing = client_.Get("v1", "Pod", namespace_, name, deadline);
  if (existing.ok()) {
    std::string phase = PhaseOf(*existing);
    bool finished = phase == "Failed" || phase == "Succeeded";
    // Running, Pending, Unknown: left as it is (its spec cannot change anyway).
    if (!finished && !Terminating(*existing)) return Status::Ok();
    if (!Terminating(*existing)) {
      Status st = client_.Delete("v1", "Pod", namespace_, name, deadline);
      if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
    }
    if (Status st = WaitGone(name, deadline); !st.ok()) return st;
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  auto applied = client_.Apply(pod, deadline);
  return applied.ok() ? Status::Ok() : applied.status();
}

Status KubernetesRuntime::Apply(const std::vector<json>& objects, Deadline deadline) {
  for (const auto& original : objects) {
    json o = original;
    if (!o.contains("metadata") || !o["metadata"].is_object())
      return Status(StatusCode::kInvalidArgument, KindOf(o) + ": an object without metadata");
    o["metadata"]["namespace"] = namespace_;
    const std::string kind = KindOf(o), name = NameOf(o);
    Status st;
    if (kind == "Pod" && o.value("apiVersion", "") == "v1") {
      st = ApplyPod(o, deadline);
    } else {
      auto applied = client_.Apply(o, deadline);
      if (!applied.ok()) st = applied.status();
    }
    if (!st.ok()) return About(kind, name, st);
  }
  return Status::Ok();
}

Result<std::vector<PodStatus>> KubernetesRuntime::Pods(const DeploymentSpec& spec,
                                                       Deadline deadline) {
  auto items =
      client_.List("v1", "Pod", namespace_, "app.kubernetes.io/name=" + spec.name, deadline);
  if (!items.ok()) return About("pods of", spec.name, items.status());
  std::map<std::string, const json*> by_name;
  for (const auto& item : *items) by_name[NameOf(item)] = &item;
  std::vector<PodStatus> out;
  for (size_t i = 0; i < spec.nodes; ++i) {
    PodStatus p{.name = spec.PodName(i)};
    auto it = by_name.find(p.name);
    if (it == by_name.end()) {
      p.phase = "Missing";
    } else {
      const json& pod = *it->second;
      p.phase = PhaseOf(pod);
      p.ready = ReadyOf(pod) && !Terminating(pod);
      if (!p.ready) p.detail = DetailOf(pod);
    }
    out.push_back(std::move(p));
  }
  return out;
}

Status KubernetesRuntime::DeleteIfExists(const char* kind, const std::string& name,
                                         Deadline deadline) {
  Status st = client_.Delete("v1", kind, namespace_, name, deadline);
  if (st.ok() || st.code() == StatusCode::kNotFound) return Status::Ok();
  return About(kind, name, st);
}

Status KubernetesRuntime::DeletePod(const DeploymentSpec& spec, size_t node, Deadline deadline) {
  return DeleteIfExists("Pod", spec.PodName(node), deadline);
}

Status KubernetesRuntime::Remove(const DeploymentSpec& spec, bool purge, Deadline deadline) {
  for (size_t i = 0; i < spec.nodes; ++i) {
    BR2K_RETURN_IF_ERROR(DeleteIfExists("Pod", spec.PodName(i), deadline));
    BR2K_RETURN_IF_ERROR(DeleteIfExists("Service", spec.PodName(i), deadline));
  }
  if (!purge) return Status::Ok();
  for (size_t i = 0; i < spec.nodes; ++i)
    for (const char* suffix : {"-etcd", "-data"})
      BR2K_RETURN_IF_ERROR(
          DeleteIfExists("PersistentVolumeClaim", spec.PodName(i) + suffix, deadline));
  return DeleteIfExists("Secret", spec.name + "-keys", deadline);
}

}  // namespace br2k::deploy
