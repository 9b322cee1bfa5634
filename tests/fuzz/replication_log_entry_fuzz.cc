// Fuzz target: decoding of everything br2k reads back from etcd (RLE, RS, session records and
// floors, recorded transactions, the snapshot header) and from a replica's data directory (state
// file, journal). Whatever decodes must round-trip.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "br2k/replication/chain_effects.h"
#include "br2k/replication/log_entry.h"

using namespace br2k::replication;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto e = DecodeLogEntry(text); e.ok()) {
    auto again = DecodeLogEntry(EncodeLogEntry(*e));
    if (!again.ok() || EncodeLogEntry(*again) != EncodeLogEntry(*e)) __builtin_trap();
  }
  if (auto s = DecodeEntryStatus(text); s.ok()) {
    auto again = DecodeEntryStatus(EncodeEntryStatus(*s));
    if (!again.ok() || EncodeEntryStatus(*again) != EncodeEntryStatus(*s)) __builtin_trap();
  }
  if (auto j = DecodeJournal(text); j.ok()) {
    auto again = DecodeJournal(EncodeJournal(*j));
    if (!again.ok() || EncodeJournal(*again) != EncodeJournal(*j)) __builtin_trap();
  }
  if (auto l = DecodeLocalState(text); l.ok()) {
    auto again = DecodeLocalState(EncodeLocalState(*l));
    if (!again.ok() || again->lpi != l->lpi || again->snapshot != l->snapshot) __builtin_trap();
  }
  (void)DecodeSessionRecord(text);
  if (auto t = DecodeSignedTx(text); t.ok()) {
    auto again = DecodeSignedTx(EncodeSignedTx(*t));
    if (!again.ok() || !(*again == *t)) __builtin_trap();
  }
  if (auto h = DecodeSnapshotHeader(text); h.ok()) {
    auto again = DecodeSnapshotHeader(EncodeSnapshotHeader(*h));
    if (!again.ok() || !(*again == *h)) __builtin_trap();
    if (h->chunks < 1 || h->chunks > std::max<uint64_t>(h->size, 1)) __builtin_trap();
  }
  if (auto f = DecodeSessionFloor(text); f.ok()) {
    auto again = DecodeSessionFloor(EncodeSessionFloor(*f));
    if (!again.ok() || again->seq != f->seq || again->unix_ts != f->unix_ts) __builtin_trap();
  }
  (void)Crc32(text);
  return 0;
}
