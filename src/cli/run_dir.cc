#include "run_dir.h"

#include <cstdlib>

namespace br2k::cli {

std::filesystem::path ResolveRunDir(const std::string& flag) {
  std::filesystem::path p = flag;
  if (p.empty()) {
    const char* env = std::getenv("BR2K_RUN_DIR");
    p = env && *env ? env : ".br2k";
  }
  return std::filesystem::absolute(p).lexically_normal();
}

Result<std::optional<RunState>> LoadRunStateIfAny(const std::filesystem::path& run_dir) {
  auto s = RunState::Load(StateFile(run_dir));
  if (!s.ok()) {
    if (s.status().code() == StatusCode::kNotFound) return std::optional<RunState>();
    return s.status();
  }
  return std::optional<RunState>(std::move(*s));
}

Result<ChainState> RunChainDefaults(const std::filesystem::path& run_dir, const std::string& what) {
  BR2K_ASSIGN_OR_RETURN(auto s, LoadRunStateIfAny(run_dir));
  if (!s) {
    return FailedPreconditionError("no running `br2k up` in " + run_dir.string() +
                                   ": start one with `br2k up`, or pass " + what);
  }
  if (!s->chain) {
    return FailedPreconditionError("the `br2k up` in " + run_dir.string() +
                                   " runs no chain: restart it with `br2k up`, or pass " + what);
  }
  return *s->chain;
}

}  // namespace br2k::cli
