// Two vantage points of one connection, as real bytes through the connection
// core with digests on: the keyed digests, the records they build, and what
// the comparer says about every kind of change a hop can make.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parser/compare/hop_compare.h"
#include "parser/compare/hop_record.h"
#include "parser/conn/connection_inspector.h"

namespace wsi {
namespace {

constexpr Direction c2s = Direction::client_to_server;
constexpr Direction s2c = Direction::server_to_client;

std::vector<uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

// One frame on the wire: FIN/RSV/opcode byte, the payload, masked with
// `mask` when given.
std::vector<uint8_t> frame(uint8_t b0, std::string_view payload, const uint8_t* mask = nullptr) {
  std::vector<uint8_t> f{b0};
  const size_t n = payload.size();
  const uint8_t m = mask ? 0x80 : 0;
  if (n < 126) {
    f.push_back(static_cast<uint8_t>(m | n));
  } else {
    f.push_back(m | 126);
    f.push_back(static_cast<uint8_t>(n >> 8));
    f.push_back(static_cast<uint8_t>(n));
  }
  if (mask) f.insert(f.end(), mask, mask + 4);
  for (size_t i = 0; i < n; ++i)
    f.push_back(static_cast<uint8_t>(payload[i] ^ (mask ? mask[i & 3] : 0)));
  return f;
}

const uint8_t kMask1[4] = {1, 2, 3, 4};
const uint8_t kMask2[4] = {9, 8, 7, 6};

std::string close_payload(uint16_t code, std::string_view reason = "") {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return p + std::string(reason);
}

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::string request(std::string_view extra = "") {
  return "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n" + std::string(extra) + "\r\n";
}

std::string response(std::string_view extra = "") {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
         std::string(extra) + "\r\n";
}

// What one vantage point saw, step by step.
struct Step {
  Direction dir;
  std::vector<uint8_t> data;  // empty with `end`: the sender ended its stream
  uint64_t ms = 0;
  bool end = false;
  StreamEnd how = StreamEnd::fin;
};

struct View {
  std::string req = request();
  std::string resp = response();
  std::vector<Step> steps;
  View& send(Direction d, std::vector<uint8_t> f, uint64_t ms = 0) {
    steps.push_back({d, std::move(f), ms});
    return *this;
  }
  View& end(Direction d, uint64_t ms, StreamEnd how = StreamEnd::fin) {
    steps.push_back({d, {}, ms, true, how});
    return *this;
  }
};

const DigestKey& key() {
  static const DigestKey k("a secret both vantage points share");
  return k;
}

HopRecord record_of(const View& v) {
  ConnConfig cfg;
  cfg.digests = &key();
  HopRecorder rec;
  ConnectionInspector core(cfg, rec, 1, 0);
  core.feed(c2s, bytes(v.req), 0);
  core.feed(s2c, bytes(v.resp), 0);
  uint64_t last = 0;
  for (const Step& s : v.steps) {
    last = std::max(last, s.ms);
    if (s.end)
      core.end_stream(s.dir, s.how, s.ms);
    else
      core.feed(s.dir, s.data, s.ms);
  }
  core.finish(EndCause::none, last);
  std::vector<HopRecord> all = rec.take_all();
  EXPECT_EQ(all.size(), 1u);
  return all.empty() ? HopRecord{} : std::move(all.front());
}

struct Collect final : HopDiffSink {
  void on_diff(const HopDiff& d) override { diffs.push_back(d); }
  std::vector<HopDiff> diffs;
  std::vector<HopDiff> of(DiffKind k) const {
    std::vector<HopDiff> out;
    for (const HopDiff& d : diffs)
      if (d.kind == k) out.push_back(d);
    return out;
  }
};

HopVerdict compare(const View& a, const View& b, Collect& c, HopCompareOptions o = {}) {
  HopRecord ra = record_of(a), rb = record_of(b);
  HopComparer cmp(o, c);
  return cmp.finish(ra, rb);
}

// A normal exchange: two client messages, the server's answers, a close
// handshake, the server ending first.
View normal() {
  View v;
  v.send(c2s, frame(0x81, "hello", kMask1), 10)
      .send(s2c, frame(0x81, "hello back"), 11)
      .send(c2s, frame(0x82, std::string(300, 'x'), kMask1), 20)
      .send(s2c, frame(0x89, "ping"), 30)
      .send(c2s, frame(0x88, close_payload(1000), kMask1), 40)
      .send(s2c, frame(0x88, close_payload(1000)), 41)
      .end(s2c, 42)
      .end(c2s, 43);
  return v;
}

TEST(PayloadDigest, KeyedAndIndependentOfTheMask) {
  const Digest a = digest_of(key(), "yes");
  EXPECT_EQ(a, digest_of(key(), "yes"));
  EXPECT_NE(a, digest_of(DigestKey("another key"), "yes"));
  EXPECT_NE(a, digest_of(key(), "no"));
  Digest back;
  ASSERT_TRUE(Digest::from_hex(a.hex(), back));
  EXPECT_EQ(back, a);
  EXPECT_FALSE(Digest::from_hex("xyz", back));

  // The same payload masked with two keys: one frame digest.
  View m1, m2;
  m1.send(c2s, frame(0x81, "same words", kMask1));
  m2.send(c2s, frame(0x81, "same words", kMask2));
  HopRecord r1 = record_of(m1), r2 = record_of(m2);
  ASSERT_EQ(r1.dir[0].pending.size(), 1u);
  ASSERT_EQ(r2.dir[0].pending.size(), 1u);
  EXPECT_EQ(r1.dir[0].pending[0].content, r2.dir[0].pending[0].content);
  EXPECT_EQ(r1.dir[0].pending[0].frames[0].digest, r2.dir[0].pending[0].frames[0].digest);
  EXPECT_EQ(r1.dir[0].pending[0].content, digest_of(key(), "same words"));
}

TEST(HopRecord, MessagesControlFramesClosesAndEnds) {
  View v = normal();
  HopRecord r = record_of(v);
  EXPECT_TRUE(r.handshake);
  EXPECT_TRUE(r.upgraded);
  EXPECT_EQ(r.key, digest_of(key(), kKey).hex());  // never the key itself
  EXPECT_EQ(r.path, "/chat");
  EXPECT_EQ(r.status, 101);
  ASSERT_EQ(r.dir[0].pending.size(), 3u);  // text, binary, close
  ASSERT_EQ(r.dir[1].pending.size(), 3u);  // text, ping, close
  EXPECT_EQ(r.dir[0].pending[1].opcode, 2);
  EXPECT_EQ(r.dir[0].pending[1].size, 300u);
  EXPECT_EQ(r.dir[1].pending[1].opcode, 9);
  EXPECT_TRUE(r.dir[1].pending[2].has_code);
  EXPECT_EQ(r.dir[1].pending[2].code, 1000);
  EXPECT_TRUE(r.dir[1].ended);
  EXPECT_EQ(r.dir[1].end_ms, 42u);
  EXPECT_EQ(r.dir[0].end_ms, 43u);
  EXPECT_EQ(r.dir[1].last_data_ms, 41u);
}

TEST(HopRecord, AFragmentedMessageIsOneUnitWithItsFrames) {
  View v;
  v.send(s2c, frame(0x01, "hel")).send(s2c, frame(0x89, "")).send(s2c, frame(0x80, "lo"));
  HopRecord r = record_of(v);
  ASSERT_EQ(r.dir[1].pending.size(), 2u);  // the ping first, then the message
  EXPECT_EQ(r.dir[1].pending[0].opcode, 9);
  EXPECT_EQ(r.dir[1].pending[1].frames.size(), 2u);
  EXPECT_EQ(r.dir[1].pending[1].content, digest_of(key(), "hello"));
}

TEST(HopCompare, IdenticalViewsAreIdentical) {
  Collect c;
  const HopVerdict v = compare(normal(), normal(), c);
  EXPECT_TRUE(v.identical) << (c.diffs.empty() ? "" : c.diffs[0].text);
  EXPECT_FALSE(v.significant);
  EXPECT_EQ(v.text, "no difference between A and B");
}

TEST(HopCompare, ReservedBitsSetByTheHopNameTheFrame) {
  View a = normal(), b = normal();
  // The server sent 0x81 (B); the client received RSV2 set (A).
  a.steps[1].data = frame(0xa1, "hello back");
  Collect c;
  const HopVerdict v = compare(a, b, c);
  const auto bits = c.of(DiffKind::frame_bits_changed);
  ASSERT_EQ(bits.size(), 1u);
  EXPECT_EQ(bits[0].dir, s2c);
  EXPECT_EQ(bits[0].frame_a, 0);
  EXPECT_EQ(bits[0].frame_b, 0);
  EXPECT_EQ(bits[0].header_a, "a1 0a");
  EXPECT_EQ(bits[0].header_b, "81 0a");
  EXPECT_NE(bits[0].text.find("RSV2"), std::string::npos) << bits[0].text;
  EXPECT_TRUE(v.significant);
  EXPECT_NE(v.text.find("between A and B"), std::string::npos);
}

TEST(HopCompare, AFlippedByteIsAPayloadChangeAtItsFrame) {
  View a = normal(), b = normal();
  b.steps[2].data = frame(0x82, std::string(150, 'x') + "y" + std::string(149, 'x'), kMask1);
  Collect c;
  compare(a, b, c);
  const auto p = c.of(DiffKind::payload_changed);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].dir, c2s);
  EXPECT_EQ(p[0].frame_a, 1);
  EXPECT_EQ(p[0].frame_b, 1);
  EXPECT_TRUE(p[0].significant);
  EXPECT_EQ(c.diffs.size(), 1u) << c.diffs.back().text;
}

