#include "br2k/replication/failpoints.h"

#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>

namespace br2k::replication {

Result<Failpoint> Failpoints::ParseName(std::string_view name) {
  if (name.empty()) return Failpoint::kNone;
  if (name == "after_append") return Failpoint::kAfterAppend;
  if (name == "after_inprocess") return Failpoint::kAfterInProcess;
  if (name == "mid_apply") return Failpoint::kMidApply;
  if (name == "after_result") return Failpoint::kAfterResult;
  if (name == "after_broadcast") return Failpoint::kAfterBroadcast;
  return InvalidArgumentError(
      "unknown failpoint '" + std::string(name) +
      "' (after_append, after_inprocess, mid_apply, after_result, after_broadcast)");
}

Status Failpoints::Configure(std::string_view spec) {
  std::string_view name = spec;
  int count = 1;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    name = spec.substr(0, colon);
    auto num = spec.substr(colon + 1);
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), count);
    if (ec != std::errc() || p != num.data() + num.size() || count < 1) {
      return InvalidArgumentError("bad failpoint count in '" + std::string(spec) + "'");
    }
  }
  BR2K_ASSIGN_OR_RETURN(Failpoint f, ParseName(name));
  remaining_ = count;
  armed_ = f;
  return Status::Ok();
}

Status Failpoints::ConfigureFromEnv() {
  const char* v = std::getenv("BR2K_FAILPOINT");
  if (!v || !*v) return Status::Ok();
  return Configure(v);
}

void Failpoints::Hit(Failpoint p) {
  if (p == Failpoint::kNone || armed_.load() != p) return;
  if (remaining_.fetch_sub(1) != 1) return;
  fired_++;
  if (test_mode_) return;
  // Like kill -9: no destructors, no flushing.
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);
}

}  // namespace br2k::replication
