// Fuzz target: the run-state document parser (state.json is read back by other processes).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/common/run_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = br2k::RunState::Parse(text);
  if (parsed.ok()) {
    // A document that parses must round-trip to an equal document.
    auto again = br2k::RunState::Parse(parsed->Serialize());
    if (!again.ok() || again->Serialize() != parsed->Serialize()) __builtin_trap();
  }
  return 0;
}
