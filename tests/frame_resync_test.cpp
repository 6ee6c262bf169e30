// find_frame_start: where frames begin in a stream seen from its middle.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "parser/net/frame_resync.h"

namespace wsi {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes frame(uint8_t first, size_t len, bool masked) {
  Bytes b = {first};
  if (len < 126) {
    b.push_back(static_cast<uint8_t>(len | (masked ? 0x80 : 0)));
  } else {
    b.push_back(masked ? 0xfe : 0x7e);
    b.push_back(static_cast<uint8_t>(len >> 8));
    b.push_back(static_cast<uint8_t>(len));
  }
  if (masked)
    for (uint8_t k : {0x37, 0xfa, 0x21, 0x3d}) b.push_back(k);
  for (size_t i = 0; i < len; ++i) b.push_back(static_cast<uint8_t>('a' + i % 26));
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(FrameResync, SkipsTheTailOfAFrameAndFindsTheNextMessage) {
  const Bytes tail = {'z', 'z', 0xff, 0x03};  // the end of a payload cut by the capture
  const Bytes s = cat({tail, frame(0x81, 5, true), frame(0x82, 300, true), frame(0x89, 0, true)});
  const Resync r = find_frame_start(s, false);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, tail.size());
  EXPECT_TRUE(r.masked);
}

TEST(FrameResync, ContinuationFramesAreSkippedToAMessageStart) {
  const Bytes s = cat({frame(0x00, 10, false), frame(0x80, 10, false), frame(0x81, 3, false),
                       frame(0x81, 3, false)});
  const Resync r = find_frame_start(s, false);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, 24u);
  EXPECT_FALSE(r.masked);
}

TEST(FrameResync, ShortChainNeedsMoreUnlessTheStreamEnded) {
  const Bytes s = cat({Bytes{'q'}, frame(0x81, 4, false)});
  EXPECT_EQ(find_frame_start(s, false).result, Resync::Result::need_more);
  const Resync r = find_frame_start(s, true);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, 1u);
}

TEST(FrameResync, TextThatChainsNowhereIsNone) {
  const std::string text = "this is not a websocket stream at all, only words.";
  const Bytes s(text.begin(), text.end());
  EXPECT_EQ(find_frame_start(s, true).result, Resync::Result::none);
}

}  // namespace
}  // namespace wsi
