// permessage-deflate inflation in the inspector: every parameter combination
// (window bits, context takeover) at several message sizes, in the manner of
// the Autobahn 12.x/13.x cases, with streams compressed here by zlib; plus
// corrupted streams, context-takeover desyncs, window overruns and bombs.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "inspect_util.h"
#include "parser/deflate.h"
#include "parser/handshake.h"
#include "proxy/frame_writer.h"
#include "splits.h"

namespace wsi::test {
namespace {

constexpr uint8_t kKey[4] = {0x11, 0x22, 0x33, 0x44};

// Compresses messages the way a permessage-deflate sender does.
class Compressor {
 public:
  Compressor(int window_bits, bool reset_each_message) : reset_(reset_each_message) {
    deflateInit2(&z_, 6, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY);
  }
  ~Compressor() { deflateEnd(&z_); }
  std::string message(const std::string& in) {
    if (reset_ && used_) deflateReset(&z_);
    used_ = true;
    std::string out(in.size() + 1024, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    size_t have = 0;
    do {
      if (out.size() - have < 64) out.resize(out.size() * 2);
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + have);
      z_.avail_out = static_cast<uInt>(out.size() - have);
      deflate(&z_, Z_SYNC_FLUSH);
      have = out.size() - z_.avail_out;
    } while (z_.avail_out == 0);
    out.resize(have);
    // Nothing new to flush (an empty message after a flush): RFC 7692
    // §7.2.3.6 sends an empty DEFLATE block instead.
    if (out.empty()) return std::string(1, '\0');
    EXPECT_EQ(out.substr(out.size() - 4), std::string("\x00\x00\xff\xff", 4));
    out.resize(out.size() - 4);  // RFC 7692 §7.2.1
    return out;
  }

