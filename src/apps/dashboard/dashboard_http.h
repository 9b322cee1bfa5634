// The dashboard's HTTP front end: the routes every replica answers itself, in front of br2k's
// replica front end (replication/frontend.h), which serves the application's logged routes (a
// follower redirects those to the leader) and /status, /health, ...
//
// Answered by any replica, leader or not:
//   GET  /, /index.html, /app.js, /style.css  the pages (embedded, web_assets.h)
//   GET  /api/config          {"replica", "role", "leader_url", "registry", "sender"}
//   GET  /api/services        every registered service, read live from the chain (registry_view.h);
//                             with ?live=1 each record also has "live": the /status of its
//                             location (role, id, epoch, LPI, ...; "reachable": false otherwise)
//   GET  /api/services/{id}   {"record" (chain), "history" (this replica's copy of the replicated
//                              record), "replicas" (live /status of the service's known
//                              locations), "lpi"}
//   GET  /api/history         this replica's copy of the replicated record (may trail the leader
//                              by a few entries: "lpi" says how far it is)
//   POST /api/calldata        a registry transaction's {"to","data"} for the browser's wallet
//   GET  /api/receipt/{tx}    a transaction's receipt
//   OPTIONS *                 CORS preflight: pages served by a follower write to the leader
// Every answer carries Access-Control-Allow-Origin: * (the dashboard holds no cookies or
// credentials; writes are authorised on chain, by the signer).
//
// Chain routes answer 503 when the dashboard runs without --rpc-url/--registry or the node does
// not answer in time.
#pragma once

#include <chrono>
#include <string>

#include "br2k/http/server.h"
#include "br2k/replication/replica.h"
#include "registry_view.h"

namespace br2k::apps::dashboard {

struct DashboardHttpOptions {
  std::string advertise_url;
  std::string sender;  // the dashboard's own transaction account (0x..), "" without one
  std::chrono::milliseconds chain_timeout{5000};
  std::chrono::milliseconds probe_timeout{800};
  size_t max_probes = 8;  // service locations probed per page
};

// The returned handler borrows `replica`, `registry` (null: no chain) and calls `runtime` for
// everything it does not answer itself; they must outlive it. Thread-safe.
http::Handler MakeDashboardHandler(replication::Replica& replica, RegistryView* registry,
                                   http::Handler runtime, DashboardHttpOptions options);

}  // namespace br2k::apps::dashboard