TEST(HopCompare, ARefragmentedMessageIsBenign) {
  View a = normal(), b = normal();
  // The server sent one frame (B); the hop split it in two (A).
  a.steps[1].data = frame(0x01, "hello");
  a.steps.insert(a.steps.begin() + 2, Step{s2c, frame(0x80, " back"), 11});
  Collect c;
  const HopVerdict v = compare(a, b, c);
  const auto s = c.of(DiffKind::split);
  ASSERT_EQ(s.size(), 1u) << (c.diffs.empty() ? "none" : c.diffs[0].text);
  EXPECT_FALSE(s[0].significant);
  EXPECT_FALSE(v.significant);
  EXPECT_FALSE(v.identical);
  // Every later frame index shifted by one at A: still aligned, no drops.
  EXPECT_TRUE(c.of(DiffKind::dropped).empty());
  EXPECT_TRUE(c.of(DiffKind::inserted).empty());
}

TEST(HopCompare, ADroppedMessageAndALostClose) {
  View a = normal(), b = normal();
  // The server's text (B frame 0) never reached the client, nor its close.
  a.steps.erase(a.steps.begin() + 5);  // the server's close
  a.steps.erase(a.steps.begin() + 1);  // the server's text
  Collect c;
  const HopVerdict v = compare(a, b, c);
  const auto d = c.of(DiffKind::dropped);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].dir, s2c);
  EXPECT_EQ(d[0].frame_b, 0);
  EXPECT_EQ(d[0].frame_a, -1);
  const auto l = c.of(DiffKind::close_lost);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].frame_b, 2);
  EXPECT_NE(l[0].text.find("1000"), std::string::npos);
  EXPECT_TRUE(v.significant);
}

