// One I/O thread runs every connection's reads and writes asynchronously on a beast::tcp_stream
// whose timer is the phase's deadline (the client in client.cc has the same shape): a silent,
// slow or paused peer is cut off by the timer, never waited for by a thread. (The old
// thread-per-connection server used SO_RCVTIMEO with Asio's synchronous calls, which end in
// poll(-1) on EAGAIN: no timeout ever fired, and Stop() could not reach the sockets it had moved
// into the threads.) Handlers may block (a replica waits for its commit), so each request's
// handler runs on a thread of its own and posts the answer back to the I/O thread.
//
// All Session state and the session list are touched on the I/O thread only; `mu` guards what
// handler threads and Stop() share with it.
#include "br2k/http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace br2k::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

bhttp::response<bhttp::string_body> ToBeast(const HttpResponse& r, bool keep_alive) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::server, "br2k");
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

// A refusal of the request's framing or headers (see CheckRequestHeaders), or nullopt.
std::optional<HttpResponse> CheckHeaders(const bhttp::request_parser<bhttp::string_body>& p) {
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  for (const auto& f : p.get())
    fields.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                        std::string_view(f.value().data(), f.value().size()));
  Status st = CheckRequestHeaders(fields);
  if (st.ok()) return std::nullopt;
  if (st.code() == StatusCode::kUnimplemented) {
    return JsonError(501, "NOT_IMPLEMENTED", st.message());
  }
  return JsonError(400, "BAD_REQUEST", st.message());
}

}  // namespace

struct Session;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServerOptions opt;
  Handler handler;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  std::thread io_thread;

  std::mutex mu;
  std::condition_variable handlers_done;
  bool stopping = false;                 // guarded by mu
  int handlers = 0;                      // guarded by mu: handler threads running
  std::atomic<bool> stopping_io{false};  // read on the I/O thread without the lock

  std::list<std::shared_ptr<Session>> sessions;  // I/O thread only

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket sock);
  bool ShedOne();
  void Reject(tcp::socket sock);
  void CloseAll(bool include_handlers);
};

struct Session : std::enable_shared_from_this<Session> {
  enum class Phase { kIdle, kHeader, kBody, kHandler, kWrite, kLinger, kClosed };

  Server::Impl* srv;  // outlives every callback that runs on the I/O thread
  beast::tcp_stream stream;
  beast::flat_buffer buf;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser;
  std::optional<bhttp::response<bhttp::string_body>> res;
  Phase phase = Phase::kHeader;
  Clock::time_point since = Clock::now();
  std::list<std::shared_ptr<Session>>::iterator self_it;
  Clock::time_point linger_until;
  size_t lingered = 0;
  std::unique_ptr<std::array<char, 16384>> scratch;  // allocated by Linger only

  Session(Server::Impl* s, tcp::socket sock) : srv(s), stream(std::move(sock)) {}

  void Enter(Phase p) {
    phase = p;
    since = Clock::now();
  }

  void Begin() {
    Enter(Phase::kHeader);
    stream.expires_after(srv->opt.header_timeout);
    ReadHeader();
  }

  // Waits for the first byte of the next request on a kept-alive connection.
  void NextRequest() {
    if (buf.size() > 0) {  // pipelined: the next request is already here
      Begin();
      return;
    }
    Enter(Phase::kIdle);
    stream.expires_after(srv->opt.idle_timeout);
    stream.async_read_some(buf.prepare(4096),
                           [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                             if (self->phase != Phase::kIdle) return;
                             if (ec) return self->Close();
                             self->buf.commit(n);
                             self->Begin();
                           });
  }

