// HTTP messages as plain values, and the parser for requests (also used by the fuzz target).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "br2k/common/status.h"

namespace br2k::http {

struct Limits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
};

struct HttpRequest {
  std::string method;                          // "GET"
  std::string target;                          // "/logs?x=1"
  std::string path;                            // "/logs"
  std::string query;                           // "x=1"
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool keep_alive = true;
  // The header value or "" when absent. `name` must be lower-case.
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// A JSON error body: {"error": <code name>, "message": <text>} with the given HTTP status.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);

// Parses one complete HTTP/1.x request from `bytes`. INVALID_ARGUMENT for malformed input (the
// message says what), RESOURCE_EXHAUSTED when the header or body exceeds `limits`, and
// OUT_OF_RANGE when the input ends before the request does. Never throws.
Result<HttpRequest> ParseRequest(std::string_view bytes, const Limits& limits);

// The header checks the server and ParseRequest apply to a request's fields (name and value, in
// the order received). INVALID_ARGUMENT for a Transfer-Encoding whose final coding is not chunked
// (RFC 9112 6.1: the body's length cannot be known; read as empty it would hide the body) and for
// a repeated X-Br2k-* header (a second X-Br2k-Seq must not silently win); UNIMPLEMENTED for
// transfer codings other than chunked (RFC 9112 6.1: 501).
Status CheckRequestHeaders(
    const std::vector<std::pair<std::string_view, std::string_view>>& fields);

// Splits a request target into path and query. INVALID_ARGUMENT unless it starts with '/'.
Status SplitTarget(std::string_view target, std::string& path, std::string& query);

// The exactly-once session of a request: headers X-Br2k-Client (1-64 chars of
// [A-Za-z0-9._-]) and X-Br2k-Seq (decimal, >= 1). Both absent: {"", 0}. INVALID_ARGUMENT when
// only one is present or either is malformed.
Result<std::pair<std::string, uint64_t>> ParseSession(const HttpRequest& req);

}  // namespace br2k::http
