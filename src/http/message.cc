#include "br2k/http/message.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

namespace br2k::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  nlohmann::json j = {{"error", std::string(code)}, {"message", std::string(message)}};
  HttpResponse r;
  r.status = status;
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Status SplitTarget(std::string_view target, std::string& path, std::string& query) {
  if (target.empty() || target[0] != '/') {
    return InvalidArgumentError("request target must start with '/'");
  }
  auto q = target.find('?');
  path = std::string(target.substr(0, q));
  query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  return Status::Ok();
}

Result<HttpRequest> ParseRequest(std::string_view bytes, const Limits& limits) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.eager(true);
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  beast::error_code ec;
  size_t offset = 0;
  while (offset < bytes.size() && !parser.is_done()) {
    size_t used = parser.put(boost::asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      if (used == 0) break;
    }
    if (ec) break;
    offset += used;
    if (used == 0) break;
  }
  if (!ec && !parser.is_done() && parser.is_header_done()) parser.put_eof(ec);
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
    return ResourceExhaustedError("HTTP request too large: " + ec.message());
  }
  if (ec && ec != bhttp::error::need_more) {
    return InvalidArgumentError("malformed HTTP request: " + ec.message());
  }
  if (!parser.is_done()) return OutOfRangeError("incomplete HTTP request");
  auto& msg = parser.get();
  HttpRequest out;
  out.method = std::string(msg.method_string());
  out.target = std::string(msg.target());
  BR2K_RETURN_IF_ERROR(SplitTarget(out.target, out.path, out.query));
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.keep_alive = msg.keep_alive();
  out.body = std::move(msg.body());
  return out;
}

Result<std::pair<std::string, uint64_t>> ParseSession(const HttpRequest& req) {
  auto c = req.headers.find("x-br2k-client");
  auto s = req.headers.find("x-br2k-seq");
  if (c == req.headers.end() && s == req.headers.end()) {
    return std::make_pair(std::string(), uint64_t{0});
  }
  if (c == req.headers.end() || s == req.headers.end()) {
    return InvalidArgumentError("X-Br2k-Client and X-Br2k-Seq must be sent together");
  }
  const std::string& id = c->second;
  bool ok = !id.empty() && id.size() <= 64;
  for (char ch : id) {
    ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '.' || ch == '_' || ch == '-');
  }
  if (!ok) return InvalidArgumentError("X-Br2k-Client must be 1-64 chars of [A-Za-z0-9._-]");
  uint64_t seq = 0;
  const std::string& sv = s->second;
  auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), seq);
  if (sv.empty() || ec != std::errc() || p != sv.data() + sv.size() || seq == 0 ||
      seq > (uint64_t{1} << 62)) {
    return InvalidArgumentError("X-Br2k-Seq must be a decimal integer >= 1");
  }
  return std::make_pair(id, seq);
}

}  // namespace br2k::http
