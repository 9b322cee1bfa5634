#include "br2k/deploy/contexts.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

#include "br2k/common/atomic_file.h"
#include "br2k/common/deadline.h"
#include "br2k/deploy/kubeconfig.h"
#include "text.h"

namespace br2k::deploy {
namespace {

using internal::Quote;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr int kVersion = 1;

bool IsContextName(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.') return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
    if (!ok) return false;
  }
  return true;
}

bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool IsUrl(std::string_view s) {
  const size_t colon = s.find("://");
  if (colon == 0 || colon == std::string_view::npos || colon + 3 == s.size()) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

Status Bad(const std::string& context, const std::string& field, const std::string& why) {
  return InvalidArgumentError("context " + Quote(context) + ": " + field + ": " + why);
}

// --- contexts.json ---

json ToJson(const Context& c) {
  json workers = json::array();
  for (const auto& w : c.workers) workers.push_back({{"name", w.name}, {"labels", w.labels}});
  return {{"name", c.name},
          {"kind", ContextKindName(c.kind)},
          {"server", c.server},
          {"ca_pem", c.ca_pem},
          {"ca_file", c.ca_file},
          {"insecure_skip_tls_verify", c.insecure_skip_tls_verify},
          {"namespace", c.namespace_name},
          {"workers", std::move(workers)},
          {"external_endpoints", c.external_endpoints},
          {"storage_class", c.storage_class}};
}

Status WrongType(const std::string& path, const char* want) {
  return InvalidArgumentError("contexts.json: " + path + ": expected " + want);
}

Status GetString(const json& obj, const char* key, const std::string& path, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_string()) return WrongType(path + "." + key, "a string");
  out = it->get<std::string>();
  return Status::Ok();
}

Status GetStringMap(const json& obj, const char* key, const std::string& path,
                    std::map<std::string, std::string>& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_object()) return WrongType(path + "." + key, "an object");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return WrongType(path + "." + key + "." + k, "a string");
    out[k] = v.get<std::string>();
  }
  return Status::Ok();
}

Result<Context> ContextFromJson(const json& j, const std::string& path) {
  if (!j.is_object()) return WrongType(path, "an object");
  static const std::set<std::string> kKnown = {
      "name",         "kind",    "server",
      "ca_pem",       "ca_file", "insecure_skip_tls_verify",
      "namespace",    "workers", "external_endpoints",
      "storage_class"};
  for (const auto& [k, v] : j.items()) {
    if (k == "token") {
      // Never quote the value: it is a secret that does not belong here.
      return InvalidArgumentError("contexts.json: " + path +
                                  ".token: tokens are kept in tokens/<name>.token, not here");
    }
    if (kKnown.count(k) == 0) {
      return InvalidArgumentError("contexts.json: " + path + ": unknown member " + Quote(k));
    }
  }
  Context c;
  BR2K_RETURN_IF_ERROR(GetString(j, "name", path, c.name));
  std::string kind;
  BR2K_RETURN_IF_ERROR(GetString(j, "kind", path, kind));
  auto parsed_kind = ParseContextKind(kind);
  if (!parsed_kind.ok()) {
    return InvalidArgumentError("contexts.json: " + path +
                                ".kind: " + parsed_kind.status().message());
  }
  c.kind = *parsed_kind;
  BR2K_RETURN_IF_ERROR(GetString(j, "server", path, c.server));
  BR2K_RETURN_IF_ERROR(GetString(j, "ca_pem", path, c.ca_pem));
  BR2K_RETURN_IF_ERROR(GetString(j, "ca_file", path, c.ca_file));
  BR2K_RETURN_IF_ERROR(GetString(j, "namespace", path, c.namespace_name));
  BR2K_RETURN_IF_ERROR(GetString(j, "storage_class", path, c.storage_class));
  if (auto it = j.find("insecure_skip_tls_verify"); it != j.end()) {
    if (!it->is_boolean()) return WrongType(path + ".insecure_skip_tls_verify", "true or false");
    c.insecure_skip_tls_verify = it->get<bool>();
  }
  if (auto it = j.find("workers"); it != j.end()) {
    if (!it->is_array()) return WrongType(path + ".workers", "an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const std::string wpath = path + ".workers[" + std::to_string(i) + "]";
      const json& wj = (*it)[i];
      if (!wj.is_object()) return WrongType(wpath, "an object");
      Worker w;
      BR2K_RETURN_IF_ERROR(GetString(wj, "name", wpath, w.name));
      BR2K_RETURN_IF_ERROR(GetStringMap(wj, "labels", wpath, w.labels));
      c.workers.push_back(std::move(w));
    }
  }
  BR2K_RETURN_IF_ERROR(GetStringMap(j, "external_endpoints", path, c.external_endpoints));
  if (Status st = c.Validate(); !st.ok()) {
    return InvalidArgumentError("contexts.json: " + path + ": " + st.message());
  }
  return c;
}

