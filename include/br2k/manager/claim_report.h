// A claim report: what a manager did about one Claim of a service, signed with the manager's
// Ethereum key so that whoever records it (the Service Registry Dashboard, docs/dashboard.md)
// can check that a manager of the service, and nobody else, said it.
//
// The signature is an EIP-191 personal message signature (the "\x19Ethereum Signed Message:\n"
// prefix, as eth_sign/personal_sign define it; a wallet can produce the same) over the report's
// canonical text (ClaimReportText), which names the registry, the service and the claim, so a
// report cannot be replayed for another claim, service or registry.
//
// JSON form (POST /api/services/{id}/outcomes of the dashboard):
//   {"registry":"0x<40 hex>","service":"0x<64 hex>","claim":"0x<64 hex>:<log index>",
//    "claim_block":N,"action":"redeployed","detail":"..","recovery_ms":N,"handling_ms":N,
//    "handled_at_ms":N,
//    "manager":"0x<40 hex>","signature":"0x<130 hex>"}
// Hex is case-insensitive on input and lower case after parsing; `detail` is valid UTF-8 of at
// most kMaxClaimReportDetail bytes; `action` is one of ManagerActionKindName's names.
//
// Pure functions, thread-safe; no I/O (also built for the fuzzers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "br2k/common/status.h"
#include "br2k/eth/key.h"

namespace br2k::manager {

inline constexpr size_t kMaxClaimReportDetail = 1024;

struct ClaimReport {
  std::string registry;  // 0x + 40 lower-case hex
  std::string service;   // 0x + 64 lower-case hex
  std::string claim;     // "<tx 0x + 64 lower-case hex>:<log index>"
  uint64_t claim_block = 0;
  std::string action;  // "redeployed", "ignored-healthy", ...
  std::string detail;
  uint64_t recovery_ms = 0;
  uint64_t handling_ms = 0;
  // When the manager decided (Unix ms): a later report of the same claim replaces an earlier one,
  // never the other way round, so an old report replayed cannot roll a newer one back.
  uint64_t handled_at_ms = 0;
  std::string manager;    // 0x + 40 lower-case hex: the signer
  std::string signature;  // 0x + r (64) + s (64) + v (2: 1b or 1c), lower case
  friend bool operator==(const ClaimReport&, const ClaimReport&) = default;
};

// The text that is signed: one "field: value" line per field, in a fixed order, everything but
// the signature. `detail` is written as JSON string content, so the text has no raw newline of
// the caller's.
std::string ClaimReportText(const ClaimReport& r);

// Fills r.manager and r.signature with `key`'s. INVALID_ARGUMENT when a field is malformed (the
// same checks as ParseClaimReport).
Result<ClaimReport> SignClaimReport(ClaimReport r, const eth::PrivateKey& key);

// OK when r.signature is a valid signature of ClaimReportText(r) by r.manager; PERMISSION_DENIED
// when it is valid but by another account; INVALID_ARGUMENT when it is not a signature.
Status VerifyClaimReport(const ClaimReport& r);

std::string EncodeClaimReport(const ClaimReport& r);
// INVALID_ARGUMENT naming the field for anything that is not a well-formed report (it does not
// verify the signature: VerifyClaimReport does).
Result<ClaimReport> ParseClaimReport(std::string_view json);

}  // namespace br2k::manager
