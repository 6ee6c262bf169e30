// HexReader: `decode --hex` input in each form people paste. The dumps below
// were written by xxd 2023-10-25 (vim 9.1) and util-linux hexdump from the
// bytes of kFrames; the ASCII columns hold '{', '|' and '}' on purpose.
#include "proxy/hex_reader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsi {
namespace {

// A text frame "Hello", a 19-byte binary frame in the 16-bit length form
// whose payload prints as "{bcdefghijklmnopq|}", and a close frame 1000.
constexpr char kFrameBytes[] = "\x81\x05Hello\x82\x7e\x00\x13{bcdefghijklmnopq|}\x88\x02\x03\xe8";
const std::vector<uint8_t> kFrames(kFrameBytes, kFrameBytes + sizeof kFrameBytes - 1);

struct Read {
  bool ok;
  std::vector<uint8_t> bytes;
  unsigned line;
  char bad;
  std::string error;
  bool odd;
};

// Whole, then byte by byte (a line is decided only when it is complete).
Read read(std::string_view text) {
  Read whole{};
  HexReader a;
  whole.ok = a.feed(text.data(), text.size(), whole.bytes) && a.finish(whole.bytes);
  whole.line = a.line();
  whole.bad = a.bad();
  whole.error = a.error();
  whole.odd = a.odd();
  std::vector<uint8_t> bytes;
  HexReader b;
  bool ok = true;
  for (size_t i = 0; i < text.size() && ok; ++i) ok = b.feed(&text[i], 1, bytes);
  ok = ok && b.finish(bytes);
  EXPECT_EQ(ok, whole.ok) << text;
  EXPECT_EQ(bytes, whole.bytes) << text;
  EXPECT_EQ(b.line(), whole.line) << text;
  return whole;
}

void expect_frames(std::string_view text) {
  const Read r = read(text);
  ASSERT_TRUE(r.ok) << r.error << " at line " << r.line << "\n" << text;
  EXPECT_EQ(r.bytes, kFrames) << text;
  EXPECT_FALSE(r.odd) << text;
}

TEST(HexReader, PlainHexAsBefore) {
  expect_frames(
      "# a text frame\n"
      "81 05 48656c6c6f\n"
      "82 7e 0013  # 19 bytes\n"
      "7b6263646566 6768696a6b6c6d6e6f7071 7c7d\r\n"
      "88 0\n"
      "2 03e8");  // a byte split across lines, and no line break at the end
}

TEST(HexReader, Xxd) {
  expect_frames(
      "00000000: 8105 4865 6c6c 6f82 7e00 137b 6263 6465  ..Hello.~..{bcde\n"
      "00000010: 6667 6869 6a6b 6c6d 6e6f 7071 7c7d 8802  fghijklmnopq|}..\n"
      "00000020: 03e8                                     ..\n");
}

TEST(HexReader, XxdOneByteGroups) {
  expect_frames(
      "00000000: 81 05 48 65 6c 6c 6f 82 7e 00 13 7b 62 63 64 65  ..Hello.~..{bcde\n"
      "00000010: 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 7c 7d 88 02  fghijklmnopq|}..\n"
      "00000020: 03 e8                                            ..\n");
}

TEST(HexReader, HexdumpCanonical) {
  expect_frames(
      "00000000  81 05 48 65 6c 6c 6f 82  7e 00 13 7b 62 63 64 65  |..Hello.~..{bcde|\n"
      "00000010  66 67 68 69 6a 6b 6c 6d  6e 6f 70 71 7c 7d 88 02  |fghijklmnopq|}..|\n"
      "00000020  03 e8                                             |..|\n"
      "00000022\n");
}

TEST(HexReader, XxdIncludeAndArrays) {
  expect_frames(
      "unsigned char f_bin[] = {\n"
      "  0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x82, 0x7e, 0x00, 0x13, 0x7b,\n"
      "  0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,\n"
      "  0x6e, 0x6f, 0x70, 0x71, 0x7c, 0x7d, 0x88, 0x02, 0x03, 0xe8\n"
      "};\n"
      "unsigned int f_bin_len = 34;\n");
  // xxd -i of standard input: the bytes only.
  expect_frames(
      "  0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x82, 0x7e, 0x00, 0x13, 0x7b,\n"
      "  0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,\n"
      "  0x6e, 0x6f, 0x70, 0x71, 0x7c, 0x7d, 0x88, 0x02, 0x03, 0xe8\n");
  // JavaScript, with one-digit tokens and the array on one line.
  expect_frames(
      "[0x81, 0x5, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x82, 0x7E, 0x0, 0x13, 0x7B,\n"
      " 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,\n"
      " 0x6e, 0x6f, 0x70, 0x71, 0x7c, 0x7d, 0x88, 0x2, 0x3, 0xe8];\n");
  expect_frames(
      "const uint8_t f[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x82, 0x7e, 0x00, 0x13, "
      "0x7b, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, "
      "0x6f, 0x70, 0x71, 0x7c, 0x7d, 0x88, 0x02, 0x03, 0xe8};  // the frames\n");
}

TEST(HexReader, Escapes) {
  expect_frames(
      "\\x81\\x05\\x48\\x65\\x6c\\x6c\\x6f\n"
      "b'\\x82\\x7e\\x00\\x13\\x7b\\x62\\x63\\x64\\x65\\x66\\x67\\x68\\x69\\x6a\\x6b\\x6c\\x6d'\n"
      "\"\\x6e\\x6f\\x70\\x71\\x7c\\x7d\\x88\\x02\\x03\\xe8\"\n");
}

TEST(HexReader, FormsMixFreely) {
  expect_frames(
      "00000000: 8105 4865 6c6c 6f                        ..Hello\n"
      "00000000  82 7e 00 13 7b 62 63 64  65 66 67 68 69 6a 6b 6c  |.~..{bcdefghijkl|\n"
      "0x6d, 0x6e, 0x6f, 0x70, 0x71,\n"
      "\\x7c\\x7d\n"
      "88 02 03e8  # plain again\n");
}

TEST(HexReader, BytesAfterAnArrayAreRead) {
  // Plain hex, 0x tokens, [..] and \x escapes after '}' are bytes; only a
  // line that looks like none (a declaration) is ignored.
  expect_frames(
      "{0x81,0x05};\n"
      "48656c6c6f\n"
      "{0x82};\n"
      "0x7e, 0x00, 0x13,\n"
      "{0x7b};\n"
      "[0x62]\n"
      "{};\n"
      "\\x63\\x64\\x65\\x66\\x67\\x68\\x69\\x6a\\x6b\\x6c\\x6d\\x6e\\x6f\\x70\\x71\\x7c\n"
      "7d 88 02 03e8\n");
  expect_frames(
      "unsigned char a[] = {0x81, 0x05};\n"
      "unsigned int a_len = 2;\n"
      "48 65 6c 6c 6f 82 7e 00 13 7b 62 63 64 65 66 67 68 69\n"
      "const char b[] = {0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x7c, 0x7d};\n"
      "const size_t b_len = 10;\n"
      "b'\\x88\\x02\\x03\\xe8'\n");
  // Once bytes are read again, a line that is not bytes is an error again.
  const Read r = read("{0x81};\n05\n48 6g\n");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.line, 3u);
  EXPECT_EQ(r.error, "not a hex digit: 'g'");
}

