// The HTTP front end of a replica: the application's routes plus /health, /leader, /replica,
// /status and /metrics. The leader serves; a follower answers 307 with the leader's URL
// (Location, plus X-Br2k-Leader naming it).
//
// Answers (all errors are JSON {"error", "message"}):
//   200/app status  the committed result (headers X-Br2k-Index, X-Br2k-State, and
//                   X-Br2k-Duplicate: true when answered from an earlier attempt's record)
//   307  not the leader, leader known        503  no leader / etcd unreachable / not committed
//   400  bad session headers, path, query or body not well-formed UTF-8 (they could not be
//        logged exactly), or Application::Validate failed (403 when it refused the caller,
//        PERMISSION_DENIED; 503 when it could not ask what it needed, UNAVAILABLE)
//   404  unknown route                        405  known path, other method
//   413  body too large (by the server)       500  local data loss
#pragma once

#include <functional>
#include <string>

#include "br2k/http/server.h"
#include "br2k/replication/replica.h"
#include "br2k/replication/routes.h"

namespace br2k::replication {

struct FrontendOptions {
  std::string advertise_url;
  std::chrono::milliseconds request_timeout{10000};  // per client write/read
  // When set: a JSON object (as text) shown under "registry" in GET /status, e.g. the state of
  // the on-chain location publisher. Called on server threads; must be thread-safe.
  std::function<std::string()> registry_status;
};

// The returned handler borrows `replica`, `app` and `routes`; they must outlive it. Thread-safe.
http::Handler MakeHandler(Replica& replica, const Application& app, const RouteTable& routes,
                          FrontendOptions options);

// The /status document of `s` as JSON text.
std::string StatusJson(const ReplicaStatus& s, const std::string& url);

}  // namespace br2k::replication
