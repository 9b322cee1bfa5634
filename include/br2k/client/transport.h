// How the client's HTTP requests reach a replica: a small interface, so that unit tests can
// script answers and failures, with a real implementation over br2k::http::Connection.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "br2k/common/deadline.h"
#include "br2k/common/status.h"
#include "br2k/http/client.h"

namespace br2k::client {

// Thread-safe: Send may be called concurrently.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request to `base_url` ("http://host:port", normalized) and reads the answer.
  // The error code says whether the request can have reached the server:
  //   UNAVAILABLE        could not connect (or resolve the host): the request was NOT sent;
  //   ABORTED            the connection failed after the request may have been sent;
  //   DEADLINE_EXCEEDED  no answer before `deadline` (the request may have been sent);
  //   INVALID_ARGUMENT   `base_url` is not a location (nothing sent).
  virtual Result<http::ClientResponse> Send(const std::string& base_url, const std::string& method,
                                            const std::string& target, const std::string& body,
                                            const std::map<std::string, std::string>& headers,
                                            Deadline deadline) = 0;
};

// HTTP/1.1 with keep-alive connections pooled per location (at most `max_idle_per_location`
// idle connections each). Host names are resolved (IPv4) when a connection is made.
std::shared_ptr<Transport> MakeHttpTransport(size_t max_idle_per_location = 4);

}  // namespace br2k::client
