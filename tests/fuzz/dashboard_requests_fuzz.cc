// Fuzz target: every request body the dashboard parses (events batch, notes, label, registry
// transaction, user transaction record, ids, a manager's claim report) and its snapshot decoder,
// then the state machine itself: a request the app validates is applied, and the state survives
// Snapshot/Restore. The first input byte picks the route; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dashboard_app.h"
#include "dashboard_state.h"

using namespace br2k::apps::dashboard;
using br2k::replication::ApplyContext;
using br2k::replication::Request;
using br2k::replication::RequestType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  if (auto b = ParseEventBatch(body); b.ok()) {
    auto again = ParseEventBatch(EncodeEventBatch(*b));
    if (!again.ok() || again->events != b->events || again->next_block != b->next_block) {
      __builtin_trap();
    }
  }
  if (auto s = DecodeState(body); s.ok()) {
    auto again = DecodeState(EncodeState(*s));
    if (!again.ok() || !(*again == *s)) __builtin_trap();
  }
  (void)ParseNoteAdd(body);
  (void)ParseNoteUpdate(body);
  (void)ParseLabel(body);
  (void)ParseTxRequest(body);
  (void)ParseUserTx(body);
  (void)ParseServiceId(body);
  (void)ServiceIdOf(body);
  (void)ParseNoteId(body);
  if (auto report = br2k::manager::ParseClaimReport(body); report.ok()) {
    (void)br2k::manager::VerifyClaimReport(*report);
    auto again = br2k::manager::ParseClaimReport(br2k::manager::EncodeClaimReport(*report));
    if (!again.ok() || !(*again == *report)) __builtin_trap();
  }
  std::string clean = SanitizeUtf8(body);
  if (SanitizeUtf8(clean) != clean) __builtin_trap();

  // The state machine on a small fixed history, then the fuzzed request.
  const std::string svc = "0x" + std::string(64, 'a');
  // Claim reports for the registry below from anyone (the signature is still checked).
  DashboardApp app({.registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3",
                    .may_report = [](const std::string&, const std::string&) {
                      return br2k::Result<bool>(true);
                    }});
  ChainEvent claim{.kind = "Claim",
                   .service = svc,
                   .tx = "0x" + std::string(64, '1'),
                   .log_index = 0,
                   .block = 3};
  app.Apply(DashboardApp::EventsRequest({.events = {claim}, .next_block = 4}),
            {.index = 1, .type = RequestType::kReplication});
  Request r;
  RequestType type = RequestType::kReplication;
  switch (selector % 7) {
    case 0:
      r = {.method = "POST", .path = kEventsPath};
      break;
    case 1:
      r = {.method = "POST", .path = "/api/services/x/notes", .params = {{"id", svc}}};
      break;
    case 2:
      r = {.method = "PUT",
           .path = "/api/services/x/notes/2",
           .params = {{"id", svc}, {"note", "2"}}};
      break;
    case 3:
      r = {.method = "PUT", .path = "/api/services/x/label", .params = {{"id", svc}}};
      break;
    case 4:
      r = {.method = "DELETE",
           .path = "/api/services/x/notes/2",
           .params = {{"id", svc}, {"note", "2"}}};
      break;
    case 5:
      r = {.method = "POST", .path = "/api/services/x/outcomes", .params = {{"id", svc}}};
      break;
    default:
      r = {.method = "POST", .path = "/api/txs"};
      type = RequestType::kExternalTxn;
  }
  r.body = std::string(body);
  app.Apply({.method = "POST",
             .path = "/api/services/x/notes",
             .body = R"({"author":"a","text":"t"})",
             .params = {{"id", svc}}},
            {.index = 2, .type = RequestType::kReplication});
  if (app.Validate(r, type).ok() && type == RequestType::kReplication) {
    std::string before = app.Snapshot();
    auto out = app.Apply(r, {.index = 3, .type = type});
    // A rejected request leaves the state as it was.
    if (out.outcome == br2k::replication::Outcome::kFail && app.Snapshot() != before) {
      __builtin_trap();
    }
  }
  DashboardApp restored({.registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3"});
  if (!restored.Restore(app.Snapshot()).ok() || !(restored.state() == app.state())) {
    __builtin_trap();
  }
  return 0;
}
