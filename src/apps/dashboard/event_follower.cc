#include "event_follower.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "dashboard_app.h"
#include "registry_view.h"

namespace br2k::apps::dashboard {

EventFollower::EventFollower(std::shared_ptr<eth::RpcClient> client, eth::Address registry,
                             replication::Replica& replica, EventFollowerOptions options)
    : client_(std::move(client)),
      registry_(client_, registry),
      replica_(replica),
      options_(options) {}

EventFollower::~EventFollower() {
  Stop();
}

void EventFollower::Start() {
  thread_ = std::jthread([this](std::stop_token st) { Run(st); });
}

void EventFollower::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void EventFollower::Run(std::stop_token stop) {
  // How far this replica has scanned while leader without finding events (not replicated: a
  // new leader rescans from the replicated cursor, which is only slower).
  uint64_t scanned_to = 0;
  std::string last_error;
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    if (replica_.status().role == replication::Role::kLeader) {
      Status st = Poll(scanned_to);
      if (!st.ok() && st.ToString() != last_error) {
        spdlog::warn("event follower: {}", st.ToString());
      }
      last_error = st.ok() ? "" : st.ToString();
    } else {
      scanned_to = 0;
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, options_.poll_interval, [] { return false; });
  }
}

Status EventFollower::Poll(uint64_t& scanned_to) {
  Deadline d = Deadline::After(options_.request_timeout);
  auto local = replica_.local_state();
  BR2K_ASSIGN_OR_RETURN(DashboardState state, DecodeState(local.snapshot));
  BR2K_ASSIGN_OR_RETURN(uint64_t head, client_->BlockNumber(d));
  if (head < options_.confirmations) return Status::Ok();
  const uint64_t last = head - options_.confirmations;
  const uint64_t cursor = state.next_block;
  const uint64_t from = std::max(cursor, scanned_to);
  if (from > last) return Status::Ok();
  const uint64_t to = std::min(last, from + options_.max_blocks_per_poll - 1);
  using K = eth::RegistryEvent::Kind;
  BR2K_ASSIGN_OR_RETURN(
      auto events, registry_.GetEvents(
                       std::nullopt, {K::kRegistered, K::kNewLocation, K::kStateChanged, K::kClaim},
                       from, to, d));
  EventBatch batch;
  batch.next_block = to + 1;
  for (const auto& e : events) {
    if (e.removed) continue;
    // Only what is not recorded yet: an event already recorded needs no second log entry.
    if (auto c = ToChainEvent(e); c && !state.Seen(*c)) batch.events.push_back(std::move(*c));
  }
  std::sort(batch.events.begin(), batch.events.end(), [](const auto& a, const auto& b) {
    return std::tie(a.block, a.log_index) < std::tie(b.block, b.log_index);
  });
  if (batch.events.size() > kMaxEventsPerBatch) {
    // Whole blocks only, unless one block alone holds more than a batch: then the cursor stays
    // on that block and the next poll reads it again (the recorded keys dedupe the overlap).
    batch.events.resize(kMaxEventsPerBatch);
    uint64_t cut = batch.events.back().block;
    if (batch.events.front().block == cut) {
      batch.next_block = cut;
    } else {
      std::erase_if(batch.events, [cut](const ChainEvent& e) { return e.block == cut; });
      batch.next_block = cut;
    }
  }
  if (batch.events.empty() && batch.next_block - cursor < options_.advance_after_blocks) {
    scanned_to = batch.next_block;  // nothing to record yet
    return Status::Ok();
  }
  auto out = replica_.Execute(DashboardApp::EventsRequest(batch),
                              replication::RequestType::kReplication, d);
  if (!out.ok()) return out.status().WithContext("recording events");
  if (out->state != replication::EntryState::kSuccess) {
    return InternalError("recording events failed: " + out->response.body);
  }
  spdlog::info("event follower: recorded {} event(s) up to block {} (entry {})",
               batch.events.size(), batch.next_block, out->index);
  scanned_to = batch.next_block;
  return Status::Ok();
}

}  // namespace br2k::apps::dashboard
