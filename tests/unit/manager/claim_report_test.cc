// Claim reports (claim_report.h): signed by a manager's key, verified against the signer, bound to
// the registry, service and claim they name.
#include "br2k/manager/claim_report.h"

#include <gtest/gtest.h>

#include "br2k/eth/keccak.h"

namespace br2k::manager {
namespace {

// Anvil's first two well-known development keys (facts from Foundry's documentation).
const char* kKeyA = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const char* kKeyB = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

ClaimReport Unsigned() {
  ClaimReport r;
  r.registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  r.service = "0x" + std::string(64, 'A');
  r.claim = "0x" + std::string(64, 'b') + ":7";
  r.claim_block = 42;
  r.action = "redeployed";
  r.detail = "a leader serves at http://127.0.0.1:8081\nforged: line";
  r.recovery_ms = 2500;
  r.handling_ms = 4100;
  return r;
}

TEST(ClaimReport, Sign_thenVerifyAndRoundTrip) {
  auto key = *eth::PrivateKey::FromHex(kKeyA);
  auto r = SignClaimReport(Unsigned(), key);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manager, "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  EXPECT_EQ(r->service, "0x" + std::string(64, 'a')) << "hex is normalised to lower case";
  EXPECT_EQ(r->signature.size(), 132u);
  EXPECT_TRUE(VerifyClaimReport(*r).ok());
  auto parsed = ParseClaimReport(EncodeClaimReport(*r));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, *r);
  EXPECT_TRUE(VerifyClaimReport(*parsed).ok());
}

TEST(ClaimReport, Verify_refusesAnyChangedField) {
  auto r = *SignClaimReport(Unsigned(), *eth::PrivateKey::FromHex(kKeyA));
  auto changed = [&](auto edit) {
    ClaimReport c = r;
    edit(c);
    return VerifyClaimReport(c).code();
  };
  EXPECT_EQ(changed([](ClaimReport& c) { c.action = "ignored-healthy"; }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(changed([](ClaimReport& c) { c.claim = "0x" + std::string(64, 'b') + ":8"; }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(changed([](ClaimReport& c) { c.service = "0x" + std::string(64, 'c'); }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(changed([](ClaimReport& c) { c.registry = "0x" + std::string(40, '1'); }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(changed([](ClaimReport& c) { c.detail += "!"; }), StatusCode::kPermissionDenied);
  EXPECT_EQ(changed([](ClaimReport& c) { c.recovery_ms = 1; }), StatusCode::kPermissionDenied);
  // Claiming to be another account than the signer.
  auto other = *eth::PrivateKey::FromHex(kKeyB);
  EXPECT_EQ(changed([&](ClaimReport& c) {
              std::string a = other.address().ToChecksum();
              for (char& ch : a) ch = static_cast<char>(std::tolower(ch));
              c.manager = a;
            }),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(changed([](ClaimReport& c) { c.signature[131] = c.signature[131] == '1' ? '2' : '1'; }),
            StatusCode::kInvalidArgument);
}

TEST(ClaimReport, Text_isOneLinePerFieldWhateverTheDetail) {
  std::string text = ClaimReportText(Unsigned());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 10) << text;  // title + 9 fields
  EXPECT_NE(text.find(R"(detail: "a leader serves at http://127.0.0.1:8081\nforged: line")"),
            std::string::npos)
      << text;
}

TEST(ClaimReport, Parse_namesWhatIsWrong) {
  auto r = *SignClaimReport(Unsigned(), *eth::PrivateKey::FromHex(kKeyA));
  auto json = EncodeClaimReport(r);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string j = json;
    auto pos = j.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    j.replace(pos, from.size(), to);
    return ParseClaimReport(j).status();
  };
  EXPECT_NE(with("\"redeployed\"", "\"took a nap\"").message().find("action"), std::string::npos);
  EXPECT_NE(with(":7\"", ":x\"").message().find("claim"), std::string::npos);
  EXPECT_NE(with("\"claim_block\":42", "\"claim_block\":-1").message().find("claim_block"),
            std::string::npos);
  EXPECT_NE(with("\"signature\":\"0x", "\"signature\":\"0").message().find("signature"),
            std::string::npos);
  EXPECT_FALSE(ParseClaimReport("[]").ok());
  EXPECT_FALSE(ParseClaimReport("{").ok());
  ClaimReport long_detail = Unsigned();
  long_detail.detail = std::string(kMaxClaimReportDetail + 1, 'x');
  EXPECT_EQ(SignClaimReport(long_detail, *eth::PrivateKey::FromHex(kKeyA)).status().code(),
            StatusCode::kInvalidArgument);
  ClaimReport bad_utf8 = Unsigned();
  bad_utf8.detail = "\xC0\xAF";
  EXPECT_EQ(SignClaimReport(bad_utf8, *eth::PrivateKey::FromHex(kKeyA)).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace br2k::manager