Result<ContextsFile> ParseJson(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("contexts.json: not JSON");
  if (!j.is_object()) return WrongType("$", "an object");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer() || version->get<int64_t>() != kVersion) {
    return InvalidArgumentError("contexts.json: version: expected 1");
  }
  ContextsFile file;
  if (auto it = j.find("active"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return WrongType("active", "a string");
    file.active = it->get<std::string>();
  }
  auto contexts = j.find("contexts");
  if (contexts != j.end()) {
    if (!contexts->is_array()) return WrongType("contexts", "an array");
    std::set<std::string> names;
    for (size_t i = 0; i < contexts->size(); ++i) {
      const std::string path = "contexts[" + std::to_string(i) + "]";
      BR2K_ASSIGN_OR_RETURN(Context c, ContextFromJson((*contexts)[i], path));
      if (!names.insert(c.name).second) {
        return InvalidArgumentError("contexts.json: " + path + ".name: " + Quote(c.name) +
                                    " appears twice");
      }
      file.contexts.push_back(std::move(c));
    }
  }
  std::sort(file.contexts.begin(), file.contexts.end(),
            [](const Context& a, const Context& b) { return a.name < b.name; });
  if (file.active && std::none_of(file.contexts.begin(), file.contexts.end(),
                                  [&](const Context& c) { return c.name == *file.active; })) {
    return InvalidArgumentError("contexts.json: active: " + Quote(*file.active) +
                                " is not defined");
  }
  return file;
}

// --- the directory ---

Status Errno(const std::string& what) {
  return InternalError(what + ": " + std::strerror(errno));
}

fs::path ContextsPath(const fs::path& dir) {
  return dir / "contexts.json";
}
fs::path TokenDir(const fs::path& dir) {
  return dir / "tokens";
}
fs::path TokenPath(const fs::path& dir, const std::string& name) {
  return TokenDir(dir) / (name + ".token");
}

