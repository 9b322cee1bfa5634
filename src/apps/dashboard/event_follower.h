// The dashboard's event follower: while its replica is the leader, it polls the registry's
// events (eth_getLogs through ServiceRegistry::GetEvents) from the replicated cursor
// (DashboardState::next_block) and records them through the replica's own write path, as the
// internal Replication request DashboardApp::EventsRequest. Every replica runs one; only the
// leader's writes succeed, and a batch written twice (a retry, a new leader re-reading the same
// blocks) records nothing new: events are keyed by (transaction hash, log index).
//
// Thread safety: Start and Stop from one thread; the follower runs on its own thread.
// Ownership: borrows the replica, which must outlive the follower (Stop it first).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>

#include "br2k/eth/service_registry.h"
#include "br2k/replication/replica.h"

namespace br2k::apps::dashboard {

struct EventFollowerOptions {
  std::chrono::milliseconds poll_interval{500};
  uint64_t max_blocks_per_poll = 5000;  // eth_getLogs range per read
  uint64_t confirmations = 0;           // follow head - confirmations
  // A stretch of blocks without events is recorded (cursor only) once it is this long.
  uint64_t advance_after_blocks = 1000;
  std::chrono::milliseconds request_timeout{10000};
};

class EventFollower {
 public:
  EventFollower(std::shared_ptr<eth::RpcClient> client, eth::Address registry,
                replication::Replica& replica, EventFollowerOptions options = {});
  ~EventFollower();  // Stop()s
  EventFollower(const EventFollower&) = delete;
  EventFollower& operator=(const EventFollower&) = delete;

  void Start();
  // Returns once the thread has ended (within one chain call's deadline). Idempotent.
  void Stop();

 private:
  void Run(std::stop_token stop);
  // One poll as leader: reads and records at most one batch. OK when there was nothing to do.
  Status Poll(uint64_t& scanned_to);

  std::shared_ptr<eth::RpcClient> client_;
  eth::ServiceRegistry registry_;
  replication::Replica& replica_;
  EventFollowerOptions options_;
  std::jthread thread_;
};

}  // namespace br2k::apps::dashboard
