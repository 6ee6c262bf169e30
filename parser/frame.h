// The vocabulary of one direction's WebSocket byte stream (RFC 6455 §5.2).
#pragma once

#include <cstdint>
#include <string_view>

namespace wsi {

enum class Direction : uint8_t { client_to_server, server_to_client };
enum class Sender : uint8_t { client, server };

inline constexpr Direction direction_of(Sender s) {
  return s == Sender::client ? Direction::client_to_server : Direction::server_to_client;
}
inline constexpr Direction opposite(Direction d) {
  return d == Direction::client_to_server ? Direction::server_to_client
                                          : Direction::client_to_server;
}
inline constexpr std::string_view direction_name(Direction d) {
  return d == Direction::client_to_server ? "client_to_server" : "server_to_client";
}

namespace opcode {
inline constexpr uint8_t continuation = 0x0;
inline constexpr uint8_t text = 0x1;
inline constexpr uint8_t binary = 0x2;
inline constexpr uint8_t close = 0x8;
inline constexpr uint8_t ping = 0x9;
inline constexpr uint8_t pong = 0xA;

inline constexpr bool is_control(uint8_t op) {
  return (op & 0x8) != 0;
}
inline constexpr bool is_reserved(uint8_t op) {
  return (op >= 0x3 && op <= 0x7) || op >= 0xB;
}
inline constexpr bool is_data(uint8_t op) {
  return op == text || op == binary;
}
std::string_view name(uint8_t op);
}  // namespace opcode

namespace rsv {
inline constexpr uint8_t rsv1 = 0x4;  // bit 6 of the first header byte
inline constexpr uint8_t rsv2 = 0x2;
inline constexpr uint8_t rsv3 = 0x1;
}  // namespace rsv

inline constexpr size_t kMaxHeaderSize = 14;
inline constexpr size_t kMaxControlPayload = 125;

// One frame's header as decoded, with its raw bytes and position.
struct FrameHeader {
  uint64_t offset = 0;  // absolute offset of the first header byte in the stream
  uint64_t index = 0;   // 0-based frame index in the stream
  uint64_t length = 0;  // payload length as encoded
  uint8_t raw[kMaxHeaderSize] = {};
  uint8_t raw_len = 0;  // header size: 2, 4, 6, 8, 10 or 14
  uint8_t opcode = 0;
  uint8_t rsv = 0;   // RSV1..RSV3 as bits 2..0 (see rsv::)
  uint8_t len7 = 0;  // the 7-bit length field: < 126, 126 or 127
  bool fin = false;
  bool masked = false;
  uint8_t mask[4] = {};

  uint64_t payload_offset() const { return offset + raw_len; }
  bool is_control() const { return opcode::is_control(opcode); }
};

}  // namespace wsi
