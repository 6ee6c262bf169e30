// Building frames, for the parts of wsinspect that speak WebSocket themselves
// (the built-in echo server, the demo client, shutdown close frames).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "parser/mask.h"

namespace wsi {

// A frame header for `length` payload bytes, with the minimal length form.
inline std::string frame_header(uint8_t opcode, uint64_t length, bool fin = true, uint8_t rsv = 0,
                                const uint8_t* mask = nullptr) {
  std::string h;
  h.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)));
  const char m = mask ? '\x80' : '\0';
  if (length < 126) {
    h.push_back(static_cast<char>(m | static_cast<char>(length)));
  } else if (length < 65536) {
    h += {static_cast<char>(m | 126), static_cast<char>(length >> 8), static_cast<char>(length)};
  } else {
    h.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>(length >> (8 * i)));
  }
  if (mask) h.append(reinterpret_cast<const char*>(mask), 4);
  return h;
}

// A whole frame; masked when `mask` is given (client to server).
inline std::string frame(uint8_t opcode, std::string_view payload, bool fin = true, uint8_t rsv = 0,
                         const uint8_t* mask = nullptr) {
  std::string f = frame_header(opcode, payload.size(), fin, rsv, mask);
  const size_t at = f.size();
  f.resize(at + payload.size());
  if (mask)
    unmask_copy(reinterpret_cast<uint8_t*>(f.data() + at),
                reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), mask, 0);
  else
    f.replace(at, payload.size(), payload);
  return f;
}

// A close frame's payload: the code in network order, then the reason.
inline std::string close_payload(uint16_t code, std::string_view reason) {
  std::string p = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  p.append(reason.substr(0, 123));
  return p;
}

}  // namespace wsi
