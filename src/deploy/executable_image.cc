#include "br2k/deploy/executable_image.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>

namespace br2k::deploy {

namespace {

constexpr std::string_view kDigestMark = "@sha256:";

Result<std::string> Sha256OfFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot read " + file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return Status(StatusCode::kInternal, "sha256 unavailable");
  std::array<char, 1 << 16> buf;
  while (in) {
    in.read(buf.data(), buf.size());
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status(StatusCode::kInternal, "error reading " + file.string());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  std::string hex;
  char two[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    hex += two;
  }
  return hex;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Result<std::string> PinExecutable(const std::filesystem::path& executable) {
  std::error_code ec;
  auto path = std::filesystem::canonical(executable, ec);
  if (ec) return Status(StatusCode::kNotFound, "no executable " + executable.string());
  if (!std::filesystem::is_regular_file(path) || ::access(path.c_str(), X_OK) != 0)
    return Status(StatusCode::kFailedPrecondition,
                  path.string() + " is not an executable regular file");
  auto digest = Sha256OfFile(path);
  if (!digest.ok()) return digest.status();
  return std::string(kExecutableRegistry) + path.string() + std::string(kDigestMark) + *digest;
}

bool IsExecutableImage(const std::string& reference) {
  const std::string_view prefix = kExecutableRegistry;
  if (!reference.starts_with(prefix)) return false;
  const size_t at = reference.rfind(kDigestMark);
  if (at == std::string::npos || at <= prefix.size()) return false;
  const std::string_view path =
      std::string_view(reference).substr(prefix.size(), at - prefix.size());
  const std::string_view digest = std::string_view(reference).substr(at + kDigestMark.size());
  if (path.front() != '/' || path.find('@') != std::string_view::npos) return false;
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20) return false;
  return digest.size() == 64 && IsLowerHex(digest);
}

Result<std::filesystem::path> OpenExecutableImage(const std::string& reference) {
  if (!IsExecutableImage(reference))
    return Status(StatusCode::kInvalidArgument,
                  "\"" + reference.substr(0, 200) +
                      "\" is not an executable image (file:///<path>@sha256:<64 hex>)");
  const size_t prefix = std::string_view(kExecutableRegistry).size();
  const size_t at = reference.rfind(kDigestMark);
  const std::filesystem::path path = reference.substr(prefix, at - prefix);
  const std::string want = reference.substr(at + kDigestMark.size());
  if (!std::filesystem::exists(path))
    return Status(StatusCode::kNotFound, "the executable " + path.string() + " is gone");
  auto have = Sha256OfFile(path);
  if (!have.ok()) return have.status();
  if (*have != want)
    return Status(StatusCode::kFailedPrecondition,
                  path.string() + " changed since it was deployed (sha256 " + have->substr(0, 12) +
                      ", deployed " + want.substr(0, 12) + "); deploy again to pin the new one");
  return path;
}

Status CheckExecutableImage(const std::string& reference) {
  auto exe = OpenExecutableImage(reference);
  return exe.ok() ? Status::Ok() : Status(StatusCode::kNotFound, exe.status().message());
}

}  // namespace br2k::deploy
