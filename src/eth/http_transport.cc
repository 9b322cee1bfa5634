// HTTP JSON-RPC over Boost.Beast. Each request runs its asynchronous steps on a private
// io_context driven by the calling thread, with the stream's timer set from the Deadline, so a
// call can never block past it. Idle keep-alive connections are pooled.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <vector>

#include "br2k/eth/rpc_transport.h"
#include "url.h"

namespace br2k::eth {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
};

// Runs the async operation started by `start` to completion on c's io_context.
template <typename Start>
beast::error_code Run(Connection& c, Deadline deadline, Start start) {
  beast::error_code result = asio::error::would_block;
  c.stream.expires_after(deadline.remaining());
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  c.ioc.restart();
  c.ioc.run();
  return result;
}

class HttpTransport final : public RpcTransport {
 public:
  HttpTransport(std::string url, internal::Url parts)
      : url_(std::move(url)), u_(std::move(parts)) {}

  std::string Endpoint() const override { return url_; }

  Result<std::string> RoundTrip(std::string_view body, Deadline deadline) override {
    // A pooled connection may have been closed by the server while idle: then (and only when
    // nothing was received) the request is retried once on a fresh connection. The node
    // rejecting a duplicate is harmless for the idempotent calls we make, and a lost
    // eth_sendRawTransaction is resent by its caller with the same signed bytes.
    std::unique_ptr<Connection> c = TakeIdle();
    bool reused = c != nullptr;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!c) {
        BR2K_ASSIGN_OR_RETURN(c, Connect(deadline));
        reused = false;
      }
      bool received_nothing = false;
      auto r = Exchange(*c, body, deadline, &received_nothing);
      if (r.ok()) {
        if (keep_alive_) PutIdle(std::move(c));
        return r;
      }
      if (!(reused && received_nothing) || deadline.expired()) return r.status();
      c.reset();
    }
    return UnavailableError(url_ + ": connection lost");
  }

 private:
  Result<std::unique_ptr<Connection>> Connect(Deadline deadline) {
    auto c = std::make_unique<Connection>();
    tcp::resolver resolver(c->ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(u_.host, u_.port, ec);
    if (ec) return UnavailableError(url_ + ": cannot resolve " + u_.host + ": " + ec.message());
    ec = Run(*c, deadline, [&](auto handler) { c->stream.async_connect(endpoints, handler); });
    if (ec == beast::error::timeout) return DeadlineExceededError(url_ + ": connect timed out");
    if (ec) return UnavailableError(url_ + ": node unreachable: " + ec.message());
    return c;
  }

  Result<std::string> Exchange(Connection& c, std::string_view body, Deadline deadline,
                               bool* received_nothing) {
    http::request<http::string_body> req{http::verb::post, u_.target, 11};
    req.set(http::field::host, u_.host + ":" + u_.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, "br2k");
    req.keep_alive(true);
    req.body() = std::string(body);
    req.prepare_payload();
    *received_nothing = true;
    auto ec = Run(c, deadline, [&](auto handler) { http::async_write(c.stream, req, handler); });
    if (ec == beast::error::timeout) return DeadlineExceededError(url_ + ": request timed out");
    if (ec) return UnavailableError(url_ + ": send failed: " + ec.message());
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    ec = Run(c, deadline,
             [&](auto handler) { http::async_read(c.stream, c.buffer, parser, handler); });
    if (ec == beast::error::timeout) return DeadlineExceededError(url_ + ": response timed out");
    if (ec) {
      *received_nothing = ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                          ec == asio::error::eof;
      return UnavailableError(url_ + ": receive failed: " + ec.message());
    }
    *received_nothing = false;
    auto res = parser.release();
    keep_alive_ = res.keep_alive();
    if (res.result() != http::status::ok) {
      // Nodes answer JSON-RPC errors with 200; other statuses carry no JSON-RPC answer, except
      // some that still put one in the body (e.g. 400 for a malformed request).
      if (!res.body().empty() && res.body()[0] == '{') return std::move(res.body());
      return UnavailableError(url_ + ": HTTP " + std::to_string(res.result_int()));
    }
    return std::move(res.body());
  }

  std::unique_ptr<Connection> TakeIdle() {
    std::lock_guard<std::mutex> l(mu_);
    if (idle_.empty()) return nullptr;
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }

  void PutIdle(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> l(mu_);
    if (idle_.size() < 16) idle_.push_back(std::move(c));
  }

  const std::string url_;
  const internal::Url u_;
  std::atomic<bool> keep_alive_{true};
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

Result<std::shared_ptr<RpcTransport>> MakeHttpTransport(const std::string& url) {
  BR2K_ASSIGN_OR_RETURN(internal::Url u, internal::ParseUrl(url));
  if (u.scheme == "https") return UnimplementedError("https endpoints are not supported: " + url);
  if (u.scheme != "http") return InvalidArgumentError("not an http URL: " + url);
  return std::shared_ptr<RpcTransport>(std::make_shared<HttpTransport>(url, u));
}

Result<std::shared_ptr<RpcTransport>> MakeTransport(const std::string& url, Deadline deadline) {
  if (url.starts_with("ws://") || url.starts_with("wss://")) {
    BR2K_ASSIGN_OR_RETURN(auto ws, MakeWebSocketTransport(url, deadline));
    return std::shared_ptr<RpcTransport>(ws);
  }
  return MakeHttpTransport(url);
}

}  // namespace br2k::eth
