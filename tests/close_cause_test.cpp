// Closes whose cause is in the handshake or in a message's size: a 101 the
// client rejects, linked to the 1006 both endpoints report; a 1009 linked to
// the message it answers, with no --max-message-size.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parser/conn/connection_inspector.h"
#include "tests/support/conn_recorder.h"

namespace wsi {
namespace {

using test::ConnRecorder;

constexpr Direction c2s = Direction::client_to_server;
constexpr Direction s2c = Direction::server_to_client;

std::vector<uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

std::string request(std::string_view extra = "") {
  return "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra) + "\r\n";
}

constexpr std::string_view kResponse =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

// A server frame header (FIN and opcode byte `b0`) announcing `n` payload
// bytes in the 64-bit length form.
std::vector<uint8_t> big_header(uint64_t n, uint8_t b0 = 0x82) {
  std::vector<uint8_t> h{b0, 127};
  for (int i = 7; i >= 0; --i) h.push_back(static_cast<uint8_t>(n >> (8 * i)));
  return h;
}

std::vector<uint8_t> client_close(uint16_t code) {
  return {0x88, 0x82, 0, 0, 0, 0, static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
}

bool has_line(const std::string& log, const std::string& needle) {
  return log.find(needle) != std::string::npos;
}

TEST(CloseCause, NoSubprotocolSelectedIsAFindingAndTheCauseOfThe1006) {
  ConnConfig cfg;
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec, 1, 0);
  core.feed(c2s, bytes(request("Sec-WebSocket-Protocol: chat, superchat\r\n")), 0);
  core.feed(s2c, bytes(kResponse), 5);
  // Node ws: "Server sent no subprotocol", then TCP closes without a close frame.
  core.end_stream(c2s, StreamEnd::fin, 6);
  core.end_stream(s2c, StreamEnd::fin, 7);
  core.finish(EndCause::none, 7);
  const std::string log = rec.log();
  EXPECT_TRUE(has_line(log, "response-no-subprotocol-selected")) << log;
  EXPECT_TRUE(has_line(log,
                       "synth s2c 1006 cause=client_fin "
                       "caused_by=response-no-subprotocol-selected/handshake"))
      << log;
  EXPECT_TRUE(has_line(log,
                       "synth c2s 1006 cause=client_fin "
                       "caused_by=response-no-subprotocol-selected/handshake"))
      << log;
}

TEST(CloseCause, ASelectedSubprotocolIsNoFinding) {
  ConnConfig cfg;
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec, 1, 0);
  core.feed(c2s, bytes(request("Sec-WebSocket-Protocol: chat\r\n")), 0);
  std::string resp(kResponse);
  resp.insert(resp.size() - 2, "Sec-WebSocket-Protocol: chat\r\n");
  core.feed(s2c, bytes(resp), 5);
  core.end_stream(c2s, StreamEnd::fin, 6);
  core.finish(EndCause::none, 7);
  const std::string log = rec.log();
  EXPECT_FALSE(has_line(log, "response-no-subprotocol-selected")) << log;
  EXPECT_FALSE(has_line(log, "caused_by")) << log;
}

TEST(CloseCause, A1009IsLinkedToTheLargestMessageReceived) {
  ConnConfig cfg;  // no max_message_size
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec, 1, 0);
  core.feed(c2s, bytes(request()), 0);
  core.feed(s2c, bytes(kResponse), 1);
  const std::vector<uint8_t> small = {0x82, 0x03, 1, 2, 3};
  core.feed(s2c, small, 2);
  std::vector<uint8_t> big = big_header(70000);
  big.resize(big.size() + 70000, 'x');
  core.feed(s2c, big, 3);  // frame 1, at offset 5
  core.feed(s2c, small, 4);
  core.feed(c2s, client_close(1009), 10);
  core.finish(EndCause::none, 10);
  const std::string log = rec.log();
  EXPECT_TRUE(
      has_line(log, "close c2s 1009 frame=0 caused_by=message-too-big/s2c/5/1/7/size=70000"))
      << log;
}

TEST(CloseCause, A1009OnTheHeaderOfAMessageInProgress) {
  ConnConfig cfg;
  ConnRecorder rec;
  ConnectionInspector core(cfg, rec, 1, 0);
  core.feed(c2s, bytes(request()), 0);
  core.feed(s2c, bytes(kResponse), 1);
  core.feed(s2c, std::vector<uint8_t>{0x82, 0x03, 1, 2, 3}, 2);
  // A fragmented message: 1000 bytes, then a frame announcing 16 MiB more.
  std::vector<uint8_t> first = {0x02, 0x7e, 0x03, 0xe8};
  first.resize(first.size() + 1000, 'y');
  core.feed(s2c, first, 3);
  core.feed(s2c, big_header(16 << 20, 0x80), 4);  // its last fragment, announced
  core.feed(c2s, client_close(1009), 6);
  core.finish(EndCause::none, 6);
  const std::string log = rec.log();
  EXPECT_TRUE(has_line(log, "caused_by=message-too-big/s2c/5/1/")) << log;
  EXPECT_TRUE(has_line(log, "size=" + std::to_string(1000 + (16 << 20)))) << log;
}

}  // namespace
}  // namespace wsi
