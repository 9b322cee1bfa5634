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
    for (char c : fields[1].substr(0, 9))
      if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint32_t>(c - '0');
    info.replicas = n;
  }
  if (fields.size() > 2) info.container_registry = fields[2];
  for (size_t i = 3; i < fields.size(); ++i) info.images.push_back(fields[i]);
  auto r = br2k::deploy::DecodeRecovery(info);
  if (r.ok()) {
    auto again = br2k::deploy::DecodeRecovery(br2k::deploy::EncodeRecovery(*r));
    if (!again.ok() || !(*again == *r)) std::abort();
  }
  return 0;
}
