#include "br2k/replication/local_store.h"

#include <fstream>
#include <sstream>

#include "br2k/common/atomic_file.h"

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

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InternalError("cannot create data dir " + dir.string() + ": " + ec.message());
  return std::unique_ptr<FileStore>(new FileStore(dir));
}

Result<std::optional<LocalState>> FileStore::LoadState() {
  auto path = dir_ / "state.json";
  BR2K_ASSIGN_OR_RETURN(auto text, ReadWhole(path));
  if (!text) return std::optional<LocalState>();
  auto s = DecodeLocalState(*text);
  if (!s.ok()) return s.status().WithContext(path.string() + " is corrupt (left untouched)");
  return std::optional<LocalState>(std::move(*s));
}

Result<std::optional<Journal>> FileStore::LoadJournal() {
  auto path = dir_ / "journal.json";
  BR2K_ASSIGN_OR_RETURN(auto text, ReadWhole(path));
  if (!text) return std::optional<Journal>();
  auto j = DecodeJournal(*text);
  if (!j.ok()) return j.status().WithContext(path.string() + " is corrupt (left untouched)");
  return std::optional<Journal>(std::move(*j));
}

Status FileStore::SaveState(const LocalState& state) {
  std::lock_guard lock(state_mu_);
  return WriteFileAtomically(dir_ / "state.json", EncodeLocalState(state));
}

Status FileStore::SaveJournal(const Journal& journal) {
  std::lock_guard lock(journal_mu_);
  return WriteFileAtomically(dir_ / "journal.json", EncodeJournal(journal));
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

Status MemoryStore::SaveJournal(const Journal& journal) {
  std::lock_guard lock(mu_);
  if (fail_writes_) return InternalError("injected write failure");
  journal_ = journal;
  return Status::Ok();
}

void MemoryStore::set_fail_writes(bool fail) {
  std::lock_guard lock(mu_);
  fail_writes_ = fail;
}

}  // namespace br2k::replication