TEST(HexReader, EightDigitsAfterHexdumpAreBytesUnlessTheDumpEnds) {
  const std::string first =
      "00000000  81 05 48 65 6c 6c 6f 82  7e 00 13 7b 62 63 64 65  |..Hello.~..{bcde|\n";
  // Followed by other lines: bytes.
  expect_frames(first + "66676869\n6a6b6c6d6e6f70717c7d880203e8\n");
  expect_frames(first +
                "66676869\n\n# a comment\n0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71,\n"
                "7c7d880203e8");
  expect_frames(first + "66676869\n6a6b6c6d\n6e6f7071\n7c7d8802\n03e8\n");  // none held twice
  // The last line, with or without a line break: hexdump's final offset.
  expect_frames(first +
                "00000010  66 67 68 69 6a 6b 6c 6d  6e 6f 70 71 7c 7d 88 02  |fghijklmnopq|}..|\n"
                "00000020  03 e8                                             |..|\n00000022");
  // Followed by another hexdump -C line: the offset of a dump that ended.
  expect_frames(
      "00000000  81 05 48 65 6c 6c 6f                              |..Hello|\n"
      "00000007\n"
      "00000000  82 7e 00 13 7b 62 63 64  65 66 67 68 69 6a 6b 6c  |.~..{bcdefghijkl|\n"
      "00000010  6d 6e 6f 70 71 7c 7d 88  02 03 e8                 |mnopq|}....|\n"
      "0000001b\n");
}

// 200 KiB of plain hex on one line: `xxd -p -c0`, or hex cut out of JSON.
std::string long_hex(size_t bytes, std::vector<uint8_t>& want) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<uint8_t>(i * 7 + i / 256);
    want.push_back(b);
    text += kDigits[b >> 4];
    text += kDigits[b & 15];
  }
  return text;
}