 private:
  z_stream z_{};
  bool reset_;
  bool used_ = false;
};

std::string mixed_text(size_t n, uint32_t seed) {
  static const char* words[] = {"wsinspect ", "frame ", "κόσμε ", "日本語 ",
                                "ünïcödé ",   "𝄞 ",     "ok "};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += words[rng() % 7];
  while (s.size() > n) {
    // Trim whole code points only.
    size_t cut = s.size() - 1;
    while ((static_cast<uint8_t>(s[cut]) & 0xC0) == 0x80) --cut;
    s.resize(cut);
  }
  return s;
}

struct Combo {
  int window_bits;
  bool no_context_takeover;
  Sender sender;
};

std::string combo_name(const Combo& c) {
  return "w" + std::to_string(c.window_bits) + (c.no_context_takeover ? "_nct" : "_ct") +
         (c.sender == Sender::client ? "_client" : "_server");
}

InspectorConfig deflate_config(const Combo& c) {
  InspectorConfig cfg;
  cfg.sender = c.sender;
  cfg.deflate_negotiated = true;
  if (c.sender == Sender::client) {
    cfg.deflate.client_max_window_bits = static_cast<uint8_t>(c.window_bits);
    cfg.deflate.client_no_context_takeover = c.no_context_takeover;
  } else {
    cfg.deflate.server_max_window_bits = static_cast<uint8_t>(c.window_bits);
    cfg.deflate.server_no_context_takeover = c.no_context_takeover;
  }
  return cfg;
}

class MessageLog : public RecordingSink {
 public:
  std::vector<uint64_t> inflated;
  void on_message(const MessageInfo& m) override {
    RecordingSink::on_message(m);
    inflated.push_back(m.inflated_size);
  }
};

class DeflateCombos : public ::testing::TestWithParam<Combo> {};

TEST_P(DeflateCombos, ValidStreamsInflateCleanlyAtEverySize) {
  const Combo c = GetParam();
  Compressor comp(c.window_bits, c.no_context_takeover);
  const uint8_t* mask = c.sender == Sender::client ? kKey : nullptr;
  std::string stream;
  std::vector<size_t> sizes;
  uint32_t seed = 1;
  for (size_t size : {0, 16, 64, 256, 1024, 4096, 32768, 131072}) {
    for (int repeat = 0; repeat < 2; ++repeat) {  // the repeat exercises back-references
      const std::string text = mixed_text(size, seed);
      const std::string z = comp.message(text);
      if (size >= 1024) {
        // Fragment it: RSV1 on the first frame only.
        const size_t half = z.size() / 2;
        stream += frame(opcode::text, z.substr(0, half), false, 4, mask);
        stream += frame(opcode::continuation, z.substr(half), true, 0, mask);
      } else {
        stream += frame(opcode::text, z, true, 4, mask);
      }
      sizes.push_back(text.size());
    }
    ++seed;
  }
  const auto bytes = bytes_of(stream);
  std::mt19937 rng(99);
  for (int round = 0; round < 3; ++round) {
    MessageLog sink;
    StreamInspector insp(deflate_config(c), sink);
    for (size_t at = 0; at < bytes.size();) {
      const size_t n =
          round == 0 ? bytes.size() : std::min<size_t>(bytes.size() - at, 1 + rng() % 3000);
      insp.feed(bytes.subspan(at, n));
      at += n;
    }
    insp.finish();
    EXPECT_TRUE(sink.violations.empty()) << combo_name(c) << ": " << sink.violations[0];
    ASSERT_EQ(sink.inflated.size(), sizes.size());
    for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(sink.inflated[i], sizes[i]) << i;
  }
}

TEST_P(DeflateCombos, InvalidUtf8AfterInflationIsFlagged) {
  const Combo c = GetParam();
  Compressor comp(c.window_bits, c.no_context_takeover);
  const uint8_t* mask = c.sender == Sender::client ? kKey : nullptr;
  std::string text = mixed_text(3000, 5);
  text[2000] = '\xC0';  // never valid in UTF-8
  const std::string first = frame(opcode::text, comp.message(mixed_text(500, 4)), true, 4, mask);
  const std::string stream = first + frame(opcode::text, comp.message(text), true, 4, mask);
  MessageLog sink;
  StreamInspector insp(deflate_config(c), sink);
  insp.feed(bytes_of(stream));
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(sink.violations[0].rfind("invalid-utf8-text", 0), 0u);
  EXPECT_NE(sink.log[3].find("message byte 2000"), std::string::npos) << sink.log[3];
}

INSTANTIATE_TEST_SUITE_P(
    Combos, DeflateCombos,
    ::testing::Values(Combo{15, false, Sender::server}, Combo{15, true, Sender::server},
                      Combo{9, false, Sender::server}, Combo{9, true, Sender::server},
                      Combo{15, false, Sender::client}, Combo{15, true, Sender::client},
                      Combo{9, false, Sender::client}, Combo{9, true, Sender::client},
                      Combo{12, false, Sender::client}),
    [](const auto& p) { return combo_name(p.param); });

// The sender keeps its compression context although "no context takeover"
// was agreed for it: the repeated message refers back into the previous one,
// which the receiver has discarded.
TEST(Deflate, ContextTakeoverDesyncIsAnInflateError) {
  Compressor keeps_context(15, false);
  const std::string text = mixed_text(2000, 8);
  const std::string first = frame(opcode::text, keeps_context.message(text), true, 4);
  const std::string stream = first + frame(opcode::text, keeps_context.message(text), true, 4);
  InspectorConfig cfg = deflate_config({15, true, Sender::server});
  RecordingSink sink;
  StreamInspector insp(cfg, sink);
  insp.feed(bytes_of(stream));
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(sink.violations[0].rfind("inflate-error", 0), 0u) << sink.violations[0];

  // The same stream with context takeover agreed is valid.
  RecordingSink ok;
  StreamInspector insp2(deflate_config({15, false, Sender::server}), ok);
  insp2.feed(bytes_of(stream));
  EXPECT_TRUE(ok.violations.empty());
}

// The sender uses a 32 KiB window although 9 bits (512 bytes) were agreed:
// its second message refers 3000 bytes back, into the previous message, past
// what the receiver keeps. (Within one message zlib does not enforce the
// window size, so only references across messages are caught.)
TEST(Deflate, WindowLargerThanNegotiatedIsAnInflateError) {
  std::mt19937 rng(3);
  std::string block(3000, '\0');
  for (char& ch : block) ch = static_cast<char>('a' + rng() % 26);
  Compressor wide(15, false);
  const std::string first = frame(opcode::text, wide.message(block), true, 4);
  const std::string stream = first + frame(opcode::text, wide.message(block), true, 4);
  RecordingSink sink;
  StreamInspector insp(deflate_config({9, false, Sender::server}), sink);
  insp.feed(bytes_of(stream));
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(sink.violations[0], "inflate-error @" + std::to_string(first.size() + 2) + " #1");
}

TEST(Deflate, CorruptedCompressedPayloadIsFlaggedOnceAndDecodingGoesOn) {
  Compressor comp(15, true);
  std::string z = comp.message(mixed_text(5000, 2));
  z[z.size() / 2] ^= 0x55;
  z[z.size() / 2 + 1] ^= 0x55;
  const std::string last = frame(opcode::text, comp.message("fine"), true, 4);
  const std::string stream = frame(opcode::text, z, true, 4) + frame(opcode::ping, "x") + last;
  RecordingSink sink;
  StreamInspector insp(deflate_config({15, true, Sender::server}), sink);
  insp.feed(bytes_of(stream));
  ASSERT_GE(sink.violations.size(), 1u);
  const std::string& first = sink.violations[0];
  EXPECT_TRUE(first.rfind("inflate-error", 0) == 0 || first.rfind("invalid-utf8-text", 0) == 0)
      << first;
  EXPECT_EQ(insp.stats().frames, 3u);
  EXPECT_EQ(insp.stats().messages, 2u);
}

TEST(Deflate, BombStopsAtTheSizeLimit) {
  Compressor comp(15, false);
  const std::string zeros(8 << 20, 'a');
  const std::string z = comp.message(zeros);
  EXPECT_LT(z.size(), 20000u);
  InspectorConfig cfg = deflate_config({15, false, Sender::server});
  cfg.max_message_size = 1 << 20;
  MessageLog sink;
  StreamInspector insp(cfg, sink);
  insp.feed(bytes_of(frame(opcode::binary, z, true, 4)));
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(sink.violations[0].rfind("message-too-big", 0), 0u);
  ASSERT_EQ(sink.inflated.size(), 1u);
  EXPECT_LT(sink.inflated[0], (1u << 20) + 65536u) << "inflation went on past the limit";
}

TEST(Deflate, Rsv1StillFlaggedWithoutNegotiation) {
  Compressor comp(15, false);
  RecordingSink sink;
  StreamInspector insp(config_for(Sender::server), sink);
  insp.feed(bytes_of(frame(opcode::binary, comp.message("hello"), true, 4)));
  ASSERT_EQ(sink.violations.size(), 1u);
  EXPECT_EQ(sink.violations[0], "rsv1-without-extension @0 #0");
}

TEST(Deflate, InflaterHoldsStateOnlyWhileNeeded) {
  Compressor comp(15, true);
  MessageInflater no_takeover(15, true);
  auto discard = [](void*, const uint8_t*, size_t) { return true; };
  const std::string z = comp.message("hello hello hello");
  EXPECT_FALSE(no_takeover.allocated());
  no_takeover.begin_message();
  EXPECT_TRUE(
      no_takeover.feed(reinterpret_cast<const uint8_t*>(z.data()), z.size(), discard, nullptr));
  EXPECT_TRUE(no_takeover.end_message(discard, nullptr));
  EXPECT_EQ(no_takeover.produced(), 17u);
  EXPECT_FALSE(no_takeover.allocated()) << "no context takeover: state freed after each message";

  Compressor comp2(15, false);
  const std::string z2 = comp2.message("hello hello hello");
  MessageInflater takeover(15, false);
  takeover.begin_message();
  EXPECT_TRUE(
      takeover.feed(reinterpret_cast<const uint8_t*>(z2.data()), z2.size(), discard, nullptr));
  EXPECT_TRUE(takeover.end_message(discard, nullptr));
  EXPECT_TRUE(takeover.allocated()) << "context takeover: the window must survive";
}

TEST(Deflate, ParseParams) {
  DeflateParams p;
  std::string error;
  EXPECT_TRUE(parse_deflate_params("", p, error));
  EXPECT_EQ(p.server_max_window_bits, 15);
  EXPECT_TRUE(parse_deflate_params(
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=9", p, error));
  EXPECT_TRUE(p.server_no_context_takeover);
  EXPECT_FALSE(p.client_no_context_takeover);
  EXPECT_EQ(p.client_max_window_bits, 9);
  EXPECT_TRUE(parse_deflate_params("server_max_window_bits=\"10\"", p, error));
  EXPECT_EQ(p.server_max_window_bits, 10);
  for (const char* bad : {"bogus", "server_max_window_bits=16", "server_max_window_bits=7",
                          "server_no_context_takeover=1", "client_max_window_bits",
                          "server_no_context_takeover; server_no_context_takeover"}) {
    EXPECT_FALSE(parse_deflate_params(bad, p, error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

}  // namespace
}  // namespace wsi::test
