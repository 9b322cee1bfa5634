#include <gtest/gtest.h>

#include "br2k/http/message.h"
#include "br2k/replication/keys.h"
#include "br2k/replication/log_entry.h"
#include "br2k/replication/routes.h"

namespace br2k::replication {
namespace {

TEST(LogEntry_roundTrip, KeepsEveryField) {
  LogEntry e{.type = RequestType::kNormal,
             .request = {.method = "POST",
                         .path = "/x/7",
                         .query = "a=1",
                         .body = "{\"u\":1}",
                         .client_id = "c-1",
                         .seq = 42,
                         .params = {{"id", "7"}}}};
  auto d = DecodeLogEntry(EncodeLogEntry(e));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->type, RequestType::kNormal);
  EXPECT_EQ(d->request.body, e.request.body);
  EXPECT_EQ(d->request.seq, 42u);
  EXPECT_EQ(d->request.params.at("id"), "7");
}

TEST(LogEntry_decode, RejectsMalformedInput) {
  for (const char* bad : {"", "[]", "{", "{\"t\":\"Replication\"}", "{\"t\":\"Nope\"}",
                          "{\"t\":\"ReadOnly\",\"m\":\"\",\"p\":\"\",\"q\":\"\",\"b\":\"\","
                          "\"c\":\"\",\"s\":0}",
                          "{\"t\":\"Normal\",\"m\":\"\",\"p\":\"\",\"q\":\"\",\"b\":\"\","
                          "\"c\":\"\",\"s\":-1}"}) {
    EXPECT_EQ(DecodeLogEntry(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(EntryStatus_roundTrip, WithAndWithoutResponse) {
  EntryStatus s{.type = RequestType::kReplication, .state = EntryState::kNull};
  auto d = DecodeEntryStatus(EncodeEntryStatus(s));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, EntryState::kNull);
  EXPECT_FALSE(d->response.has_value());
  s.state = EntryState::kFail;
  s.response = Response{.status = 400, .body = "no"};
  d = DecodeEntryStatus(EncodeEntryStatus(s));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, EntryState::kFail);
  EXPECT_EQ(*d->response, *s.response);
  EXPECT_FALSE(DecodeEntryStatus("{\"t\":\"Normal\",\"s\":\"Done\"}").ok());
}

TEST(Journal_decode, CorruptIsDataLoss) {
  Journal j{.step = JournalStep::kResult, .first = 3, .last = 5, .epoch = 9};
  j.results[3] = EncodeEntryStatus({.state = EntryState::kSuccess});
  auto d = DecodeJournal(EncodeJournal(j));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->results.size(), 1u);
  EXPECT_EQ(DecodeJournal("garbage").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(
      DecodeJournal("{\"step\":\"apply\",\"first\":5,\"last\":3,\"epoch\":1}").status().code(),
      StatusCode::kDataLoss);
  EXPECT_EQ(DecodeLocalState("{\"lpi\":1}").status().code(), StatusCode::kDataLoss);
}

TEST(KeyLayout_keys, SortByIndexAndParseBack) {
  KeyLayout k("svc");
  EXPECT_EQ(k.current_leader(), "/br2k/svc/Current_Leader");
  EXPECT_LT(k.rle(9), k.rle(10));
  EXPECT_EQ(KeyLayout::IndexOf(k.rs(123)), 123u);
  auto s = k.SessionOf(k.session("client-1", 77));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->first, "client-1");
  EXPECT_EQ(s->second, 77u);
  EXPECT_FALSE(ParseIndex("12a").has_value());
  EXPECT_FALSE(ValidId("a/b"));
}

TEST(RouteTable_find, BindsParametersAndRejectsDuplicates) {
  auto t = RouteTable::Create({{"POST", "/logs", RequestType::kReplication},
                               {"GET", "/logs/{id}", RequestType::kReadOnly}});
  ASSERT_TRUE(t.ok());
  auto m = t->Find("GET", "/logs/5");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->params.at("id"), "5");
  EXPECT_FALSE(t->Find("GET", "/logs").has_value());
  EXPECT_TRUE(t->PathKnown("/logs"));
  EXPECT_FALSE(RouteTable::Create(
                   {{"GET", "/a", RequestType::kReadOnly}, {"GET", "/a", RequestType::kReadOnly}})
                   .ok());
}

TEST(HttpParse_request, ParsesAndEnforcesLimits) {
  http::Limits lim{.max_header_bytes = 1024, .max_body_bytes = 8};
  auto r = http::ParseRequest(
      "POST /logs?x=1 HTTP/1.1\r\nHost: a\r\nX-Br2k-Client: c1\r\nX-Br2k-Seq: 5\r\n"
      "Content-Length: 2\r\n\r\n{}",
      lim);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->path, "/logs");
  EXPECT_EQ(r->query, "x=1");
  EXPECT_EQ(r->body, "{}");
  auto s = http::ParseSession(*r);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->first, "c1");
  EXPECT_EQ(s->second, 5u);
  EXPECT_EQ(http::ParseRequest("POST / HTTP/1.1\r\nContent-Length: 20\r\n\r\n0123456789", lim)
                .status()
                .code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(http::ParseRequest("NOT HTTP\r\n\r\n", lim).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(http::ParseRequest("GET / HTTP/1.1\r\n", lim).status().code(), StatusCode::kOutOfRange);
}

TEST(HttpParse_session, RejectsHalfOrMalformedHeaders) {
  http::HttpRequest r;
  r.headers["x-br2k-client"] = "c1";
  EXPECT_FALSE(http::ParseSession(r).ok());
  r.headers["x-br2k-seq"] = "0";
  EXPECT_FALSE(http::ParseSession(r).ok());
  r.headers["x-br2k-seq"] = "12x";
  EXPECT_FALSE(http::ParseSession(r).ok());
  r.headers["x-br2k-seq"] = "12";
  r.headers["x-br2k-client"] = "bad id";
  EXPECT_FALSE(http::ParseSession(r).ok());
}

}  // namespace
}  // namespace br2k::replication
