// Fuzz target: decoding a container deployment's on-chain recovery information (any manager of
// a service writes it, so it is external input). Input: fields separated by '\n' -- deploy
// context (JSON), replica count (decimal), container registry, then images. A decoded value must
// encode and decode to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/deploy/recovery.h"
#include "recovery_info_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  br2k::eth::RecoveryInfo info = RecoveryInfoFromFuzzInput(text);
  auto r = br2k::deploy::DecodeRecovery(info);
  if (r.ok()) {
    auto again = br2k::deploy::DecodeRecovery(br2k::deploy::EncodeRecovery(*r));
    if (!again.ok() || !(*again == *r)) std::abort();
  }
  return 0;
}
