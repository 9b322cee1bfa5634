// The fuzz input format of the recovery-information targets: fields separated by '\n' -- deploy
// context, replica count (decimal, first 9 characters), container registry, then images.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/eth/service_registry.h"

inline br2k::eth::RecoveryInfo RecoveryInfoFromFuzzInput(std::string_view text) {
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
  return info;
}
