// Fuzz target: the local backend's check of on-chain recovery information (written by any
// manager of a service, so external input). Input: fields separated by '\n' -- deploy context,
// replica count (decimal), container registry, then images.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/manager/local_recovery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> fields;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    fields.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  br2k::eth::RecoveryInfo info;
  if (fields.size() > 0) info.deploy_context = fields[0];
  if (fields.size() > 1) {
    uint32_t n = 0;
    for (char c : fields[1].substr(0, 9)) {
      if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint32_t>(c - '0');
    }
    info.replicas = n;
  }
  if (fields.size() > 2) info.container_registry = fields[2];
  for (size_t i = 3; i < fields.size(); ++i) info.images.push_back(fields[i]);

  const br2k::manager::LocalDeployment have{
      .run_dir = "/srv/br2k/run", .replicas = 3, .binary_name = "br2k-logserver"};
  br2k::Status st = br2k::manager::CheckLocalRecoveryInfo(info, have);
  if (st.ok()) {
    // Accepted info really asks for this deployment.
    if (info.deploy_context != "local" && info.deploy_context.rfind("local:/", 0) != 0) {
      __builtin_trap();
    }
    if (info.replicas != 3 || info.images.empty()) __builtin_trap();
    for (const auto& image : info.images) {
      if (br2k::manager::ImageName(image) != "br2k-logserver") __builtin_trap();
    }
  } else {
    // Refusals quote chain text safely: bounded, no control characters.
    if (st.message().size() > 1024) __builtin_trap();
    for (char c : st.message()) {
      if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
    }
  }
  for (const auto& image : info.images) {
    if (br2k::manager::ImageName(image).size() > image.size()) __builtin_trap();
  }
  return 0;
}
