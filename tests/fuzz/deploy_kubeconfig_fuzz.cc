// Fuzz target: kubeconfig parsing (a file the user hands to `br2k context import`; yaml-cpp
// underneath, which reports errors by exceptions that must never escape).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/deploy/kubeconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = br2k::deploy::ParseKubeconfig(text);
  if (!config.ok()) {
    if (config.status().code() != br2k::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  // No file reads while fuzzing: drop the file references.
  br2k::deploy::Kubeconfig k = *config;
  for (auto& c : k.clusters) c.ca_file.clear();
  for (auto& u : k.users) u.token_file.clear();
  for (const auto& kc : k.contexts) {
    auto ctx = br2k::deploy::KubeconfigToContext(k, kc.name, "/nonexistent");
    if (ctx.ok()) {
      if (ctx->kind != br2k::deploy::ContextKind::kKubernetes || ctx->server.empty() ||
          ctx->token.empty() || ctx->name != kc.name) {
        __builtin_trap();
      }
      (void)ctx->Validate();
      (void)ctx->Redacted();
    } else if (ctx.status().message().size() > 4096) {
      __builtin_trap();
    }
  }
  (void)br2k::deploy::KubeconfigToContext(k, "", "/nonexistent");
  return 0;
}
