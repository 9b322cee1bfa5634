// How the manager asks a replica whether the service is up: GET /health (200 unless the
// replica has a local disk error) and GET /leader (200 only on the replica that leads), each with
// a short timeout. Behind an interface so unit tests can script the answers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "br2k/common/deadline.h"

namespace br2k::manager {

struct EndpointHealth {
  std::string url;
  bool reachable = false;  // answered HTTP at all
  bool healthy = false;    // GET /health answered 200
  bool leader = false;     // GET /leader answered 200
  std::string error;       // why not reachable / not healthy ("" when healthy)
};

// The service serves when some endpoint is healthy and leads.
bool Serving(const std::vector<EndpointHealth>& endpoints);
// "node at http://..: unreachable (...); http://..: healthy follower; ..." for logs.
std::string DescribeHealth(const std::vector<EndpointHealth>& endpoints);

// Thread-safe: Probe may be called concurrently.
class HealthProber {
 public:
  virtual ~HealthProber() = default;
  // Probes `url` ("http://host:port"). Never fails as a whole: what could not be learned before
  // `deadline` is reported as unreachable/unhealthy with `error` set.
  virtual EndpointHealth Probe(const std::string& url, Deadline deadline) = 0;
};

// The real prober: one HTTP/1.1 connection per probe, /health then /leader.
std::shared_ptr<HealthProber> MakeHttpHealthProber();

}  // namespace br2k::manager
