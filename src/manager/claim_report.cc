#include "br2k/manager/claim_report.h"

#include <array>
#include <nlohmann/json.hpp>

#include "br2k/common/numbers.h"
#include "br2k/common/utf8.h"
#include "br2k/eth/bytes.h"
#include "br2k/eth/keccak.h"

namespace br2k::manager {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 7> kActions = {
    "rate-limited",    "coalesced",  "ignored-healthy", "too-soon",
    "ignored-retired", "redeployed", "failed"};

Status Bad(std::string_view field, std::string_view why) {
  return InvalidArgumentError("claim report: \"" + std::string(field) + "\" " + std::string(why));
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "0x" + `digits` hex digits, lower-cased.
Result<std::string> HexField(std::string_view field, std::string_view v, size_t digits) {
  if (v.size() != digits + 2 || (v.substr(0, 2) != "0x" && v.substr(0, 2) != "0X") ||
      !IsHex(v.substr(2))) {
    return Bad(field, "must be 0x and " + std::to_string(digits) + " hex digits");
  }
  return "0x" + Lower(v.substr(2));
}

Result<std::string> ClaimKey(std::string_view v) {
  auto colon = v.find(':');
  if (colon == std::string_view::npos) return Bad("claim", "must be <tx hash>:<log index>");
  BR2K_ASSIGN_OR_RETURN(auto tx, HexField("claim", v.substr(0, colon), 64));
  BR2K_ASSIGN_OR_RETURN(auto index, ParseDecimalU64(v.substr(colon + 1), "claim log index"));
  return tx + ":" + std::to_string(index);
}

// Checks and normalises every field but the signature's validity.
Result<ClaimReport> Normalise(ClaimReport r, bool need_signature) {
  BR2K_ASSIGN_OR_RETURN(r.registry, HexField("registry", r.registry, 40));
  BR2K_ASSIGN_OR_RETURN(r.service, HexField("service", r.service, 64));
  BR2K_ASSIGN_OR_RETURN(r.claim, ClaimKey(r.claim));
  bool known = false;
  for (auto a : kActions) known = known || a == r.action;
  if (!known) return Bad("action", "is not an action a manager takes");
  if (r.detail.size() > kMaxClaimReportDetail) {
    return Bad("detail", "is longer than " + std::to_string(kMaxClaimReportDetail) + " bytes");
  }
  if (!IsValidUtf8(r.detail)) return Bad("detail", "is not valid UTF-8");
  if (need_signature) {
    BR2K_ASSIGN_OR_RETURN(r.manager, HexField("manager", r.manager, 40));
    BR2K_ASSIGN_OR_RETURN(r.signature, HexField("signature", r.signature, 130));
  }
  return r;
}

eth::Hash Digest(const ClaimReport& r) {
  // EIP-191 version 0x45 ("E"): personal_sign's prefix and the decimal length of the message.
  const std::string text = ClaimReportText(r);
  return eth::Keccak256(
      "\x19"
      "Ethereum Signed Message:\n" +
      std::to_string(text.size()) + text);
}

Result<uint64_t> U64Field(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return Bad(field, "is missing");
  if (!it->is_number_unsigned()) return Bad(field, "must be a non-negative integer");
  return it->get<uint64_t>();
}

Result<std::string> StringField(const json& j, const char* field, bool optional = false) {
  auto it = j.find(field);
  if (it == j.end()) {
    if (optional) return std::string();
    return Bad(field, "is missing");
  }
  if (!it->is_string()) return Bad(field, "must be a string");
  return it->get<std::string>();
}

}  // namespace

std::string ClaimReportText(const ClaimReport& r) {
  return "br2k claim report\nregistry: " + r.registry + "\nservice: " + r.service +
         "\nclaim: " + r.claim + "\nclaim block: " + std::to_string(r.claim_block) +
         "\naction: " + r.action +
         "\ndetail: " + json(r.detail).dump(-1, ' ', false, json::error_handler_t::replace) +
         "\nrecovery ms: " + std::to_string(r.recovery_ms) +
         "\nhandling ms: " + std::to_string(r.handling_ms) +
         "\nhandled at ms: " + std::to_string(r.handled_at_ms) + "\n";
}

Result<ClaimReport> SignClaimReport(ClaimReport r, const eth::PrivateKey& key) {
  BR2K_ASSIGN_OR_RETURN(r, Normalise(std::move(r), false));
  const eth::Signature sig = key.Sign(Digest(r));
  eth::Bytes raw;
  const auto rb = sig.r.ToBigEndian();
  const auto sb = sig.s.ToBigEndian();
  raw.insert(raw.end(), rb.begin(), rb.end());
  raw.insert(raw.end(), sb.begin(), sb.end());
  raw.push_back(static_cast<uint8_t>(27 + sig.recovery_id));
  r.manager = Lower(key.address().ToChecksum());
  r.signature = eth::ToHex(raw);
  return r;
}

Status VerifyClaimReport(const ClaimReport& r) {
  auto sig_bytes = eth::FromHex(r.signature);
  if (!sig_bytes.ok() || sig_bytes->size() != 65) return Bad("signature", "is not 65 bytes");
  const eth::Bytes& b = *sig_bytes;
  const uint8_t v = b[64];
  if (v != 27 && v != 28) return Bad("signature", "has a recovery byte other than 27 or 28");
  auto rr = eth::U256::FromBigEndian(eth::BytesView(b.data(), 32));
  auto ss = eth::U256::FromBigEndian(eth::BytesView(b.data() + 32, 32));
  if (!rr.ok() || !ss.ok()) return Bad("signature", "is malformed");
  const eth::Signature sig{.r = *rr, .s = *ss, .recovery_id = static_cast<uint8_t>(v - 27)};
  auto signer = eth::RecoverAddress(Digest(r), sig);
  if (!signer.ok()) return Bad("signature", "is not a valid signature");
  auto claimed = eth::Address::Parse(r.manager);
  if (!claimed.ok()) return Bad("manager", "is not an address");
  if (!(*signer == *claimed)) {
    return PermissionDeniedError("claim report: signed by " + signer->ToChecksum() + ", not by " +
                                 claimed->ToChecksum());
  }
  return Status::Ok();
}

std::string EncodeClaimReport(const ClaimReport& r) {
  return json{{"registry", r.registry},
              {"service", r.service},
              {"claim", r.claim},
              {"claim_block", r.claim_block},
              {"action", r.action},
              {"detail", r.detail},
              {"recovery_ms", r.recovery_ms},
              {"handling_ms", r.handling_ms},
              {"handled_at_ms", r.handled_at_ms},
              {"manager", r.manager},
              {"signature", r.signature}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ClaimReport> ParseClaimReport(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError("claim report: the body is not a JSON object");
  }
  ClaimReport r;
  BR2K_ASSIGN_OR_RETURN(r.registry, StringField(j, "registry"));
  BR2K_ASSIGN_OR_RETURN(r.service, StringField(j, "service"));
  BR2K_ASSIGN_OR_RETURN(r.claim, StringField(j, "claim"));
  BR2K_ASSIGN_OR_RETURN(r.claim_block, U64Field(j, "claim_block"));
  BR2K_ASSIGN_OR_RETURN(r.action, StringField(j, "action"));
  BR2K_ASSIGN_OR_RETURN(r.detail, StringField(j, "detail", true));
  BR2K_ASSIGN_OR_RETURN(r.recovery_ms, U64Field(j, "recovery_ms"));
  BR2K_ASSIGN_OR_RETURN(r.handling_ms, U64Field(j, "handling_ms"));
  BR2K_ASSIGN_OR_RETURN(r.handled_at_ms, U64Field(j, "handled_at_ms"));
  BR2K_ASSIGN_OR_RETURN(r.manager, StringField(j, "manager"));
  BR2K_ASSIGN_OR_RETURN(r.signature, StringField(j, "signature"));
  return Normalise(std::move(r), true);
}

}  // namespace br2k::manager
