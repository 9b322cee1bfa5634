// The dashboard's pages, scripts and styles, embedded at build time from src/apps/dashboard/web/
// (embed_web.cmake): served by every replica, nothing fetched from the network at run time.
#pragma once

#include <cstddef>
#include <string_view>

namespace br2k::apps::dashboard {

struct WebAsset {
  const char* path;          // "/index.html"
  const char* content_type;  // "text/html; charset=utf-8"
  const char* data;
  size_t size;
};

extern const WebAsset kWebAssets[];
extern const size_t kWebAssetCount;

// The asset served at `path` ("/" is "/index.html"); null when there is none. Thread-safe.
inline const WebAsset* FindWebAsset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (size_t i = 0; i < kWebAssetCount; ++i) {
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  }
  return nullptr;
}

}  // namespace br2k::apps::dashboard
