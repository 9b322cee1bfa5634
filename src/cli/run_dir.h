// Where `br2k up` keeps its state, shared by every verb.
#pragma once

#include <filesystem>
#include <string>

namespace br2k::cli {

// --run-dir if given, else $BR2K_RUN_DIR, else ./.br2k (made absolute).
std::filesystem::path ResolveRunDir(const std::string& flag);
inline std::filesystem::path StateFile(const std::filesystem::path& run_dir) {
  return run_dir / "state.json";
}

}  // namespace br2k::cli
