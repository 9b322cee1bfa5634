// The replicated state of the Service Registry Dashboard (paper 1, section IV) and the parsers
// of every request body it accepts. Pure values and functions: no I/O, no Ethereum RPC (this file
// is also built for the fuzzers).
//
// The state, per service id (0x + 64 lower-case hex digits):
//   - the registry events the dashboard has seen on chain (Registered, NewLocation, StateChanged,
//     Claim), in chain order, each recorded once per (transaction hash, log index);
//   - a display label and the notes managers attach to the service (or to one of its claims);
// plus `next_block`, the first block whose events are not all recorded yet (the event follower's
// cursor, replicated so that a new leader resumes where the old one stopped).
//
// Exactly-once of events: an event is a duplicate (recorded nothing) when its block is below
// next_block (an earlier batch covered that block completely) or when its (tx, log index) key is
// already recorded. See docs/dashboard.md.
//
// Thread safety: none; values are copied between threads, never shared.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"
#include "br2k/manager/claim_report.h"

namespace br2k::apps::dashboard {

// Limits of what a request or a snapshot may hold.
inline constexpr size_t kMaxEventsPerBatch = 256;
inline constexpr size_t kMaxTextBytes = 4096;         // note text, claim reason, location
inline constexpr size_t kMaxShortBytes = 128;         // author, label
inline constexpr size_t kMaxEventsPerService = 4096;  // oldest dropped beyond this
inline constexpr size_t kMaxNotesPerService = 1024;
inline constexpr size_t kMaxImages = 16;

// One registry event as recorded. Strings are valid UTF-8 (the parser checks it).
struct ChainEvent {
  std::string kind;     // "Registered", "NewLocation", "StateChanged", "Claim"
  std::string service;  // 0x + 64 lower-case hex
  std::string tx;       // transaction hash, 0x + 64 lower-case hex
  uint64_t log_index = 0;
  uint64_t block = 0;
  std::string location;  // Registered, NewLocation; Claim: the failed location
  std::string reason;    // Claim
  std::string account;   // Registered: the owner; Claim: the claimant (0x + 40 lower-case hex)
  uint64_t epoch = 0;    // NewLocation
  uint64_t version = 0;  // NewLocation, StateChanged
  std::string state;     // StateChanged: "Active", "Failed", "Recovering", "Retired"
  friend bool operator==(const ChainEvent&, const ChainEvent&) = default;
};

// `s` with every byte that is not part of valid UTF-8 replaced by '?' (strings from the chain are
// arbitrary bytes; everything recorded is valid UTF-8).
std::string SanitizeUtf8(std::string_view s);

// "<tx>:<log index>": the dedupe key of an event.
std::string EventKey(const ChainEvent& e);

// The body of the internal Replication request the event follower submits: events it read from
// the registry (at most kMaxEventsPerBatch) and the promise that every event below next_block is
// in this batch or an earlier one. Events at or above next_block are allowed (a block holding
// more than kMaxEventsPerBatch events is delivered in several batches with next_block = that
// block; their keys dedupe the overlap).
struct EventBatch {
  std::vector<ChainEvent> events;
  uint64_t next_block = 0;
};

struct Note {
  uint64_t id = 0;  // the log index of the request that added it (the same on every replica)
  std::string author;
  std::string text;
  std::string claim;     // "" or the EventKey of the claim it is about
  uint64_t updated = 0;  // log index of the last edit
  friend bool operator==(const Note&, const Note&) = default;
};

// What a manager of the service said it did about one claim: its signed report (checked before it
// is recorded; see claim_report.h) and the log index of the request that recorded it.
struct ClaimOutcome {
  manager::ClaimReport report;
  uint64_t index = 0;
  friend bool operator==(const ClaimOutcome&, const ClaimOutcome&) = default;
};

struct ServiceHistory {
  std::string label;
  std::vector<ChainEvent> events;  // sorted by (block, log index)
  std::map<uint64_t, Note> notes;
  // By claim key (EventKey of the claim); the latest report of a claim wins. At most
  // kMaxEventsPerService (the oldest recorded is dropped beyond it).
  std::map<std::string, ClaimOutcome> outcomes;
  uint64_t dropped = 0;  // events dropped beyond kMaxEventsPerService
  friend bool operator==(const ServiceHistory&, const ServiceHistory&) = default;
};

struct DashboardState {
  uint64_t next_block = 0;
  std::map<std::string, ServiceHistory> services;
  friend bool operator==(const DashboardState&, const DashboardState&) = default;

