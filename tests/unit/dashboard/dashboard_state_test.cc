// The dashboard's state machine without a runtime: event dedupe per (tx, log index) and the
// replicated cursor, the claims view with the manager's outcome, notes edits, snapshots, and
// the validation of every request body.
#include "dashboard_state.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "br2k/eth/key.h"
#include "dashboard_app.h"

namespace br2k::apps::dashboard {
namespace {

using nlohmann::json;
using replication::ApplyContext;
using replication::Outcome;
using replication::Request;
using replication::RequestType;

const std::string kSvc = "0x" + std::string(64, 'a');
const std::string kOther = "0x" + std::string(64, 'b');

std::string Tx(int n) {
  std::string h = std::to_string(n);
  return "0x" + std::string(64 - h.size(), '0') + h;
}

ChainEvent Claim(int tx, uint64_t log_index, uint64_t block, const std::string& svc = kSvc) {
  return {.kind = "Claim",
          .service = svc,
          .tx = Tx(tx),
          .log_index = log_index,
          .block = block,
          .location = "http://10.0.0.1:8080",
          .reason = "timeout",
          .account = "0x" + std::string(40, 'c')};
}

ChainEvent State(int tx, uint64_t block, const std::string& state, uint64_t version) {
  return {.kind = "StateChanged",
          .service = kSvc,
          .tx = Tx(tx),
          .log_index = 0,
          .block = block,
          .version = version,
          .state = state};
}

ChainEvent Location(int tx, uint64_t block, const std::string& url, uint64_t epoch) {
  return {.kind = "NewLocation",
          .service = kSvc,
          .tx = Tx(tx),
          .log_index = 1,
          .block = block,
          .location = url,
          .epoch = epoch,
          .version = epoch + 1};
}

ApplyContext Ctx(uint64_t index) {
  return {.index = index, .type = RequestType::kReplication, .as_leader = false};
}

Request Note(const std::string& method, const std::string& path, const std::string& body,
             std::map<std::string, std::string> params) {
  return {.method = method, .path = path, .body = body, .params = std::move(params)};
}

TEST(DashboardState, Record_sameEventTwiceIsRecordedOnce) {
  DashboardState s;
  EventBatch b{.events = {Claim(1, 0, 5), Claim(1, 1, 5)}, .next_block = 5};
  EXPECT_EQ(s.Record(b), 2u);
  // The same batch again (a retry, or another leader that read the same blocks).
  EXPECT_EQ(s.Record(b), 0u);
  // The same (tx, log index) in a later batch.
  EXPECT_EQ(s.Record({.events = {Claim(1, 1, 5), Claim(2, 0, 6)}, .next_block = 7}), 1u);
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[kSvc].events.size(), 3u);
  EXPECT_EQ(s.next_block, 7u);
}

TEST(DashboardState, Record_eventBelowCursorIsADuplicate) {
  DashboardState s;
  s.Record({.events = {}, .next_block = 100});
  EXPECT_TRUE(s.Seen(Claim(9, 0, 99)));
  EXPECT_EQ(s.Record({.events = {Claim(9, 0, 99)}, .next_block = 100}), 0u);
  EXPECT_FALSE(s.Seen(Claim(9, 0, 100)));
}

TEST(DashboardState, Record_cursorNeverMovesBack) {
  DashboardState s;
  s.Record({.events = {}, .next_block = 50});
  s.Record({.events = {Claim(1, 0, 60)}, .next_block = 10});  // a stale batch
  EXPECT_EQ(s.next_block, 50u);
  EXPECT_EQ(s.services[kSvc].events.size(), 1u);
}

TEST(DashboardState, Record_oneBlockInSeveralBatches) {
  // A block with more events than a batch: the cursor stays on it; keys dedupe the overlap.
  DashboardState s;
  EXPECT_EQ(s.Record({.events = {Claim(1, 0, 8), Claim(1, 1, 8)}, .next_block = 8}), 2u);
  EXPECT_EQ(s.Record({.events = {Claim(1, 1, 8), Claim(1, 2, 8)}, .next_block = 9}), 1u);
  EXPECT_EQ(s.services[kSvc].events.size(), 3u);
}

TEST(DashboardState, Record_keepsChainOrder) {
  DashboardState s;
  s.Record({.events = {Claim(3, 0, 30), Claim(1, 0, 10)}, .next_block = 5});
  s.Record({.events = {Claim(2, 0, 20)}, .next_block = 5});
  const auto& ev = s.services[kSvc].events;
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].block, 10u);
  EXPECT_EQ(ev[1].block, 20u);
  EXPECT_EQ(ev[2].block, 30u);
}

