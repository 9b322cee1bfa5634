// Fuzz target: the client history's JSON-lines parser (the input of the history checker).
// Anything it accepts must serialize and parse back to the same records.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/client/history.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace br2k::client;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto records = ParseJsonLines(text);
  if (!records.ok()) return 0;
  for (const auto& r : *records) {
    auto back = ParseRecord(RecordToJson(r));
    if (!back.ok() || !(*back == r)) __builtin_trap();
  }
  return 0;
}
