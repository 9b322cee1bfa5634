// The etcd key layout of one replicated service; see docs/replication.md.
//
//   /br2k/<service>/Current_Leader         CL: id of the leader (attached to its lease)
//   /br2k/<service>/Log_Size               LS: decimal index of the last RLE
//   /br2k/<service>/Service_State_Index    SSI: decimal index of the last finished entry
//   /br2k/<service>/RLE/<index:020>        RLE: EncodeLogEntry
//   /br2k/<service>/RS/<index:020>         RS: EncodeEntryStatus
//   /br2k/<service>/LPI/<replica>          LPI: decimal index the replica processed
//   /br2k/<service>/Replica/<replica>      the replica's advertised URL
//   /br2k/<service>/Session/<client>/<seq:020>  EncodeSessionRecord: a trimmed request that
//                                          its client's floor does not cover (TrimSessions)
//   /br2k/<service>/SessionFloor/<client>  EncodeSessionFloor: highest trimmed seq of the client
//   /br2k/<service>/TX/<index:020>, TXQ/<index:020>  EncodeSignedTx (chain_effects.h)
//   /br2k/<service>/Log_Start              decimal index of the first retained entry (absent: 1)
//   /br2k/<service>/Snapshot               EncodeSnapshotHeader: the latest snapshot in etcd
//   /br2k/<service>/Snap/<index:020>/<chunk:06>  its bytes, in chunks
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace br2k::replication {

// Value type; thread-compatible.
class KeyLayout {
 public:
  explicit KeyLayout(std::string service_id);

  const std::string& prefix() const { return prefix_; }
  std::string current_leader() const { return prefix_ + "Current_Leader"; }
  std::string log_size() const { return prefix_ + "Log_Size"; }
  std::string ssi() const { return prefix_ + "Service_State_Index"; }
  std::string rle(uint64_t index) const;
  std::string rs(uint64_t index) const;
  std::string rle_prefix() const { return prefix_ + "RLE/"; }
  std::string rs_prefix() const { return prefix_ + "RS/"; }
  std::string lpi(std::string_view replica) const;
  std::string lpi_prefix() const { return prefix_ + "LPI/"; }
  std::string replica_url(std::string_view replica) const;
  std::string session(std::string_view client, uint64_t seq) const;
  std::string session_prefix() const { return prefix_ + "Session/"; }
  // A Normal request's signed transaction (chain_effects.h), and its pending-settlement marker.
  std::string tx(uint64_t index) const;
  std::string tx_prefix() const { return prefix_ + "TX/"; }
  std::string tx_pending(uint64_t index) const;
  std::string tx_pending_prefix() const { return prefix_ + "TXQ/"; }
  // The bounded log: entries below Log_Start are trimmed; Snapshot names the snapshot (taken
  // at some index >= Log_Start - 1) whose chunks are under Snap/<index>/.
  std::string log_start() const { return prefix_ + "Log_Start"; }
  std::string snapshot() const { return prefix_ + "Snapshot"; }
  std::string snapshot_prefix() const { return prefix_ + "Snap/"; }
  std::string snapshot_chunks_prefix(uint64_t index) const;
  std::string snapshot_chunk(uint64_t index, uint64_t chunk) const;  // chunk < 1000000
  // Per client, the highest seq whose session record was deleted with its trimmed entry.
  std::string session_floor(std::string_view client) const;
  std::string session_floor_prefix() const { return prefix_ + "SessionFloor/"; }
  // The client of a SessionFloor key; nullopt for anything else.
  std::optional<std::string> SessionFloorClient(std::string_view key) const;

  // The index at the end of an RLE/, RS/, TX/ or TXQ/ key; nullopt for anything else.
  static std::optional<uint64_t> IndexOf(std::string_view key);
  // Splits a Session key into (client, seq).
  std::optional<std::pair<std::string, uint64_t>> SessionOf(std::string_view key) const;

 private:
  std::string prefix_;
};

// Decimal formatting and strict parsing of the index values (LS, SSI, LPI).
std::string FormatIndex(uint64_t v);
std::optional<uint64_t> ParseIndex(std::string_view s);
// Service and replica ids and client ids: 1..64 chars of [A-Za-z0-9._-].
bool ValidId(std::string_view id);

}  // namespace br2k::replication
