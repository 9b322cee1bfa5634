#include "br2k/deploy/deployer.h"

#include <cstdint>
#include <thread>

#include "br2k/deploy/manifests.h"
#include "br2k/http/client.h"

namespace br2k::deploy {

using namespace std::chrono_literals;

bool AppHealthy(const DeploymentSpec& spec, size_t i, std::chrono::milliseconds timeout,
                Deadline deadline, std::string* detail) {
  auto h = http::Call("http://127.0.0.1:" + std::to_string(spec.AppPort(i)), "GET", "/health", "",
                      {}, deadline.Cap(timeout));
  const bool ok = h.ok() && h->status == 200;
  if (!ok && detail)
    *detail = h.ok() ? "/health answered " + std::to_string(h->status) : h.status().message();
  return ok;
}

std::string DescribePods(const std::vector<PodStatus>& pods) {
  std::string s;
  for (const auto& p : pods) {
    if (!s.empty()) s += ", ";
    s += p.name + " " + p.phase + (p.ready ? " ready" : "");
    if (!p.ready && !p.detail.empty()) s += " (" + p.detail.substr(0, 160) + ")";
  }
  return s;
}

Result<std::vector<PodStatus>> WaitReady(PodRuntime& runtime, const DeploymentSpec& spec,
                                         size_t min_ready, const ProgressFn& progress,
                                         Deadline deadline) {
  size_t want = min_ready == 0 ? spec.nodes : std::min(min_ready, spec.nodes);
  std::string last_line;
  size_t last_ready = SIZE_MAX;
  auto last_print = std::chrono::steady_clock::now() - 1h;
  std::vector<PodStatus> pods;
  while (true) {
    auto seen = runtime.Pods(spec, deadline.Cap(10s));
    if (seen.ok()) {
      pods = *seen;
      size_t ready = 0;
      for (const auto& p : pods) ready += p.ready ? 1 : 0;
      std::string line = "pods ready " + std::to_string(ready) + "/" + std::to_string(spec.nodes);
      if (ready < pods.size()) {
        std::string waiting;
        for (const auto& p : pods)
          if (!p.ready) waiting += (waiting.empty() ? "" : ", ") + p.name + " " + p.phase;
        line += ", waiting for " + waiting;
      }
      // A line when the count of ready pods changes, else at most every 5 s (pods that restart
      // flap between states).
      auto now = std::chrono::steady_clock::now();
      if (progress && line != last_line && (ready != last_ready || now - last_print >= 5s)) {
        progress(line);
        last_line = line;
        last_ready = ready;
        last_print = now;
      }
      if (ready >= want) return pods;
    } else if (progress) {
      progress("cannot list pods yet: " + seen.status().message());
    }
    if (deadline.expired())
      return Status(StatusCode::kDeadlineExceeded,
                    "pods not ready in time: " +
                        (pods.empty() ? std::string("none listed") : DescribePods(pods)));
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(250ms, deadline.remaining()));
  }
}

Result<DeployOutcome> DeployAndWait(PodRuntime& runtime, const DeploymentSpec& spec,
                                    size_t min_ready, const ProgressFn& progress,
                                    Deadline deadline) {
  auto start = std::chrono::steady_clock::now();
  auto objects = RenderManifests(spec);
  if (!objects.ok()) return objects.status();
  if (progress)
    progress("applying " + std::to_string(objects->size()) + " objects on the " + runtime.Kind() +
             " runtime (namespace " + spec.namespace_name + ")");
  if (auto st = runtime.Apply(*objects, deadline); !st.ok()) return st;
  auto pods = WaitReady(runtime, spec, min_ready, progress, deadline);
  if (!pods.ok()) return pods.status();
  DeployOutcome out;
  out.pods = std::move(*pods);
  out.applied = objects->size();
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return out;
}

}  // namespace br2k::deploy
