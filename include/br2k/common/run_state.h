// The run-state document: what `br2k up` started and where, so that `br2k status` and
// `br2k down` (other processes, possibly much later) can find it. Stored as JSON in
// <run dir>/state.json, written atomically (temporary file + rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "br2k/common/status.h"

namespace br2k {

struct EtcdMemberState {
  std::string name;
  std::string client_url;  // http://127.0.0.1:PORT
  std::string peer_url;
  int pid = 0;
  std::string data_dir;
  std::string log_file;
};

// One replica of the replicated service (br2k-logserver for now).
struct ReplicaState {
  std::string id;   // node-<i>
  std::string url;  // http://127.0.0.1:PORT (its advertised URL)
  int pid = 0;
  std::string etcd_member;  // name of the etcd member beside it
  std::string data_dir;
  std::string log_file;
};

struct RunState {
  static constexpr int kVersion = 1;
  std::string run_dir;
  int64_t started_at_unix = 0;
  int heartbeat_ms = 0;
  int election_ms = 0;
  bool detached = false;
  int owner_pid = 0;  // the `br2k up` process that owns the children (0 when detached)
  std::vector<EtcdMemberState> etcd;
  std::string service;                 // service id of the replicas ("" when none run)
  std::vector<ReplicaState> replicas;  // optional in the document (absent = none)

  // Parses and validates a document. INVALID_ARGUMENT (with the offending field named) for
  // malformed JSON, a wrong version, missing or mistyped fields, or out-of-range values.
  // Never throws.
  static Result<RunState> Parse(std::string_view json);
  std::string Serialize() const;

  // NOT_FOUND when the file does not exist; INVALID_ARGUMENT when it is corrupt.
  static Result<RunState> Load(const std::filesystem::path& file);
  // Writes `file` atomically. INTERNAL with errno text on I/O failure.
  Status Save(const std::filesystem::path& file) const;
};

}  // namespace br2k
