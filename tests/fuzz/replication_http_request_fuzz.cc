// Fuzz target: HTTP request parsing as the replica front end does it (parser, limits, target
// split, exactly-once session headers).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/http/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  br2k::http::Limits limits{.max_header_bytes = 4096, .max_body_bytes = 4096};
  auto req = br2k::http::ParseRequest(text, limits);
  if (req.ok()) {
    if (req->body.size() > limits.max_body_bytes) __builtin_trap();
    if (req->path.empty() || req->path[0] != '/') __builtin_trap();
    auto session = br2k::http::ParseSession(*req);
    if (session.ok() && !session->first.empty() && session->second == 0) __builtin_trap();
  }
  return 0;
}
