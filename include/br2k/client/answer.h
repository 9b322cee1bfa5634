// The answer of a br2k-replicated service, and how the client reads it: which HTTP statuses are
// final, which are retried and which are redirects, and the X-Br2k-* headers the replicas add.
//
// The parsing functions read external input: they never throw and never fail; malformed
// headers are reported in Br2kHeaders::error and the affected fields are left unset. Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace br2k::client {

// Header names are lower-case (as http::ClientResponse stores them).
using Headers = std::map<std::string, std::string>;

// What the client does with an HTTP answer.
enum class AnswerClass {
  kFinal,     // returned to the caller: 1xx/2xx, 3xx other than 307/308, 4xx except 408/429,
              // 5xx other than those below
  kRetry,     // the same request (same client id and seq) is sent again, maybe elsewhere:
              // 408, 429, 502, 503, 504, and 500 without X-Br2k-State (the replica itself
              // failed, e.g. local data loss, not the application's answer)
  kRedirect,  // 307/308: followed at once (Location, else X-Br2k-Leader-Url + target)
};
AnswerClass ClassifyAnswer(int status, const Headers& headers);
const char* AnswerClassName(AnswerClass c);  // "final", "retry", "redirect"

// The br2k headers of an answer.
struct Br2kHeaders {
  std::optional<uint64_t> index;  // X-Br2k-Index: the request's log index (decimal >= 1)
  std::string state;              // X-Br2k-State: "Success", "Fail", "Ignore", ... ("" absent)
  bool duplicate = false;         // X-Br2k-Duplicate: true (answered from the recorded result)
  std::string leader;             // X-Br2k-Leader (307): the leader's replica id
  std::string leader_url;         // X-Br2k-Leader-Url (307): the leader's base URL, as sent
  std::string location;           // Location (redirects), as sent
  std::string error;              // "" or what was malformed ("bad X-Br2k-Index 'x'")
};
Br2kHeaders ParseBr2kHeaders(const Headers& headers);

// A final answer as the client returns it.
struct Answer {
  int status = 0;
  Headers headers;  // lower-case names
  std::string body;
  std::string url;  // base URL of the location that answered
  std::string client;
  uint64_t seq = 0;  // X-Br2k-Seq sent (0 for reads)
  uint64_t op = 0;   // operation number in the client's history
  std::optional<uint64_t> index;
  std::string state;
  bool duplicate = false;
  uint32_t attempts = 0;  // HTTP requests sent for this operation, redirects included
  bool ok() const { return status >= 200 && status < 300; }
};

}  // namespace br2k::client