  void ReadHeader() {
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(srv->opt.limits.max_header_bytes));
    parser->body_limit(srv->opt.limits.max_body_bytes);
    bhttp::async_read_header(
        stream, buf, *parser,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnHeader(ec); });
  }

  // A read error: the peer went away or a timer fired (close quietly), or a refusal to answer.
  void OnReadError(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::bad_descriptor ||
        ec == bhttp::error::partial_message) {
      return Close();
    }
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
      return Refuse(JsonError(413, "PAYLOAD_TOO_LARGE", "request too large: " + ec.message()));
    }
    Refuse(JsonError(400, "BAD_REQUEST", "malformed HTTP request: " + ec.message()));
  }

  void OnHeader(beast::error_code ec) {
    if (phase != Phase::kHeader) return;
    if (ec) return OnReadError(ec);
    if (auto refusal = CheckHeaders(*parser)) return Refuse(std::move(*refusal));
    Enter(Phase::kBody);
    stream.expires_after(srv->opt.body_timeout);
    bhttp::async_read(
        stream, buf, *parser,
        [self = shared_from_this()](beast::error_code bec, std::size_t) { self->OnBody(bec); });
  }

  void OnBody(beast::error_code ec) {
    if (phase != Phase::kBody) return;
    if (ec) return OnReadError(ec);
    stream.expires_never();
    auto& msg = parser->get();
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
    parser.reset();
    if (Status st = SplitTarget(req.target, req.path, req.query); !st.ok()) {
      return Answer(JsonError(400, "BAD_REQUEST", st.message()), false);
    }
    {
      std::lock_guard lock(srv->mu);
      if (srv->stopping) {
        return Answer(JsonError(503, "UNAVAILABLE", "server is stopping"), false);
      }
      srv->handlers++;
    }
    Enter(Phase::kHandler);
    try {
      std::thread([self = shared_from_this(), impl = srv->shared_from_this(),
                   req = std::move(req)]() mutable {
        HttpResponse resp;
        try {
          resp = impl->handler(req);
        } catch (const std::exception& e) {
          resp = JsonError(500, "INTERNAL", std::string("handler failed: ") + e.what());
        }
        bool keep_alive = req.keep_alive;
        asio::post(impl->io, [self, resp = std::move(resp), keep_alive]() mutable {
          if (self->phase == Phase::kHandler) self->Answer(std::move(resp), keep_alive);
        });
        self.reset();
        std::lock_guard lock(impl->mu);
        impl->handlers--;
        impl->handlers_done.notify_all();
      }).detach();
    } catch (const std::system_error& e) {  // no thread to be had
      {
        std::lock_guard lock(srv->mu);
        srv->handlers--;
        srv->handlers_done.notify_all();
      }
      Answer(JsonError(503, "UNAVAILABLE", std::string("no thread for the request: ") + e.what()),
             false);
    }
  }

  // Sends `r`; then the next request (keep_alive), or a close.
  void Answer(HttpResponse r, bool keep_alive, bool linger = false) {
    if (srv->stopping_io) keep_alive = false;
    Enter(Phase::kWrite);
    res.emplace(ToBeast(r, keep_alive));
    stream.expires_after(srv->opt.write_timeout);
    bhttp::async_write(
        stream, *res,
        [self = shared_from_this(), keep_alive, linger](beast::error_code ec, std::size_t) {
          if (self->phase != Phase::kWrite) return;
          self->res.reset();
          if (ec) return self->Close();
          if (linger) return self->Linger();
          if (!keep_alive) {
            beast::error_code ignored;
            self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            return self->Close();
          }
          self->NextRequest();
        });
  }

  // An error answer to a request that was not read to its end; the connection then closes.
  void Refuse(HttpResponse r) { Answer(std::move(r), false, /*linger=*/true); }

  // Lingering close: stop sending, then read and discard what the client is still sending (until
  // it pauses for 500 ms, for 5 s at most, 64 MiB at most), so that it sees our error answer
  // instead of a connection reset.
  void Linger() {
    Enter(Phase::kLinger);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    linger_until = Clock::now() + std::chrono::seconds(5);
    scratch = std::make_unique<std::array<char, 16384>>();
    LingerRead();
  }

  void LingerRead() {
    auto left = linger_until - Clock::now();
    if (left <= Clock::duration::zero() || lingered > 64 * 1024 * 1024) return Close();
    stream.expires_after(std::min<Clock::duration>(left, std::chrono::milliseconds(500)));
    stream.async_read_some(asio::buffer(*scratch),
                           [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                             if (self->phase != Phase::kLinger) return;
                             if (ec) return self->Close();
                             self->lingered += n;
                             self->LingerRead();
                           });
  }

  // Idempotent. Pending operations complete with operation_aborted and see Phase::kClosed.
  void Close() {
    if (phase == Phase::kClosed) return;
    auto keep = shared_from_this();  // the list may hold the last reference
    phase = Phase::kClosed;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    srv->sessions.erase(self_it);
  }
};

