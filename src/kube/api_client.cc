// The Kubernetes API client. Each call runs its asynchronous steps (connect, TLS handshake,
// write, read) on a private io_context driven by the calling thread, with the tcp_stream's expiry
// set to the call's Deadline once: every step, including those the TLS layer runs underneath,
// fails with a timeout at the deadline, so a server that accepts and never answers cannot hold a
// call past it (unlike SO_RCVTIMEO on blocking sockets, which covers one read at a time).
#include "br2k/kube/api_client.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace br2k::kube {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kMaxResponseBody = 64 * 1024 * 1024;
constexpr int kListPageLimit = 500;
constexpr int kMaxListPages = 10000;

struct ServerUrl {
  std::string host;    // without brackets
  std::string port;    // decimal
  std::string prefix;  // "" or "/some/prefix" (no trailing '/')
  bool ip_literal = false;
};

Result<ServerUrl> ParseServer(std::string_view server) {
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError("kubernetes server " + EscapeForMessage(server, 200) + ": " +
                                std::string(why));
  };
  constexpr std::string_view kScheme = "https://";
  if (!server.starts_with(kScheme)) return bad("not an https:// URL (plain http is refused)");
  std::string_view rest = server.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.find_first_of("?#") != std::string_view::npos) return bad("query or fragment");
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return bad("expected https://host[:port]");
  }
  ServerUrl u;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("junk after ']'");
    if (!after.empty()) port = after.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return bad("empty host");
  if (port.empty()) port = "443";
  int p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p <= 0 || p > 65535) {
    return bad("bad port");
  }
  u.port = std::to_string(p);
  u.prefix = std::string(prefix);
  beast::error_code aec;
  asio::ip::make_address(u.host, aec);
  u.ip_literal = !aec;
  return u;
}

// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// Runs the asynchronous operation `start` begins to completion on `ioc`.
template <typename Start>
beast::error_code Run(asio::io_context& ioc, Start start) {
  beast::error_code result = asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// Resolves a DNS name by the deadline. getaddrinfo cannot be cancelled, so it runs on a
// detached thread that finishes on its own when the caller has given up.
Result<std::vector<tcp::endpoint>> Resolve(const ServerUrl& url, Deadline deadline) {
  auto port = static_cast<unsigned short>(std::stoi(url.port));
  if (url.ip_literal) return std::vector<tcp::endpoint>{{asio::ip::make_address(url.host), port}};
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
  };
  auto shared = std::make_shared<Shared>();
  std::thread([shared, host = url.host, service = url.port] {
    asio::io_context io;
    tcp::resolver resolver(io);
    beast::error_code ec;
    auto results = resolver.resolve(host, service, ec);
    std::vector<tcp::endpoint> endpoints;
    for (const auto& r : results) endpoints.push_back(r.endpoint());
    std::lock_guard<std::mutex> l(shared->mu);
    shared->done = true;
    shared->ec = ec;
    shared->endpoints = std::move(endpoints);
    shared->cv.notify_all();
  }).detach();
  std::unique_lock<std::mutex> l(shared->mu);
  if (!shared->cv.wait_until(l, deadline.when(), [&] { return shared->done; })) {
    return DeadlineExceededError("resolving " + url.host + " timed out");
  }
  if (shared->ec || shared->endpoints.empty()) {
    return UnavailableError("cannot resolve " + url.host + ": " + shared->ec.message());
  }
  return std::move(shared->endpoints);
}

struct Response {
  int status = 0;
  std::string body;
};

}  // namespace

struct ApiClient::Impl {
  ApiEndpoint endpoint;
  Status config_status;  // not OK: every call returns it
  ServerUrl url;
  // Shared by all calls: an SSL_CTX may be used by many threads once configured.
  std::unique_ptr<ssl::context> tls;

  std::string Redact(std::string text) const {
    if (endpoint.token.empty()) return text;
    for (size_t at = text.find(endpoint.token); at != std::string::npos;
         at = text.find(endpoint.token, at)) {
      text.replace(at, endpoint.token.size(), "<redacted>");
    }
    return text;
  }

