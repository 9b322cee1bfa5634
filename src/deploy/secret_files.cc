#include "br2k/deploy/secret_files.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iterator>
#include <map>

namespace br2k::deploy {
namespace {

bool IsPlainName(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && s != "." && s != ".." &&
         s.find('\0') == std::string::npos;
}

Status WriteFile0600(const std::filesystem::path& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status(StatusCode::kInternal, "cannot write " + path.string());
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Status(StatusCode::kInternal, "cannot write " + path.string());
  return Status::Ok();
}

// Writes `files` as the directory `dir`: into a sibling, then renamed over it.
Status ReplaceDir(const std::filesystem::path& dir,
                  const std::map<std::string, std::string>& files) {
  std::error_code ec;
  const auto parent = dir.parent_path();
  std::filesystem::create_directories(parent, ec);
  if (ec) return Status(StatusCode::kInternal, "cannot create " + parent.string());
  const auto tmp = parent / ("." + dir.filename().string() + ".new");
  const auto old = parent / ("." + dir.filename().string() + ".old");
  std::filesystem::remove_all(tmp, ec);
  std::filesystem::remove_all(old, ec);
  std::filesystem::create_directories(tmp, ec);
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_all, ec);
  if (ec) return Status(StatusCode::kInternal, "cannot create " + tmp.string());
  for (const auto& [name, bytes] : files) {
    if (Status st = WriteFile0600(tmp / name, bytes); !st.ok()) return st;
  }
  // rename(2) cannot replace a non-empty directory: move the old one aside first.
  if (std::filesystem::exists(dir)) {
    std::filesystem::rename(dir, old, ec);
    if (ec) return Status(StatusCode::kInternal, "cannot replace " + dir.string());
  }
  std::filesystem::rename(tmp, dir, ec);
  if (ec) return Status(StatusCode::kInternal, "cannot create " + dir.string());
  std::filesystem::remove_all(old, ec);
  return Status::Ok();
}

}  // namespace

Status WriteSecretFiles(const nlohmann::json& secret, const std::filesystem::path& dir) {
  const std::string name = secret.contains("metadata") && secret["metadata"].is_object()
                               ? secret["metadata"].value("name", "")
                               : "";
  std::map<std::string, std::string> files;
  if (secret.contains("data") && secret["data"].is_object()) {
    for (const auto& [file, value] : secret["data"].items()) {
      if (!IsPlainName(file))
        return InvalidArgumentError("secret " + name + " has a file name that is not a plain name");
      if (!value.is_string())
        return InvalidArgumentError("secret " + name + "/" + file + " is not a string");
      const std::string text = value.get<std::string>();
      auto bytes = YAML::DecodeBase64(text);
      if (bytes.empty() && !text.empty())
        return InvalidArgumentError("secret " + name + "/" + file + " is not base64");
      files[file] = std::string(bytes.begin(), bytes.end());
    }
  }
  return ReplaceDir(dir, files);
}

Status WriteSecretItems(const std::filesystem::path& from, const nlohmann::json& items,
                        const std::filesystem::path& to) {
  if (!std::filesystem::is_directory(from))
    return FailedPreconditionError("Secret " + from.filename().string() + " does not exist");
  std::map<std::string, std::string> selected;  // path in `to` -> key in `from`
  if (items.is_array() && !items.empty()) {
    for (const auto& it : items) {
      const std::string key = it.is_object() ? it.value("key", "") : "";
      const std::string path = it.is_object() ? it.value("path", key) : "";
      if (!IsPlainName(key) || !IsPlainName(path))
        return InvalidArgumentError("a secret item's key or path is not a plain name");
      selected[path] = key;
    }
  } else {
    for (const auto& e : std::filesystem::directory_iterator(from))
      selected[e.path().filename().string()] = e.path().filename().string();
  }
  std::map<std::string, std::string> files;
  for (const auto& [path, key] : selected) {
    std::ifstream in(from / key, std::ios::binary);
    if (!in)
      return FailedPreconditionError("Secret " + from.filename().string() + " has no key " + key);
    files[path] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return ReplaceDir(to, files);
}

}  // namespace br2k::deploy
