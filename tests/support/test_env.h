// Helpers for tests: scratch directories and paths to the project's tools.
#pragma once

#include <filesystem>
#include <string>

namespace br2k::testing {

// A fresh directory under $TMPDIR (or /tmp) named after `tag`; removed by the destructor unless
// BR2K_KEEP_TEST_DIRS is set (then its path is printed, for post-mortems).
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The repository root ($BR2K_SOURCE_DIR, set by ctest; else found upwards from the cwd).
std::filesystem::path SourceDir();
// build/bin ($BR2K_BIN_DIR, set by ctest; else the directory of the running test binary).
std::filesystem::path BinDir();
// A unique string for key prefixes and names: "<tag>-<pid>-<counter>-<random>".
std::string UniqueName(const std::string& tag);

}  // namespace br2k::testing
