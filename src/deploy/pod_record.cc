#include "br2k/deploy/pod_record.h"

#include <nlohmann/json.hpp>

namespace br2k::deploy {

namespace {

using nlohmann::json;

Status Corrupt(const std::string& what) {
  return Status(StatusCode::kDataLoss, "pod record: " + what);
}

}  // namespace

std::string EncodePodRecord(const std::vector<ContainerProcess>& processes) {
  json containers = json::array();
  for (const auto& p : processes)
    containers.push_back({{"name", p.container},
                          {"pid", p.identity.pid},
                          {"exe", p.identity.exe},
                          {"argv", p.identity.argv},
                          {"start_time", p.identity.start_time},
                          {"log", p.log_file}});
  return json{{"containers", std::move(containers)}}.dump(2) + "\n";
}

Result<std::vector<ContainerProcess>> DecodePodRecord(std::string_view text) {
  if (text.size() > 64 * 1024) return Corrupt("over 64 KiB");
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Corrupt("not a JSON object");
  if (!j.contains("containers") || !j["containers"].is_array())
    return Corrupt("no containers list");
  if (j["containers"].size() > 16) return Corrupt("over 16 containers");
  std::vector<ContainerProcess> out;
  for (const auto& c : j["containers"]) {
    if (!c.is_object()) return Corrupt("a container entry is not an object");
    ContainerProcess p;
    if (!c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
      return Corrupt("a container entry has no name");
    p.container = c["name"].get<std::string>();
    if (!c.contains("pid") || !c["pid"].is_number_integer() || c["pid"].get<int64_t>() <= 0 ||
        c["pid"].get<int64_t>() > (int64_t{1} << 30))
      return Corrupt("container " + p.container.substr(0, 64) + " has no valid pid");
    p.identity.pid = static_cast<pid_t>(c["pid"].get<int64_t>());
    if (c.contains("exe")) {
      if (!c["exe"].is_string()) return Corrupt("exe is not a string");
      p.identity.exe = c["exe"].get<std::string>();
    }
    if (!c.contains("argv") || !c["argv"].is_array())
      return Corrupt("container " + p.container.substr(0, 64) + " has no argv");
    for (const auto& a : c["argv"]) {
      if (!a.is_string()) return Corrupt("argv holds a non-string");
      p.identity.argv.push_back(a.get<std::string>());
    }
    if (c.contains("start_time")) {
      if (!c["start_time"].is_number_unsigned() && !c["start_time"].is_number_integer())
        return Corrupt("start_time is not a number");
      p.identity.start_time =
          c["start_time"].is_number_unsigned()
              ? c["start_time"].get<uint64_t>()
              : static_cast<uint64_t>(std::max<int64_t>(0, c["start_time"].get<int64_t>()));
    }
    if (c.contains("log")) {
      if (!c["log"].is_string()) return Corrupt("log is not a string");
      p.log_file = c["log"].get<std::string>();
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace br2k::deploy