TEST(DashboardState, Snapshot_roundTrip) {
  DashboardApp app;
  app.Apply(DashboardApp::EventsRequest({.events = {Claim(1, 0, 5), State(2, 6, "Recovering", 3),
                                                    Location(3, 7, "u", 4), Claim(4, 2, 8, kOther)},
                                         .next_block = 9}),
            Ctx(1));
  app.Apply(
      Note("POST", "/api/services/x/notes",
           R"({"author":"mgr","text":"looking","claim":")" + Tx(1) + R"(:0"})", {{"id", kSvc}}),
      Ctx(2));
  app.Apply(Note("PUT", "/api/services/x/label", R"({"label":"logserver"})", {{"id", kSvc}}),
            Ctx(3));
  std::string snap = app.Snapshot();
  DashboardApp other;
  ASSERT_TRUE(other.Restore(snap).ok());
  EXPECT_EQ(other.state(), app.state());
  EXPECT_EQ(other.Snapshot(), snap);
  auto decoded = DecodeState(snap);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, app.state());
}

TEST(DashboardState, Restore_refusesWhatItDidNotProduce) {
  DashboardApp app;
  for (const std::string& bad : std::vector<std::string>{
           "nope", "[]", R"({"version":2,"next_block":0,"services":{}})",
           R"({"version":1,"next_block":-1,"services":{}})",
           R"({"version":1,"next_block":0,"services":{"0x12":{}}})",
           R"({"version":1,"next_block":0,"services":{")" + kSvc +
               R"(":{"events":[],"notes":[{"id":0,"author":"a","text":"t","updated":1}]}}})"}) {
    Status st = app.Restore(bad);
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << bad;
  }
  // Events out of chain order.
  DashboardState s;
  s.services[kSvc].events = {Claim(2, 0, 20), Claim(1, 0, 10)};
  EXPECT_EQ(DecodeState(EncodeState(s)).status().code(), StatusCode::kDataLoss);
}

TEST(DashboardState, Notes_addEditDelete) {
  DashboardApp app;
  auto add = app.Apply(
      Note("POST", "/api/services/x/notes", R"({"author":"mgr","text":"first"})", {{"id", kSvc}}),
      Ctx(7));
  ASSERT_EQ(add.outcome, Outcome::kSuccess) << add.response.body;
  EXPECT_EQ(json::parse(add.response.body)["id"], 7);  // the log index: the same everywhere
  auto edit = app.Apply(
      Note("PUT", "/api/services/x/notes/7", R"({"text":"second"})", {{"id", kSvc}, {"note", "7"}}),
      Ctx(8));
  ASSERT_EQ(edit.outcome, Outcome::kSuccess) << edit.response.body;
  const auto& n = app.state().services.at(kSvc).notes.at(7);
  EXPECT_EQ(n.text, "second");
  EXPECT_EQ(n.author, "mgr");
  EXPECT_EQ(n.updated, 8u);
  // Unknown note: Fail, state unchanged.
  std::string before = app.Snapshot();
  auto missing = app.Apply(
      Note("PUT", "/api/services/x/notes/99", R"({"text":"x"})", {{"id", kSvc}, {"note", "99"}}),
      Ctx(9));
  EXPECT_EQ(missing.outcome, Outcome::kFail);
  EXPECT_EQ(missing.response.status, 404);
  EXPECT_EQ(app.Snapshot(), before);
  auto del = app.Apply(Note("DELETE", "/api/services/x/notes/7", "", {{"id", kSvc}, {"note", "7"}}),
                       Ctx(10));
  ASSERT_EQ(del.outcome, Outcome::kSuccess);
  EXPECT_TRUE(app.state().services.at(kSvc).notes.empty());
}

