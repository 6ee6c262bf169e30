#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "parser/mask.h"
#include "parser/utf8.h"

namespace wsi {
namespace {

// Reference: Unicode Table 3-7 (well-formed byte sequences), applied directly.
// Returns the index of the first byte that cannot continue a valid prefix, or
// npos; `complete` tells whether the text ends on a code point boundary.
size_t reference_first_error(const std::vector<uint8_t>& s, bool& complete) {
  struct Row {
    uint8_t lo, hi;      // lead byte range
    uint8_t len;         // sequence length
    uint8_t b2lo, b2hi;  // second byte range
  };
  static const Row rows[] = {
      {0x00, 0x7F, 1, 0, 0},       {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
      {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF},
      {0xF0, 0xF0, 4, 0x90, 0xBF}, {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F}};
  size_t i = 0;
  while (i < s.size()) {
    const Row* row = nullptr;
    for (const Row& r : rows)
      if (s[i] >= r.lo && s[i] <= r.hi) row = &r;
    if (!row) {
      complete = false;
      return i;
    }
    for (size_t k = 1; k < row->len; ++k) {
      if (i + k >= s.size()) {
        complete = false;
        return Utf8Validator::npos;
      }
      const uint8_t lo = k == 1 ? row->b2lo : 0x80, hi = k == 1 ? row->b2hi : 0xBF;
      if (s[i + k] < lo || s[i + k] > hi) {
        complete = false;
        return i + k;
      }
    }
    i += row->len;
  }
  complete = true;
  return Utf8Validator::npos;
}

void expect_same_as_reference(const std::vector<uint8_t>& s) {
  bool ref_complete = false;
  const size_t ref = reference_first_error(s, ref_complete);
  Utf8Validator v;
  const size_t got = v.feed(s.data(), s.size());
  ASSERT_EQ(got, ref);
  if (ref == Utf8Validator::npos) {
    ASSERT_EQ(v.complete(), ref_complete);
  }
}

TEST(Utf8, AllOneAndTwoByteSequences) {
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      expect_same_as_reference({static_cast<uint8_t>(a), static_cast<uint8_t>(b)});
}

TEST(Utf8, AllThreeByteSequencesWithMultiByteLeads) {
  for (int a = 0xC0; a < 256; ++a)
    for (int b = 0x70; b < 0xC8; ++b)
      for (int c = 0x70; c < 0xC8; ++c)
        expect_same_as_reference(
            {static_cast<uint8_t>(a), static_cast<uint8_t>(b), static_cast<uint8_t>(c)});
}

TEST(Utf8, FourByteBoundaries) {
  // U+10000 and U+10FFFF are the ends of the four-byte range.
  EXPECT_TRUE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xF0\x90\x80\x80"), 4));
  EXPECT_TRUE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xF4\x8F\xBF\xBF"), 4));
  EXPECT_FALSE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xF4\x90\x80\x80"), 4));
  EXPECT_FALSE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xF0\x8F\xBF\xBF"), 4));
  // Surrogate halves U+D800 and U+DFFF; U+D7FF and U+E000 around them are fine.
  EXPECT_FALSE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xED\xA0\x80"), 3));
  EXPECT_FALSE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xED\xBF\xBF"), 3));
  EXPECT_TRUE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xED\x9F\xBF"), 3));
  EXPECT_TRUE(Utf8Validator::valid(reinterpret_cast<const uint8_t*>("\xEE\x80\x80"), 3));
}

// Random mixes of valid text and noise, fed in random pieces: the streaming
// result (first error index, completeness) matches the reference.
TEST(Utf8, RandomTextInRandomPieces) {
  std::mt19937 rng(12345);
  const char* samples[] = {"a", "é", "κόσμε", "€", "𝄞", "日本語", "\x7f", "ok "};
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> s;
    const int parts = rng() % 40;
    for (int p = 0; p < parts; ++p) {
      if (rng() % 25 == 0) {
        s.push_back(static_cast<uint8_t>(rng()));
      } else {
        const char* t = samples[rng() % 8];
        s.insert(s.end(), t, t + strlen(t));
      }
    }
    bool ref_complete = false;
    const size_t ref = reference_first_error(s, ref_complete);
    Utf8Validator v;
    size_t at = 0, got = Utf8Validator::npos;
    while (at < s.size()) {
      const size_t n = std::min<size_t>(s.size() - at, 1 + rng() % 20);
      const size_t r = v.feed(s.data() + at, n);
      if (r != Utf8Validator::npos) {
        got = at + r;
        break;
      }
      at += n;
    }
    ASSERT_EQ(got, ref) << "round " << round;
    if (ref == Utf8Validator::npos) {
      ASSERT_EQ(v.complete(), ref_complete);
    }
  }
}

TEST(Utf8, PendingCountsBytesOfTheUnfinishedCodePoint) {
  Utf8Validator v;
  const uint8_t euro[] = {0xE2, 0x82, 0xAC};
  EXPECT_EQ(v.feed(euro, 1), Utf8Validator::npos);
  EXPECT_EQ(v.pending(), 1u);
  EXPECT_EQ(v.feed(euro + 1, 1), Utf8Validator::npos);
  EXPECT_EQ(v.pending(), 2u);
  EXPECT_EQ(v.feed(euro + 2, 1), Utf8Validator::npos);
  EXPECT_TRUE(v.complete());
  EXPECT_EQ(v.pending(), 0u);
}

TEST(Unmask, MatchesBytewiseXorForEveryPhaseAndLength) {
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::vector<uint8_t> src(100);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 3);
  const std::vector<uint8_t> original = src;
  for (uint64_t phase = 0; phase < 8; ++phase) {
    for (size_t n = 0; n <= src.size(); ++n) {
      std::vector<uint8_t> dst(n + 1, 0xEE);
      unmask_copy(dst.data(), src.data(), n, key, phase);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(dst[i], src[i] ^ key[(phase + i) % 4]);
      ASSERT_EQ(dst[n], 0xEE) << "wrote past the end";
    }
  }
  EXPECT_EQ(src, original) << "the source must never be modified";
}

}  // namespace
}  // namespace wsi
