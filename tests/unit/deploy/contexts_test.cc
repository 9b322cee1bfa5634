#include "br2k/deploy/contexts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "test_env.h"

namespace br2k::deploy {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kToken = "eyJhbGciOiJSUzI1NiJ9.SECRET-TOKEN-7f3a9c";

Context Kube(const std::string& name, const std::string& token = kToken) {
  Context c;
  c.name = name;
  c.kind = ContextKind::kKubernetes;
  c.server = "https://10.0.0.1:6443";
  c.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  c.namespace_name = "br2k";
  c.token = token;
  c.workers = {{"w1", {{"br2k.io/worker", "true"}}}, {"w2", {}}};
  c.external_endpoints = {{"rpc", "http://anvil.br2k.svc:8545"}};
  c.storage_class = "standard";
  return c;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file under the store, concatenated except the token files.
std::string EverythingButTokens(const fs::path& dir) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().parent_path().filename() != "tokens") {
      all += ReadAll(e.path());
    }
  }
  return all;
}

mode_t Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST(ContextStore, Empty_listsTheBuiltinPodmanContext) {
  br2k::testing::ScratchDir tmp("contexts");
  ContextStore store(tmp.path() / "contexts");
  auto list = store.List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0], BuiltinPodmanContext());
  EXPECT_EQ((*list)[0].kind, ContextKind::kPodman);
  EXPECT_EQ((*list)[0].namespace_name, "default");
  EXPECT_EQ(*store.ActiveName(), "podman");
  EXPECT_EQ(*store.Active(), BuiltinPodmanContext());
  EXPECT_FALSE(fs::exists(store.dir())) << "reading must not create the directory";
}

TEST(ContextStore, AddUseListRemove) {
  br2k::testing::ScratchDir tmp("contexts");
  ContextStore store(tmp.path() / "contexts");
  ASSERT_TRUE(store.Add(Kube("prod")).ok());
  EXPECT_EQ(*store.ActiveName(), "prod") << "the first context becomes active";
  Context local = BuiltinPodmanContext();
  local.name = "laptop";
  ASSERT_TRUE(store.Add(local).ok());
  EXPECT_EQ(*store.ActiveName(), "prod");

  auto list = store.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "laptop");
  EXPECT_EQ((*list)[1].name, "prod");
  EXPECT_TRUE((*list)[1].token.empty()) << "List leaves tokens out";

  auto prod = store.Get("prod");
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(*prod, Kube("prod")) << "Get round-trips every field, token included";

  ASSERT_TRUE(store.Use("laptop").ok());
  EXPECT_EQ(store.Active()->name, "laptop");
  EXPECT_EQ(store.Use("nope").code(), StatusCode::kNotFound);

  EXPECT_EQ(store.Add(Kube("prod")).code(), StatusCode::kAlreadyExists);
  auto changed = Kube("prod", "other-token");
  changed.namespace_name = "prod2";
  ASSERT_TRUE(store.Add(changed, /*replace=*/true).ok());
  EXPECT_EQ(*store.Get("prod"), changed);

  ASSERT_TRUE(store.Remove("laptop").ok());
  EXPECT_EQ(store.ActiveName().status().code(), StatusCode::kFailedPrecondition)
      << "removing the active context leaves none active";
  EXPECT_EQ(store.Remove("laptop").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store.Remove("prod").ok());
  EXPECT_FALSE(fs::exists(store.dir() / "tokens" / "prod.token"));
  EXPECT_EQ(store.List()->at(0), BuiltinPodmanContext()) << "none configured: the builtin again";
}

TEST(ContextStore, UsePodman_whenNoneConfigured_materializesTheBuiltin) {
  br2k::testing::ScratchDir tmp("contexts");
  ContextStore store(tmp.path() / "contexts");
  ASSERT_TRUE(store.Use("podman").ok());
  EXPECT_EQ(*store.ActiveName(), "podman");
  ASSERT_TRUE(store.Add(Kube("prod")).ok());
  EXPECT_EQ(store.List()->size(), 2u);
  EXPECT_EQ(*store.ActiveName(), "podman");
}

