// TcpReassembler: one direction of a captured TCP connection back in order,
// whatever the capture did to its segments.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parser/net/packet.h"
#include "parser/net/tcp_reassembly.h"

namespace wsi {
namespace {

// Records what the reassembler delivers as one line per event.
class Recorder final : public TcpStreamSink {
 public:
  void on_data(std::span<const uint8_t> b) override {
    data.append(b.begin(), b.end());
    if (!log.empty() && log.back().rfind("data ", 0) == 0)
      log.back() += std::string(b.begin(), b.end());
    else
      log.push_back("data " + std::string(b.begin(), b.end()));
  }
  void on_lost(uint64_t from, uint64_t n) override {
    log.push_back("lost " + std::to_string(from) + "+" + std::to_string(n));
  }
  void on_conflict(uint64_t at, uint64_t n) override {
    log.push_back("conflict " + std::to_string(at) + "+" + std::to_string(n));
  }
  void on_end(TcpEnd how) override { log.push_back(how == TcpEnd::fin ? "fin" : "reset"); }

  std::string data;
  std::vector<std::string> log;
};

constexpr uint32_t kIsn = 1000;  // the SYN's sequence number: data starts at 1001

struct Fixture {
  ReassemblyLimits limits;
  Recorder rec;
  TcpReassembler r{limits, rec};

