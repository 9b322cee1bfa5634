// The sample application of paper 2: a replicated log of user ids.
//   POST /logs {"user": "<id>"}  -> appends the id, answers {"index": <position>, "size": <n>}
//   GET  /logs                   -> {"logs": [..]}
//   POST /anchor                 -> a Normal request: the leader sends one Ethereum transaction
//                                   from the service's key to itself whose calldata is
//                                   keccak256(the log as JSON) followed by the log size (uint256);
//                                   answered once mined: {"index","tx","nonce","block","status"}
#pragma once

#include <string>
#include <vector>

#include "br2k/replication/application.h"

namespace br2k::apps {

// Not thread-safe by itself; br2k serialises the calls (see Application).
class LogServerApp final : public replication::Application {
 public:
  std::vector<replication::Route> Routes() const override;
  Status Validate(const replication::Request& r, replication::RequestType t) const override;
  replication::ApplyResult Apply(const replication::Request& r,
                                 const replication::ApplyContext& ctx) override;
  replication::Response Read(const replication::Request& r) const override;
  bool NormalEffectsAreChainCalls() const override { return true; }
  std::string Snapshot() const override;
  Status Restore(std::string_view snapshot) override;

  const std::vector<std::string>& logs() const { return logs_; }

 private:
  std::vector<std::string> logs_;
};

}  // namespace br2k::apps
