#include "br2k/http/message.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

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

namespace {
char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}
std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = Lower(c);
  return out;
}
std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

Status CheckRequestHeaders(
    const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  std::vector<std::string> codings;  // every Transfer-Encoding's codings, in order, lower-case
  std::set<std::string> br2k_names;
  for (const auto& [name, value] : fields) {
    std::string lname = LowerCopy(name);
    if (lname == "transfer-encoding") {
      std::string_view rest = value;
      while (true) {
        auto comma = rest.find(',');
        std::string_view item = TrimOws(rest.substr(0, comma));
        item = TrimOws(item.substr(0, item.find(';')));  // a coding's parameters
        if (!item.empty()) codings.push_back(LowerCopy(item));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (lname.rfind("x-br2k-", 0) == 0 && !br2k_names.insert(lname).second) {
      return InvalidArgumentError("header " + std::string(name) + " is repeated");
    }
  }
  bool has_te = std::any_of(fields.begin(), fields.end(), [](const auto& f) {
    return LowerCopy(f.first) == "transfer-encoding";
  });
  if (!has_te) return Status::Ok();
  if (codings.empty() || codings.back() != "chunked") {
    return InvalidArgumentError(
        "Transfer-Encoding must end with chunked (RFC 9112 6.1): the body's length is unknown");
  }
  if (codings.size() != 1) {
    return UnimplementedError("only the chunked transfer coding is supported");
  }
  return Status::Ok();
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
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  for (const auto& f : msg)
    fields.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                        std::string_view(f.value().data(), f.value().size()));
  BR2K_RETURN_IF_ERROR(CheckRequestHeaders(fields));
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
