#include "br2k/manager/health_prober.h"

#include "br2k/http/client.h"

namespace br2k::manager {

bool Serving(const std::vector<EndpointHealth>& endpoints) {
  for (const auto& e : endpoints) {
    if (e.healthy && e.leader) return true;
  }
  return false;
}

std::string DescribeHealth(const std::vector<EndpointHealth>& endpoints) {
  if (endpoints.empty()) return "no endpoints";
  std::string out;
  for (const auto& e : endpoints) {
    if (!out.empty()) out += "; ";
    out += e.url + ": ";
    if (!e.reachable) {
      out += "unreachable (" + e.error + ")";
    } else if (!e.healthy) {
      out += "unhealthy (" + e.error + ")";
    } else {
      out += e.leader ? "healthy leader" : "healthy follower";
    }
  }
  return out;
}

namespace {

class HttpHealthProber final : public HealthProber {
 public:
  EndpointHealth Probe(const std::string& url, Deadline deadline) override {
    EndpointHealth h{.url = url};
    auto hp = http::ParseHttpUrl(url);
    if (!hp.ok()) {
      h.error = hp.status().message();
      return h;
    }
    http::Connection conn(hp->first, hp->second);
    auto health = conn.Call("GET", "/health", "", {}, deadline);
    if (!health.ok()) {
      h.error = health.status().ToString();
      return h;
    }
    h.reachable = true;
    if (health->status != 200) {
      h.error = "GET /health answered " + std::to_string(health->status);
      return h;
    }
    h.healthy = true;
    auto leader = conn.Call("GET", "/leader", "", {}, deadline);
    h.leader = leader.ok() && leader->status == 200;
    return h;
  }
};

}  // namespace

std::shared_ptr<HealthProber> MakeHttpHealthProber() {
  return std::make_shared<HttpHealthProber>();
}

}  // namespace br2k::manager
