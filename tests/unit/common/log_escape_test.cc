// Log injection (issue 10 item 9): untrusted text reached spdlog raw; a newline forged a line, a
// terminal escape passed through and a 50 KB reason was a 50 KB line.
#include "br2k/common/log_escape.h"

#include <gtest/gtest.h>

#include <string>

#include "br2k/common/utf8.h"

namespace br2k {
namespace {

TEST(EscapeForLog_controls, NewlinesEscapesAndOtherControlsAreWrittenAsEscapes) {
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"plain text", "plain text"},
      {"a\nb", "a\\nb"},
      {"a\r\nFAKE 2026-11-29 [info] manager: ok", "a\\r\\nFAKE 2026-11-29 [info] manager: ok"},
      {"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
      {"tab\there", "tab\\there"},
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"del\x7f", "del\\x7f"},
      {"back\\slash", "back\\\\slash"},  // so that "\n" in the text cannot pass for an escape
      {"h\xC3\xA9llo \xE2\x9C\x93", "h\xC3\xA9llo \xE2\x9C\x93"},  // well-formed UTF-8 kept
      {"c1 \xC2\x9B"
       "31m",
       "c1 \\u{009b}31m"},  // C1 CSI
      {"bidi \xE2\x80\xAE"
       "txt",
       "bidi \\u{202e}txt"},  // right-to-left override
      {"ls \xE2\x80\xA8"
       "x",
       "ls \\u{2028}x"},                            // line separator
      {"bad \xFF\xC0\xAF", "bad \\xff\\xc0\\xaf"},  // not UTF-8
      {"cut \xE2\x9C", "cut \\xe2\\x9c"},
  };
  for (const auto& c : cases) EXPECT_EQ(EscapeForLog(c.in), c.want) << c.in;
}

TEST(EscapeForLog_length, LongTextIsCutAndSaysHowLongItWas) {
  std::string reason(50 * 1024, 'r');
  std::string out = EscapeForLog(reason);
  EXPECT_EQ(out, std::string(256, 'r') + "...(51200 bytes)");
  EXPECT_EQ(EscapeForLog(std::string(256, 'x')), std::string(256, 'x')) << "exactly at the cap";
  // Escapes count towards the cap and are never cut in half; neither is a UTF-8 character.
  std::string nl = EscapeForLog(std::string(200, '\n'), 11);
  EXPECT_EQ(nl, "\\n\\n\\n\\n\\n...(200 bytes)");
  std::string wide = EscapeForLog("\xE2\x9C\x93\xE2\x9C\x93", 4);
  EXPECT_EQ(wide, "\xE2\x9C\x93...(6 bytes)");
  EXPECT_TRUE(IsValidUtf8(wide));
}

TEST(EscapeForLog_output, EveryByteValueGivesOneLineOfValidUtf8) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string out = EscapeForLog(all, 100000);
  EXPECT_TRUE(IsValidUtf8(out));
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    EXPECT_FALSE(u < 0x20 || u == 0x7F) << static_cast<int>(u);
  }
}

}  // namespace
}  // namespace br2k
