// Fuzz target: the chaos checker's parsers of what replicas and etcd hold at the end of a run
// (GET /replica?state=1 answers, RLE/RS values). Anything accepted must check without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/chaos/checker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace br2k::chaos;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cut = text.find('\n');
  std::string_view rle = text.substr(0, cut);
  std::string_view rs = cut == std::string_view::npos ? std::string_view() : text.substr(cut + 1);
  CheckInput in;
  if (auto r = ParseReplicaState(text); r.ok()) in.replicas.push_back(*r);
  if (auto e = DecodeEtcdEntry(1, rle, rs); e.ok()) {
    in.etcd.read = true;
    in.etcd.log_size = 1;
    in.etcd.entries.push_back(*e);
  }
  (void)LogServerValue(text);
  auto result = Check(in);
  (void)result.ToJson();
  (void)result.ToText();
  return 0;
}