  void syn(uint32_t isn = kIsn) { r.segment(tcp_flag::syn, isn, {}, 0); }
  // `text` at stream offset `off` (after a SYN at isn).
  void seg(uint32_t off, std::string_view text, uint8_t flags = tcp_flag::ack,
           uint32_t isn = kIsn) {
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    r.segment(flags, isn + 1 + off, {p, text.size()}, static_cast<uint32_t>(text.size()));
  }
};

using Log = std::vector<std::string>;

TEST(TcpReassembly, InOrder) {
  Fixture f;
  f.syn();
  f.seg(0, "GET / ");
  f.seg(6, "HTTP/1.1");
  f.seg(14, "", tcp_flag::fin | tcp_flag::ack);
  EXPECT_EQ(f.rec.log, (Log{"data GET / HTTP/1.1", "fin"}));
  EXPECT_TRUE(f.r.saw_syn());
  EXPECT_TRUE(f.r.ended());
}

TEST(TcpReassembly, OutOfOrderIsHeldUntilTheHoleFills) {
  Fixture f;
  f.syn();
  f.seg(4, "efgh");
  f.seg(8, "ijkl");
  EXPECT_TRUE(f.rec.log.empty());
  EXPECT_EQ(f.r.buffered(), 8u);
  f.seg(0, "abcd");
  EXPECT_EQ(f.rec.log, (Log{"data abcdefghijkl"}));
  EXPECT_EQ(f.r.buffered(), 0u);
}

TEST(TcpReassembly, IdenticalRetransmissionsAreSilent) {
  Fixture f;
  f.syn();
  f.seg(0, "abcd");
  f.seg(0, "abcd");  // of delivered bytes
  f.seg(8, "ijkl");
  f.seg(8, "ijkl");      // of held bytes
  f.seg(2, "cdefghij");  // across both, and the hole
  EXPECT_EQ(f.rec.log, (Log{"data abcdefghijkl"}));
}

TEST(TcpReassembly, ConflictingOverlapKeepsTheFirstCopyAndIsReported) {
  Fixture f;
  f.syn();
  f.seg(0, "abcdef");
  f.seg(2, "cXdY");  // offsets 3 and 5 differ from what was delivered
  EXPECT_EQ(f.rec.log, (Log{"data abcdef", "conflict 3+3"}));
  f.seg(10, "klmn");
  f.seg(8, "ijKL");  // 10 and 11 differ from what is held
  EXPECT_EQ(f.rec.log, (Log{"data abcdef", "conflict 3+3", "conflict 10+2"}));
  f.seg(6, "gh");
  EXPECT_EQ(f.rec.data, "abcdefghijklmn");
}

TEST(TcpReassembly, MissingSegmentIsLostAtTheEndOfTheCapture) {
  Fixture f;
  f.syn();
  f.seg(0, "abcd");
  f.seg(8, "ijkl", tcp_flag::ack | tcp_flag::fin);
  EXPECT_EQ(f.rec.log, (Log{"data abcd"}));
  f.r.flush();
  EXPECT_EQ(f.rec.log, (Log{"data abcd", "lost 4+4", "data ijkl", "fin"}));
}

TEST(TcpReassembly, HoleBeyondTheBufferLimitIsLost) {
  Fixture f;
  f.limits.max_buffered = 8;
  f.syn();
  f.seg(0, "ab");
  f.seg(4, "efgh");
  f.seg(8, "ijkl");  // 8 bytes held past the hole: still within the limit
  EXPECT_EQ(f.rec.log, (Log{"data ab"}));
  f.seg(12, "m");  // 9: the hole is given up
  EXPECT_EQ(f.rec.log, (Log{"data ab", "lost 2+2", "data efghijklm"}));
  f.seg(2, "cd");  // too late: already delivered past it, nothing to compare
  EXPECT_EQ(f.rec.log.size(), 3u);
}

TEST(TcpReassembly, ResetEndsTheStreamAfterWhatWasHeld) {
  Fixture f;
  f.syn();
  f.seg(0, "ab");
  f.seg(4, "ef");
  f.seg(6, "", tcp_flag::rst);
  EXPECT_EQ(f.rec.log, (Log{"data ab", "lost 2+2", "data ef", "reset"}));
  f.seg(2, "cd");  // nothing after the end
  EXPECT_EQ(f.rec.log.size(), 4u);
}

TEST(TcpReassembly, FinIsDeliveredOnlyAfterTheBytesBeforeIt) {
  Fixture f;
  f.syn();
  f.seg(4, "", tcp_flag::fin | tcp_flag::ack);
  f.seg(2, "cd");
  EXPECT_TRUE(f.rec.log.empty());
  f.seg(0, "ab");
  EXPECT_EQ(f.rec.log, (Log{"data abcd", "fin"}));
}

TEST(TcpReassembly, SequenceNumbersWrapAround) {
  Fixture f;
  const uint32_t isn = 0xfffffffa;  // data starts 5 below 2^32
  f.syn(isn);
  f.seg(6, "ghij", tcp_flag::ack, isn);  // wrapped: sequence numbers 0..3
  f.seg(0, "abcdef", tcp_flag::ack, isn);
  f.seg(10, "", tcp_flag::ack | tcp_flag::fin, isn);
  EXPECT_EQ(f.rec.log, (Log{"data abcdefghij", "fin"}));
}

TEST(TcpReassembly, FirstSeenMidStreamStartsThere) {
  Fixture f;
  f.seg(500, "xyz");
  f.seg(503, "w");
  EXPECT_FALSE(f.r.saw_syn());
  EXPECT_EQ(f.rec.log, (Log{"data xyzw"}));
  EXPECT_EQ(f.r.delivered(), 4u);
}

TEST(TcpReassembly, KeepAliveProbeIsNotAConflict) {
  Fixture f;
  f.syn();
  f.seg(0, "abcd");
  f.seg(3, std::string_view("\0", 1));  // one byte before the next: a probe
  EXPECT_EQ(f.rec.log, (Log{"data abcd"}));
}

TEST(TcpReassembly, SegmentCutBySnapLengthIsLostPastTheCut) {
  Fixture f;
  f.syn();
  const std::string_view text = "abcdefgh";
  f.r.segment(tcp_flag::ack, kIsn + 1, {reinterpret_cast<const uint8_t*>(text.data()), 3}, 8);
  f.seg(8, "ij");
  EXPECT_EQ(f.rec.log, (Log{"data abc", "lost 3+5", "data ij"}));
}

TEST(TcpReassembly, ReorderedAtEverySplitGivesTheSameStream) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (size_t piece = 1; piece <= 9; ++piece) {
    Fixture f;
    f.syn();
    std::vector<size_t> starts;
    for (size_t at = 0; at < text.size(); at += piece) starts.push_back(at);
    // Every pair swapped, and each segment sent twice.
    for (size_t i = 0; i + 1 < starts.size(); i += 2) std::swap(starts[i], starts[i + 1]);
    for (size_t at : starts)
      for (int twice = 0; twice < 2; ++twice)
        f.seg(static_cast<uint32_t>(at), text.substr(at, piece));
    EXPECT_EQ(f.rec.data, text) << "pieces of " << piece;
    EXPECT_EQ(f.rec.log.size(), 1u) << "pieces of " << piece;
  }
}

}  // namespace
}  // namespace wsi
