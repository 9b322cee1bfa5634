// Regression (chaos tier, issue 10 item 2): the HTTP client's deadline did not hold against a peer
// that accepts and never answers: SO_RCVTIMEO with Asio's synchronous calls ended in poll(-1) on
// EAGAIN, so a client talking to a cut-off leader waited until the network healed (the chaos
// tier measured 28 s "failovers" for 20 s cuts). Real sockets on loopback, in this process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "br2k/http/client.h"

namespace br2k::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A listening socket whose connections sit in the kernel's backlog: accepted by TCP, never read,
// never answered.
struct SilentPeer {
  int fd = -1;
  int port = 0;
  SilentPeer() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~SilentPeer() { ::close(fd); }
};

TEST(HttpClient_deadline, SilentPeerThatAccepts_callEndsAtItsDeadline) {
  SilentPeer peer;
  auto start = Clock::now();
  auto r = Call("http://127.0.0.1:" + std::to_string(peer.port), "POST", "/logs", "{}", {},
                Deadline::After(300ms));
  auto took = Clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(took, 5s) << "the call must end at its deadline, not wait for the peer";
}

TEST(HttpClient_deadline, KeptAliveConnectionToAPeerThatStopsAnswering_endsAtTheDeadline) {
  // A server that answers one request, then reads the next and never answers (a paused process).
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    int c = ::accept(lfd, nullptr, nullptr);
    char buf[4096];
    (void)!::read(c, buf, sizeof buf);
    const char* ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    (void)!::write(c, ok, strlen(ok));
    while (!stop) std::this_thread::sleep_for(10ms);  // reads nothing more, answers nothing
    ::close(c);
  });
  Connection conn("127.0.0.1", ntohs(a.sin_port));
  auto first = conn.Call("GET", "/health", "", {}, Deadline::After(5s));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->body, "ok");
  auto start = Clock::now();
  auto second = conn.Call("GET", "/health", "", {}, Deadline::After(300ms));
  auto took = Clock::now() - start;
  stop = true;
  server.join();
  ::close(lfd);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kDeadlineExceeded) << second.status();
  EXPECT_LT(took, 5s);
}

TEST(HttpClient_deadline, NothingListening_isUnavailableAtOnce) {
  SilentPeer peer;
  int port = peer.port;
  ::close(peer.fd);
  peer.fd = ::socket(AF_INET, SOCK_STREAM, 0);  // the port is free again: connections refused
  auto r =
      Call("http://127.0.0.1:" + std::to_string(port), "GET", "/", "", {}, Deadline::After(5s));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
}

}  // namespace
}  // namespace br2k::http