TEST(HopCompare, AnInsertedFrameAndAChangedCloseCode) {
  View a = normal(), b = normal();
  // The hop answered the client's close with 1001 of its own (A) while the
  // server said 1000 (B), and pinged the server on its own (B only).
  a.steps[5].data = frame(0x88, close_payload(1001, "going"));
  b.steps.insert(b.steps.begin() + 1, Step{c2s, frame(0x89, "hop", kMask2), 10});
  Collect c;
  compare(a, b, c);
  const auto ins = c.of(DiffKind::inserted);
  ASSERT_EQ(ins.size(), 1u);
  EXPECT_EQ(ins[0].dir, c2s);
  EXPECT_EQ(ins[0].frame_b, 1);
  const auto cl = c.of(DiffKind::close_changed);
  ASSERT_EQ(cl.size(), 1u);
  EXPECT_NE(cl[0].text.find("1000"), std::string::npos);
  EXPECT_NE(cl[0].text.find("1001 \"going\""), std::string::npos);
}

TEST(HopCompare, RemaskingAloneIsBenign) {
  View a = normal(), b = normal();
  b.steps[0].data = frame(0x81, "hello", kMask2);
  Collect c;
  const HopVerdict v = compare(a, b, c);
  ASSERT_EQ(c.of(DiffKind::remasked).size(), 1u);
  EXPECT_FALSE(v.significant);
  EXPECT_EQ(v.benign, 1u);
}