TEST(DashboardState, ClaimsView_showsWhatTheManagerDid) {
  DashboardApp app;
  app.Apply(DashboardApp::EventsRequest({.events = {Claim(1, 0, 5), State(2, 6, "Recovering", 3),
                                                    Location(3, 7, "http://new:1", 4),
                                                    State(4, 8, "Active", 5), Claim(5, 0, 9)},
                                         .next_block = 10}),
            Ctx(1));
  app.Apply(
      Note("POST", "/api/services/x/notes",
           R"({"author":"mgr","text":"redeployed","claim":")" + Tx(1) + R"(:0"})", {{"id", kSvc}}),
      Ctx(2));
  json v = json::parse(HistoryView(app.state(), kSvc));
  ASSERT_EQ(v["services"].size(), 1u);
  const json& claims = v["services"][0]["claims"];
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_EQ(claims[0]["outcome"], "Active");
  EXPECT_EQ(claims[0]["after"].size(), 3u);
  EXPECT_EQ(claims[0]["notes"], json::array({2}));
  EXPECT_EQ(claims[1]["outcome"], "no state change seen");
  EXPECT_EQ(v["services"][0]["locations"].size(), 1u);
  EXPECT_EQ(v["services"][0]["locations"][0]["epoch"], 4);
  // Another service's filter sees nothing of it.
  EXPECT_TRUE(json::parse(HistoryView(app.state(), kOther))["services"].empty());
}

// Anvil's first development key (a fact from Foundry's documentation) and the registry it names.
const char* kManagerKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const std::string kRegistry = "0x5fbdb2315678afecb367f032d93f642f64180aa3";

std::string SignedReport(const std::string& claim, const std::string& action,
                         const std::string& service = kSvc, const std::string& registry = kRegistry,
                         const char* key = kManagerKey, uint64_t handled_at_ms = 1000) {
  manager::ClaimReport r{.registry = registry,
                         .service = service,
                         .claim = claim,
                         .claim_block = 5,
                         .action = action,
                         .detail = "a leader serves",
                         .recovery_ms = 2100,
                         .handled_at_ms = handled_at_ms};
  return manager::EncodeClaimReport(*manager::SignClaimReport(r, *eth::PrivateKey::FromHex(key)));
}

Request ReportRequest(const std::string& body, const std::string& svc = kSvc) {
  return Note("POST", "/api/services/x/outcomes", body, {{"id", svc}});
}

