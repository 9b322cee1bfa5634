#include "br2k/manager/local_recovery.h"

namespace br2k::manager {

namespace {

// Quotes a value from the chain for a message: printable ASCII only, bounded length.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

std::filesystem::path Normal(const std::filesystem::path& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  auto n = (ec ? p : abs).lexically_normal();
  // "/a/b/" and "/a/b" name the same directory.
  if (!n.has_filename() && n.has_parent_path() && n != n.root_path()) n = n.parent_path();
  return n;
}

}  // namespace

std::string ImageName(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    image = image.substr(0, colon);
  }
  return std::string(image);
}

Status CheckLocalRecoveryInfo(const eth::RecoveryInfo& info, const LocalDeployment& have) {
  const std::string want_context = "\"local\" or \"local:" + Normal(have.run_dir).string() + "\"";
  const std::string_view ctx = info.deploy_context;
  constexpr std::string_view kLocal = "local";
  if (ctx != kLocal) {
    if (ctx.substr(0, kLocal.size() + 1) != "local:") {
      return FailedPreconditionError("deploy context " + Quote(ctx) +
                                     " is not local (the local backend deploys " + want_context +
                                     ")");
    }
    std::string_view dir = ctx.substr(kLocal.size() + 1);
    if (dir.empty() || dir.front() != '/' || dir.find('\0') != std::string_view::npos ||
        Normal(std::filesystem::path(std::string(dir))) != Normal(have.run_dir)) {
      return FailedPreconditionError("deploy context " + Quote(ctx) +
                                     " names another run directory (this backend deploys " +
                                     want_context + ")");
    }
  }
  if (have.replicas == 0) {
    return FailedPreconditionError("the run state in " + have.run_dir.string() +
                                   " has no replicas to deploy");
  }
  if (info.replicas != have.replicas) {
    return FailedPreconditionError("recovery info asks for " + std::to_string(info.replicas) +
                                   " replicas; the local deployment has " +
                                   std::to_string(have.replicas));
  }
  if (!info.container_registry.empty() && info.container_registry != "local") {
    return FailedPreconditionError("container registry " + Quote(info.container_registry) +
                                   " is not local (the local backend runs binaries from this "
                                   "machine: use \"local\")");
  }
  if (info.images.empty()) {
    return FailedPreconditionError("recovery info names no image (the local backend runs " +
                                   Quote(have.binary_name) + ")");
  }
  for (const auto& image : info.images) {
    if (ImageName(image) != have.binary_name) {
      return FailedPreconditionError("image " + Quote(image) +
                                     " is not what the local deployment runs (" +
                                     Quote(have.binary_name) + ")");
    }
  }
  return Status::Ok();
}

}  // namespace br2k::manager
