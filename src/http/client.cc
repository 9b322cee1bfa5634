#include "br2k/http/client.h"

#include <sys/socket.h>

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

struct Connection::Impl {
  std::string host;
  int port = 0;
  asio::io_context io;
  std::optional<tcp::socket> sock;
  beast::flat_buffer buf;

  void SetTimeout(Deadline d) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d.remaining()).count();
    if (ms < 1) ms = 1;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    ::setsockopt(sock->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock->native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  Status Connect(Deadline d) {
    beast::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return InvalidArgumentError("bad host " + host);
    sock.emplace(io);
    sock->open(tcp::v4(), ec);
    if (ec) return UnavailableError("socket: " + ec.message());
    SetTimeout(d);
    // A blocking connect on loopback either succeeds or is refused at once.
    sock->connect(tcp::endpoint(addr, static_cast<unsigned short>(port)), ec);
    if (ec) {
      sock.reset();
      return UnavailableError("connect " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
    sock->set_option(tcp::no_delay(true), ec);
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
    if (!impl_->sock) {
      BR2K_RETURN_IF_ERROR(impl_->Connect(deadline));
      fresh = true;
    }
    impl_->SetTimeout(deadline);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    if (req.method() == bhttp::verb::unknown) req.method_string(method);
    req.set(bhttp::field::host, impl_->host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.prepare_payload();
    beast::error_code ec;
    bhttp::write(*impl_->sock, req, ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    // Even when the write failed, the server may have answered early (413) before closing.
    beast::error_code wec = ec;
    ec = {};
    bhttp::read(*impl_->sock, impl_->buf, parser, ec);
    if (ec && wec) ec = wec;
    if (ec) {
      impl_->sock.reset();
      if (ec == asio::error::would_block || ec == asio::error::try_again || deadline.expired()) {
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
    if (!msg.keep_alive()) impl_->sock.reset();
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
