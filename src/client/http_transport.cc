// The real transport: br2k::http::Connection, pooled per location.
//
// http::Connection reports every failure as UNAVAILABLE or DEADLINE_EXCEEDED. Whether the
// request can have reached the server matters to the history (fail vs unknown), so it is
// derived here: only a connection made for this very request that failed while connecting
// ("connect ..." / "socket: ...") is "not sent". A pooled connection that fails may have
// delivered the request before breaking (its internal reconnect-and-resend hides that), so it is
// always ABORTED.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <map>
#include <mutex>
#include <vector>

#include "br2k/client/location.h"
#include "br2k/client/transport.h"

namespace br2k::client {
namespace {

bool StartsWith(const std::string& s, std::string_view p) {
  return s.compare(0, p.size(), p) == 0;
}

// An IPv4 literal as is; a host name through the resolver.
Result<std::string> ResolveIPv4(const std::string& host) {
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) == 1) return host;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return UnavailableError("resolve " + host + ": " + ::gai_strerror(rc));
  }
  char buf[INET_ADDRSTRLEN] = {};
  const auto* sin = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
  ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
  ::freeaddrinfo(res);
  return std::string(buf);
}

class HttpTransport final : public Transport {
 public:
  explicit HttpTransport(size_t max_idle) : max_idle_(max_idle) {}

  Result<http::ClientResponse> Send(const std::string& base_url, const std::string& method,
                                    const std::string& target, const std::string& body,
                                    const std::map<std::string, std::string>& headers,
                                    Deadline deadline) override {
    std::unique_ptr<http::Connection> conn;
    bool pooled = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto& idle = idle_[base_url];
      if (!idle.empty()) {
        conn = std::move(idle.back());
        idle.pop_back();
        pooled = true;
      }
    }
    if (!conn) {
      BR2K_ASSIGN_OR_RETURN(Endpoint e, ParseLocation(base_url));
      BR2K_ASSIGN_OR_RETURN(std::string ip, ResolveIPv4(e.host));
      conn = std::make_unique<http::Connection>(ip, e.port);
    }
    auto r = conn->Call(method, target, body, headers, deadline);
    if (!r.ok()) {
      const Status& s = r.status();
      if (s.code() == StatusCode::kUnavailable) {
        bool not_sent =
            !pooled && (StartsWith(s.message(), "connect ") || StartsWith(s.message(), "socket: "));
        return Status(not_sent ? StatusCode::kUnavailable : StatusCode::kAborted, s.message());
      }
      if (s.code() == StatusCode::kInvalidArgument) return s;
      return DeadlineExceededError(s.message());
    }
    std::lock_guard<std::mutex> l(mu_);
    auto& idle = idle_[base_url];
    if (idle.size() < max_idle_) idle.push_back(std::move(conn));
    return r;
  }

 private:
  size_t max_idle_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<http::Connection>>> idle_;
};

}  // namespace

std::shared_ptr<Transport> MakeHttpTransport(size_t max_idle_per_location) {
  return std::make_shared<HttpTransport>(max_idle_per_location);
}

}  // namespace br2k::client
