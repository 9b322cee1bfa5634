#include "text.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace br2k::deploy::internal {

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  out += "\"";
  return out;
}

Result<std::string> ReadSmallFile(const std::filesystem::path& path, size_t limit) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFoundError(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return InternalError("open " + path.string() + ": " + std::strerror(errno));
  std::string data;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > limit) {
      return InvalidArgumentError(path.string() + ": larger than " + std::to_string(limit) +
                                  " bytes");
    }
  }
  if (in.bad()) return InternalError("read " + path.string() + ": " + std::strerror(errno));
  return data;
}

std::optional<std::string> DecodeBase64(std::string_view s) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t symbols = 0;  // base64 symbols and '=' seen
  size_t pad = 0;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    ++symbols;
    if (c == '=') {
      if (++pad > 2) return std::nullopt;
      continue;
    }
    if (pad > 0) return std::nullopt;  // data after padding
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (symbols % 4 != 0) return std::nullopt;
  return out;
}

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

}  // namespace br2k::deploy::internal
