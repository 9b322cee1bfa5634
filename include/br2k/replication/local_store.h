// A replica's durable local state: the application snapshot with its LPI (one file, replaced
// atomically) and the journal of the pipeline step it is at. Behind an interface so that unit
// tests can inject write failures and inspect what was persisted.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "br2k/common/status.h"
#include "br2k/replication/log_entry.h"

namespace br2k::replication {

// Thread-safe: every method may be called from any thread.
class LocalStore {
 public:
  virtual ~LocalStore() = default;
  // std::nullopt when nothing was ever saved. DATA_LOSS naming the file when it is corrupt (the
  // file is left untouched for inspection).
  virtual Result<std::optional<LocalState>> LoadState() = 0;
  virtual Result<std::optional<Journal>> LoadJournal() = 0;
  // Durable on OK: a crash afterwards keeps the new value, a crash during keeps the old one.
  virtual Status SaveState(const LocalState& state) = 0;
  virtual Status SaveJournal(const Journal& journal) = 0;
};

// Files <dir>/state.json and <dir>/journal.json written with WriteFileAtomically.
class FileStore final : public LocalStore {
 public:
  // Creates `dir` if needed. INTERNAL when it cannot.
  static Result<std::unique_ptr<FileStore>> Open(const std::filesystem::path& dir);
  Result<std::optional<LocalState>> LoadState() override;
  Result<std::optional<Journal>> LoadJournal() override;
  Status SaveState(const LocalState& state) override;
  Status SaveJournal(const Journal& journal) override;

 private:
  explicit FileStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
  std::mutex state_mu_;  // serialises writers of one file (the temp name is shared)
  std::mutex journal_mu_;
};

// In memory, for unit tests. fail_writes makes every Save* return INTERNAL.
class MemoryStore final : public LocalStore {
 public:
  Result<std::optional<LocalState>> LoadState() override;
  Result<std::optional<Journal>> LoadJournal() override;
  Status SaveState(const LocalState& state) override;
  Status SaveJournal(const Journal& journal) override;
  void set_fail_writes(bool fail);

 private:
  std::mutex mu_;
  std::optional<LocalState> state_;
  std::optional<Journal> journal_;
  bool fail_writes_ = false;
};

}  // namespace br2k::replication
