// A minimal blocking HTTP/1.1 client (keep-alive), for probes, tests and benchmarks.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/http/message.h"

namespace br2k::http {

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

// One connection to host:port, reconnected on demand. Not thread-safe: one user at a time.
class Connection {
 public:
  Connection(std::string host, int port);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  // Sends one request and reads the answer. UNAVAILABLE when the server cannot be reached or
  // the connection breaks; DEADLINE_EXCEEDED when `deadline` passes first.
  Result<ClientResponse> Call(const std::string& method, const std::string& target,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers, Deadline deadline);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "http://127.0.0.1:8080" -> ("127.0.0.1", 8080). INVALID_ARGUMENT otherwise.
Result<std::pair<std::string, int>> ParseHttpUrl(std::string_view url);

// One-shot call on a fresh connection.
Result<ClientResponse> Call(const std::string& url, const std::string& method,
                            const std::string& target, const std::string& body,
                            const std::map<std::string, std::string>& headers, Deadline deadline);

}  // namespace br2k::http
