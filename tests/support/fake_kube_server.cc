#include "fake_kube_server.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "br2k/kube/resource_path.h"

namespace br2k::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

// ---- Certificates (OpenSSL's C API) ----

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "FakeKubeServer: %s\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) Die("EC key generation failed");
  return {key, &EVP_PKEY_free};
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1) Die("adding a certificate extension");
  X509_EXTENSION_free(ext);
}

// A CA certificate (issuer == nullptr: self-signed) or a server certificate for `sans` signed
// by `issuer`/`issuer_key`. Valid from an hour ago for a week.
CertPtr NewCert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
                const std::string& sans = "") {
  CertPtr cert(X509_new(), &X509_free);
  X509* c = cert.get();
  static std::atomic<long> serial{static_cast<long>(std::random_device{}() & 0xffffff) * 1000};
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(c), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c), 7 * 24 * 3600);
  X509_set_pubkey(c, key);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(c, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer != nullptr ? issuer : c;
  if (issuer == nullptr) {
    AddExtension(c, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(c, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(c, signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(c, signer, NID_key_usage, "critical,digitalSignature");
    AddExtension(c, signer, NID_ext_key_usage, "serverAuth");
    AddExtension(c, signer, NID_subject_alt_name, sans.c_str());
  }
  if (X509_sign(c, issuer_key, EVP_sha256()) == 0) Die("signing a certificate");
  return cert;
}

std::string CertPem(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_X509(bio.get(), cert) != 1) Die("PEM encoding");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// ---- Requests ----

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// Where a REST path points.
struct Target {
  std::string group, version, ns, plural, name;
  const kube::ResourceType* type = nullptr;

  std::string Key() const { return group + "|" + plural + "|" + ns + "|" + name; }
  std::string GroupVersion() const { return group.empty() ? version : group + "/" + version; }
  // "pods", "statefulsets.apps": how the API names a resource in messages.
  std::string Resource() const { return group.empty() ? plural : plural + "." + group; }
};

std::optional<Target> ParseTarget(std::string_view path) {
  if (!path.starts_with("/")) return std::nullopt;
  auto segs = Split(path.substr(1), '/');
  for (auto s : segs) {
    if (s.empty()) return std::nullopt;
  }
  Target t;
  size_t i = 0;
  if (segs.size() >= 2 && segs[0] == "api") {
    t.version = segs[1];
    i = 2;
  } else if (segs.size() >= 3 && segs[0] == "apis") {
    t.group = segs[1];
    t.version = segs[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::vector<std::string_view> rest(segs.begin() + static_cast<long>(i), segs.end());
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    t.ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.empty() || rest.size() > 2) return std::nullopt;
  t.plural = rest[0];
  if (rest.size() == 2) t.name = rest[1];
  for (const auto& rt : kube::KnownResourceTypes()) {
    if (rt.group == t.group && rt.plural == t.plural) t.type = &rt;
  }
  if (t.type == nullptr) return std::nullopt;
  if (!t.type->namespaced && !t.ns.empty()) return std::nullopt;
  if (t.type->namespaced && t.ns.empty() && !t.name.empty()) return std::nullopt;
  return t;
}

std::string Now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Answer {
  int status = 200;
  std::string body;
  bool never_answer = false;
};

Answer StatusAnswer(int code, std::string_view reason, std::string_view message,
                    json details = nullptr) {
  json j = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", code < 300 ? "Success" : "Failure"}};
  if (!message.empty()) j["message"] = message;
  if (!reason.empty()) j["reason"] = reason;
  if (!details.is_null()) j["details"] = std::move(details);
  j["code"] = code;
  return {code, j.dump()};
}

Answer NotFound(const Target& t) {
  return StatusAnswer(404, "NotFound", t.Resource() + " \"" + t.name + "\" not found",
                      {{"name", t.name}, {"group", t.group}, {"kind", t.plural}});
}

bool LabelsMatch(const json& object, std::string_view selector, bool* ok) {
  *ok = true;
  if (selector.empty()) return true;
  const json* labels = nullptr;
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    if (auto l = m->find("labels"); l != m->end() && l->is_object()) labels = &*l;
  }
  auto value = [&](const std::string& key) -> std::optional<std::string> {
    if (labels == nullptr) return std::nullopt;
    auto it = labels->find(key);
    if (it == labels->end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  for (std::string_view term : Split(selector, ',')) {
    bool negate = false;
    size_t op = term.find("!=");
    size_t value_at = op + 2;
    if (op != std::string_view::npos) {
      negate = true;
    } else if ((op = term.find("==")) != std::string_view::npos) {
      value_at = op + 2;
    } else if ((op = term.find('=')) != std::string_view::npos) {
      value_at = op + 1;
    } else {  // "key": the label exists
      if (term.empty()) {
        *ok = false;
        return false;
      }
      if (!value(std::string(term))) return false;
      continue;
    }
    std::string key(term.substr(0, op));
    if (key.empty()) {
      *ok = false;
      return false;
    }
    auto have = value(key);
    bool equal = have && *have == term.substr(value_at);
    if (equal == negate) return false;
  }
  return true;
}

// The simplified apply merge (see the header): objects merge one level down, the rest replaces.
void Merge(json& into, const json& patch) {
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    json& dst = into[it.key()];
    if (dst.is_object() && it->is_object()) {
      for (auto f = it->begin(); f != it->end(); ++f) dst[f.key()] = *f;
    } else {
      dst = *it;
    }
  }
}

}  // namespace

struct FakeKubeServer::Impl {
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
  std::string token;
  std::vector<std::shared_ptr<void>> held;  // sessions never answered; io thread only

  mutable std::mutex mu;
  std::vector<Request> requests;
  struct Pending {
    std::string path;
    int remaining;
    Injected answer;
  };
  std::deque<Pending> injections;
  std::map<std::string, json> objects;  // by Target::Key()
  int64_t revision = 1000;
  int64_t uids = 0;

  struct Session : std::enable_shared_from_this<Session> {
    Impl& server;
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;

    Session(Impl& s, tcp::socket socket) : server(s), stream(std::move(socket), s.tls) {}

    void Start() {
      stream.async_handshake(ssl::stream_base::server,
                             [self = shared_from_this()](beast::error_code ec) {
                               if (!ec) self->Read();
                             });
    }
    void Read() {
      req = {};
      http::async_read(stream, buffer, req,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (!ec) self->Serve();
                       });
    }
    void Serve() {
      Answer a = server.Handle(req);
      if (a.never_answer) {
        server.held.push_back(shared_from_this());
        return;
      }
      res = {};
      res.version(11);
      res.result(static_cast<unsigned>(a.status));
      res.set(http::field::content_type, "application/json");
      res.body() = std::move(a.body);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::async_write(stream, res, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return;
        if (self->res.keep_alive()) {
          self->Read();
        } else {
          beast::get_lowest_layer(self->stream).socket().shutdown(tcp::socket::shutdown_send, ec);
        }
      });
    }
  };

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      std::make_shared<Session>(*this, std::move(socket))->Start();
      Accept();
    });
  }

  Answer Handle(const http::request<http::string_body>& req) {
    Request rec;
    rec.method = std::string(req.method_string());
    beast::string_view raw_target = req.target();
    std::string_view target(raw_target.data(), raw_target.size());
    size_t q = target.find('?');
    rec.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) {
      for (auto kv : Split(target.substr(q + 1), '&')) {
        size_t eq = kv.find('=');
        rec.query[PercentDecode(kv.substr(0, eq))] =
            eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1));
      }
    }
    rec.content_type = std::string(req[http::field::content_type]);
    rec.body = req.body();
    std::string auth(req[http::field::authorization]);
    rec.has_auth = !auth.empty();
    rec.auth_ok = auth == "Bearer " + token;

    std::lock_guard<std::mutex> l(mu);
    requests.push_back(rec);
    for (auto it = injections.begin(); it != injections.end(); ++it) {
      if (!it->path.empty() && it->path != rec.path) continue;
      Injected a = it->answer;
      if (--it->remaining <= 0) injections.erase(it);
      if (a.never_answer) return {0, "", true};
      if (!a.raw_body.empty()) return {a.status, a.raw_body};
      return StatusAnswer(a.status, a.reason, a.message);
    }
    if (!rec.auth_ok) return StatusAnswer(401, "Unauthorized", "Unauthorized");
    if (rec.path == "/version" && rec.method == "GET") {
      return {200, json{{"major", "1"},
                        {"minor", "29"},
                        {"gitVersion", "v1.29.0-br2k-fake"},
                        {"platform", "linux/amd64"}}
                       .dump()};
    }
    auto t = ParseTarget(rec.path);
    if (!t)
      return StatusAnswer(404, "NotFound", "the server could not find the requested resource");
    if (rec.method == "GET" && t->name.empty()) return List(*t, rec);
    if (rec.method == "GET") {
      auto it = objects.find(t->Key());
      return it == objects.end() ? NotFound(*t) : Answer{200, it->second.dump()};
    }
    if (rec.method == "PATCH" && !t->name.empty()) return Apply(*t, rec);
    if (rec.method == "DELETE" && !t->name.empty()) {
      auto it = objects.find(t->Key());
      if (it == objects.end()) return NotFound(*t);
      json uid = it->second["metadata"].value("uid", "");
      objects.erase(it);
      ++revision;
      return StatusAnswer(
          200, "", "", {{"name", t->name}, {"group", t->group}, {"kind", t->plural}, {"uid", uid}});
    }
    return StatusAnswer(405, "MethodNotAllowed",
                        "the server does not allow this method on the requested resource");
  }

  Answer List(const Target& t, const Request& rec) {
    auto sel = rec.query.find("labelSelector");
    std::string selector = sel == rec.query.end() ? "" : sel->second;
    json items = json::array();
    for (const auto& [key, object] : objects) {
      auto parts = Split(key, '|');
      if (parts[0] != t.group || parts[1] != t.plural) continue;
      if (!t.ns.empty() && parts[2] != t.ns) continue;
      bool ok = true;
      bool match = LabelsMatch(object, selector, &ok);
      if (!ok) return StatusAnswer(400, "BadRequest", "unable to parse requirement: " + selector);
      if (match) items.push_back(object);
    }
    json list = {{"kind", std::string(t.type->kind) + "List"},
                 {"apiVersion", t.GroupVersion()},
                 {"metadata", {{"resourceVersion", std::to_string(revision)}}},
                 {"items", std::move(items)}};
    return {200, list.dump()};
  }

  Answer Apply(const Target& t, const Request& rec) {
    if (rec.content_type != "application/apply-patch+yaml") {
      return StatusAnswer(415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - accepted media "
                          "types include: application/json-patch+json, "
                          "application/merge-patch+json, application/apply-patch+yaml");
    }
    auto fm = rec.query.find("fieldManager");
    if (fm == rec.query.end() || fm->second.empty()) {
      return StatusAnswer(400, "BadRequest",
                          "fieldManager: Required value: is required for apply patch");
    }
    json patch = json::parse(rec.body, nullptr, /*allow_exceptions=*/false);
    if (!patch.is_object() || !patch.contains("metadata") || !patch["metadata"].is_object()) {
      return StatusAnswer(400, "BadRequest", "error decoding the apply patch (JSON expected)");
    }
    if (patch.value("kind", "") != t.type->kind ||
        patch.value("apiVersion", "") != t.GroupVersion()) {
      return StatusAnswer(400, "BadRequest", "apiVersion/kind of the object do not match the URL");
    }
    if (patch["metadata"].value("name", "") != t.name ||
        patch["metadata"].value("namespace", t.ns) != t.ns) {
      return StatusAnswer(400, "BadRequest",
                          "the name or namespace of the object does not match the URL");
    }
    ++revision;
    auto it = objects.find(t.Key());
    bool created = it == objects.end();
    json object;
    if (created) {
      object = patch;
      char uid[64];
      std::snprintf(uid, sizeof uid, "6b2d1f0e-0000-4000-8000-%012lld",
                    static_cast<long long>(++uids));
      object["metadata"]["uid"] = uid;
      object["metadata"]["creationTimestamp"] = Now();
      if (t.type->namespaced) object["metadata"]["namespace"] = t.ns;
    } else {
      object = it->second;
      json keep = object["metadata"];
      Merge(object, patch);
      for (const char* k : {"uid", "creationTimestamp", "namespace"}) {
        if (keep.contains(k)) object["metadata"][k] = keep[k];
      }
    }
    object["metadata"]["resourceVersion"] = std::to_string(revision);
    json managed = json::array();
    if (!created && it->second["metadata"].contains("managedFields")) {
      for (const auto& entry : it->second["metadata"]["managedFields"]) {
        if (entry.value("manager", "") != fm->second) managed.push_back(entry);
      }
    }
    managed.push_back({{"manager", fm->second},
                       {"operation", "Apply"},
                       {"apiVersion", t.GroupVersion()},
                       {"time", Now()},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", json::object()}});
    object["metadata"]["managedFields"] = std::move(managed);
    objects[t.Key()] = object;
    return {created ? 201 : 200, object.dump()};
  }
};

FakeKubeServer::FakeKubeServer(FakeKubeServerOptions options)
    : token_(std::move(options.token)), impl_(std::make_unique<Impl>()) {
  KeyPtr ca_key = NewKey();
  CertPtr ca = NewCert(ca_key.get(), "br2k fake kube CA", nullptr, ca_key.get());
  KeyPtr key = NewKey();
  CertPtr cert =
      NewCert(key.get(), "kube-apiserver", ca.get(), ca_key.get(), options.subject_alt_names);
  ca_pem_ = CertPem(ca.get());
  if (SSL_CTX_use_certificate(impl_->tls.native_handle(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(impl_->tls.native_handle(), key.get()) != 1) {
    Die("loading the server certificate");
  }
  impl_->token = token_;
  beast::error_code ec;
  tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(at.protocol(), ec);
  if (!ec) impl_->acceptor.bind(at, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) Die("cannot listen on 127.0.0.1");
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

FakeKubeServer::~FakeKubeServer() {
  impl_->ioc.stop();
  impl_->thread.join();
  impl_->held.clear();  // closes the connections held open
}

std::string FakeKubeServer::Url() const {
  return "https://127.0.0.1:" + std::to_string(port_);
}

void FakeKubeServer::Inject(std::string path, int count, Injected answer) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->injections.push_back({std::move(path), count, std::move(answer)});
}

std::vector<FakeKubeServer::Request> FakeKubeServer::Requests() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->requests;
}

void FakeKubeServer::ClearRequests() {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->requests.clear();
}

std::optional<nlohmann::json> FakeKubeServer::Object(const std::string& path) const {
  auto t = ParseTarget(path);
  if (!t) return std::nullopt;
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(t->Key());
  if (it == impl_->objects.end()) return std::nullopt;
  return it->second;
}

bool FakeKubeServer::SetStatus(const std::string& path, nlohmann::json status) {
  auto t = ParseTarget(path);
  if (!t) return false;
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(t->Key());
  if (it == impl_->objects.end()) return false;
  it->second["status"] = std::move(status);
  it->second["metadata"]["resourceVersion"] = std::to_string(++impl_->revision);
  return true;
}

bool FakeKubeServer::MarkDeleting(const std::string& path) {
  auto t = ParseTarget(path);
  if (!t) return false;
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->objects.find(t->Key());
  if (it == impl_->objects.end()) return false;
  it->second["metadata"]["deletionTimestamp"] = Now();
  it->second["metadata"]["resourceVersion"] = std::to_string(++impl_->revision);
  return true;
}

std::string FakeKubeServer::UnrelatedCaPem() {
  KeyPtr key = NewKey();
  CertPtr ca = NewCert(key.get(), "br2k unrelated CA", nullptr, key.get());
  return CertPem(ca.get());
}

}  // namespace br2k::testing
