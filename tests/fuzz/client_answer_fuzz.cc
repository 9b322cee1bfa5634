// Fuzz target: what the client reads from replicas and the registry. The input is split into
// lines: the URL that answered, a Location header, the original target, then "name: value"
// header lines. Checks the invariants the ServiceClient relies on.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/client/answer.h"
#include "br2k/client/location.h"

namespace {

std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace br2k::client;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto lines = Lines(text);
  std::string_view from = lines.size() > 0 ? lines[0] : "";
  std::string_view location = lines.size() > 1 ? lines[1] : "";
  std::string_view target = lines.size() > 2 ? lines[2] : "/";

  // A location normalizes to a fixed point.
  auto n = NormalizeLocation(from);
  if (n.ok()) {
    auto again = NormalizeLocation(*n);
    if (!again.ok() || *again != *n) __builtin_trap();
    if (n->rfind("http://", 0) != 0) __builtin_trap();
  }
  // A resolved redirect is always something the client can send.
  auto r = ResolveRedirect(from, location, target);
  if (r.ok()) {
    auto base = NormalizeLocation(r->base_url);
    if (!base.ok() || *base != r->base_url) __builtin_trap();
    if (!ValidTarget(r->target)) __builtin_trap();
  }
  // Headers: parsing never fails; what it reports is well formed.
  Headers h;
  for (size_t i = 3; i < lines.size(); ++i) {
    auto colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(lines[i].substr(0, colon));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h[name] = std::string(lines[i].substr(colon + 1));
  }
  auto b = ParseBr2kHeaders(h);
  if (b.index && *b.index == 0) __builtin_trap();
  for (char c : b.state) {
    if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
  }
  for (int status : {200, 307, 308, 500, 503}) {
    AnswerClass k = ClassifyAnswer(status, h);
    if ((status == 307 || status == 308) != (k == AnswerClass::kRedirect)) __builtin_trap();
  }
  return 0;
}
