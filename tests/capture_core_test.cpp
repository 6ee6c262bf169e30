// The connection core's entry points for captures: bytes a capture lost
// (skip), a connection first seen after its handshake (assume_websocket),
// and a capture that ended with the connection open.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parser/conn/connection_inspector.h"
#include "tests/support/conn_recorder.h"

namespace wsi {
namespace {

using test::ConnRecorder;

std::vector<uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

// A masked client text frame "hi" (or with RSV2 set).
std::vector<uint8_t> client_frame(bool rsv2 = false) {
  return {static_cast<uint8_t>(rsv2 ? 0xa1 : 0x81), 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
}

constexpr std::string_view kRequest =
    "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
constexpr std::string_view kResponse =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

constexpr Direction c2s = Direction::client_to_server;
constexpr Direction s2c = Direction::server_to_client;

TEST(CaptureCore, LostBytesAreAGapAndWhatFollowsIsOnlyCounted) {
  ConnConfig cfg;
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec);
  core.feed(c2s, bytes(kRequest), 0);
  core.feed(s2c, bytes(kResponse), 1);
  core.feed(c2s, client_frame(), 2);
  core.skip(c2s, 100, "bytes missing from the capture", 3);
  core.feed(c2s, client_frame(true), 4);  // would be a violation: not judged
  core.end_stream(c2s, StreamEnd::fin, 5);
  core.end_stream(s2c, StreamEnd::fin, 5);
  core.finish(EndCause::none, 5);
  const std::string& log = rec.log();
  EXPECT_NE(log.find("gap c2s " + std::to_string(kRequest.size() + 8) + "-"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("violation"), std::string::npos) << log;
  EXPECT_EQ(core.bytes(c2s), kRequest.size() + 8 + 100 + 8);
}

TEST(CaptureCore, MidStreamConnectionIsInspectedAsFramesWithoutExtensions) {
  ConnConfig cfg;
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec);
  core.assume_websocket(0);
  EXPECT_TRUE(core.websocket());
  core.feed(c2s, client_frame(), 1);
  core.feed(c2s, client_frame(true), 2);
  const std::vector<uint8_t> compressed = {0xc1, 0x01, 'x'};  // RSV1, no extension known
  core.feed(s2c, compressed, 3);
  core.end_stream(c2s, StreamEnd::fin, 4);
  core.end_stream(s2c, StreamEnd::fin, 4);
  core.finish(EndCause::none, 4);
  const std::string& log = rec.log();
  EXPECT_NE(log.find("violation c2s reserved-bits-set off=8 frame=1"), std::string::npos) << log;
  EXPECT_NE(log.find("violation s2c rsv1-without-extension off=0 frame=0"), std::string::npos)
      << log;
  EXPECT_NE(log.find("upgraded=1"), std::string::npos) << log;
}

TEST(CaptureCore, ConnectionOpenWhenTheCaptureEndedGetsNoSynthesizedClose) {
  ConnConfig cfg;
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec);
  core.feed(c2s, bytes(kRequest), 0);
  core.feed(s2c, bytes(kResponse), 1);
  core.feed(c2s, client_frame(), 2);
  core.finish(EndCause::capture_ended, 9);
  const std::string& log = rec.log();
  EXPECT_EQ(log.find("synth"), std::string::npos) << log;
  EXPECT_NE(log.find("ended_by=capture_ended"), std::string::npos) << log;
}

}  // namespace
}  // namespace wsi
