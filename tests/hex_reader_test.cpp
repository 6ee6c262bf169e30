// HexReader: `decode --hex` input in each form people paste. The dumps below
// were written by xxd 2023-10-25 (vim 9.1) and util-linux hexdump from the
// bytes of kFrames; the ASCII columns hold '{', '|' and '}' on purpose.
#include "proxy/hex_reader.h"

#include <gtest/gtest.h>

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