Status MakePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return InternalError("create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return InternalError("chmod " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

// flock(2) on <dir>/contexts.lock: exclusive for changes, shared for reads.
class DirLock {
 public:
  static Result<DirLock> Take(const fs::path& dir, bool exclusive) {
    const fs::path path = dir / "contexts.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("open " + path.string());
    const Deadline deadline = Deadline::After(std::chrono::seconds(10));
    while (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        Status st = Errno("flock " + path.string());
        ::close(fd);
        return st;
      }
      if (deadline.expired()) {
        ::close(fd);
        return DeadlineExceededError(path.string() + ": held by another process for 10 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return DirLock(fd);
  }
  DirLock(DirLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  DirLock& operator=(DirLock&&) = delete;
  DirLock(const DirLock&) = delete;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

// A read lock, or none when the directory does not exist yet (then there is nothing to read).
Result<std::optional<DirLock>> ReadLock(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return std::optional<DirLock>();
  BR2K_ASSIGN_OR_RETURN(DirLock lock, DirLock::Take(dir, /*exclusive=*/false));
  return std::optional<DirLock>(std::move(lock));
}

Result<DirLock> WriteLock(const fs::path& dir) {
  BR2K_RETURN_IF_ERROR(MakePrivateDir(dir));
  return DirLock::Take(dir, /*exclusive=*/true);
}

Result<ContextsFile> Load(const fs::path& dir) {
  auto text = internal::ReadSmallFile(ContextsPath(dir), 16 << 20);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return ContextsFile{};
    return text.status();
  }
  auto file = ParseContextsJson(*text);
  if (!file.ok()) return file.status().WithContext(ContextsPath(dir).string());
  return file;
}

Status Save(const fs::path& dir, const ContextsFile& file) {
  return WriteFileAtomically(ContextsPath(dir), ContextsJsonText(file));
}

// The token file's contents; "" when there is none.
Result<std::string> ReadToken(const fs::path& dir, const std::string& name) {
  auto text = internal::ReadSmallFile(TokenPath(dir, name), 64 * 1024);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::string();
    return text.status();
  }
  return std::string(internal::Trim(*text));
}

Status WriteToken(const fs::path& dir, const std::string& name, const std::string& token) {
  BR2K_RETURN_IF_ERROR(MakePrivateDir(TokenDir(dir)));
  const fs::path path = TokenPath(dir, name);
  // WriteFileAtomically creates the file 0644 (less the umask): inside the 0700 tokens/ directory
  // nobody else can reach it before the chmod below.
  BR2K_RETURN_IF_ERROR(WriteFileAtomically(path, token + "\n"));
  if (::chmod(path.c_str(), 0600) != 0) return Errno("chmod " + path.string());
  return Status::Ok();
}

Status RemoveToken(const fs::path& dir, const std::string& name) {
  const fs::path path = TokenPath(dir, name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove " + path.string());
  return Status::Ok();
}

std::vector<Context>::iterator Find(ContextsFile& file, const std::string& name) {
  return std::find_if(file.contexts.begin(), file.contexts.end(),
                      [&](const Context& c) { return c.name == name; });
}

}  // namespace

const char* ContextKindName(ContextKind kind) {
  return kind == ContextKind::kKubernetes ? "kubernetes" : "podman";
}

Result<ContextKind> ParseContextKind(std::string_view text) {
  if (text == "kubernetes") return ContextKind::kKubernetes;
  if (text == "podman") return ContextKind::kPodman;
  return InvalidArgumentError("kind: " + Quote(text) + " is neither kubernetes nor podman");
}

Status Context::Validate() const {
  if (!IsContextName(name)) {
    return InvalidArgumentError("context name " + Quote(name) +
                                ": expected 1..253 of [A-Za-z0-9._:@-], not starting with '.'");
  }
  if (kind == ContextKind::kKubernetes) {
    if (server.rfind("https://", 0) != 0 || !IsUrl(server)) {
      return Bad(name, "server", "expected the API server's https:// URL, got " + Quote(server));
    }
  } else {
    if (!server.empty()) return Bad(name, "server", "a podman context has no API server");
    if (!token.empty()) return Bad(name, "token", "a podman context has no token");
    if (!ca_pem.empty() || !ca_file.empty()) return Bad(name, "ca", "a podman context has no CA");
  }
  if (!ca_pem.empty() && ca_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return Bad(name, "ca_pem", "not a PEM certificate");
  }
  if (!ca_pem.empty() && !ca_file.empty()) {
    return Bad(name, "ca_file", "give either ca_pem or ca_file, not both");
  }
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return Bad(name, "token", "contains whitespace or control characters");  // never quoted
    }
  }
  if (!IsDns1123Label(namespace_name)) {
    return Bad(name, "namespace", Quote(namespace_name) + " is not a DNS-1123 label");
  }
  std::set<std::string> workers_seen;
  for (size_t i = 0; i < workers.size(); ++i) {
    const std::string field = "workers[" + std::to_string(i) + "]";
    if (workers[i].name.empty()) return Bad(name, field + ".name", "missing");
    if (!workers_seen.insert(workers[i].name).second) {
      return Bad(name, field + ".name", Quote(workers[i].name) + " appears twice");
    }
    for (const auto& [key, value] : workers[i].labels) {
      if (key.empty()) return Bad(name, field + ".labels", "empty key");
    }
  }
  for (const auto& [endpoint, url] : external_endpoints) {
    if (endpoint.empty()) return Bad(name, "external_endpoints", "empty name");
    if (!IsUrl(url)) {
      return Bad(name, "external_endpoints." + endpoint, Quote(url) + " is not a URL");
    }
  }
  return Status::Ok();
}

nlohmann::json Context::Redacted() const {
  json j = ToJson(*this);
  j["token"] = token.empty() ? "<none>" : "<set>";
  if (!ca_pem.empty()) j["ca_pem"] = "<" + std::to_string(ca_pem.size()) + " bytes>";
  return j;
}

Context BuiltinPodmanContext() {
  Context c;
  c.name = "podman";
  c.kind = ContextKind::kPodman;
  c.namespace_name = "default";
  return c;
}

Result<ContextsFile> ParseContextsJson(std::string_view text) {
  try {
    return ParseJson(text);
  } catch (const std::exception& e) {  // nlohmann's accessors; not expected after the checks
    return InvalidArgumentError(std::string("contexts.json: ") + e.what());
  }
}

std::string ContextsJsonText(const ContextsFile& file) {
  json contexts = json::array();
  for (const auto& c : file.contexts) contexts.push_back(ToJson(c));
  json j = {{"version", kVersion},
            {"active", file.active ? json(*file.active) : json(nullptr)},
            {"contexts", std::move(contexts)}};
  return j.dump(2) + "\n";
}

Result<fs::path> ContextStore::DefaultDir() {
  if (const char* home = std::getenv("BR2K_HOME"); home != nullptr && *home != '\0') {
    return fs::path(home) / "contexts";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return fs::path(home) / ".br2k" / "contexts";
  }
  return FailedPreconditionError("contexts: neither BR2K_HOME nor HOME is set");
}

Status ContextStore::Add(const Context& context, bool replace) {
  BR2K_RETURN_IF_ERROR(context.Validate());
  BR2K_ASSIGN_OR_RETURN(DirLock lock, WriteLock(dir_));
  BR2K_ASSIGN_OR_RETURN(ContextsFile file, Load(dir_));
  auto it = Find(file, context.name);
  if (it != file.contexts.end() && !replace) {
    return AlreadyExistsError("context " + Quote(context.name) + " exists (replace it explicitly)");
  }
  // The token first: a context listed in contexts.json always has its token on disk. A crash in
  // between leaves at worst an unreferenced token file, which the next Add overwrites.
  if (!context.token.empty()) {
    BR2K_RETURN_IF_ERROR(WriteToken(dir_, context.name, context.token));
  } else {
    BR2K_RETURN_IF_ERROR(RemoveToken(dir_, context.name));
  }
  Context stored = context;
  stored.token.clear();
  if (it != file.contexts.end()) {
    *it = std::move(stored);
  } else {
    file.contexts.push_back(std::move(stored));
    std::sort(file.contexts.begin(), file.contexts.end(),
              [](const Context& a, const Context& b) { return a.name < b.name; });
  }
  if (!file.active && file.contexts.size() == 1) file.active = context.name;
  return Save(dir_, file);
}

Result<Context> ContextStore::ImportKubeconfig(const fs::path& kubeconfig,
                                               const std::string& kube_context,
                                               const std::string& as, bool replace) {
  BR2K_ASSIGN_OR_RETURN(Context context, LoadKubeconfigContext(kubeconfig, kube_context));
  if (!as.empty()) context.name = as;
  BR2K_RETURN_IF_ERROR(Add(context, replace));
  return context;
}

Status ContextStore::Use(const std::string& name) {
  BR2K_ASSIGN_OR_RETURN(DirLock lock, WriteLock(dir_));
  BR2K_ASSIGN_OR_RETURN(ContextsFile file, Load(dir_));
  if (Find(file, name) == file.contexts.end()) {
    if (!(file.contexts.empty() && name == BuiltinPodmanContext().name)) {
      return NotFoundError("context " + Quote(name) + " is not defined");
    }
    file.contexts.push_back(BuiltinPodmanContext());
  }
  file.active = name;
  return Save(dir_, file);
}

Result<std::vector<Context>> ContextStore::List() const {
  BR2K_ASSIGN_OR_RETURN(auto lock, ReadLock(dir_));
  BR2K_ASSIGN_OR_RETURN(ContextsFile file, Load(dir_));
  if (file.contexts.empty()) return std::vector<Context>{BuiltinPodmanContext()};
  return file.contexts;
}

Result<std::string> ContextStore::ActiveName() const {
  BR2K_ASSIGN_OR_RETURN(auto lock, ReadLock(dir_));
  BR2K_ASSIGN_OR_RETURN(ContextsFile file, Load(dir_));
  if (file.contexts.empty()) return BuiltinPodmanContext().name;
  if (!file.active) {
    return FailedPreconditionError("no active context: choose one (br2k context use <name>)");
  }
  return *file.active;
}

Result<Context> ContextStore::Get(const std::string& name) const {
  BR2K_ASSIGN_OR_RETURN(auto lock, ReadLock(dir_));
  BR2K_ASSIGN_OR_RETURN(ContextsFile file, Load(dir_));
  auto it = Find(file, name);
  if (it == file.contexts.end()) {
    if (file.contexts.empty() && name == BuiltinPodmanContext().name) {
      return BuiltinPodmanContext();
    }
    return NotFoundError("context " + Quote(name) + " is not defined");
  }
  Context c = *it;
  BR2K_ASSIGN_OR_RETURN(c.token, ReadToken(dir_, name));
  return c;
}

Result<Context> ContextStore::Active() const {
  BR2K_ASSIGN_OR_RETURN(std::string name, ActiveName());
  return Get(name);
}

Result<nlohmann::json> ContextStore::Show(const std::string& name) const {
  BR2K_ASSIGN_OR_RETURN(Context c, Get(name));
  json j = c.Redacted();
  auto active = ActiveName();
  j["active"] = active.ok() && *active == name;
  return j;
}

Status ContextStore::Remove(const std::string& name) {
  BR2K_ASSIGN_OR_RETURN(DirLock lock, WriteLock(dir_));
  BR2K_ASSIGN_OR_RETURN(ContextsFile file, Load(dir_));
  auto it = Find(file, name);
  if (it == file.contexts.end()) return NotFoundError("context " + Quote(name) + " is not defined");
  file.contexts.erase(it);
  if (file.active == name) file.active.reset();
  // contexts.json first: a crash in between leaves an unreferenced token file, never a listed
  // context without its token.
  BR2K_RETURN_IF_ERROR(Save(dir_, file));
  return RemoveToken(dir_, name);
}

}  // namespace br2k::deploy
