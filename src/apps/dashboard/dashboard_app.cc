#include "dashboard_app.h"

#include <nlohmann/json.hpp>

namespace br2k::apps::dashboard {
using namespace br2k::replication;
using nlohmann::json;

namespace {

// Why chain events are Replication entries and not External_TXN: br2k records an External_TXN
// entry in the log and never applies it (application.h, replica.cc), so no replica's state could
// be derived from it. Observed events are therefore Replication entries that every replica
// applies, made idempotent by their (transaction hash, log index) keys and the replicated block
// cursor; External_TXN stays what the paper means by it, the record of a transaction a user
// signed and sent from the browser (POST /api/txs).

Response JsonAnswer(int status, const json& j) {
  return {.status = status, .body = j.dump(-1, ' ', false, json::error_handler_t::replace)};
}

ApplyResult Failed(int status, const std::string& message) {
  return {Outcome::kFail, JsonAnswer(status, {{"error", message}})};
}

std::string Param(const Request& r, const char* name) {
  auto it = r.params.find(name);
  return it == r.params.end() ? std::string() : it->second;
}

json EventView(const ChainEvent& e) {
  json j = {{"kind", e.kind}, {"tx", e.tx}, {"log_index", e.log_index}, {"block", e.block}};
  if (e.kind == "NewLocation" || e.kind == "Registered") j["location"] = e.location;
  if (e.kind == "NewLocation") {
    j["epoch"] = e.epoch;
    j["version"] = e.version;
  }
  if (e.kind == "StateChanged") {
    j["state"] = e.state;
    j["version"] = e.version;
  }
  if (e.kind == "Registered") j["owner"] = e.account;
  return j;
}

json ServiceView(const std::string& id, const ServiceHistory& h) {
  json locations = json::array(), states = json::array(), claims = json::array(),
       notes = json::array();
  json registered = nullptr;
  for (size_t i = 0; i < h.events.size(); ++i) {
    const ChainEvent& e = h.events[i];
    if (e.kind == "Registered") registered = EventView(e);
    if (e.kind == "NewLocation") locations.push_back(EventView(e));
    if (e.kind == "StateChanged") states.push_back(EventView(e));
    if (e.kind != "Claim") continue;
    // What the manager did about it: the service's state changes and new locations after the
    // claim, up to the next claim.
    json after = json::array();
    std::string outcome = "no state change seen";
    for (size_t k = i + 1; k < h.events.size() && h.events[k].kind != "Claim"; ++k) {
      const ChainEvent& a = h.events[k];
      if (a.kind == "StateChanged") outcome = a.state;
      if (a.kind == "StateChanged" || a.kind == "NewLocation") after.push_back(EventView(a));
    }
    json attached = json::array();
    const std::string key = EventKey(e);
    for (const auto& [nid, n] : h.notes) {
      if (n.claim == key) attached.push_back(nid);
    }
    json reported = nullptr;
    if (auto o = h.outcomes.find(key); o != h.outcomes.end()) {
      const auto& rep = o->second.report;
      reported = {{"action", rep.action},           {"detail", rep.detail},
                  {"manager", rep.manager},         {"recovery_ms", rep.recovery_ms},
                  {"handling_ms", rep.handling_ms}, {"handled_at_ms", rep.handled_at_ms},
                  {"index", o->second.index}};
    }
    claims.push_back({{"key", key},
                      {"manager", reported},
                      {"tx", e.tx},
                      {"log_index", e.log_index},
                      {"block", e.block},
                      {"claimant", e.account},
                      {"location", e.location},
                      {"reason", e.reason},
                      {"after", after},
                      {"outcome", outcome},
                      {"notes", attached}});
  }
  for (const auto& [nid, n] : h.notes) {
    json nj = {{"id", nid}, {"author", n.author}, {"text", n.text}, {"updated", n.updated}};
    if (!n.claim.empty()) nj["claim"] = n.claim;
    notes.push_back(nj);
  }
  return {
      {"id", id},         {"label", h.label}, {"registered", registered}, {"locations", locations},
      {"states", states}, {"claims", claims}, {"notes", notes},           {"dropped", h.dropped}};
}

}  // namespace

std::string HistoryView(const DashboardState& s, const std::string& service) {
  json services = json::array();
  for (const auto& [id, h] : s.services) {
    if (!service.empty() && id != service) continue;
    services.push_back(ServiceView(id, h));
  }
  return json{{"next_block", s.next_block}, {"services", services}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

namespace {
// POST /api/services/{id}/outcomes (and not, say, a note whose id is "outcomes").
bool IsOutcomeReport(const Request& r) {
  return r.method == "POST" && !r.params.count("note") && r.path.ends_with("/outcomes");
}
}  // namespace

std::vector<Route> DashboardApp::Routes() const {
  return {{"GET", "/api/state", RequestType::kReadOnly},
          {"POST", "/api/services/{id}/notes", RequestType::kReplication},
          {"PUT", "/api/services/{id}/notes/{note}", RequestType::kReplication},
          {"DELETE", "/api/services/{id}/notes/{note}", RequestType::kReplication},
          {"PUT", "/api/services/{id}/label", RequestType::kReplication},
          {"POST", "/api/services/{id}/outcomes", RequestType::kReplication},
          {"POST", "/api/txs", RequestType::kExternalTxn},
          {"POST", "/api/send", RequestType::kNormal}};
}

Request DashboardApp::EventsRequest(const EventBatch& batch) {
  return Request{.method = "POST", .path = kEventsPath, .body = EncodeEventBatch(batch)};
}

Status DashboardApp::Validate(const Request& r, RequestType t) const {
  if (t == RequestType::kReadOnly) return Status::Ok();
  if (r.path == kEventsPath) return ParseEventBatch(r.body).status();
  if (t == RequestType::kExternalTxn) return ParseUserTx(r.body).status();
  if (t == RequestType::kNormal) {
    auto tx = ParseTxRequest(r.body);
    if (!tx.ok()) return tx.status();
    if (!options_.encode) return InvalidArgumentError("the dashboard has no registry to send to");
    return options_.encode(*tx).status();
  }
  if (auto id = ParseServiceId(Param(r, "id")); !id.ok()) return id.status();
  if (IsOutcomeReport(r)) {
    auto report = CheckedReport(r);
    if (!report.ok()) return report.status();
    if (!options_.may_report) return PermissionDeniedError("this dashboard takes no claim reports");
    auto may = options_.may_report(report->service, report->manager);
    if (!may.ok()) return UnavailableError("cannot ask the registry: " + may.status().message());
    if (!*may) {
      return PermissionDeniedError(report->manager + " is not a manager of service " +
                                   report->service);
    }
    return Status::Ok();
  }
  if (r.params.count("note")) {
    if (auto n = ParseNoteId(Param(r, "note")); !n.ok()) return n.status();
  }
  if (r.path.ends_with("/label")) return ParseLabel(r.body).status();
  if (r.method == "POST") return ParseNoteAdd(r.body).status();
  if (r.method == "PUT") return ParseNoteUpdate(r.body).status();
  return Status::Ok();  // DELETE: no body
}

ApplyResult DashboardApp::Apply(const Request& r, const ApplyContext& ctx) {
  if (ctx.type == RequestType::kNormal) {  // POST /api/send, on the leader only
    auto tx = ParseTxRequest(r.body);
    if (!tx.ok()) return Failed(400, tx.status().message());
    if (!options_.encode) return Failed(400, "the dashboard has no registry to send to");
    auto call = options_.encode(*tx);
    if (!call.ok()) return Failed(400, call.status().message());
    ApplyResult out{Outcome::kSuccess, JsonAnswer(200, json::object())};
    out.chain_call = std::move(*call);
    return out;
  }
  if (r.path == kEventsPath) {
    auto batch = ParseEventBatch(r.body);
    if (!batch.ok()) return Failed(400, batch.status().message());
    size_t added = state_.Record(*batch);
    return {Outcome::kSuccess,
            JsonAnswer(200, {{"recorded", added}, {"next_block", state_.next_block}})};
  }
  return ApplyNote(r, ctx);
}

Result<manager::ClaimReport> DashboardApp::CheckedReport(const Request& r) const {
  BR2K_ASSIGN_OR_RETURN(auto id, ParseServiceId(Param(r, "id")));
  BR2K_ASSIGN_OR_RETURN(auto report, manager::ParseClaimReport(r.body));
  if (report.service != id) {
    return InvalidArgumentError("the report is about service " + report.service + ", not " + id);
  }
  if (options_.registry.empty()) {
    return PermissionDeniedError("this dashboard takes no claim reports");
  }
  std::string registry = options_.registry;
  for (char& c : registry) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (report.registry != registry) {
    return PermissionDeniedError("the report is about registry " + report.registry +
                                 ", this dashboard records " + registry);
  }
  BR2K_RETURN_IF_ERROR(manager::VerifyClaimReport(report));
  return report;
}

ApplyResult DashboardApp::ApplyNote(const Request& r, const ApplyContext& ctx) {
  auto id = ParseServiceId(Param(r, "id"));
  if (!id.ok()) return Failed(400, id.status().message());
  if (IsOutcomeReport(r)) {
    auto report = CheckedReport(r);
    if (!report.ok()) {
      return Failed(report.status().code() == StatusCode::kPermissionDenied ? 403 : 400,
                    report.status().message());
    }
    const bool recorded = state_.RecordOutcome(*report, ctx.index);
    return {Outcome::kSuccess,
            JsonAnswer(200, {{"service", *id}, {"claim", report->claim}, {"recorded", recorded}})};
  }
  if (r.path.ends_with("/label")) {
    auto label = ParseLabel(r.body);
    if (!label.ok()) return Failed(400, label.status().message());
    state_.services[*id].label = *label;
    return {Outcome::kSuccess, JsonAnswer(200, {{"service", *id}, {"label", *label}})};
  }
  if (r.method == "POST") {
    auto edit = ParseNoteAdd(r.body);
    if (!edit.ok()) return Failed(400, edit.status().message());
    auto it = state_.services.find(*id);
    if (it != state_.services.end() && it->second.notes.size() >= kMaxNotesPerService) {
      return Failed(409, "the service has " + std::to_string(kMaxNotesPerService) + " notes");
    }
    Note n{.id = ctx.index,
           .author = edit->author,
           .text = edit->text,
           .claim = edit->claim,
           .updated = ctx.index};
    state_.services[*id].notes[n.id] = n;
    return {Outcome::kSuccess, JsonAnswer(200, {{"service", *id}, {"id", n.id}})};
  }
  auto note = ParseNoteId(Param(r, "note"));
  if (!note.ok()) return Failed(400, note.status().message());
  auto svc = state_.services.find(*id);
  if (svc == state_.services.end() || !svc->second.notes.count(*note)) {
    return Failed(404, "no note " + std::to_string(*note) + " on service " + *id);
  }
  if (r.method == "DELETE") {
    svc->second.notes.erase(*note);
    return {Outcome::kSuccess, JsonAnswer(200, {{"deleted", *note}})};
  }
  auto edit = ParseNoteUpdate(r.body);
  if (!edit.ok()) return Failed(400, edit.status().message());
  Note& n = svc->second.notes[*note];
  n.text = edit->text;
  n.updated = ctx.index;
  return {Outcome::kSuccess, JsonAnswer(200, {{"id", n.id}, {"updated", n.updated}})};
}

Response DashboardApp::Read(const Request&) const {
  return {.status = 200, .body = HistoryView(state_)};
}

Status DashboardApp::Restore(std::string_view snapshot) {
  if (snapshot.empty()) {  // a replica that never saved: the empty state
    state_ = DashboardState();
    return Status::Ok();
  }
  BR2K_ASSIGN_OR_RETURN(state_, DecodeState(snapshot));
  return Status::Ok();
}

}  // namespace br2k::apps::dashboard
