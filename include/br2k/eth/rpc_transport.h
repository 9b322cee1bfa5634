// How JSON-RPC bytes reach an Ethereum node: a small interface so that tests can inject faults,
// with HTTP and WebSocket implementations (Boost.Beast).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"

namespace br2k::eth {

// Thread-safe: RoundTrip may be called concurrently.
class RpcTransport {
 public:
  virtual ~RpcTransport() = default;
  // Sends one request body (a single request or a batch) and returns the node's response body.
  // UNAVAILABLE when the node cannot be reached or the connection breaks; DEADLINE_EXCEEDED when
  // `deadline` passes first. Never retries a request that may have reached the node.
  virtual Result<std::string> RoundTrip(std::string_view body, Deadline deadline) = 0;
  // The endpoint, for messages ("http://127.0.0.1:8545").
  virtual std::string Endpoint() const = 0;
};

// A transport over which the node can also push notifications (eth_subscribe).
class SubscribingTransport : public RpcTransport {
 public:
  // Called with each "eth_subscription" notification's params object, as JSON text. Called on
  // the transport's reader thread; must not block for long.
  using NotificationHandler = std::function<void(std::string_view params_json)>;
  // Called once when the connection drops (after which all subscriptions are gone).
  using DisconnectHandler = std::function<void(const Status&)>;
  virtual void SetHandlers(NotificationHandler on_notification,
                           DisconnectHandler on_disconnect) = 0;
  // Re-establishes a dropped connection. OK when connected.
  virtual Status Reconnect(Deadline deadline) = 0;
  virtual bool Connected() const = 0;
};

// HTTP/1.1 POST, keep-alive connections pooled per transport. `url` is "http://host:port[/path]";
// https is UNIMPLEMENTED (no TLS here). INVALID_ARGUMENT for a malformed URL. Nothing is
// connected until the first call.
Result<std::shared_ptr<RpcTransport>> MakeHttpTransport(const std::string& url);

// WebSocket ("ws://host:port[/path]"). Connects before returning (UNAVAILABLE when it cannot).
Result<std::shared_ptr<SubscribingTransport>> MakeWebSocketTransport(const std::string& url,
                                                                     Deadline deadline);

// http(s):// -> MakeHttpTransport, ws(s):// -> MakeWebSocketTransport.
Result<std::shared_ptr<RpcTransport>> MakeTransport(const std::string& url, Deadline deadline);

}  // namespace br2k::eth
