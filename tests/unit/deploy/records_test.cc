// images.json, registry.json, ldd output and image references: the parsers of what the
// deployment library reads back from disk and from tools.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "br2k/deploy/container_env.h"
#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/images.h"
#include "br2k/deploy/pod_record.h"

namespace br2k::deploy {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

ImageRecord Sample() {
  return {.name = "br2k-logserver",
          .tag = "0123456789abcdef",
          .local = "localhost/br2k-logserver:0123456789abcdef",
          .id = kDigest,
          .size = 1234,
          .inputs = "sha256:" + std::string(64, 'b'),
          .source = "/x/br2k-logserver"};
}

TEST(ImagesFile_parse, RoundTripsWhatItWrites) {
  ImagesFile f;
  f.Put(Sample());
  auto back = ImagesFile::Parse(f.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->images.size(), 1u);
  EXPECT_EQ(back->images[0], Sample());
  ASSERT_NE(back->Find("br2k-logserver"), nullptr);
  EXPECT_EQ(back->Find("etcd"), nullptr);
}

TEST(ImagesFile_parse, RefusesEachBadFieldByName) {
  auto with = [](auto mutate) {
    ImagesFile f;
    f.Put(Sample());
    auto j = nlohmann::json::parse(f.Serialize());
    mutate(j);
    return ImagesFile::Parse(j.dump());
  };
  struct Case {
    const char* field;
    std::function<void(nlohmann::json&)> mutate;
  } cases[] = {
      {"version", [](auto& j) { j["version"] = 2; }},
      {"name", [](auto& j) { j["images"][0]["name"] = "Bad/Name"; }},
      {"id", [](auto& j) { j["images"][0]["id"] = "sha256:xyz"; }},
      {"size", [](auto& j) { j["images"][0]["size"] = -1; }},
      {"local", [](auto& j) { j["images"][0]["local"] = "docker.io/x:1"; }},
      {"repeated", [](auto& j) { j["images"].push_back(j["images"][0]); }},
  };
  for (const auto& c : cases) {
    auto r = with(c.mutate);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status();
  }
  EXPECT_FALSE(ImagesFile::Parse("{").ok());
  EXPECT_FALSE(ImagesFile::Parse("[]").ok());
}

TEST(ParseLddOutput, ListsAbsolutePathsAndRefusesMissingLibraries) {
  auto libs = ParseLddOutput(
      "\tlinux-vdso.so.1 (0x00007ffd)\n"
      "\tlibgrpc++.so.1.51 => /lib/x86_64-linux-gnu/libgrpc++.so.1.51 (0x00007f)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n");
  ASSERT_TRUE(libs.ok()) << libs.status();
  EXPECT_EQ(*libs, (std::vector<std::string>{"/lib/x86_64-linux-gnu/libgrpc++.so.1.51",
                                             "/lib/x86_64-linux-gnu/libc.so.6",
                                             "/lib64/ld-linux-x86-64.so.2"}));
  auto missing = ParseLddOutput("\tlibfoo.so.2 => not found\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("libfoo.so.2"), std::string::npos);
}

TEST(RegistryFile_parse, RoundTripsAndChecksEveryReferenceIsInTheRegistry) {
  RegistryFile f;
  f.registry = "127.0.0.1:5000";
  f.repository = "br2k";
  f.embedded = EmbeddedRegistry{.pid = 42, .port = 5000, .root = "/r"};
  f.Put({"br2k-logserver", "127.0.0.1:5000/br2k/br2k-logserver@" + kDigest});
  auto back = RegistryFile::Parse(f.Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->images, f.images);
  EXPECT_EQ(back->embedded, f.embedded);

  f.images[0].reference = "evil.example:5000/br2k/br2k-logserver@" + kDigest;
  auto elsewhere = RegistryFile::Parse(f.Serialize());
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_NE(elsewhere.status().message().find("is not in 127.0.0.1:5000/br2k"), std::string::npos);

  f.images[0].reference = "127.0.0.1:5000/br2k/br2k-logserver:latest";
  EXPECT_FALSE(RegistryFile::Parse(f.Serialize()).ok());
}

TEST(ParseDigestReference, AcceptsOnlyReferencesByDigest) {
  auto ok = ParseDigestReference("harbor.example.com/team/app@" + kDigest);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->repository, "harbor.example.com/team/app");
  EXPECT_EQ(ok->digest, kDigest);
  EXPECT_TRUE(ParseDigestReference("[::1]:5000/a@" + kDigest).ok());
  EXPECT_FALSE(ParseDigestReference("app@" + kDigest).ok());  // no registry
  EXPECT_FALSE(ParseDigestReference("r.io/app:1").ok());
  EXPECT_FALSE(ParseDigestReference("r.io/app@sha256:ABC").ok());
  EXPECT_FALSE(ParseDigestReference("r.io/app@" + kDigest + "\n").ok());
}

TEST(ContainerEnv, LoopbackRegistriesAndRegistryHosts) {
  EXPECT_TRUE(IsLoopbackRegistry("127.0.0.1:5000"));
  EXPECT_TRUE(IsLoopbackRegistry("localhost:5000"));
  EXPECT_TRUE(IsLoopbackRegistry("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackRegistry("127.example.com:5000"));
  EXPECT_FALSE(IsLoopbackRegistry("harbor.example.com"));
  EXPECT_EQ(RegistryHostOf("127.0.0.1:5000/br2k/app@" + kDigest), "127.0.0.1:5000");
  EXPECT_EQ(RegistryHostOf("library/app:1"), "");
}

TEST(ContainerEnv, PrepareWritesItsOwnConfigurationUnderTheRoot) {
  auto dir = std::filesystem::temp_directory_path() / ("br2k-env-" + std::to_string(getpid()));
  auto env = ContainerEnv::Prepare(dir);
  ASSERT_TRUE(env.ok()) << env.status();
  auto vars = env->Env();
  EXPECT_EQ(vars["CONTAINERS_CONF"], (dir / "containers.conf").string());
  EXPECT_TRUE(std::filesystem::exists(dir / "storage.conf"));
  EXPECT_TRUE(std::filesystem::exists(dir / "storage" / "graph"));
  // Twice is fine.
  EXPECT_TRUE(ContainerEnv::Prepare(dir).ok());
  std::filesystem::remove_all(dir);
}

TEST(PodRecord, RoundTripsAndRefusesWhatItCannotTrust) {
  std::vector<ContainerProcess> in = {
      {.container = "etcd",
       .identity = {.pid = 812,
                    .exe = "/usr/bin/etcd",
                    .argv = {"/usr/bin/etcd", "--name=a"},
                    .start_time = 99},
       .log_file = "/r/logs/a-etcd.log"},
      {.container = "app", .identity = {.pid = 813, .argv = {"/bin/app"}}, .log_file = ""}};
  auto out = DecodePodRecord(EncodePodRecord(in));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].identity, in[0].identity);
  EXPECT_EQ((*out)[1].container, "app");
  EXPECT_EQ((*out)[0].log_file, "/r/logs/a-etcd.log");
  for (const char* bad :
       {"", "[]", "{}", "{\"containers\":{}}", "{\"containers\":[{\"pid\":5,\"argv\":[]}]}",
        "{\"containers\":[{\"name\":\"a\",\"pid\":0,\"argv\":[]}]}",
        "{\"containers\":[{\"name\":\"a\",\"pid\":5}]}",
        "{\"containers\":[{\"name\":\"a\",\"pid\":5,\"argv\":[1]}]}"}) {
    auto r = DecodePodRecord(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace br2k::deploy
