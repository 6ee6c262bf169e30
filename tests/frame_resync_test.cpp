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
  const Bytes s = cat({frame(0x00, 10, false), frame(0x80, 10, false), frame(0x81, 3, false)});
  const Resync r = find_frame_start(s, false);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, 24u);
  EXPECT_FALSE(r.masked);
}

TEST(FrameResync, LongChainStartsAtItsSecondMessage) {
  // Payload bytes that pass for a binary header whose length lands on the
  // real first frame: the chain runs on, and its second message is taken.
  const Bytes fake = {0x82, 0x02, 'x', 'y'};
  const Bytes s = cat({fake, frame(0x81, 3, false), frame(0x81, 3, false), frame(0x89, 0, false)});
  const Resync r = find_frame_start(s, false);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, 4u);
}

TEST(FrameResync, ChainThatRunsToTheEndWinsOverOneInARepeatingPayload) {
  // The tail of a payload that repeats "81 02 41 41": every fourth offset
  // passes for a short unmasked text frame, and those chain up to the
  // masked frames that follow, where they break.
  Bytes cut = {'z', 'z', 0xff};
  for (int i = 0; i < 70; ++i) cut.insert(cut.end(), {0x81, 0x02, 0x41, 0x41});
  const Bytes real = cat({frame(0x81, 2, true), frame(0x81, 2, true), frame(0x81, 2, true)});
  const Resync r = find_frame_start(cat({cut, real}), false);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, cut.size());
  EXPECT_TRUE(r.masked);
}

TEST(FrameResync, CorruptedFrameEndsTheChainOnceNothingMoreComes) {
  const Bytes tail = {'z', 'z', 0xff, 0x03};
  const Bytes s = cat({tail, frame(0x81, 2, true), frame(0x81, 2, true), frame(0x81, 2, true),
                       frame(0xa1, 5, true), frame(0x81, 2, true)});
  EXPECT_EQ(find_frame_start(s, false).result, Resync::Result::need_more);
  const Resync r = find_frame_start(s, true);
  ASSERT_EQ(r.result, Resync::Result::found);
  EXPECT_EQ(r.offset, tail.size());
}

TEST(FrameResync, KnownSenderRestrictsTheMaskBit) {
  const Bytes s = cat({frame(0x81, 3, false), frame(0x81, 3, false), frame(0x81, 3, false)});
  EXPECT_EQ(find_frame_start(s, true, 1).result, Resync::Result::none);
  EXPECT_EQ(find_frame_start(s, true, 0).result, Resync::Result::found);
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
