// A Secret as a directory of files (secret_files.h), as the process and podman runtimes mount it.
#include "br2k/deploy/secret_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "test_env.h"

namespace br2k::deploy {
namespace {

using nlohmann::json;

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

mode_t Mode(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

json Secret(json data) {
  return {{"kind", "Secret"}, {"metadata", {{"name", "svc-keys"}}}, {"data", std::move(data)}};
}

TEST(SecretFiles, WritesDecodedFilesPrivatelyAndReplacesTheDirectory) {
  testing::ScratchDir dir("secret-files");
  const auto at = dir.path() / "secrets" / "svc-keys";
  // "aGVsbG8=" = "hello", "MHhhYg==" = "0xab" (RFC 4648 base64).
  ASSERT_TRUE(WriteSecretFiles(Secret({{"a.key", "aGVsbG8="}, {"b.crt", "MHhhYg=="}}), at).ok());
  EXPECT_EQ(Read(at / "a.key"), "hello");
  EXPECT_EQ(Read(at / "b.crt"), "0xab");
  EXPECT_EQ(Mode(at), 0700u);
  EXPECT_EQ(Mode(at / "a.key"), 0600u);
  // A second write replaces the whole directory: no file of the first survives.
  ASSERT_TRUE(WriteSecretFiles(Secret({{"c.key", "aGVsbG8="}}), at).ok());
  EXPECT_FALSE(std::filesystem::exists(at / "a.key"));
  EXPECT_EQ(Read(at / "c.key"), "hello");
}

TEST(SecretFiles, RefusesWhatCannotBeAPlainFileAndLeavesTheOldOne) {
  testing::ScratchDir dir("secret-files");
  const auto at = dir.path() / "svc-keys";
  ASSERT_TRUE(WriteSecretFiles(Secret({{"a.key", "aGVsbG8="}}), at).ok());
  EXPECT_EQ(WriteSecretFiles(Secret({{"../evil", "aGVsbG8="}}), at).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSecretFiles(Secret({{"x", "!!not base64!!"}}), at).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSecretFiles(Secret({{"x", 5}}), at).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Read(at / "a.key"), "hello") << "a refused Secret changes nothing";
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "evil"));
}

TEST(SecretFiles, ItemsSelectOnlyThePodsOwnFiles) {
  testing::ScratchDir dir("secret-files");
  const auto from = dir.path() / "secrets" / "svc-keys";
  ASSERT_TRUE(WriteSecretFiles(Secret({{"operator-0.key", "aGVsbG8="},
                                       {"operator-1.key", "MHhhYg=="},
                                       {"etcd-ca.crt", "aGVsbG8="}}),
                               from)
                  .ok());
  const auto to = dir.path() / "pod-secrets" / "svc-0" / "keys";
  json items = json::array({{{"key", "operator-0.key"}, {"path", "operator-0.key"}},
                            {{"key", "etcd-ca.crt"}, {"path", "ca.crt"}}});
  ASSERT_TRUE(WriteSecretItems(from, items, to).ok());
  EXPECT_EQ(Read(to / "operator-0.key"), "hello");
  EXPECT_EQ(Read(to / "ca.crt"), "hello") << "an item's path names the file";
  EXPECT_FALSE(std::filesystem::exists(to / "operator-1.key"));
  EXPECT_FALSE(std::filesystem::exists(to / "etcd-ca.crt"));
  // Without items: every file.
  ASSERT_TRUE(WriteSecretItems(from, json::array(), to).ok());
  EXPECT_TRUE(std::filesystem::exists(to / "operator-1.key"));
  // A missing Secret or key is what a pod that cannot start gets; a path may not escape.
  EXPECT_EQ(WriteSecretItems(dir.path() / "nope", items, to).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(WriteSecretItems(from, json::array({{{"key", "operator-9.key"}}}), to).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(WriteSecretItems(from, json::array({{{"key", "operator-0.key"}, {"path", "../x"}}}), to)
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace br2k::deploy
