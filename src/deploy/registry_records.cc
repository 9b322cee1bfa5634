#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "br2k/common/atomic_file.h"
#include "br2k/deploy/container_registry.h"
#include "br2k/http/client.h"

namespace br2k::deploy {

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

Status Bad(const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "registry.json: " + what);
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string RepositoryOf(const std::string& registry, const std::string& repository,
                         const std::string& name) {
  std::string r = registry;
  if (!repository.empty()) r += "/" + repository;
  return r + "/" + name;
}

Result<DigestReference> ParseDigestReference(std::string_view reference) {
  static const std::regex re(
      "((?:[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\\[[0-9a-fA-F:]+\\](?::[0-9]{1,5})?)(?:/[a-z0-9._-]+)+)"
      "@(sha256:[0-9a-f]{64})");
  std::cmatch m;
  std::string s(reference.substr(0, 1024));
  if (reference.size() > 1024 || !std::regex_match(s.c_str(), m, re))
    return Status(StatusCode::kInvalidArgument,
                  "image reference is not <registry>/<repository>@sha256:<64 hex>");
  return DigestReference{m[1].str(), m[2].str()};
}

Result<RegistryFile> RegistryFile::Parse(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != kVersion)
    return Bad("version must be " + std::to_string(kVersion));
  RegistryFile f;
  if (!j.contains("registry") || !j["registry"].is_string() ||
      j["registry"].get<std::string>().empty())
    return Bad("registry must be a non-empty string");
  f.registry = j["registry"];
  if (j.contains("repository")) {
    if (!j["repository"].is_string()) return Bad("repository must be a string");
    f.repository = j["repository"];
    if (!f.repository.empty() &&
        !std::regex_match(f.repository, std::regex("[a-z0-9._-]+(/[a-z0-9._-]+)*")))
      return Bad("repository \"" + f.repository + "\" is not a repository path");
  }
  if (j.contains("embedded")) {
    const json& e = j["embedded"];
    if (!e.is_object()) return Bad("embedded must be an object");
    EmbeddedRegistry er;
    if (!e.contains("pid") || !e["pid"].is_number_integer() || e["pid"].get<int64_t>() < 0 ||
        e["pid"].get<int64_t>() > (1 << 22))
      return Bad("embedded.pid must be a pid");
    if (!e.contains("port") || !e["port"].is_number_integer() || e["port"].get<int64_t>() < 1 ||
        e["port"].get<int64_t>() > 65535)
      return Bad("embedded.port must be 1..65535");
    if (!e.contains("root") || !e["root"].is_string()) return Bad("embedded.root must be a string");
    er.pid = e["pid"].get<int>();
    er.port = e["port"].get<int>();
    er.root = e["root"];
    f.embedded = er;
  }
  if (j.contains("images")) {
    if (!j["images"].is_array()) return Bad("images must be an array");
    std::set<std::string> names;
    for (size_t i = 0; i < j["images"].size(); ++i) {
      const json& e = j["images"][i];
      std::string at = "images[" + std::to_string(i) + "]";
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
          !e.contains("reference") || !e["reference"].is_string())
        return Bad(at + " must have string name and reference");
      PushedImage p{e["name"], e["reference"]};
      auto ref = ParseDigestReference(p.reference);
      if (!ref.ok()) return Bad(at + ".reference: " + ref.status().message());
      if (ref->repository != RepositoryOf(f.registry, f.repository, p.name))
        return Bad(at + ".reference is not in " + RepositoryOf(f.registry, f.repository, p.name));
      if (!names.insert(p.name).second) return Bad(at + ".name \"" + p.name + "\" is repeated");
      f.images.push_back(std::move(p));
    }
  }
  return f;
}

std::string RegistryFile::Serialize() const {
  json j{{"version", kVersion}, {"registry", registry}, {"repository", repository}};
  if (embedded)
    j["embedded"] = {{"pid", embedded->pid}, {"port", embedded->port}, {"root", embedded->root}};
  json arr = json::array();
  for (const auto& i : images) arr.push_back({{"name", i.name}, {"reference", i.reference}});
  j["images"] = arr;
  return j.dump(2) + "\n";
}

Result<RegistryFile> RegistryFile::Load(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file))
    return Status(StatusCode::kNotFound, file.string() + " does not exist");
  auto f = Parse(ReadAll(file));
  if (!f.ok()) return f.status().WithContext(file.string());
  return f;
}

Status RegistryFile::Save(const std::filesystem::path& file) const {
  return WriteFileAtomically(file, Serialize());
}

const PushedImage* RegistryFile::Find(std::string_view name) const {
  for (const auto& i : images)
    if (i.name == name) return &i;
  return nullptr;
}

void RegistryFile::Put(PushedImage image) {
  for (auto& i : images)
    if (i.name == image.name) {
      i = std::move(image);
      return;
    }
  images.push_back(std::move(image));
}

}  // namespace br2k::deploy
