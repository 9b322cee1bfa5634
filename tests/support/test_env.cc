#include "test_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <random>

namespace br2k::testing {

ScratchDir::ScratchDir(const std::string& tag) {
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path base = tmp && *tmp ? tmp : "/tmp";
  path_ = base / ("br2k-" + UniqueName(tag));
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  if (std::getenv("BR2K_KEEP_TEST_DIRS")) {
    std::cerr << "kept test dir " << path_ << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path SourceDir() {
  if (const char* s = std::getenv("BR2K_SOURCE_DIR"); s && *s) return s;
  auto p = std::filesystem::current_path();
  while (!p.empty() && p != p.root_path()) {
    if (std::filesystem::exists(p / "include/br2k")) return p;
    p = p.parent_path();
  }
  return std::filesystem::current_path();
}

std::filesystem::path BinDir() {
  if (const char* s = std::getenv("BR2K_BIN_DIR"); s && *s) return s;
  return std::filesystem::read_symlink("/proc/self/exe").parent_path();
}

std::string UniqueName(const std::string& tag) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(salt % 100000);
}

}  // namespace br2k::testing
