// Locations, redirects and answers: what the client accepts from the registry and from replicas.
#include "br2k/client/location.h"

#include <gtest/gtest.h>

#include "br2k/client/answer.h"

namespace br2k::client {
namespace {

TEST(ParseLocation, acceptsTheFormsTheRegistryHolds) {
  for (const char* s : {"http://127.0.0.1:8080", "127.0.0.1:8080", "http://127.0.0.1:8080/",
                        "HTTP://127.0.0.1:8080"}) {
    auto n = NormalizeLocation(s);
    ASSERT_TRUE(n.ok()) << s << ": " << n.status();
    EXPECT_EQ(*n, "http://127.0.0.1:8080") << s;
  }
  auto e = ParseLocation("http://Node-1.Example:7000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "node-1.example");
  EXPECT_EQ(e->port, 7000);
}

TEST(ParseLocation, rejectsWhatCannotBeDialled) {
  for (const char* s : {"", "http://", "127.0.0.1", "http://127.0.0.1:0", "http://127.0.0.1:65536",
                        "http://127.0.0.1:80x", "https://127.0.0.1:443", "ws://127.0.0.1:1",
                        "http://user@127.0.0.1:80", "http://[::1]:80", "http://127.0.0.1:80/svc",
                        "http://127.0.0.1:80?x=1", "http://127.0.0.1:80#f", " http://127.0.0.1:80",
                        "http://127.0.0.1:80\r\n", "http://:80", "http://a b:80"}) {
    auto e = ParseLocation(s);
    EXPECT_FALSE(e.ok()) << "accepted '" << s << "'";
    if (!e.ok()) {
      EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << s;
    }
  }
}

TEST(ResolveRedirect, absoluteUrlGivesItsBaseAndTarget) {
  auto r = ResolveRedirect("http://127.0.0.1:1", "http://127.0.0.1:2/logs?x=1", "/logs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->base_url, "http://127.0.0.1:2");
  EXPECT_EQ(r->target, "/logs?x=1");
}

TEST(ResolveRedirect, baseOnlyKeepsTheOriginalTarget) {
  // X-Br2k-Leader-Url is a base URL.
  auto r = ResolveRedirect("http://127.0.0.1:1", "http://127.0.0.1:2", "/logs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->base_url, "http://127.0.0.1:2");
  EXPECT_EQ(r->target, "/logs");
}

TEST(ResolveRedirect, absolutePathStaysOnTheSameLocation) {
  auto r = ResolveRedirect("http://127.0.0.1:1", "/other", "/logs");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->base_url, "http://127.0.0.1:1");
  EXPECT_EQ(r->target, "/other");
}

TEST(ResolveRedirect, rejectsOtherForms) {
  for (const char* s :
       {"", "logs", "//127.0.0.1:2/logs", "https://127.0.0.1:2/logs", "http://127.0.0.1/logs",
        "http://127.0.0.1:2/lo gs", "http://127.0.0.1:2?x", "/a\nb"}) {
    EXPECT_FALSE(ResolveRedirect("http://127.0.0.1:1", s, "/logs").ok())
        << "accepted '" << s << "'";
  }
}

TEST(ValidTarget, pathsOnly) {
  EXPECT_TRUE(ValidTarget("/logs"));
  EXPECT_TRUE(ValidTarget("/logs?user=a"));
  EXPECT_FALSE(ValidTarget("logs"));
  EXPECT_FALSE(ValidTarget(""));
  EXPECT_FALSE(ValidTarget("/a b"));
  EXPECT_FALSE(ValidTarget("/a#b"));
  EXPECT_FALSE(ValidTarget("/a\r\nX-Evil: 1"));
}

TEST(ClassifyAnswer, finalRetryRedirect) {
  Headers none;
  EXPECT_EQ(ClassifyAnswer(200, none), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(201, none), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(400, none), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(404, none), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(413, none), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(302, none), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(307, none), AnswerClass::kRedirect);
  EXPECT_EQ(ClassifyAnswer(308, none), AnswerClass::kRedirect);
  for (int s : {408, 429, 502, 503, 504}) EXPECT_EQ(ClassifyAnswer(s, none), AnswerClass::kRetry);
  EXPECT_EQ(ClassifyAnswer(500, none), AnswerClass::kRetry);
  EXPECT_EQ(ClassifyAnswer(500, {{"x-br2k-state", "Fail"}}), AnswerClass::kFinal);
  EXPECT_EQ(ClassifyAnswer(501, none), AnswerClass::kFinal);
}

TEST(ParseBr2kHeaders, readsTheReplicaHeaders) {
  auto h = ParseBr2kHeaders({{"x-br2k-index", "42"},
                             {"x-br2k-state", "Success"},
                             {"x-br2k-duplicate", "true"},
                             {"x-br2k-leader", "node-1"},
                             {"x-br2k-leader-url", "http://127.0.0.1:9"},
                             {"location", "http://127.0.0.1:9/logs"}});
  EXPECT_EQ(h.error, "");
  EXPECT_EQ(h.index, 42u);
  EXPECT_EQ(h.state, "Success");
  EXPECT_TRUE(h.duplicate);
  EXPECT_EQ(h.leader, "node-1");
  EXPECT_EQ(h.leader_url, "http://127.0.0.1:9");
  EXPECT_EQ(h.location, "http://127.0.0.1:9/logs");
}

TEST(ParseBr2kHeaders, malformedValuesAreReportedNotTrusted) {
  auto h = ParseBr2kHeaders({{"x-br2k-index", "12a"},
                             {"x-br2k-duplicate", "yes"},
                             {"x-br2k-state", std::string("S\x01", 2)}});
  EXPECT_FALSE(h.index.has_value());
  EXPECT_FALSE(h.duplicate);
  EXPECT_EQ(h.state, "");
  EXPECT_NE(h.error.find("X-Br2k-Index"), std::string::npos) << h.error;
  EXPECT_NE(h.error.find("X-Br2k-Duplicate"), std::string::npos) << h.error;
  EXPECT_NE(h.error.find("X-Br2k-State"), std::string::npos) << h.error;
  EXPECT_FALSE(ParseBr2kHeaders({{"x-br2k-index", "0"}}).index.has_value());
  EXPECT_FALSE(ParseBr2kHeaders({{"x-br2k-index", "99999999999999999999999"}}).index.has_value());
}

}  // namespace
}  // namespace br2k::client
