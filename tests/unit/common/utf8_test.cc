// Strict UTF-8 (issue 10 item 7: the front end's lax check let overlong forms, surrogates and
// F5..F7 through, and etcd then stored U+FFFD where the leader had applied the raw bytes).
// Cases from the Unicode Standard, chapter 3, Table 3-7 "Well-Formed UTF-8 Byte Sequences" and
// section 3.9 "U+FFFD Substitution of Maximal Subparts" (Table 3-8's examples), and from Markus
// Kuhn's "UTF-8 decoder capability and stress test"
// (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt), sections noted per case.
#include "br2k/common/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace br2k {
namespace {

struct Case {
  const char* name;
  std::string bytes;
  size_t first_invalid;  // npos when well-formed
};

constexpr size_t kOk = std::string_view::npos;

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

const Case kCases[] = {
    // Well-formed: Table 3-7's boundaries and Kuhn 1, 2.1-2.3.
    {"empty", "", kOk},
    {"ascii with NUL and controls", std::string("a\0\x1b\x7f", 4), kOk},
    {"kosme (Kuhn 1)", B({0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5}), kOk},
    {"U+0080 (Kuhn 2.1.2)", B({0xC2, 0x80}), kOk},
    {"U+07FF (Kuhn 2.2.2)", B({0xDF, 0xBF}), kOk},
    {"U+0800 (Kuhn 2.1.3)", B({0xE0, 0xA0, 0x80}), kOk},
    {"U+D7FF (Kuhn 2.3.1)", B({0xED, 0x9F, 0xBF}), kOk},
    {"U+E000 (Kuhn 2.3.2)", B({0xEE, 0x80, 0x80}), kOk},
    {"U+FFFD (Kuhn 2.3.4)", B({0xEF, 0xBF, 0xBD}), kOk},
    {"U+FFFF noncharacter is well-formed (Kuhn 2.2.3)", B({0xEF, 0xBF, 0xBF}), kOk},
    {"U+10000 (Kuhn 2.1.4)", B({0xF0, 0x90, 0x80, 0x80}), kOk},
    {"U+10FFFF (Kuhn 2.3.5)", B({0xF4, 0x8F, 0xBF, 0xBF}), kOk},
    {"emoji U+1F600", B({0xF0, 0x9F, 0x98, 0x80}), kOk},
    // Ill-formed lead and continuation bytes (Kuhn 3.1, 3.5; Table 3-7).
    {"stray continuation 80 (Kuhn 3.1.1)", "a" + B({0x80}), 1},
    {"stray continuation BF (Kuhn 3.1.2)", B({0xBF}), 0},
    {"C0 lead (Kuhn 4.1.1 overlong '/')", B({0xC0, 0xAF}), 0},
    {"C1 lead (overlong U+007F)", B({0xC1, 0xBF}), 0},
    {"FE (Kuhn 3.5.1)", B({0xFE}), 0},
    {"FF (Kuhn 3.5.2)", B({0xFF}), 0},
    {"F5 (above U+10FFFF)", B({0xF5, 0x80, 0x80, 0x80}), 0},
    {"F7 (above U+10FFFF)", B({0xF7, 0xBF, 0xBF, 0xBF}), 0},
    {"F8 5-byte form (Kuhn 2.1.5)", B({0xF8, 0x88, 0x80, 0x80, 0x80}), 0},
    {"FC 6-byte form (Kuhn 2.1.6)", B({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}), 0},
    // Overlong forms (Kuhn 4.1-4.3).
    {"overlong '/' in 3 bytes (Kuhn 4.1.2)", B({0xE0, 0x80, 0xAF}), 0},
    {"overlong '/' in 4 bytes (Kuhn 4.1.3)", B({0xF0, 0x80, 0x80, 0xAF}), 0},
    {"overlong U+07FF in 3 bytes (Kuhn 4.2.2)", B({0xE0, 0x9F, 0xBF}), 0},
    {"overlong U+FFFF in 4 bytes (Kuhn 4.2.3)", B({0xF0, 0x8F, 0xBF, 0xBF}), 0},
    {"overlong NUL (Kuhn 4.3.1)", B({0xC0, 0x80}), 0},
    // Surrogates (Kuhn 5.1, 5.2).
    {"U+D800 (Kuhn 5.1.1)", B({0xED, 0xA0, 0x80}), 0},
    {"U+DFFF (Kuhn 5.1.7)", B({0xED, 0xBF, 0xBF}), 0},
    {"paired surrogates (Kuhn 5.2.1)", B({0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80}), 0},
    // Above U+10FFFF.
    {"U+110000", B({0xF4, 0x90, 0x80, 0x80}), 0},
    // Truncated and interrupted sequences (Kuhn 3.2, 3.3; Unicode 3.9 Table 3-8).
    {"lead then space (Kuhn 3.2.1)", B({0xC2, 0x20}), 0},
    {"3-byte missing last (Kuhn 3.3.2)", B({0xE0, 0xA0}), 0},
    {"4-byte missing last (Kuhn 3.3.3)", "ok" + B({0xF0, 0x90, 0x80}), 2},
    {"cut at the end after a good char", B({0xC3, 0xA9, 0xE2, 0x82}), 2},
    {"Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64",
     B({0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64}), 1},
    {"continuation byte out of range in 4th", B({0xF1, 0x80, 0x80, 0xC0}), 0},
};

TEST(Utf8_strict, UnicodeAndKuhnTestCases) {
  for (const auto& c : kCases) {
    EXPECT_EQ(FirstInvalidUtf8(c.bytes), c.first_invalid) << c.name;
    EXPECT_EQ(IsValidUtf8(c.bytes), c.first_invalid == kOk) << c.name;
  }
}

// Every 1- and 2-byte input and every lead byte with each second byte, against Table 3-7 restated
// as ranges of code points.
TEST(Utf8_strict, EveryTwoByteInputMatchesTheCodePointRanges) {
  for (int a = 0; a < 256; ++a) {
    EXPECT_EQ(IsValidUtf8(B({a})), a < 0x80) << a;
    for (int b = 0; b < 256; ++b) {
      bool want = (a < 0x80 && b < 0x80) || (a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF);
      EXPECT_EQ(IsValidUtf8(B({a, b})), want) << a << " " << b;
    }
  }
}

TEST(Utf8_strict, EveryCodePointEncodedIsValidExceptSurrogates) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x3000 ? 1 : 61)) {
    std::string s;
    if (cp < 0x80) {
      s = B({static_cast<int>(cp)});
    } else if (cp < 0x800) {
      s = B({static_cast<int>(0xC0 | (cp >> 6)), static_cast<int>(0x80 | (cp & 0x3F))});
    } else if (cp < 0x10000) {
      s = B({static_cast<int>(0xE0 | (cp >> 12)), static_cast<int>(0x80 | ((cp >> 6) & 0x3F)),
             static_cast<int>(0x80 | (cp & 0x3F))});
    } else {
      s = B({static_cast<int>(0xF0 | (cp >> 18)), static_cast<int>(0x80 | ((cp >> 12) & 0x3F)),
             static_cast<int>(0x80 | ((cp >> 6) & 0x3F)), static_cast<int>(0x80 | (cp & 0x3F))});
    }
    bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    EXPECT_EQ(IsValidUtf8(s), !surrogate) << std::hex << cp;
  }
}

}  // namespace
}  // namespace br2k