// The accept callbacks hold `this` raw: a shared_ptr in a handler left queued in the stopped
// io_context would keep the Impl (which owns that io_context) alive forever.
void Server::Impl::Accept() {
  acceptor.async_accept(
      [this](beast::error_code ec, tcp::socket sock) { OnAccept(ec, std::move(sock)); });
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket sock) {
  if (stopping_io || !acceptor.is_open()) return;
  if (ec) {  // e.g. out of file descriptors: try again shortly
    accept_retry.expires_after(std::chrono::milliseconds(10));
    accept_retry.async_wait([this](beast::error_code wec) {
      if (!wec && !stopping_io) Accept();
    });
    return;
  }
  if (static_cast<int>(sessions.size()) >= opt.max_connections && !ShedOne()) {
    Reject(std::move(sock));
  } else {
    sock.set_option(tcp::no_delay(true), ec);
    auto s = std::make_shared<Session>(this, std::move(sock));
    sessions.push_front(s);
    s->self_it = sessions.begin();
    s->Begin();
  }
  Accept();
}

// Closes the connection that has waited longest for a request (idle ones first, then those whose
// request is half-read). False when every connection has a request in a handler or an answer on
// its way.
bool Server::Impl::ShedOne() {
  Session* victim = nullptr;
  for (const auto& s : sessions) {
    using P = Session::Phase;
    bool waiting = s->phase == P::kIdle || s->phase == P::kHeader || s->phase == P::kBody ||
                   s->phase == P::kLinger;
    if (!waiting) continue;
    auto rank = [](const Session* x) { return x->phase == P::kIdle ? 0 : 1; };
    if (!victim || rank(s.get()) < rank(victim) ||
        (rank(s.get()) == rank(victim) && s->since < victim->since)) {
      victim = s.get();
    }
  }
  if (!victim) return false;
  victim->Close();
  return true;
}

// A quick 503 on a connection beyond max_connections (one second to send it, then closed).
void Server::Impl::Reject(tcp::socket sock) {
  struct Rejected {
    beast::tcp_stream stream;
    bhttp::response<bhttp::string_body> res;
  };
  auto r = std::make_shared<Rejected>(
      Rejected{beast::tcp_stream(std::move(sock)),
               ToBeast(JsonError(503, "UNAVAILABLE", "too many connections"), false)});
  r->res.set(bhttp::field::retry_after, "1");
  r->stream.expires_after(std::chrono::seconds(1));
  bhttp::async_write(r->stream, r->res, [r](beast::error_code, std::size_t) {
    beast::error_code ignored;
    r->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    r->stream.close();
  });
}

void Server::Impl::CloseAll(bool include_handlers) {
  for (auto it = sessions.begin(); it != sessions.end();) {
    auto s = *it++;  // Close() erases s from the list
    if (include_handlers || s->phase != Session::Phase::kHandler) s->Close();
  }
}

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
  impl->work.emplace(impl->io.get_executor());
  impl->Accept();
  impl->io_thread = std::thread([p = impl.get()] {
    try {
      p->io.run();
    } catch (const std::exception& e) {  // a bug: say so rather than terminate the process
      spdlog::error("http server: I/O thread failed: {}", e.what());
    }
  });
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
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mu);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.stopping_io = true;
  // Everything without a request in a handler closes now; a handler's answer is still sent.
  asio::post(s.io, [p = &s] {
    beast::error_code ec;
    p->acceptor.close(ec);
    p->accept_retry.cancel();
    p->CloseAll(/*include_handlers=*/false);
  });
  {
    std::unique_lock lock(s.mu);
    s.handlers_done.wait_for(lock, s.opt.stop_grace, [&] { return s.handlers == 0; });
  }
  // Give the last answers a moment to be written, then close whatever is left.
  asio::steady_timer last(s.io);
  last.expires_after(std::chrono::milliseconds(200));
  asio::post(s.io, [&] {
    bool writing = std::any_of(s.sessions.begin(), s.sessions.end(),
                               [](const auto& x) { return x->phase == Session::Phase::kWrite; });
    if (!writing) {
      s.CloseAll(true);
      s.io.stop();
      return;
    }
    last.async_wait([&](beast::error_code) {
      s.CloseAll(true);
      s.io.stop();
    });
  });
  s.work.reset();
  if (s.io_thread.joinable()) s.io_thread.join();
}

}  // namespace br2k::http