TEST(HexReader, LongPlainHexLineStreams) {
  std::vector<uint8_t> want{0x81, 0x05};
  const std::string line = long_hex(100 * 1024, want);  // 200 KiB of text
  const std::string text = "8105\n" + line.substr(0, 100001) + " \t" + line.substr(100001) +
                           "  # the end\r\n00000000: 8105  ..\n";
  want.push_back(0x81);
  want.push_back(0x05);
  std::vector<uint8_t> out;
  HexReader hex;
  const size_t line_end = text.find('\n', 5);
  size_t before_end = 0;
  for (size_t i = 0; i < text.size(); i += 1000) {
    const size_t n = std::min<size_t>(1000, text.size() - i);
    ASSERT_TRUE(hex.feed(text.data() + i, n, out)) << hex.error();
    if (i + n <= line_end) before_end = out.size();
  }
  ASSERT_TRUE(hex.finish(out));
  EXPECT_FALSE(hex.odd());
  EXPECT_EQ(out, want);
  // Bytes came out while the line was still open: it was not held whole.
  EXPECT_GT(before_end, 60000u);
  EXPECT_EQ(hex.line(), 4u);
  // Whole and byte by byte alike, the nibbles joined across the chunks.
  const Read r = read(text);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.bytes, want);
  // An odd digit at its end is still an incomplete byte.
  const Read odd = read(line + "8");
  ASSERT_TRUE(odd.ok);
  EXPECT_TRUE(odd.odd);
  // A comment that starts before the cap runs to the end of the line.
  const Read comment = read("81 # " + std::string(70000, 'x') + "\n05\n");
  ASSERT_TRUE(comment.ok) << comment.error;
  EXPECT_EQ(comment.bytes, (std::vector<uint8_t>{0x81, 0x05}));
}

TEST(HexReader, LongLineThatIsNotPlainHexFails) {
  std::string tokens;
  while (tokens.size() < 70000) tokens += "0x81, ";
  std::vector<uint8_t> unused;
  struct Long {
    std::string text;
    unsigned line;
    char bad;
    std::string where;
  };
  const Long cases[] = {
      {"8105\n" + tokens + "\n", 2, 'x',
       "line 2 is longer than 64 KiB and is not plain hex ('x' at byte 2"},
      // Plain up to the cap, then not.
      {"\n\n" + long_hex(40000, unused) + "zz\n", 3, 'z',
       "line 3 is longer than 64 KiB and is not plain hex ('z' at byte 80001"},
      // Inside an array: tokens, never plain hex.
      {"{\n" + std::string(70000, '0') + "\n}\n", 2, '0',
       "line 2 is longer than 64 KiB and is not plain hex ('0' at byte 1"},
  };
  for (const Long& c : cases) {
    const Read r = read(c.text);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.line, c.line);
    EXPECT_EQ(r.bad, c.bad);
    EXPECT_EQ(r.error, c.where +
                           " of the line): a line that long is read only as plain hex (hex "
                           "digits, whitespace, a '#' comment), as it streams");
  }
}

struct Bad {
  std::string_view text;
  unsigned line;
  char bad;
  std::string_view error;
};

TEST(HexReader, ErrorsSayTheLineAndTheCharacter) {
  const Bad cases[] = {
      {"81 05\n48 6g\n", 2, 'g', "not a hex digit: 'g'"},
      {"00000000: 8105 zz65  ..\n", 1, 'z', "not a hex digit: 'z'"},
      {"0x81, 0x123\n", 1, '1', "'0x123' is not one byte (0x and one or two hex digits)"},
      {"0x81, 0x\n", 1, 'x', "'0x' is not one byte (0x and one or two hex digits)"},
      {"\\x81\\x5\n", 1, '5', "an escape that is not \\x and two hex digits"},
      {"\\x81\\n\n", 1, 'n', "an escape that is not \\x and two hex digits"},
      {"00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n"
       "00000030\n",
       2, '*', "hexdump left out repeated lines ('*'): run hexdump -C -v to write them"},
      {"8\n0x05\n", 2, '0',
       "a whole byte after an odd number of hex digits (the byte before is incomplete)"},
  };
  for (const Bad& c : cases) {
    const Read r = read(c.text);
    EXPECT_FALSE(r.ok) << c.text;
    EXPECT_EQ(r.line, c.line) << c.text;
    EXPECT_EQ(r.bad, c.bad) << c.text;
    EXPECT_EQ(r.error, c.error) << c.text;
  }
}

TEST(HexReader, OddDigitsAndPendingLines) {
  std::vector<uint8_t> out;
  HexReader hex;
  ASSERT_TRUE(hex.feed("81 0", 4, out));
  EXPECT_TRUE(hex.odd());  // a last line not read yet
  ASSERT_TRUE(hex.finish(out));
  EXPECT_TRUE(hex.odd());  // the digit 0 alone
  EXPECT_EQ(out, std::vector<uint8_t>{0x81});
  HexReader comment;
  ASSERT_TRUE(comment.feed("8105\n# the end", 14, out));
  EXPECT_FALSE(comment.odd());
}

}  // namespace
}  // namespace wsi
