// Where `br2k up` keeps its state, shared by every verb, and the defaults other verbs take from
// a running `br2k up` (RPC URL, registry, service, keys) so a newcomer types no addresses.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "br2k/common/run_state.h"
#include "br2k/common/status.h"

namespace br2k::cli {

// --run-dir if given, else $BR2K_RUN_DIR, else ./.br2k (made absolute).
std::filesystem::path ResolveRunDir(const std::string& flag);
inline std::filesystem::path StateFile(const std::filesystem::path& run_dir) {
  return run_dir / "state.json";
}

// The run state in `run_dir`, or nullopt when there is none. INVALID_ARGUMENT (naming the file)
// when it is corrupt.
Result<std::optional<RunState>> LoadRunStateIfAny(const std::filesystem::path& run_dir);

// The chain section of the run state in `run_dir`. FAILED_PRECONDITION with a hint ("start one
// with `br2k up`, or pass <what>") when there is no run state or it has no chain; `what` names
// the flags the verb would need instead, e.g. "--rpc-url and --registry".
Result<ChainState> RunChainDefaults(const std::filesystem::path& run_dir, const std::string& what);

}  // namespace br2k::cli