TEST(HopCompare, TheStrippedExtensionHeaderAndTheCloseItCaused) {
  const std::string ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  View a, b;
  a.req = b.req = request(ext);
  b.resp = response(ext);  // the server accepted deflate; the client never heard of it
  // The server's compressed "hello" (RSV1): fine at B, a 1002 for the client.
  const std::vector<uint8_t> z = {0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  a.send(s2c, z, 5).send(c2s, frame(0x88, close_payload(1002), kMask1), 6);
  b.send(s2c, z, 5).send(c2s, frame(0x88, close_payload(1002), kMask1), 6);
  Collect c;
  const HopVerdict v = compare(a, b, c);
  const auto h = c.of(DiffKind::header_removed);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].header, "Sec-WebSocket-Extensions");
  EXPECT_TRUE(h[0].significant);
  // The frame itself crossed the hop unchanged.
  EXPECT_TRUE(c.of(DiffKind::payload_changed).empty());
  EXPECT_TRUE(c.of(DiffKind::frame_bits_changed).empty());
  EXPECT_NE(v.text.find("the response lost Sec-WebSocket-Extensions: permessage-deflate"),
            std::string::npos)
      << v.text;
  EXPECT_NE(v.text.find("the client closed with 1002"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("rsv1-without-extension on frame 0"), std::string::npos) << v.text;
}

TEST(HopCompare, HeaderCaseAndOrderAloneAreBenign) {
  View a, b;
  b.req =
      "GET /chat HTTP/1.1\r\nhost: a\r\nconnection: Upgrade\r\nupgrade: websocket\r\n"
      "sec-websocket-key: " +
      std::string(kKey) + "\r\nsec-websocket-version: 13\r\n\r\n";
  Collect c;
  const HopVerdict v = compare(a, b, c);
  ASSERT_EQ(c.diffs.size(), 1u);
  EXPECT_EQ(c.diffs[0].kind, DiffKind::header_case_or_order);
  EXPECT_FALSE(v.significant);
}

TEST(HopCompare, AnIdleTimeoutOfTheHopEndsBothLegs) {
  View a, b;
  a.send(c2s, frame(0x81, "hi", kMask1), 100).send(s2c, frame(0x81, "hi"), 101);
  b.send(c2s, frame(0x81, "hi", kMask1), 100).send(s2c, frame(0x81, "hi"), 101);
  // 60 s later the hop ends the client's leg (A: the server side ends) and
  // the server's leg (B: the client side ends, with a reset).
  a.end(s2c, 60101).end(c2s, 60102);
  b.end(c2s, 60101, StreamEnd::reset);
  Collect c;
  const HopVerdict v = compare(a, b, c);
  const auto t = c.of(DiffKind::tcp_end);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NE(t[0].text.find("after 60.0 s of silence"), std::string::npos) << t[0].text;
  EXPECT_NE(t[0].text.find("towards B with a reset"), std::string::npos) << t[0].text;
  EXPECT_NE(t[0].text.find("neither the client nor the server had closed"), std::string::npos);
  EXPECT_TRUE(v.significant);
  EXPECT_NE(v.text.find("the client reports 1006"), std::string::npos) << v.text;
}