TEST(DashboardState, ClaimReport_recordedAsTheClaimsManagerOutcome) {
  DashboardApp app({.registry = kRegistry});
  app.Apply(DashboardApp::EventsRequest({.events = {Claim(1, 0, 5)}, .next_block = 6}), Ctx(1));
  const std::string older =
      SignedReport(Tx(1) + ":0", "ignored-healthy", kSvc, kRegistry, kManagerKey, 1000);
  auto out = app.Apply(ReportRequest(older), Ctx(2));
  ASSERT_EQ(out.outcome, replication::Outcome::kSuccess) << out.response.body;
  // A later report of the same claim replaces it...
  out = app.Apply(
      ReportRequest(SignedReport(Tx(1) + ":0", "redeployed", kSvc, kRegistry, kManagerKey, 2000)),
      Ctx(3));
  ASSERT_EQ(out.outcome, replication::Outcome::kSuccess) << out.response.body;
  EXPECT_EQ(json::parse(out.response.body)["recorded"], true);
  // ... and the older one, replayed, changes nothing (a validly signed report, only older).
  out = app.Apply(ReportRequest(older), Ctx(4));
  ASSERT_EQ(out.outcome, replication::Outcome::kSuccess) << out.response.body;
  EXPECT_EQ(json::parse(out.response.body)["recorded"], false);
  json claim = json::parse(HistoryView(app.state(), kSvc))["services"][0]["claims"][0];
  EXPECT_EQ(claim["manager"]["action"], "redeployed");
  EXPECT_EQ(claim["manager"]["manager"], "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_EQ(claim["manager"]["recovery_ms"], 2100);
  EXPECT_EQ(claim["manager"]["index"], 3);
  // It survives a snapshot.
  DashboardApp other({.registry = kRegistry});
  ASSERT_TRUE(other.Restore(app.Snapshot()).ok());
  EXPECT_EQ(other.state(), app.state());
}

TEST(DashboardState, ClaimReport_refusedUnlessSignedForThisRegistryAndService) {
  DashboardApp app({.registry = kRegistry});
  auto code = [&](const Request& r) { return app.Validate(r, RequestType::kReplication).code(); };
  const std::string claim = Tx(1) + ":0";
  // No may_report: nobody is allowed.
  EXPECT_EQ(code(ReportRequest(SignedReport(claim, "redeployed"))), StatusCode::kPermissionDenied);
  DashboardApp allowing(
      {.registry = kRegistry, .may_report = [](const std::string&, const std::string& account) {
         return Result<bool>(account == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
       }});
  auto vcode = [&](const Request& r) {
    return allowing.Validate(r, RequestType::kReplication).code();
  };
  EXPECT_EQ(vcode(ReportRequest(SignedReport(claim, "redeployed"))), StatusCode::kOk);
  // Another registry's report, a report about another service than the path's, another signer.
  EXPECT_EQ(
      vcode(ReportRequest(SignedReport(claim, "redeployed", kSvc, "0x" + std::string(40, '1')))),
      StatusCode::kPermissionDenied);
  EXPECT_EQ(vcode(ReportRequest(SignedReport(claim, "redeployed", kOther))),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(vcode(ReportRequest(
                SignedReport(claim, "redeployed", kSvc, kRegistry,
                             "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"))),
            StatusCode::kPermissionDenied);
  // A tampered body: Validate and Apply both refuse it.
  std::string tampered = SignedReport(claim, "failed");
  tampered.replace(tampered.find("\"failed\""), 8, "\"redeployed\"");
  EXPECT_EQ(vcode(ReportRequest(tampered)), StatusCode::kPermissionDenied);
  auto applied = allowing.Apply(ReportRequest(tampered), Ctx(1));
  EXPECT_EQ(applied.outcome, replication::Outcome::kFail);
  EXPECT_EQ(applied.response.status, 403);
  EXPECT_TRUE(allowing.state().services.empty());
}

TEST(DashboardState, Apply_isDeterministic) {
  DashboardApp a, b;
  std::vector<Request> log = {
      DashboardApp::EventsRequest({.events = {Claim(1, 0, 5)}, .next_block = 6}),
      Note("POST", "/api/services/x/notes", R"({"author":"m","text":"t"})", {{"id", kSvc}}),
      DashboardApp::EventsRequest({.events = {Claim(1, 0, 5), Claim(2, 0, 7)}, .next_block = 8}),
  };
  for (size_t i = 0; i < log.size(); ++i) {
    auto ra = a.Apply(log[i], Ctx(i + 1));
    auto rb = b.Apply(log[i], Ctx(i + 1));
    EXPECT_EQ(ra.response, rb.response);
  }
  EXPECT_EQ(a.Snapshot(), b.Snapshot());
  EXPECT_EQ(a.state().services.at(kSvc).events.size(), 2u);
}

TEST(DashboardState, Validate_namesWhatIsWrong) {
  DashboardApp app;
  auto v = [&](const std::string& method, const std::string& path, const std::string& body,
               std::map<std::string, std::string> params, RequestType t) {
    return app.Validate(Note(method, path, body, std::move(params)), t);
  };
  const auto R = RequestType::kReplication;
  EXPECT_TRUE(
      v("POST", "/api/services/x/notes", R"({"author":"a","text":"t"})", {{"id", kSvc}}, R).ok());
  EXPECT_EQ(v("POST", "/api/services/x/notes", "{", {{"id", kSvc}}, R).message(),
            "body is not valid JSON");
  EXPECT_EQ(v("POST", "/api/services/x/notes", R"({"author":"a"})", {{"id", kSvc}}, R).message(),
            "field 'text' is missing");
  EXPECT_FALSE(
      v("POST", "/api/services/x/notes", R"({"author":"a","text":""})", {{"id", kSvc}}, R).ok());
  EXPECT_FALSE(v("POST", "/api/services/x/notes", R"({"author":"a","text":"t","claim":"zz"})",
                 {{"id", kSvc}}, R)
                   .ok());
  EXPECT_FALSE(
      v("POST", "/api/services/x/notes", R"({"author":"a","text":"t"})", {{"id", "0x12"}}, R).ok());
  EXPECT_FALSE(
      v("PUT", "/api/services/x/notes/0", R"({"text":"t"})", {{"id", kSvc}, {"note", "0"}}, R)
          .ok());
  EXPECT_FALSE(v("PUT", "/api/services/x/label", R"({"label":5})", {{"id", kSvc}}, R).ok());
  EXPECT_FALSE(
      v("POST", "/api/txs", R"({"tx":"0x12","from":"0x00"})", {}, RequestType::kExternalTxn).ok());
  EXPECT_TRUE(v("POST", "/api/txs",
                R"({"tx":")" + Tx(1) + R"(","from":"0x)" + std::string(40, 'd') + R"("})", {},
                RequestType::kExternalTxn)
                  .ok());
  // No registry: the dashboard cannot send.
  EXPECT_EQ(
      v("POST", "/api/send", R"({"function":"sendClaim","service":"logserver","location":"x"})", {},
        RequestType::kNormal)
          .message(),
      "the dashboard has no registry to send to");
  // The follower's own request is checked too.
  EXPECT_FALSE(
      v("POST", kEventsPath, R"({"next_block":1,"events":[{"kind":"Bogus"}]})", {}, R).ok());
}

TEST(DashboardState, ParseTxRequest_perFunction) {
  auto t = ParseTxRequest(
      R"({"function":"register","service":"logserver","location":"http://a:1",
          "deploy_context":"local","replicas":3,"container_registry":"r","images":["i@sha256:1"]})");
  ASSERT_TRUE(t.ok()) << t.status();
  // The id of a name is keccak256(name), as `br2k up` registers it.
  EXPECT_EQ(t->service, "0x0c47e5831489753519f58d295b1a9a28cbb20487484680d58cf48c4177478c67");
  EXPECT_EQ(t->replicas, 3u);
  EXPECT_EQ(t->images.size(), 1u);
  EXPECT_FALSE(ParseTxRequest(R"({"function":"selfdestruct","service":"x"})").ok());
  EXPECT_FALSE(
      ParseTxRequest(R"({"function":"updateLocation","service":"x","location":"u"})").ok());
  EXPECT_TRUE(
      ParseTxRequest(R"({"function":"updateLocation","service":"x","location":"u","epoch":"7"})")
          .ok());
  EXPECT_FALSE(ParseTxRequest(R"({"function":"addManager","service":"x","account":"0x1"})").ok());
  EXPECT_FALSE(ParseTxRequest(R"({"function":"updateState","service":"x","state":"None"})").ok());
  auto c = ParseTxRequest(R"({"function":"sendClaim","service":")" + kSvc + R"("})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->service, kSvc);
}

TEST(DashboardState, SanitizeUtf8_replacesInvalidBytes) {
  EXPECT_EQ(SanitizeUtf8("abc"), "abc");
  EXPECT_EQ(SanitizeUtf8("h\xc3\xa9"), "h\xc3\xa9");
  EXPECT_EQ(SanitizeUtf8("a\xff"
                         "b"),
            "a?b");
  EXPECT_EQ(SanitizeUtf8("\xc0\x80"), "??");       // overlong
  EXPECT_EQ(SanitizeUtf8("\xed\xa0\x80"), "???");  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xe2\x82"), "??");       // truncated
}

}  // namespace
}  // namespace br2k::apps::dashboard