  // Records the batch's new events and raises next_block to batch.next_block (never lowers it).
  // Returns how many events were new. Deterministic.
  size_t Record(const EventBatch& batch);
  // True when `e` is already covered (see the file comment).
  bool Seen(const ChainEvent& e) const;
  // Records `report` (already checked) as the outcome of its claim, at log index `index`, unless
  // the claim has a report decided at the same time or later (a replayed or late report changes
  // nothing). Returns whether it was recorded. Deterministic.
  bool RecordOutcome(const manager::ClaimReport& report, uint64_t index);
};

// The snapshot (JSON, {"version":1,...}) and back. DATA_LOSS for anything that is not a valid
// snapshot (including values breaking the limits above); Decode(Encode(s)) == s.
std::string EncodeState(const DashboardState& s);
Result<DashboardState> DecodeState(std::string_view text);

// ---- request bodies (all JSON objects; INVALID_ARGUMENT naming the field otherwise) ----

// 0x + 64 hex digits, any case -> lower case. INVALID_ARGUMENT otherwise.
Result<std::string> ParseServiceId(std::string_view text);
// A service name or id -> its id (a name's id is keccak256(name), as the registry's clients do).
Result<std::string> ServiceIdOf(std::string_view name_or_id);

// The follower's batch: {"next_block": N, "events": [ {kind, service, tx, log_index, block, ...} ]}
Result<EventBatch> ParseEventBatch(std::string_view body);
std::string EncodeEventBatch(const EventBatch& b);

// POST /api/services/{id}/notes: {"author": "..", "text": "..", "claim": "<tx>:<n>"?}
// PUT  /api/services/{id}/notes/{note}: {"text": ".."}
struct NoteEdit {
  std::string author;
  std::string text;
  std::string claim;
};
Result<NoteEdit> ParseNoteAdd(std::string_view body);
Result<NoteEdit> ParseNoteUpdate(std::string_view body);
// PUT /api/services/{id}/label: {"label": ".."} (empty clears it)
Result<std::string> ParseLabel(std::string_view body);
// A note id path parameter: a decimal integer >= 1.
Result<uint64_t> ParseNoteId(std::string_view text);

// A registry transaction (POST /api/send, sent by the dashboard's key; POST /api/calldata,
// encoded for the browser's wallet). {"function": <name>, "service": <name or id>, ...}:
//   register            location, deploy_context, replicas, container_registry, images
//   updateLocation      location, epoch
//   updateState         state ("Active", "Failed", "Recovering", "Retired")
//   updateRecoveryInfo  deploy_context, replicas, container_registry, images
//   addManager, removeManager, addOperator, removeOperator   account
//   sendClaim           location (the failed location; may be empty), reason
struct TxRequest {
  std::string function;
  std::string service;  // the id
  std::string location;
  uint64_t epoch = 0;
  std::string state;
  std::string deploy_context;
  uint32_t replicas = 0;
  std::string container_registry;
  std::vector<std::string> images;
  std::string account;  // 0x + 40 hex
  std::string reason;
};
Result<TxRequest> ParseTxRequest(std::string_view body);

// POST /api/txs (External_TXN): a transaction the user signed and sent from the browser.
// {"tx": "0x<64 hex>", "from": "0x<40 hex>", "function": "..", "service": "<id>"}
struct UserTx {
  std::string tx;
  std::string from;
  std::string function;
  std::string service;
};
Result<UserTx> ParseUserTx(std::string_view body);

}  // namespace br2k::apps::dashboard
