// Fuzz target: the local backend's check of on-chain recovery information (written by any
// manager of a service, so external input). Input: fields separated by '\n' -- deploy context,
// replica count (decimal), container registry, then images.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/manager/local_recovery.h"
#include "recovery_info_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  br2k::eth::RecoveryInfo info = RecoveryInfoFromFuzzInput(text);

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