TEST(ContextStore, Token_inItsOwnFile_mode0600_directories0700) {
  br2k::testing::ScratchDir tmp("contexts");
  ContextStore store(tmp.path() / "contexts");
  ASSERT_TRUE(store.Add(Kube("prod")).ok());
  const fs::path token = store.dir() / "tokens" / "prod.token";
  EXPECT_EQ(ReadAll(token), std::string(kToken) + "\n");
  EXPECT_EQ(Mode(token), 0600u);
  EXPECT_EQ(Mode(store.dir()), 0700u);
  EXPECT_EQ(Mode(store.dir() / "tokens"), 0700u);
  EXPECT_THAT(EverythingButTokens(store.dir()), Not(HasSubstr(kToken)));
  EXPECT_THAT(ReadAll(store.dir() / "contexts.json"), HasSubstr("https://10.0.0.1:6443"));

  // Replacing with a token-less context removes the old token file.
  auto no_token = Kube("prod", "");
  ASSERT_TRUE(store.Add(no_token, true).ok());
  EXPECT_FALSE(fs::exists(token));
}

TEST(ContextStore, Token_neverInShowListOrErrors) {
  br2k::testing::ScratchDir tmp("contexts");
  ContextStore store(tmp.path() / "contexts");
  ASSERT_TRUE(store.Add(Kube("prod")).ok());
  auto shown = store.Show("prod");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ((*shown)["token"], "<set>");
  EXPECT_EQ((*shown)["active"], true);
  EXPECT_THAT(shown->dump(), Not(HasSubstr(kToken)));
  EXPECT_EQ(Kube("x", "").Redacted()["token"], "<none>");
  const auto all = store.List();
  ASSERT_TRUE(all.ok());
  for (const auto& c : *all) EXPECT_THAT(c.Redacted().dump(), Not(HasSubstr(kToken)));

  // Errors about a context with a token: never quote it.
  EXPECT_THAT(store.Add(Kube("prod")).message(), Not(HasSubstr(kToken)));
  auto bad = Kube("prod", std::string(kToken) + " trailing");
  Status st = bad.Validate();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("token"));
  EXPECT_THAT(st.message(), Not(HasSubstr("SECRET")));
  auto podman_with_token = BuiltinPodmanContext();
  podman_with_token.token = kToken;
  EXPECT_THAT(podman_with_token.Validate().message(), Not(HasSubstr("SECRET")));

  // A token pasted into contexts.json is refused without being quoted.
  std::string text = ReadAll(store.dir() / "contexts.json");
  text.replace(text.find("\"storage_class\""), 0, "\"token\": \"" + std::string(kToken) + "\", ");
  std::ofstream(store.dir() / "contexts.json") << text;
  auto list = store.List();
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(list.status().message(), HasSubstr("contexts[0].token"));
  EXPECT_THAT(list.status().message(), Not(HasSubstr("SECRET")));
}

TEST(Context, Validate_namesTheField) {
  struct Case {
    void (*mutate)(Context&);
    const char* field;
  };
  const Case cases[] = {
      {[](Context& c) { c.name = "a/b"; }, "context name"},
      {[](Context& c) { c.name = ""; }, "context name"},
      {[](Context& c) { c.server = "http://10.0.0.1:6443"; }, "server"},
      {[](Context& c) { c.ca_pem = "garbage"; }, "ca_pem"},
      {[](Context& c) { c.ca_file = "/etc/ca.pem"; }, "ca_file"},
      {[](Context& c) { c.namespace_name = "Br2k"; }, "namespace"},
      {[](Context& c) {
         c.workers.push_back({"w1", {}});
       },
       "workers[2].name"},
      {[](Context& c) { c.external_endpoints["rpc"] = "anvil:8545"; }, "external_endpoints.rpc"},
  };
  ASSERT_TRUE(Kube("prod").Validate().ok());
  for (const auto& c : cases) {
    auto ctx = Kube("prod");
    c.mutate(ctx);
    const Status st = ctx.Validate();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(st.message(), HasSubstr(c.field)) << st;
  }
  auto podman = BuiltinPodmanContext();
  podman.server = "https://x";
  EXPECT_EQ(podman.Validate().code(), StatusCode::kInvalidArgument);
}

