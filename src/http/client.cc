#include "br2k/http/client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>

namespace br2k::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Every step (connect, write, read) is asynchronous on a beast::tcp_stream whose timer is the
// call's deadline, run on this connection's own io_context: the deadline holds against a peer
// that accepts and never answers, a paused process, or a host whose packets are dropped (a cut
// network). (SO_RCVTIMEO with Asio's synchronous calls did not: they end in poll(-1) on EAGAIN.)
struct Connection::Impl {
  std::string host;
  int port = 0;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buf;

  // Starts `op` (an async operation taking a completion handler (error_code, size_t)) with the
  // stream's timer set to `d` and runs it to completion. beast::error::timeout when `d` passed
  // first (the socket is then closed).
  template <typename Op>
  beast::error_code Run(Deadline d, Op&& op) {
    beast::error_code result = asio::error::would_block;
    stream->expires_at(d.when());
    op([&result](beast::error_code ec, std::size_t = 0) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  Status Connect(Deadline d) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return InvalidArgumentError("bad host " + host);
    stream.emplace(io);
    tcp::endpoint ep(addr, static_cast<unsigned short>(port));
    ec = Run(d, [&](auto handler) { stream->async_connect(ep, handler); });
    if (ec) {
      stream.reset();
      if (ec == beast::error::timeout) {
        return DeadlineExceededError("connect " + host + ":" + std::to_string(port) +
                                     ": timed out");
      }
      return UnavailableError("connect " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    buf.clear();
    return Status::Ok();
  }
};

Connection::Connection(std::string host, int port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}
Connection::~Connection() = default;

Result<ClientResponse> Connection::Call(const std::string& method, const std::string& target,
                                        const std::string& body,
                                        const std::map<std::string, std::string>& headers,
                                        Deadline deadline) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!impl_->stream) {
      BR2K_RETURN_IF_ERROR(impl_->Connect(deadline));
      fresh = true;
    }
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    if (req.method() == bhttp::verb::unknown) req.method_string(method);
    req.set(bhttp::field::host, impl_->host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.prepare_payload();
    beast::error_code ec = impl_->Run(
        deadline, [&](auto handler) { bhttp::async_write(*impl_->stream, req, handler); });
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    // Even when the write failed, the server may have answered early (413) before closing.
    beast::error_code wec = ec;
    if (ec != beast::error::timeout) {
      ec = impl_->Run(deadline, [&](auto handler) {
        bhttp::async_read(*impl_->stream, impl_->buf, parser, handler);
      });
    }
    if (ec && wec) ec = wec;
    if (ec) {
      impl_->stream.reset();
      if (ec == beast::error::timeout || deadline.expired()) {
        return DeadlineExceededError("HTTP " + method + " " + target + ": timed out");
      }
      // A kept-alive connection the server closed meanwhile: retry once on a fresh one.
      if (!fresh && attempt == 0) continue;
      return UnavailableError("HTTP " + method + " " + target + ": " + ec.message());
    }
    auto& msg = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = std::move(msg.body());
    if (!msg.keep_alive()) impl_->stream.reset();
    return out;
  }
  return UnavailableError("HTTP " + method + " " + target + ": connection lost");
}

Result<std::pair<std::string, int>> ParseHttpUrl(std::string_view url) {
  std::string_view u = url;
  if (u.substr(0, 7) == "http://") u.remove_prefix(7);
  while (!u.empty() && u.back() == '/') u.remove_suffix(1);
  auto colon = u.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgumentError("expected http://host:port, got '" + std::string(url) + "'");
  }
  int port = 0;
  auto ps = u.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port <= 0 || port > 65535) {
    return InvalidArgumentError("bad port in '" + std::string(url) + "'");
  }
  return std::make_pair(std::string(u.substr(0, colon)), port);
}

Result<ClientResponse> Call(const std::string& url, const std::string& method,
                            const std::string& target, const std::string& body,
                            const std::map<std::string, std::string>& headers, Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(auto hp, ParseHttpUrl(url));
  Connection c(hp.first, hp.second);
  return c.Call(method, target, body, headers, deadline);
}

}  // namespace br2k::http
