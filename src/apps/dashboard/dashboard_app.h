// The Service Registry Dashboard as a br2k Application (paper 1, section IV): the replicated
// record of what happened to the services of one ServiceRegistry (their Claim events with what
// the manager did about them, their location history, the notes managers attach), plus the
// registry transactions the dashboard sends with its own key. See docs/dashboard.md.
//
// Routes (the request type decides who executes what, see application.h):
//   GET    /api/state                          ReadOnly     the whole record (linearizable)
//   POST   /api/services/{id}/notes            Replication  {"author","text","claim"?} -> {"id"}
//   PUT    /api/services/{id}/notes/{note}     Replication  {"text"}
//   DELETE /api/services/{id}/notes/{note}     Replication
//   PUT    /api/services/{id}/label            Replication  {"label"}
//   POST   /api/services/{id}/outcomes         Replication  a manager's signed claim report
//                                                           (claim_report.h): recorded as the
//                                                           outcome of its claim
//   POST   /api/txs                            External_TXN a transaction the user signed in the
//                                                           browser: recorded in the log, never
//                                                           applied
//   POST   /api/send                           Normal       a registry transaction sent once by
//                                                           the leader with the service's key
// and one request that is not a route (so no HTTP client can forge it): kEventsPath, the
// Replication request through which the event follower (event_follower.h) records the registry
// events it read on chain.
//
// Thread safety: none of its own; br2k serialises Apply, Read, Snapshot and Restore. Validate
// (called by the front end on server threads, outside that serialisation) reads no state, only
// the options (and, for a claim report, asks `may_report`, which may do I/O). state() must be
// called under the same serialisation (or use a copy: the view functions take a DashboardState).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "br2k/replication/application.h"
#include "dashboard_state.h"

namespace br2k::apps::dashboard {

// The path of the follower's internal request (POST, Replication, body EncodeEventBatch).
inline constexpr const char* kEventsPath = "/internal/chain-events";

struct DashboardOptions {
  // Turns a registry transaction into the call the leader sends (to = the registry, data = its
  // calldata); INVALID_ARGUMENT for arguments the ABI refuses. Null: POST /api/send is refused
  // (400, "the dashboard has no registry"). Must be deterministic and thread-safe.
  std::function<Result<replication::ChainCall>(const TxRequest&)> encode;
  // The registry whose claims this dashboard records (0x + 40 hex, any case): a claim report
  // must name it. Empty: every claim report is refused.
  std::string registry;
  // Whether `account` (0x + 40 lower-case hex) may report outcomes for `service` (its id): the
  // CLI asks the registry (owner or manager). Called by Validate only, on the leader's front end
  // before the report is replicated (the chain's answer is not deterministic, so Apply does not
  // ask it again; Apply re-checks the signature). Null: every claim report is refused.
  std::function<Result<bool>(const std::string& service, const std::string& account)> may_report;
};

class DashboardApp final : public replication::Application {
 public:
  explicit DashboardApp(DashboardOptions options = {}) : options_(std::move(options)) {}

  std::vector<replication::Route> Routes() const override;
  Status Validate(const replication::Request& r, replication::RequestType t) const override;
  replication::ApplyResult Apply(const replication::Request& r,
                                 const replication::ApplyContext& ctx) override;
  replication::Response Read(const replication::Request& r) const override;
  // POST /api/send's only effect is its chain call.
  bool NormalEffectsAreChainCalls() const override { return true; }
  std::string Snapshot() const override { return EncodeState(state_); }
  Status Restore(std::string_view snapshot) override;

  const DashboardState& state() const { return state_; }

  // The internal request that records `batch` (client id and seq empty: the events' own keys
  // make it idempotent).
  static replication::Request EventsRequest(const EventBatch& batch);

 private:
  // A claim report, parsed and checked as far as is deterministic (signature, registry, path).
  Result<manager::ClaimReport> CheckedReport(const replication::Request& r) const;
  replication::ApplyResult ApplyNote(const replication::Request& r,
                                     const replication::ApplyContext& ctx);

  DashboardOptions options_;
  DashboardState state_;
};

// The JSON view of `s` the pages use: {"next_block", "services": [{"id", "label", "locations",
// "states", "claims" (each with "after", "outcome" and "notes"), "notes", "registered",
// "dropped"}]}. With a non-empty `service` id only that service (an empty list when unknown).
std::string HistoryView(const DashboardState& s, const std::string& service = "");

}  // namespace br2k::apps::dashboard