TEST(ParseContextsJson, RoundTripAndErrorsNamingThePath) {
  ContextsFile file;
  file.active = "a";
  file.contexts = {Kube("a", ""), BuiltinPodmanContext()};
  std::sort(file.contexts.begin(), file.contexts.end(),
            [](const Context& x, const Context& y) { return x.name < y.name; });
  auto back = ParseContextsJson(ContextsJsonText(file));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->active, file.active);
  EXPECT_EQ(back->contexts, file.contexts);

  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"{", "not JSON"},
      {"[]", "expected an object"},
      {R"({"version": 2})", "version"},
      {R"({"version": 1, "contexts": {}})", "contexts: expected an array"},
      {R"({"version": 1, "contexts": [{"name": "a", "kind": "swarm"}]})", "contexts[0].kind"},
      {R"({"version": 1, "contexts": [{"name": "a", "kind": "podman", "namespace": 5}]})",
       "contexts[0].namespace: expected a string"},
      {R"({"version": 1, "contexts": [{"name": "a", "kind": "podman", "colour": "red"}]})",
       "unknown member"},
      {R"({"version": 1, "contexts": [{"name": "a", "kind": "podman"}, {"name": "a", "kind": "podman"}]})",
       "contexts[1].name"},
      {R"({"version": 1, "active": "b", "contexts": [{"name": "a", "kind": "podman"}]})", "active"},
      {R"({"version": 1, "contexts": [{"name": "a", "kind": "podman", "workers": [{"labels": 1}]}]})",
       "contexts[0].workers[0].labels"},
  };
  for (const auto& c : cases) {
    auto r = ParseContextsJson(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.want)) << r.status();
  }
}

TEST(ContextStore, CorruptFile_isAnErrorNotAnEmptyStore) {
  br2k::testing::ScratchDir tmp("contexts");
  ContextStore store(tmp.path() / "contexts");
  ASSERT_TRUE(store.Add(Kube("prod")).ok());
  std::ofstream(store.dir() / "contexts.json") << "{\"version\": 1, \"contexts\": [";
  EXPECT_EQ(store.List().status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Add(Kube("other")).code(), StatusCode::kInvalidArgument)
      << "a change must not overwrite a file it could not read";
}

TEST(ContextStore, ConcurrentAdds_loseNothing_andLeaveNoTemporaryFiles) {
  br2k::testing::ScratchDir tmp("contexts");
  const fs::path dir = tmp.path() / "contexts";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([dir, t] {
      ContextStore store(dir);  // each its own object, as separate processes would be
      for (int i = 0; i < 8; ++i) {
        const std::string name = "c" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(store.Add(Kube(name, "token-" + name)).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  ContextStore store(dir);
  auto list = store.List();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 32u);
  for (const auto& c : *list) EXPECT_EQ(store.Get(c.name)->token, "token-" + c.name);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr(".tmp"))) << e.path();
  }
}

TEST(ContextStore, DefaultDir_followsBr2kHome) {
  const char* was = std::getenv("BR2K_HOME");
  const std::optional<std::string> old = was ? std::optional<std::string>(was) : std::nullopt;
  ::setenv("BR2K_HOME", "/srv/br2k-home", 1);
  EXPECT_EQ(*ContextStore::DefaultDir(), fs::path("/srv/br2k-home/contexts"));
  ::unsetenv("BR2K_HOME");
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    EXPECT_EQ(*ContextStore::DefaultDir(), fs::path(home) / ".br2k/contexts");
  }
  if (old) ::setenv("BR2K_HOME", old->c_str(), 1);
}

}  // namespace
}  // namespace br2k::deploy
