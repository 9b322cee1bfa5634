#include "br2k/replication/local_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include "br2k/common/atomic_file.h"
#include "br2k/replication/keys.h"

namespace br2k::replication {
namespace {

// std::nullopt when absent; INTERNAL when unreadable.
Result<std::optional<std::string>> ReadWhole(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::optional<std::string>();
  std::ifstream in(p, std::ios::binary);
  if (!in) return InternalError("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return InternalError("cannot read " + p.string());
  return std::optional<std::string>(ss.str());
}

constexpr size_t kSlot = 64 * 1024;
constexpr char kMagic[8] = {'B', 'R', '2', 'K', 'J', 'R', 'N', '1'};
constexpr size_t kHeader = 8 + 8 + 4 + 4;  // magic, seq, length, crc

// One slot: (seq, payload) when valid.
std::optional<std::pair<uint64_t, std::string>> ReadSlot(std::string_view slot) {
  if (slot.size() < kHeader || std::memcmp(slot.data(), kMagic, 8) != 0) return std::nullopt;
  uint64_t seq;
  uint32_t len, crc;
  std::memcpy(&seq, slot.data() + 8, 8);
  std::memcpy(&len, slot.data() + 16, 4);
  std::memcpy(&crc, slot.data() + 20, 4);
  if (len > slot.size() - kHeader) return std::nullopt;
  std::string payload(slot.substr(kHeader, len));
  if (Crc32(payload) != crc) return std::nullopt;
  return std::make_pair(seq, std::move(payload));
}

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InternalError("cannot create data dir " + dir.string() + ": " + ec.message());
  auto store = std::unique_ptr<FileStore>(new FileStore(dir));
  auto path = dir / "journal.dat";
  store->journal_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (store->journal_fd_ < 0) {
    return InternalError("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  return store;
}

FileStore::~FileStore() {
  if (journal_fd_ >= 0) ::close(journal_fd_);
}

Result<std::optional<LocalState>> FileStore::LoadState() {
  auto path = dir_ / "state.json";
  BR2K_ASSIGN_OR_RETURN(auto text, ReadWhole(path));
  if (!text) return std::optional<LocalState>();
  auto s = DecodeLocalState(*text);
  if (!s.ok()) return s.status().WithContext(path.string() + " is corrupt");
  return std::optional<LocalState>(std::move(*s));
}

Result<std::optional<Journal>> FileStore::LoadJournal() {
  std::lock_guard lock(journal_mu_);
  auto path = dir_ / "journal.dat";
  BR2K_ASSIGN_OR_RETURN(auto text, ReadWhole(path));
  if (!text || text->empty()) return std::optional<Journal>();
  std::optional<std::pair<uint64_t, std::string>> best;
  for (size_t off = 0; off < 2 * kSlot && off < text->size(); off += kSlot) {
    auto slot = ReadSlot(std::string_view(*text).substr(off, kSlot));
    if (slot && (!best || slot->first > best->first)) best = std::move(slot);
  }
  if (!best) {
    return DataLossError(path.string() + " is corrupt: no valid journal record (left untouched)");
  }
  journal_seq_ = best->first;
  auto j = DecodeJournal(best->second);
  if (!j.ok()) return j.status().WithContext(path.string() + " is corrupt (left untouched)");
  return std::optional<Journal>(std::move(*j));
}

Status FileStore::SaveState(const LocalState& state) {
  std::lock_guard lock(state_mu_);
  return WriteFileAtomically(dir_ / "state.json", EncodeLocalState(state));
}

Status FileStore::QuarantineState() {
  std::lock_guard lock(state_mu_);
  const auto from = dir_ / "state.json";
  std::error_code ec;
  if (!std::filesystem::exists(from, ec)) return Status::Ok();
  const auto stamp = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  auto to = dir_ / ("state.json.corrupt-" + stamp);
  for (int n = 1; std::filesystem::exists(to, ec); ++n) {
    to = dir_ / ("state.json.corrupt-" + stamp + "-" + std::to_string(n));
  }
  std::filesystem::rename(from, to, ec);
  if (ec) return InternalError("cannot set " + from.string() + " aside: " + ec.message());
  return Status::Ok();
}

Status FileStore::SaveJournal(const Journal& journal, bool durable) {
  std::string payload = EncodeJournal(journal);
  if (payload.size() > kSlot - kHeader) {
    return InvalidArgumentError("journal record of " + std::to_string(payload.size()) +
                                " bytes exceeds the slot size");
  }
  std::lock_guard lock(journal_mu_);
  uint64_t seq = journal_seq_ + 1;
  uint32_t len = static_cast<uint32_t>(payload.size());
  uint32_t crc = Crc32(payload);
  std::string rec(kHeader, '\0');
  std::memcpy(rec.data(), kMagic, 8);
  std::memcpy(rec.data() + 8, &seq, 8);
  std::memcpy(rec.data() + 16, &len, 4);
  std::memcpy(rec.data() + 20, &crc, 4);
  rec += payload;
  // Alternate slots: the other one keeps the previous record intact during this write.
  off_t off = static_cast<off_t>((seq % 2) * kSlot);
  if (::pwrite(journal_fd_, rec.data(), rec.size(), off) != static_cast<ssize_t>(rec.size()) ||
      (durable && ::fdatasync(journal_fd_) != 0)) {
    return InternalError("journal write failed: " + std::string(std::strerror(errno)));
  }
  journal_seq_ = seq;
  return Status::Ok();
}

Result<std::optional<LocalState>> MemoryStore::LoadState() {
  std::lock_guard lock(mu_);
  return state_;
}

Result<std::optional<Journal>> MemoryStore::LoadJournal() {
  std::lock_guard lock(mu_);
  return journal_;
}

Status MemoryStore::SaveState(const LocalState& state) {
  std::lock_guard lock(mu_);
  if (fail_writes_) return InternalError("injected write failure");
  state_ = state;
  return Status::Ok();
}

Status MemoryStore::SaveJournal(const Journal& journal, bool) {
  std::lock_guard lock(mu_);
  if (fail_writes_) return InternalError("injected write failure");
  journal_ = journal;
  return Status::Ok();
}

Status MemoryStore::QuarantineState() {
  std::lock_guard lock(mu_);
  state_.reset();
  ++quarantined_;
  return Status::Ok();
}

int MemoryStore::quarantined() {
  std::lock_guard lock(mu_);
  return quarantined_;
}

void MemoryStore::set_fail_writes(bool fail) {
  std::lock_guard lock(mu_);
  fail_writes_ = fail;
}

}  // namespace br2k::replication