  Status Configure() {
    BR2K_ASSIGN_OR_RETURN(url, ParseServer(endpoint.server));
    tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (endpoint.insecure_skip_tls_verify) {
      tls->set_verify_mode(ssl::verify_none);
      return Status::Ok();
    }
    tls->set_verify_mode(ssl::verify_peer);
    if (endpoint.ca_pem.empty()) {
      beast::error_code ec;
      tls->set_default_verify_paths(ec);
      if (ec) return FailedPreconditionError("cannot load the system CA store: " + ec.message());
      return Status::Ok();
    }
    // Every certificate of the PEM bundle becomes a trust anchor; none at all is an error
    // (asio's add_certificate_authority silently accepts a PEM without certificates).
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(endpoint.ca_pem.data(), static_cast<int>(endpoint.ca_pem.size())),
        &BIO_free);
    X509_STORE* store = SSL_CTX_get_cert_store(tls->native_handle());
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, cert) == 1) ++added;
      X509_free(cert);
    }
    ERR_clear_error();
    if (added == 0) return InvalidArgumentError("ca_pem holds no PEM certificate");
    return Status::Ok();
  }

  Status Failure(std::string_view step, beast::error_code ec, Deadline deadline) const {
    if (ec == beast::error::timeout || deadline.expired()) {
      return DeadlineExceededError(std::string(step) + " timed out");
    }
    return UnavailableError(std::string(step) + " failed: " + ec.message());
  }

  // One HTTPS exchange on a fresh connection; any HTTP status is a success here.
  Result<Response> Exchange(http::verb verb, const std::string& target, std::string body,
                            std::string_view content_type, Deadline deadline) const {
    BR2K_RETURN_IF_ERROR(config_status);
    if (deadline.expired()) return DeadlineExceededError("deadline passed before the call");
    BR2K_ASSIGN_OR_RETURN(auto endpoints, Resolve(url, deadline));
    asio::io_context ioc;
    beast::ssl_stream<beast::tcp_stream> stream(ioc, *tls);
    beast::get_lowest_layer(stream).expires_at(deadline.when());

    auto ec = Run(ioc, [&](auto handler) {
      beast::get_lowest_layer(stream).async_connect(endpoints, handler);
    });
    if (ec) return Failure("connecting to " + endpoint.server, ec, deadline);

    SSL* ssl_handle = stream.native_handle();
    if (!url.ip_literal) SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());  // SNI
    if (!endpoint.insecure_skip_tls_verify) {
      // The certificate must name the host of `server` (DNS SAN, or IP SAN for an address).
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
      int set = 0;
      if (url.ip_literal) {
        set = X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        set = X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
      }
      if (set != 1) return InternalError("cannot set the TLS host check for " + url.host);
    }
    ec = Run(ioc, [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); });
    if (ec) {
      long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK && !endpoint.insecure_skip_tls_verify) {
        return FailedPreconditionError("TLS verification of " + endpoint.server +
                                       " failed: " + X509_verify_cert_error_string(verify));
      }
      return Failure("TLS handshake with " + endpoint.server, ec, deadline);
    }

    http::request<http::string_body> req{verb, url.prefix + target, 11};
    req.set(http::field::host,
            (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" +
                url.port);
    req.set(http::field::user_agent, "br2k");
    req.set(http::field::accept, "application/json");
    if (!endpoint.token.empty()) req.set(http::field::authorization, "Bearer " + endpoint.token);
    if (!content_type.empty()) req.set(http::field::content_type, std::string(content_type));
    req.keep_alive(false);
    req.body() = std::move(body);
    req.prepare_payload();
    std::string what = std::string(http::to_string(verb)) + " " + target;
    ec = Run(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
    if (ec) return Failure("sending " + what, ec, deadline);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    ec = Run(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
    // A server closing without TLS close_notify after a complete answer is fine.
    if (ec && !(ec == ssl::error::stream_truncated && parser.is_done())) {
      return Failure("reading the answer to " + what, ec, deadline);
    }
    beast::get_lowest_layer(stream).close();
    Response r;
    r.status = static_cast<int>(parser.get().result_int());
    r.body = std::move(parser.get().body());
    return r;
  }

  // An exchange whose 2xx answer is a JSON document; other answers become Status values.
  Result<nlohmann::json> JsonCall(http::verb verb, const std::string& target, std::string body,
                                  std::string_view content_type, Deadline deadline) const {
    BR2K_ASSIGN_OR_RETURN(Response r,
                          Exchange(verb, target, std::move(body), content_type, deadline));
    std::string what = std::string(http::to_string(verb)) + " " + target;
    Status st = StatusFromApiError(r.status, Redact(r.body));
    if (!st.ok()) return Status(st.code(), Redact(what + ": " + st.message()));
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return InternalError(what + ": the answer is not JSON");
    return j;
  }
};

ApiClient::ApiClient(ApiEndpoint endpoint) {
  auto impl = std::make_shared<Impl>();
  impl->endpoint = std::move(endpoint);
  impl->config_status = impl->Configure();
  impl_ = std::move(impl);
}

ApiClient::~ApiClient() = default;

const std::string& ApiClient::server() const {
  return impl_->endpoint.server;
}

Result<nlohmann::json> ApiClient::Apply(const nlohmann::json& object, Deadline deadline) const {
  if (!object.is_object()) return InvalidArgumentError("apply: the object is not a JSON object");
  auto str = [](const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string api_version = str(object, "apiVersion");
  std::string kind = str(object, "kind");
  auto meta = object.find("metadata");
  if (api_version.empty() || kind.empty() || meta == object.end() || !meta->is_object() ||
      str(*meta, "name").empty()) {
    return InvalidArgumentError("apply: the object needs apiVersion, kind and metadata.name");
  }
  BR2K_ASSIGN_OR_RETURN(std::string path, ResourcePath(api_version, kind, str(*meta, "namespace"),
                                                       str(*meta, "name")));
  std::string body;
  try {
    body = object.dump();
  } catch (const nlohmann::json::exception& e) {  // invalid UTF-8 in a string
    return InvalidArgumentError(std::string("apply: cannot serialize the object: ") + e.what());
  }
  // https://kubernetes.io/docs/reference/using-api/server-side-apply/#using-server-side-apply-in-a-controller
  return impl_->JsonCall(http::verb::patch,
                         path + "?fieldManager=" + QueryEscape(kFieldManager) + "&force=true",
                         std::move(body), "application/apply-patch+yaml", deadline);
}

Result<nlohmann::json> ApiClient::Get(std::string_view api_version, std::string_view kind,
                                      std::string_view ns, std::string_view name,
                                      Deadline deadline) const {
  if (name.empty()) return InvalidArgumentError("get: empty name");
  BR2K_ASSIGN_OR_RETURN(std::string path, ResourcePath(api_version, kind, ns, name));
  return impl_->JsonCall(http::verb::get, path, "", "", deadline);
}

Result<nlohmann::json> ApiClient::List(std::string_view api_version, std::string_view kind,
                                       std::string_view ns, std::string_view label_selector,
                                       Deadline deadline) const {
  BR2K_ASSIGN_OR_RETURN(std::string path, ResourcePath(api_version, kind, ns, ""));
  nlohmann::json items = nlohmann::json::array();
  std::string next;  // the `continue` token of the next page
  // Paged lists:
  // https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks
  for (int page = 0; page < kMaxListPages; ++page) {
    std::string target = path + "?limit=" + std::to_string(kListPageLimit);
    if (!label_selector.empty()) target += "&labelSelector=" + QueryEscape(label_selector);
    if (!next.empty()) target += "&continue=" + QueryEscape(next);
    BR2K_ASSIGN_OR_RETURN(nlohmann::json list,
                          impl_->JsonCall(http::verb::get, target, "", "", deadline));
    if (!list.is_object()) return InternalError("list " + path + ": the answer is not an object");
    auto it = list.find("items");
    if (it != list.end() && !it->is_null()) {
      if (!it->is_array()) return InternalError("list " + path + ": items is not an array");
      for (auto& item : *it) items.push_back(std::move(item));
    }
    next.clear();
    if (auto meta = list.find("metadata"); meta != list.end() && meta->is_object()) {
      if (auto c = meta->find("continue"); c != meta->end() && c->is_string()) {
        next = c->get<std::string>();
      }
    }
    if (next.empty()) return items;
  }
  return InternalError("list " + path + ": too many pages");
}

Status ApiClient::Delete(std::string_view api_version, std::string_view kind, std::string_view ns,
                         std::string_view name, Deadline deadline) const {
  if (name.empty()) return InvalidArgumentError("delete: empty name");
  BR2K_ASSIGN_OR_RETURN(std::string path, ResourcePath(api_version, kind, ns, name));
  std::string target = path + "?propagationPolicy=Background";
  BR2K_ASSIGN_OR_RETURN(Response r, impl_->Exchange(http::verb::delete_, target, "", "", deadline));
  Status st = StatusFromApiError(r.status, impl_->Redact(std::move(r.body)));
  if (st.ok()) return st;
  return Status(st.code(), impl_->Redact("DELETE " + target + ": " + st.message()));
}

Result<nlohmann::json> ApiClient::Version(Deadline deadline) const {
  return impl_->JsonCall(http::verb::get, "/version", "", "", deadline);
}

}  // namespace br2k::kube
