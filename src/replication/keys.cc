#include "br2k/replication/keys.h"

#include <charconv>
#include <cstdio>

namespace br2k::replication {
namespace {
std::string Pad(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

KeyLayout::KeyLayout(std::string service_id) : prefix_("/br2k/" + service_id + "/") {}

std::string KeyLayout::rle(uint64_t index) const {
  return rle_prefix() + Pad(index);
}
std::string KeyLayout::rs(uint64_t index) const {
  return rs_prefix() + Pad(index);
}
std::string KeyLayout::tx(uint64_t index) const {
  return tx_prefix() + Pad(index);
}
std::string KeyLayout::tx_pending(uint64_t index) const {
  return tx_pending_prefix() + Pad(index);
}
std::string KeyLayout::snapshot_chunks_prefix(uint64_t index) const {
  return snapshot_prefix() + Pad(index) + "/";
}
std::string KeyLayout::snapshot_chunk(uint64_t index, uint64_t chunk) const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(chunk));
  return snapshot_chunks_prefix(index) + buf;
}
std::string KeyLayout::session_floor(std::string_view client) const {
  return session_floor_prefix() + std::string(client);
}
std::optional<std::string> KeyLayout::SessionFloorClient(std::string_view key) const {
  const std::string p = session_floor_prefix();
  if (key.substr(0, p.size()) != p) return std::nullopt;
  key.remove_prefix(p.size());
  if (!ValidId(key)) return std::nullopt;
  return std::string(key);
}
std::string KeyLayout::lpi(std::string_view replica) const {
  return lpi_prefix() + std::string(replica);
}
std::string KeyLayout::replica_url(std::string_view replica) const {
  return prefix_ + "Replica/" + std::string(replica);
}
std::string KeyLayout::session(std::string_view client, uint64_t seq) const {
  return session_prefix() + std::string(client) + "/" + Pad(seq);
}

std::optional<uint64_t> KeyLayout::IndexOf(std::string_view key) {
  auto slash = key.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  return ParseIndex(key.substr(slash + 1));
}

std::optional<std::pair<std::string, uint64_t>> KeyLayout::SessionOf(std::string_view key) const {
  const std::string p = session_prefix();
  if (key.substr(0, p.size()) != p) return std::nullopt;
  key.remove_prefix(p.size());
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto seq = ParseIndex(key.substr(slash + 1));
  if (!seq) return std::nullopt;
  return std::make_pair(std::string(key.substr(0, slash)), *seq);
}

std::string FormatIndex(uint64_t v) {
  return std::to_string(v);
}

std::optional<uint64_t> ParseIndex(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace br2k::replication
