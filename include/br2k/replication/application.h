// The application interface: what a service implements to be replicated by br2k.
//
// An application is a deterministic state machine plus a route table. br2k classifies every
// incoming HTTP request by its route (method + path pattern) into one of the paper's request
// types, writes replicated requests to the log in etcd, and calls Apply() on the leader (all
// types but External_TXN) and on every follower (Replication requests that succeeded).
//
// Thread safety: br2k never calls the methods of one Application concurrently; they run under
// the replica's state lock. Implementations need no locking of their own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::replication {

// The paper's request types, plus read-only routes (never logged).
enum class RequestType {
  kReplication,  // processed by every replica (changes the replicated state)
  kNormal,       // executed once, by the leader only (side effects: e-mail, chain tx)
  kExternalTxn,  // recorded in the log, never processed
  kReadOnly,     // answered by the leader after a linearizable leadership check
};
// "Replication", "Normal", "External_TXN", "ReadOnly".
const char* RequestTypeName(RequestType t);
// Parses the names above. INVALID_ARGUMENT otherwise.
Result<RequestType> ParseRequestType(std::string_view name);

// One client request as the application sees it. A value; owns its strings.
struct Request {
  std::string method;                         // "GET", "POST", ...
  std::string path;                           // "/logs" (no query string)
  std::string query;                          // "a=1&b=2" (may be empty)
  std::string body;                           // raw body bytes (JSON for the sample app)
  std::string client_id;                      // X-Br2k-Client (empty if the client sent none)
  uint64_t seq = 0;                           // X-Br2k-Seq (0 if none)
  std::map<std::string, std::string> params;  // path parameters bound by the route pattern
};

// An HTTP answer produced by the application.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  friend bool operator==(const Response&, const Response&) = default;
};

enum class Outcome { kSuccess, kFail };

// An Ethereum transaction a Normal request asks the leader to send, exactly once (see
// chain_effects.h). Plain strings keep this header free of Ethereum types.
struct ChainCall {
  std::string to;           // 0x-address (20 bytes)
  std::string data;         // 0x-hex calldata ("" or "0x" for none)
  std::string value = "0";  // wei, decimal
  uint64_t gas_limit = 0;   // 0: estimated when signing
  friend bool operator==(const ChainCall&, const ChainCall&) = default;
};

struct ApplyResult {
  Outcome outcome = Outcome::kSuccess;
  Response response;
  // Normal requests on the leader only: a transaction to send once (with kSuccess). The client
  // is answered when it is mined: Success if it succeeded, Fail if it reverted, with the JSON
  // body {"index","tx","nonce","block","status"} (status "success" or "reverted").
  std::optional<ChainCall> chain_call;
};

// Where an Apply() call happens, for applications that care.
struct ApplyContext {
  uint64_t index = 0;  // log index of the request
  RequestType type = RequestType::kReplication;
  bool as_leader = false;  // true on the replica that serves the request
};

// A route: method + path pattern. Pattern segments are literal ("logs") or a parameter
// ("{id}", bound into Request::params). Matching is exact on the number of segments.
struct Route {
  std::string method;
  std::string pattern;
  RequestType type = RequestType::kReplication;
};

class Application {
 public:
  virtual ~Application() = default;

  // The routes this application serves. Called once, at start.
  virtual std::vector<Route> Routes() const = 0;

  // Applies one logged request (Replication or Normal). Must be deterministic for Replication
  // requests: every replica applying the same sequence must reach the same state and the same
  // responses. Returning kFail means "the request was rejected"; the state must then be
  // unchanged (followers never apply a Fail entry).
  virtual ApplyResult Apply(const Request& request, const ApplyContext& ctx) = 0;

  // Undoes any effect outside the replicated state of an Apply() that was interrupted by a
  // crash (the state itself is restored from the last durable snapshot by br2k). Default: none.
  virtual void Rollback(const Request& request, const ApplyContext& ctx) {
    (void)request;
    (void)ctx;
  }

  // Checks a request before it is logged (malformed body, missing fields, a caller it refuses).
  // A non-OK status is answered with its message and nothing is logged: PERMISSION_DENIED 403,
  // UNAVAILABLE or DEADLINE_EXCEEDED 503 (Validate asked something that did not answer), any
  // other code 400. Called on server threads, concurrently with everything. Default: valid.
  virtual Status Validate(const Request& request, RequestType type) const {
    (void)request;
    (void)type;
    return Status::Ok();
  }

  // True when every outside effect of this application's Normal requests goes through
  // ApplyResult::chain_call. A new leader may then mark a Normal entry left InProcess without a
  // recorded transaction Ignore (it was never sent, so nothing happened; a retry runs it once)
  // instead of leaving its outcome unknown. Default: false.
  virtual bool NormalEffectsAreChainCalls() const { return false; }

  // Answers a read-only route from the current state. Must not change the state.
  virtual Response Read(const Request& request) const = 0;

  // The whole state as bytes, and back. Restore() replaces the state; INVALID_ARGUMENT (or
  // DATA_LOSS) when `snapshot` is not one this application produced.
  virtual std::string Snapshot() const = 0;
  virtual Status Restore(std::string_view snapshot) = 0;
};

}  // namespace br2k::replication
