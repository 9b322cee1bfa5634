// Fuzz target: the process runtime's pod records (<root>/pods/<pod>.json, files on disk that a
// crash or a user may corrupt). What decodes must encode and decode to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "br2k/deploy/pod_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = br2k::deploy::DecodePodRecord(text);
  if (!decoded.ok()) return 0;
  auto again = br2k::deploy::DecodePodRecord(br2k::deploy::EncodePodRecord(*decoded));
  if (!again.ok() || again->size() != decoded->size()) std::abort();
  for (size_t i = 0; i < decoded->size(); ++i) {
    const auto& a = (*decoded)[i];
    const auto& b = (*again)[i];
    if (a.container != b.container || !(a.identity == b.identity) || a.log_file != b.log_file)
      std::abort();
  }
  return 0;
}
