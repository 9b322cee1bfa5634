#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "br2k/common/atomic_file.h"
#include "br2k/deploy/images.h"
#include "text.h"

namespace br2k::deploy {

namespace {

using nlohmann::json;

const std::regex& NameRe() {
  static const std::regex re("[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?");
  return re;
}
const std::regex& DigestRe() {
  static const std::regex re("sha256:[0-9a-f]{64}");
  return re;
}

Status Bad(const std::string& what) {
  return Status(StatusCode::kInvalidArgument, "images.json: " + what);
}

}  // namespace

bool IsImageName(std::string_view name) {
  return name.size() <= 128 && std::regex_match(name.begin(), name.end(), NameRe());
}

Result<ImagesFile> ImagesFile::Parse(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != kVersion)
    return Bad("version must be " + std::to_string(kVersion));
  if (!j.contains("images") || !j["images"].is_array()) return Bad("images must be an array");
  ImagesFile f;
  std::set<std::string> names;
  for (size_t i = 0; i < j["images"].size(); ++i) {
    const json& e = j["images"][i];
    std::string at = "images[" + std::to_string(i) + "]";
    if (!e.is_object()) return Bad(at + " is not an object");
    ImageRecord r;
    for (auto [key, field] : {std::pair{"name", &r.name},
                              {"tag", &r.tag},
                              {"local", &r.local},
                              {"id", &r.id},
                              {"inputs", &r.inputs},
                              {"source", &r.source}}) {
      if (!e.contains(key) || !e[key].is_string()) return Bad(at + "." + key + " must be a string");
      *field = e[key].get<std::string>();
    }
    if (!std::regex_match(r.name, NameRe())) return Bad(at + ".name is not a repository name");
    if (!names.insert(r.name).second) return Bad(at + ".name \"" + r.name + "\" is repeated");
    if (!std::regex_match(r.tag, std::regex("[0-9a-f]{1,64}"))) return Bad(at + ".tag is not hex");
    if (!std::regex_match(r.id, DigestRe())) return Bad(at + ".id is not sha256:<64 hex>");
    if (!std::regex_match(r.inputs, DigestRe())) return Bad(at + ".inputs is not sha256:<64 hex>");
    if (r.local != "localhost/" + r.name + ":" + r.tag)
      return Bad(at + ".local must be localhost/<name>:<tag>");
    if (!e.contains("size") || !e["size"].is_number_integer() || e["size"].get<int64_t>() < 0)
      return Bad(at + ".size must be a non-negative integer");
    r.size = e["size"].get<int64_t>();
    f.images.push_back(std::move(r));
  }
  return f;
}

std::string ImagesFile::Serialize() const {
  json arr = json::array();
  for (const auto& r : images)
    arr.push_back({{"name", r.name},
                   {"tag", r.tag},
                   {"local", r.local},
                   {"id", r.id},
                   {"size", r.size},
                   {"inputs", r.inputs},
                   {"source", r.source}});
  return json{{"version", kVersion}, {"images", arr}}.dump(2) + "\n";
}

Result<ImagesFile> ImagesFile::Load(const std::filesystem::path& file) {
  auto text = internal::ReadSmallFile(file);
  if (!text.ok()) return text.status();
  auto f = Parse(*text);
  if (!f.ok()) return f.status().WithContext(file.string());
  return f;
}

Status ImagesFile::Save(const std::filesystem::path& file) const {
  return WriteFileAtomically(file, Serialize());
}

const ImageRecord* ImagesFile::Find(std::string_view name) const {
  for (const auto& r : images)
    if (r.name == name) return &r;
  return nullptr;
}

void ImagesFile::Put(ImageRecord record) {
  for (auto& r : images)
    if (r.name == record.name) {
      r = std::move(record);
      return;
    }
  images.push_back(std::move(record));
}

Result<std::vector<std::string>> ParseLddOutput(std::string_view text) {
  std::vector<std::string> libs;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto arrow = line.find("=>");
    std::string path;
    if (arrow != std::string::npos) {
      std::string rest = line.substr(arrow + 2);
      if (rest.find("not found") != std::string::npos) {
        std::string lib = line.substr(0, arrow);
        lib.erase(0, lib.find_first_not_of(" \t"));
        lib.erase(lib.find_last_not_of(" \t") + 1);
        return Status(StatusCode::kInvalidArgument, "ldd: library " + lib + " not found");
      }
      rest.erase(0, rest.find_first_not_of(" \t"));
      path = rest.substr(0, rest.find_first_of(" \t("));
    } else {
      std::string t = line;
      t.erase(0, t.find_first_not_of(" \t"));
      path = t.substr(0, t.find_first_of(" \t("));
    }
    if (!path.empty() && path[0] == '/' && path.find("..") == std::string::npos &&
        std::find(libs.begin(), libs.end(), path) == libs.end())
      libs.push_back(path);
  }
  return libs;
}

}  // namespace br2k::deploy
