// A small HTTP/1.1 server on Boost.Beast: asynchronous I/O with a timer on every read and write
// (one I/O thread), the handler run on a thread of its own per request, header and body limits,
// per-connection timeouts and JSON errors for malformed input.
//
// What a peer cannot do to it (each bound is a ServerOptions field):
//   - hold a connection without completing its request headers (slowloris): closed when the
//     headers are not complete header_timeout after the connection was accepted, or after the
//     first byte of a kept-alive connection's next request;
//   - send a body slowly: closed when the body is not complete body_timeout after the headers;
//   - keep an idle keep-alive connection: closed after idle_timeout without a byte;
//   - not read its answers: the write is abandoned and the connection closed after write_timeout;
//   - exhaust the connections: at max_connections, a new connection sheds the connection that has
//     waited longest for a request or its bytes (idle first, then half-read ones); only when every
//     connection has a request in a handler or an answer in flight does the new one get a 503.
// Refused with an answer and a close: headers or body over Limits (413), malformed requests, a
// Transfer-Encoding whose final coding is not chunked (400, RFC 9112 6.1) or other codings before
// chunked (501), a repeated X-Br2k-* header (400).
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
  // From accept (or from the first byte of a kept-alive connection's next request) to the end of
  // the request's headers.
  std::chrono::milliseconds header_timeout{10000};
  // From the end of the headers to the end of the body.
  std::chrono::milliseconds body_timeout{30000};
  // A kept-alive connection waiting for the first byte of its next request.
  std::chrono::milliseconds idle_timeout{30000};
  // Sending one answer (a peer that does not read).
  std::chrono::milliseconds write_timeout{30000};
  // Open connections; beyond this, the oldest waiting connection is shed (see above).
  int max_connections = 512;
  // How long Stop() waits for handlers that are running (their answers are still sent).
  std::chrono::milliseconds stop_grace{10000};
};

// Called concurrently, one thread per request in flight (at most max_connections); must be
// thread-safe. It may block (the connection's timers do not run meanwhile). Its answer is sent as
// is; an exception becomes a 500.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Thread-safe. The destructor stops the server.
class Server {
 public:
  // Binds and starts accepting. UNAVAILABLE when the address cannot be bound, INVALID_ARGUMENT
  // for a bad host.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  int port() const;
  // Stops accepting and closes every connection that has no request in a handler at once (idle,
  // half-read and writing ones: their peers see the connection closed); waits up to
  // options.stop_grace for running handlers, whose answers are still sent (with
  // "Connection: close"), then closes the rest and joins the I/O thread. After it returns the
  // handler is not called again. Idempotent; must not be called from the handler.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace br2k::http
