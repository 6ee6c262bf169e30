// Properties of the inspector beyond single vectors: close codes, length
// encodings, report caps, and that the caller's bytes are never modified.
#include <gtest/gtest.h>

#include "inspect_util.h"

namespace wsi::test {
namespace {

std::vector<uint8_t> server_close(uint16_t code) {
  return {0x88, 0x02, static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
}

// RFC 6455 §7.4: which codes a close frame may carry, written from the RFC's
// list independently of the knowledge base.
bool rfc_allows(uint32_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

TEST(Inspector, EveryCloseCodeIsJudgedByTheRfc) {
  for (uint32_t code = 0; code <= 65535; ++code) {
    RecordingSink sink;
    StreamInspector insp(config_for(Sender::server), sink);
    insp.feed(server_close(static_cast<uint16_t>(code)));
    ASSERT_EQ(sink.closes.size(), 1u);
    const bool flagged = !sink.violations.empty();
    ASSERT_EQ(flagged, !rfc_allows(code)) << "code " << code;
    if (flagged) {
      EXPECT_EQ(sink.violations[0], "invalid-close-code @2 #0");
    }
  }
}

TEST(Inspector, LengthEncodingsAtTheirBoundaries) {
  struct Case {
    uint64_t length;
    int form;  // 7, 16 or 64
    bool minimal;
  };
  const Case cases[] = {{125, 7, true},    {126, 16, true},    {125, 16, false}, {65535, 16, true},
                        {65536, 64, true}, {65535, 64, false}, {0, 16, false},   {0, 64, false}};
  for (const Case& c : cases) {
    std::vector<uint8_t> f = {0x82};
    if (c.form == 7) {
      f.push_back(static_cast<uint8_t>(c.length));
    } else if (c.form == 16) {
      f.insert(f.end(), {126, static_cast<uint8_t>(c.length >> 8), static_cast<uint8_t>(c.length)});
    } else {
      f.push_back(127);
      for (int i = 7; i >= 0; --i) f.push_back(static_cast<uint8_t>(c.length >> (8 * i)));
    }
    f.resize(f.size() + c.length, 0x5A);
    f.insert(f.end(), {0x81, 0x01, 'x'});  // a frame after it must be found in place
    RecordingSink sink;
    StreamInspector insp(config_for(Sender::server), sink);
    insp.feed(f);
    insp.finish();
    EXPECT_EQ(insp.stats().frames, 2u) << c.length << "/" << c.form;
    EXPECT_EQ(sink.violations.empty(), c.minimal) << c.length << "/" << c.form;
    EXPECT_EQ(insp.stats().messages, 2u);
  }
}

// Records each violation's header bytes beside its rule, offset and frame.
class HeaderSink : public RecordingSink {
 public:
  std::vector<std::vector<uint8_t>> headers;
  void on_violation(const Violation& v) override {
    RecordingSink::on_violation(v);
    headers.emplace_back(
        v.header ? std::vector<uint8_t>(v.header->raw, v.header->raw + v.header->raw_len)
                 : std::vector<uint8_t>());
  }
};

// RFC 6455 §5.2 says the minimal length form MUST be used, and Chromium fails
// a server frame in a longer form with 1002 (`ws` does for control frames):
// an error in both directions, for data and control frames alike, reported
// once per frame at the frame's first byte with its header.
TEST(Inspector, NonMinimalLengthIsAProtocolErrorInBothDirections) {
  const RuleInfo& info = rule_info(Rule::non_minimal_length);
  EXPECT_EQ(info.severity, Severity::error);
  EXPECT_EQ(info.close_code, 1002);
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  for (Sender sender : {Sender::client, Sender::server}) {
    const bool masked = sender == Sender::client;
    for (int form : {16, 64}) {
      // A text "hello" and a 10-byte pong (the form `ws` closes with 1002).
      for (auto [op, len] : {std::pair{opcode::text, 5}, std::pair{opcode::pong, 10}}) {
        SCOPED_TRACE((masked ? "client " : "server ") + std::to_string(form) + "-bit op " +
                     std::to_string(op));
        // A valid frame first, so the offset is the second frame's, not 0.
        std::vector<uint8_t> s = {0x81, static_cast<uint8_t>(masked ? 0x81 : 0x01)};
        if (masked) s.insert(s.end(), key, key + 4);
        s.push_back(static_cast<uint8_t>('x' ^ (masked ? key[0] : 0)));
        const size_t at = s.size();
        const uint8_t mbit = masked ? 0x80 : 0;
        s.push_back(static_cast<uint8_t>(0x80 | op));
        if (form == 16) {
          s.insert(s.end(), {static_cast<uint8_t>(mbit | 126), 0, static_cast<uint8_t>(len)});
        } else {
          s.push_back(static_cast<uint8_t>(mbit | 127));
          for (int i = 7; i >= 1; --i) s.push_back(0);
          s.push_back(static_cast<uint8_t>(len));
        }
        if (masked) s.insert(s.end(), key, key + 4);
        const std::vector<uint8_t> header(s.begin() + at, s.end());
        for (int i = 0; i < len; ++i)
          s.push_back(static_cast<uint8_t>('a' ^ (masked ? key[i % 4] : 0)));
        s.insert(s.end(), s.begin(), s.begin() + at);  // a valid frame after it, found in place

        HeaderSink sink;
        StreamInspector insp(config_for(sender), sink);
        insp.feed(s);
        insp.finish();
        ASSERT_EQ(sink.violations,
                  std::vector<std::string>{"non-minimal-length @" + std::to_string(at) + " #1"});
        EXPECT_EQ(sink.headers[0], header);
        EXPECT_EQ(insp.stats().frames, 3u);
        EXPECT_EQ(insp.stats().errors, 1u);
        EXPECT_EQ(insp.stats().warnings, 0u);
        EXPECT_EQ(insp.stats().count(Rule::non_minimal_length), 1u);
      }
    }
  }
}

TEST(Inspector, RepeatedReportsAreCappedButCounted) {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 50; ++i) stream.insert(stream.end(), {0x83, 0x00});  // reserved opcode
  RecordingSink sink;
  InspectorConfig cfg = config_for(Sender::server);
  cfg.max_reports_per_rule = 10;
  StreamInspector insp(cfg, sink);
  insp.feed(stream);
  EXPECT_EQ(sink.violations.size(), 10u);
  EXPECT_EQ(insp.stats().errors, 50u);
  EXPECT_EQ(insp.stats().suppressed, 40u);
  EXPECT_EQ(insp.stats().count(Rule::reserved_opcode), 50u);
  EXPECT_EQ(insp.stats().frames, 50u);
}

TEST(Inspector, NeverModifiesTheCallersBytes) {
  for (const FrameVector& v : load_frame_vectors()) {
    std::vector<uint8_t> bytes = v.bytes;
    RecordingSink sink;
    StreamInspector insp(config_of(v), sink);
    insp.feed(bytes);
    EXPECT_EQ(bytes, v.bytes) << v.name;
  }
}

TEST(Inspector, LargeMaskedTextSpanningManyScratchWindows) {
  // 100 000 bytes of masked text with one invalid byte near the end: the
  // offset must be exact even though the payload passes through many windows.
  std::vector<uint8_t> payload(100000, 'a');
  payload[99990] = 0xFF;
  const uint8_t key[4] = {1, 2, 3, 4};
  std::vector<uint8_t> f = {0x81, 0xFF};
  for (int i = 7; i >= 0; --i) f.push_back(static_cast<uint8_t>(payload.size() >> (8 * i)));
  f.insert(f.end(), key, key + 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(payload[i] ^ key[i % 4]);
  for (size_t piece : {size_t{1} << 20, size_t{4095}, size_t{7}}) {
    RecordingSink sink;
    StreamInspector insp(config_for(Sender::client), sink);
    for (size_t at = 0; at < f.size(); at += piece)
      insp.feed(std::span<const uint8_t>(f).subspan(at, std::min(piece, f.size() - at)));
    ASSERT_EQ(sink.violations.size(), 1u);
    EXPECT_EQ(sink.violations[0], "invalid-utf8-text @" + std::to_string(14 + 99990) + " #0");
  }
}

}  // namespace
}  // namespace wsi::test
