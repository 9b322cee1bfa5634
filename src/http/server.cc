// Thread-per-connection keeps the server simple and is plenty for a replica (a few hundred
// concurrent clients at most); the replica's group commit is what batches the work.
#include "br2k/http/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <set>
#include <thread>

namespace br2k::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServerOptions opt;
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::mutex mu;
  bool stopping = false;
  int active = 0;
  std::set<tcp::socket*> sockets;
  std::list<std::thread> threads;
  std::condition_variable done_cv;

  static void SetTimeout(tcp::socket& s, std::chrono::milliseconds t) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(t.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  static bool Send(tcp::socket& s, const HttpResponse& r, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
    res.set(bhttp::field::server, "br2k");
    res.set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    beast::error_code ec;
    bhttp::write(s, res, ec);
    return !ec;
  }

  // Lingering close: stop sending, then read and discard what the client is still sending (up
  // to a bound), so that it sees our error answer instead of a connection reset.
  static void DrainAndClose(tcp::socket& sock) {
    beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_send, ec);
    SetTimeout(sock, std::chrono::milliseconds(500));
    char buf[16384];
    size_t total = 0;
    while (total < 64 * 1024 * 1024) {
      size_t n = sock.read_some(asio::buffer(buf), ec);
      if (ec || n == 0) break;
      total += n;
    }
  }

  void Serve(tcp::socket sock) {
    SetTimeout(sock, opt.read_timeout);
    beast::flat_buffer buf;
    while (true) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(opt.limits.max_header_bytes));
      parser.body_limit(opt.limits.max_body_bytes);
      beast::error_code ec;
      bhttp::read(sock, buf, parser, ec);
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == asio::error::would_block ||
          ec == asio::error::try_again || ec == asio::error::operation_aborted ||
          ec == asio::error::bad_descriptor) {
        break;
      }
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
        Send(sock, JsonError(413, "PAYLOAD_TOO_LARGE", "request too large: " + ec.message()),
             false);
        DrainAndClose(sock);
        break;
      }
      if (ec) {
        Send(sock, JsonError(400, "BAD_REQUEST", "malformed HTTP request: " + ec.message()), false);
        break;
      }
      auto& msg = parser.get();
      HttpRequest req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      req.keep_alive = msg.keep_alive();
      for (const auto& f : msg) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers[name] = std::string(f.value());
      }
      req.body = std::move(msg.body());
      HttpResponse resp;
      if (Status st = SplitTarget(req.target, req.path, req.query); !st.ok()) {
        resp = JsonError(400, "BAD_REQUEST", st.message());
      } else {
        try {
          resp = handler(req);
        } catch (const std::exception& e) {
          resp = JsonError(500, "INTERNAL", std::string("handler failed: ") + e.what());
        }
      }
      if (!Send(sock, resp, req.keep_alive) || !req.keep_alive) break;
      std::lock_guard lock(mu);
      if (stopping) break;
    }
    beast::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
  }

  void AcceptLoop() {
    while (true) {
      tcp::socket sock(io);
      beast::error_code ec;
      acceptor.accept(sock, ec);
      std::unique_lock lock(mu);
      if (stopping) return;
      if (ec) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (active >= opt.max_connections) {
        lock.unlock();
        Send(sock, JsonError(503, "UNAVAILABLE", "too many connections"), false);
        continue;
      }
      active++;
      auto* holder = new tcp::socket(std::move(sock));
      sockets.insert(holder);
      threads.emplace_back([self = shared_from_this(), holder] {
        self->Serve(std::move(*holder));
        std::lock_guard l(self->mu);
        self->sockets.erase(holder);
        delete holder;
        self->active--;
        self->done_cv.notify_all();
      });
      // Reap finished threads lazily: detach them; Stop() waits on `active`.
      threads.back().detach();
      threads.pop_back();
    }
  }
};

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  auto impl = std::make_shared<Impl>();
  impl->opt = std::move(options);
  impl->handler = std::move(handler);
  beast::error_code ec;
  auto addr = asio::ip::make_address(impl->opt.host, ec);
  if (ec) return InvalidArgumentError("bad listen host '" + impl->opt.host + "'");
  tcp::endpoint ep(addr, static_cast<unsigned short>(impl->opt.port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen on " + impl->opt.host + ":" +
                            std::to_string(impl->opt.port) + ": " + ec.message());
  }
  impl->accept_thread = std::thread([p = impl.get()] { p->AcceptLoop(); });
  return std::unique_ptr<Server>(new Server(impl));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  Stop();
}

int Server::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    for (auto* s : impl_->sockets) {
      beast::error_code ec;
      s->shutdown(tcp::socket::shutdown_both, ec);
    }
  }
  // Unblock accept(): shutting the listening socket down makes accept fail at once.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
  std::unique_lock lock(impl_->mu);
  impl_->done_cv.wait_for(lock, std::chrono::seconds(10), [&] { return impl_->active == 0; });
}

}  // namespace br2k::http
