// A replica's durable local state: the application snapshot with its LPI (one file, replaced
// atomically) and the journal of the pipeline step it is at. Behind an interface so that unit
// tests can inject write failures and inspect what was persisted.
#pragma once

#include <cstdint>
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
  // Same guarantee when `durable`; otherwise the record is written but not synced (a crash may
  // lose it, never corrupt it: the previous record stays readable).
  virtual Status SaveJournal(const Journal& journal, bool durable = true) = 0;
  // Sets a corrupt or impossible saved state aside (kept for inspection, never read again):
  // after it returns, LoadState returns std::nullopt until the next SaveState. INTERNAL when it
  // cannot.
  virtual Status QuarantineState() = 0;
};

// <dir>/state.json, written with WriteFileAtomically (temporary file, fsync, rename, fsync of
// the directory), and <dir>/journal.dat: two fixed slots written alternately in place with
// pwrite + fdatasync, each record carrying a sequence number and a CRC-32, so that a torn write
// leaves the previous record readable (the journal is written on every pipeline step, and a
// rename per step would triple its cost). LoadJournal returns the newest valid record;
// DATA_LOSS when the file exists but no slot is valid.
class FileStore final : public LocalStore {
 public:
  // Creates `dir` if needed and opens the journal file. INTERNAL when it cannot.
  static Result<std::unique_ptr<FileStore>> Open(const std::filesystem::path& dir);
  ~FileStore() override;
  Result<std::optional<LocalState>> LoadState() override;
  Result<std::optional<Journal>> LoadJournal() override;
  Status SaveState(const LocalState& state) override;
  Status SaveJournal(const Journal& journal, bool durable = true) override;
  // Renames state.json to state.json.corrupt-<unix seconds>[-n].
  Status QuarantineState() override;

 private:
  explicit FileStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
  std::mutex state_mu_;  // serialises writers of one file (the temp name is shared)
  std::mutex journal_mu_;
  int journal_fd_ = -1;
  uint64_t journal_seq_ = 0;  // sequence number of the newest record written or found
};

// In memory, for unit tests. fail_writes makes every Save* return INTERNAL.
class MemoryStore final : public LocalStore {
 public:
  Result<std::optional<LocalState>> LoadState() override;
  Result<std::optional<Journal>> LoadJournal() override;
  Status SaveState(const LocalState& state) override;
  Status SaveJournal(const Journal& journal, bool durable = true) override;
  Status QuarantineState() override;  // forgets the state; counts in quarantined()
  void set_fail_writes(bool fail);
  int quarantined();

 private:
  std::mutex mu_;
  int quarantined_ = 0;
  std::optional<LocalState> state_;
  std::optional<Journal> journal_;
  bool fail_writes_ = false;
};

}  // namespace br2k::replication
