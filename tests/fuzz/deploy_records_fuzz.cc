// Fuzz target: images.json and registry.json (files a user may edit or corrupt) and ldd output.
// The first byte picks the parser. What parses must serialize and parse to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "br2k/deploy/container_registry.h"
#include "br2k/deploy/images.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto f = br2k::deploy::ImagesFile::Parse(text);
      if (f.ok()) {
        auto again = br2k::deploy::ImagesFile::Parse(f->Serialize());
        if (!again.ok() || again->images != f->images) std::abort();
      }
      break;
    }
    case 1: {
      auto f = br2k::deploy::RegistryFile::Parse(text);
      if (f.ok()) {
        auto again = br2k::deploy::RegistryFile::Parse(f->Serialize());
        if (!again.ok() || again->images != f->images || again->embedded != f->embedded)
          std::abort();
      }
      break;
    }
    case 2:
      (void)br2k::deploy::ParseLddOutput(text);
      break;
    default:
      (void)br2k::deploy::ParseDigestReference(text);
  }
  return 0;
}