TEST(HopCompare, LiveStepsReportADropOnceTheWindowHasPassed) {
  View a = normal(), b = normal();
  a.steps.erase(a.steps.begin() + 1);  // the server's first text never reached A
  HopRecord ra = record_of(a), rb = record_of(b);
  ra.finished = rb.finished = false;  // as if both were still open
  HopCompareOptions o;
  o.window = 1;
  Collect c;
  HopComparer cmp(o, c);
  cmp.step(ra, rb, 0);
  const auto d = c.of(DiffKind::dropped);
  ASSERT_EQ(d.size(), 1u);  // decided before either connection ended
  EXPECT_EQ(d[0].frame_b, 0);
  // What was aligned is gone from the queues: memory stays bounded.
  EXPECT_LE(ra.dir[1].pending.size() + rb.dir[1].pending.size(), 2u);
}

TEST(HopCompare, AChangedSecretHeaderIsReportedWithoutItsValue) {
  View a, b;
  a.req = request("Authorization: Bearer one\r\n");
  b.req = request("Authorization: [redacted]\r\n");  // as a log shows it
  Collect c;
  compare(a, b, c);
  EXPECT_TRUE(c.of(DiffKind::header_changed).empty());
}

TEST(HopCompare, ALaggingSideIsWaitedFor) {
  // The server sent 12 messages at once (B); they are still crossing the
  // hop towards A, which has none yet: nothing is judged missing.
  View a, b;
  for (int i = 0; i < 12; ++i) b.send(s2c, frame(0x81, "m" + std::to_string(i)), 10);
  for (int i = 0; i < 12; ++i)
    if (i != 1) a.send(s2c, frame(0x81, "m" + std::to_string(i)), 300);
  HopRecord ra = record_of(View{}), rb = record_of(b);
  ra.finished = rb.finished = false;
  HopCompareOptions o;
  o.window = 4;
  Collect c;
  HopComparer cmp(o, c);
  cmp.step(ra, rb, 20);
  EXPECT_TRUE(c.diffs.empty()) << c.diffs[0].text;
  EXPECT_EQ(rb.dir[1].pending.size(), 12u);
  // Then A's units arrive: exactly the one the hop dropped is reported.
  HopRecord full = record_of(a);
  ra.dir[1].pending = full.dir[1].pending;
  cmp.step(ra, rb, 310);
  const auto d = c.of(DiffKind::dropped);
  ASSERT_EQ(d.size(), 1u) << (c.diffs.empty() ? "none" : c.diffs[0].text);
  EXPECT_EQ(d[0].frame_b, 1);
  EXPECT_EQ(c.diffs.size(), 1u) << c.diffs.back().text;
}

TEST(HopCompare, AHopThatSwallowedTheServersCloseDoesNotDenyIt) {
  View a, b;
  a.send(c2s, frame(0x81, "hi", kMask1), 100).send(s2c, frame(0x81, "hi"), 101);
  b.send(c2s, frame(0x81, "hi", kMask1), 100).send(s2c, frame(0x81, "hi"), 101);
  b.send(s2c, frame(0x88, close_payload(1000)), 200);
  a.end(s2c, 1200).end(c2s, 1201);
  b.end(c2s, 1200);
  Collect c;
  const HopVerdict v = compare(a, b, c);
  ASSERT_EQ(c.of(DiffKind::close_lost).size(), 1u);
  const auto t = c.of(DiffKind::tcp_end);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].text.find("neither"), std::string::npos) << t[0].text;
  EXPECT_NE(t[0].text.find("the server had sent a close frame (1000)"), std::string::npos)
      << t[0].text;
  // The verdict says once what the client reports.
  const size_t first = v.text.find("1006");
  ASSERT_NE(first, std::string::npos) << v.text;
  EXPECT_EQ(v.text.find("1006", first + 1), std::string::npos) << v.text;
}

}  // namespace
}  // namespace wsi
