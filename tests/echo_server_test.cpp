// MessageDeflater, the compressor of the built-in echo server's replies: every
// message it produces inflates back (with MessageInflater and with zlib
// itself) to what went in, for each window size and context takeover, fed
// whole or a byte at a time; the 00 00 ff ff tail is never sent; an 8-bit
// window never matches further back than 256 bytes.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "parser/deflate.h"

namespace wsi::test {
namespace {

bool collect(void* ctx, const uint8_t* data, size_t n) {
  static_cast<std::string*>(ctx)->append(reinterpret_cast<const char*>(data), n);
  return true;
}

std::string inflate_with(MessageInflater& in, const std::string& payload) {
  std::string out;
  in.begin_message();
  EXPECT_TRUE(
      in.feed(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), collect, &out))
      << in.error();
  EXPECT_TRUE(in.end_message(collect, &out)) << in.error();
  return out;
}

std::string compress(MessageDeflater& d, const std::string& m, size_t chunk) {
  std::string out;
  for (size_t at = 0; at < m.size(); at += chunk) {
    const size_t n = std::min(chunk, m.size() - at);
    EXPECT_TRUE(d.feed(reinterpret_cast<const uint8_t*>(m.data() + at), n, out));
  }
  EXPECT_TRUE(d.end_message(out));
  return out;
}

std::vector<std::string> corpus() {
  std::mt19937 rng(7);
  std::vector<std::string> out = {"", "a", "hello \xe2\x98\x83", std::string(200 * 1024, '\0')};
  std::string random(70000, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  out.push_back(random);
  for (int i = 0; i < 50; ++i)
    out.push_back("message " + std::to_string(i) + " of the same kind " + std::string(i % 13, 'x'));
  std::string text;
  while (text.size() < 100000) text += "the quick brown fox " + std::to_string(text.size());
  out.push_back(text);
  return out;
}

TEST(MessageDeflater, RoundTripsEveryWindowAndTakeover) {
  for (int bits = 8; bits <= 15; ++bits) {
    for (bool no_takeover : {false, true}) {
      for (size_t chunk : {size_t{1} << 20, size_t{4096}, size_t{1}}) {
        SCOPED_TRACE("bits " + std::to_string(bits) + (no_takeover ? " reset" : " takeover") +
                     " chunk " + std::to_string(chunk));
        MessageDeflater d(static_cast<uint8_t>(bits), no_takeover);
        MessageInflater in(static_cast<uint8_t>(bits), no_takeover);
        for (const std::string& m : corpus()) {
          if (chunk == 1 && m.size() > 5000) continue;  // slow and adds nothing
          const std::string payload = compress(d, m, chunk);
          ASSERT_FALSE(payload.empty()) << "an empty message is still one byte (00)";
          ASSERT_FALSE(payload.size() >= 4 &&
                       payload.compare(payload.size() - 4, 4, std::string("\0\0\xff\xff", 4)) == 0)
              << "the sync-flush tail must be removed";
          ASSERT_EQ(inflate_with(in, payload), m);
          EXPECT_EQ(d.allocated(), !no_takeover);
        }
      }
    }
  }
}

TEST(MessageDeflater, EightBitWindowNeverMatchesFarBack) {
  // zlib refuses a raw 8-bit deflate window and runs 9, whose matches reach
  // at most 250 bytes back: a 2000-byte block repeated is not found again,
  // so the message costs twice the block, where a 15-bit window costs once.
  std::mt19937 rng(3);
  std::string block;
  for (int i = 0; i < 2000; ++i) block += static_cast<char>('a' + rng() % 26);
  MessageDeflater d8(8, true), d15(15, true), once(8, true);
  const size_t narrow = compress(d8, block + block, 1 << 20).size();
  const size_t wide = compress(d15, block + block, 1 << 20).size();
  const size_t single = compress(once, block, 1 << 20).size();
  EXPECT_GT(narrow, single * 19 / 10);
  EXPECT_LT(wide, single * 12 / 10);
  MessageInflater in(8, true);
  EXPECT_EQ(inflate_with(in, compress(d8, block + block, 1 << 20)), block + block);
}

TEST(MessageDeflater, ContextTakeoverMakesRepeatsSmaller) {
  const std::string mixed = "a line of text that repeats from one message to the next, 12345";
  MessageDeflater keep(15, false), reset(15, true);
  compress(keep, mixed, 1 << 20);
  compress(reset, mixed, 1 << 20);
  EXPECT_LT(compress(keep, mixed, 1 << 20).size(), compress(reset, mixed, 1 << 20).size());
}

}  // namespace
}  // namespace wsi::test
