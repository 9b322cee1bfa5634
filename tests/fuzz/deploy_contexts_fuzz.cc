// Fuzz target: contexts.json parsing (br2k's own file, but users edit it by hand). What parses
// must validate and survive a write/read round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/deploy/contexts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = br2k::deploy::ParseContextsJson(text);
  if (!file.ok()) {
    if (file.status().code() != br2k::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  for (const auto& c : file->contexts) {
    if (!c.Validate().ok() || !c.token.empty()) __builtin_trap();
  }
  auto again = br2k::deploy::ParseContextsJson(br2k::deploy::ContextsJsonText(*file));
  if (!again.ok() || again->active != file->active || again->contexts != file->contexts) {
    __builtin_trap();
  }
  return 0;
}
