// Fuzz target: ParseDecimalU64 (br2k/common/numbers.h): accepted text is digits whose value prints
// back as the same number; nothing is saturated.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "br2k/common/numbers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  auto r = br2k::ParseDecimalU64(s, "--epoch");
  if (r.ok()) {
    std::string_view digits = s;
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    if (std::to_string(*r) != digits) __builtin_trap();
  }
  return 0;
}
