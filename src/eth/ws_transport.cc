// JSON-RPC over WebSocket (Boost.Beast). One connection; a reader thread runs the io_context,
// routes responses to waiting callers by id, and hands "eth_subscription" notifications to the
// handler. Writes are queued on the io_context so they never interleave.
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "br2k/eth/rpc_transport.h"
#include "url.h"

namespace br2k::eth {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<std::string>> result;
  void Set(Result<std::string> r) {
    std::lock_guard<std::mutex> l(mu);
    if (!result) result = std::move(r);
    cv.notify_all();
  }
};

// The ids a request body carries (one, or several for a batch).
std::vector<int64_t> IdsOf(std::string_view body) {
  std::vector<int64_t> ids;
  auto j = nlohmann::json::parse(body, nullptr, false);
  auto add = [&](const nlohmann::json& o) {
    if (o.is_object() && o.contains("id") && o["id"].is_number_integer())
      ids.push_back(o["id"].get<int64_t>());
  };
  if (j.is_array()) {
    for (const auto& o : j) add(o);
  } else {
    add(j);
  }
  return ids;
}

class WsTransport final : public SubscribingTransport {
 public:
  WsTransport(std::string url, internal::Url parts) : url_(std::move(url)), u_(std::move(parts)) {}
  ~WsTransport() override { Shutdown(); }

  std::string Endpoint() const override { return url_; }

  void SetHandlers(NotificationHandler on_notification, DisconnectHandler on_disconnect) override {
    std::lock_guard<std::mutex> l(mu_);
    on_notification_ = std::move(on_notification);
    on_disconnect_ = std::move(on_disconnect);
  }

  bool Connected() const override { return connected_.load(); }

  Status Reconnect(Deadline deadline) override {
    std::lock_guard<std::mutex> cl(connect_mu_);
    if (connected_) return Status::Ok();
    Shutdown();
    return Connect(deadline);
  }

  Result<std::string> RoundTrip(std::string_view body, Deadline deadline) override {
    if (!connected_) return UnavailableError(url_ + ": websocket not connected");
    std::vector<int64_t> ids = IdsOf(body);
    if (ids.empty()) return InvalidArgumentError("websocket: request without an integer id");
    auto w = std::make_shared<Waiter>();
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int64_t id : ids) waiters_[id] = w;
    }
    auto msg = std::make_shared<std::string>(body);
    asio::post(ioc_, [this, msg] {
      outbox_.push_back(msg);
      if (outbox_.size() == 1) WriteNext();
    });
    std::unique_lock<std::mutex> l(w->mu);
    bool done = w->cv.wait_until(l, deadline.when(), [&] { return w->result.has_value(); });
    Result<std::string> r =
        done ? std::move(*w->result)
             : Result<std::string>(DeadlineExceededError(url_ + ": no answer in time"));
    l.unlock();
    std::lock_guard<std::mutex> g(mu_);
    for (int64_t id : ids) {
      auto it = waiters_.find(id);
      if (it != waiters_.end() && it->second == w) waiters_.erase(it);
    }
    return r;
  }

  Status Connect(Deadline deadline) {
    ioc_.restart();
    ws_.emplace(ioc_);
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    auto endpoints = resolver.resolve(u_.host, u_.port, ec);
    if (ec) return UnavailableError(url_ + ": cannot resolve " + u_.host + ": " + ec.message());
    auto& sock = beast::get_lowest_layer(*ws_);
    sock.expires_after(deadline.remaining());
    beast::error_code result = asio::error::would_block;
    sock.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { result = e; });
    ioc_.run();
    if (result) return UnavailableError(url_ + ": node unreachable: " + result.message());
    sock.expires_after(deadline.remaining());
    result = asio::error::would_block;
    ws_->async_handshake(u_.host + ":" + u_.port, u_.target,
                         [&](beast::error_code e) { result = e; });
    ioc_.restart();
    ioc_.run();
    if (result) return UnavailableError(url_ + ": websocket handshake failed: " + result.message());
    sock.expires_never();
    ws_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_->read_message_max(64 * 1024 * 1024);
    connected_ = true;
    ioc_.restart();
    work_.emplace(asio::make_work_guard(ioc_));
    ReadNext();
    reader_ = std::thread([this] { ioc_.run(); });
    return Status::Ok();
  }

 private:
  void ReadNext() {
    ws_->async_read(buffer_, [this](beast::error_code ec, size_t) {
      if (ec) {
        Fail(UnavailableError(url_ + ": websocket closed: " + ec.message()));
        return;
      }
      std::string text = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      Dispatch(text);
      ReadNext();
    });
  }

  void WriteNext() {
    if (!connected_) {
      outbox_.clear();
      return;
    }
    ws_->text(true);
    ws_->async_write(asio::buffer(*outbox_.front()), [this](beast::error_code ec, size_t) {
      if (ec) {
        Fail(UnavailableError(url_ + ": websocket write failed: " + ec.message()));
        return;
      }
      outbox_.pop_front();
      if (!outbox_.empty()) WriteNext();
    });
  }

  void Dispatch(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return;
    if (j.is_object() && j.value("method", "") == "eth_subscription") {
      NotificationHandler h;
      {
        std::lock_guard<std::mutex> l(mu_);
        h = on_notification_;
      }
      if (h && j.contains("params")) h(j["params"].dump());
      return;
    }
    std::vector<int64_t> ids = IdsOf(text);
    std::shared_ptr<Waiter> w;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int64_t id : ids) {
        auto it = waiters_.find(id);
        if (it != waiters_.end()) {
          w = it->second;
          break;
        }
      }
    }
    if (w) w->Set(text);
  }

  // Called on the reader thread when the connection breaks.
  void Fail(const Status& why) {
    if (!connected_.exchange(false)) return;
    outbox_.clear();
    std::map<int64_t, std::shared_ptr<Waiter>> waiters;
    DisconnectHandler h;
    {
      std::lock_guard<std::mutex> l(mu_);
      waiters.swap(waiters_);
      h = on_disconnect_;
    }
    for (auto& [id, w] : waiters) w->Set(why);
    if (h) h(why);
  }

  void Shutdown() {
    if (connected_ && ws_) {
      asio::post(ioc_, [this] {
        beast::error_code ec;
        beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
        beast::get_lowest_layer(*ws_).close();
      });
    }
    work_.reset();
    if (reader_.joinable()) {
      if (reader_.get_id() == std::this_thread::get_id()) {
        reader_.detach();
      } else {
        reader_.join();
      }
    }
    connected_ = false;
  }

  const std::string url_;
  const internal::Url u_;
  asio::io_context ioc_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<std::string>> outbox_;  // io_context thread only
  std::thread reader_;
  std::atomic<bool> connected_{false};
  std::mutex connect_mu_;
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<Waiter>> waiters_;
  NotificationHandler on_notification_;
  DisconnectHandler on_disconnect_;
};

}  // namespace

Result<std::shared_ptr<SubscribingTransport>> MakeWebSocketTransport(const std::string& url,
                                                                     Deadline deadline) {
  BR2K_ASSIGN_OR_RETURN(internal::Url u, internal::ParseUrl(url));
  if (u.scheme == "wss") return UnimplementedError("wss endpoints are not supported: " + url);
  if (u.scheme != "ws") return InvalidArgumentError("not a ws URL: " + url);
  auto t = std::make_shared<WsTransport>(url, u);
  BR2K_RETURN_IF_ERROR(t->Connect(deadline));
  return std::shared_ptr<SubscribingTransport>(t);
}

}  // namespace br2k::eth
