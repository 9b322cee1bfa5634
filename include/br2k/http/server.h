// A small blocking HTTP/1.1 server on Boost.Beast: one thread per connection (bounded), with
// body and header limits, read timeouts and JSON errors for malformed input.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "br2k/common/status.h"
#include "br2k/http/message.h"

namespace br2k::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = pick a free port (see Server::port())
  Limits limits;
  std::chrono::milliseconds read_timeout{30000};  // idle/slow clients are disconnected
  int max_connections = 512;                      // beyond this, new connections get 503
};

// Called concurrently from connection threads; must be thread-safe. Its answer is sent as is.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Thread-safe. The destructor stops the server.
class Server {
 public:
  // Binds and starts accepting. UNAVAILABLE when the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  int port() const;
  // Stops accepting, closes open connections and joins all threads. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace br2k::http
