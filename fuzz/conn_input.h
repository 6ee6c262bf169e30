// The input format of fuzz_connection, shared with conn_seed (which writes
// the connection vectors in it). One place, so the seeds always decode to
// the vectors' steps.
//
//   byte 0   options (opt::*)
//   byte 1   where bytes steps are cut in the split replay
//   then     steps, each a header byte H:
//              H & 1         the sender: 0 client, 1 server
//              (H >> 1) & 3  0 bytes, 1 fin, 2 reset, 3 time
//              H >> 3        bytes: how many follow; time: milliseconds;
//                            0-30 as is, 31: the next two bytes (little endian)
//
// A bytes step cut short by the end of the input keeps what is there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "parser/conn/conn_script.h"
#include "parser/handshake.h"

namespace wsi::fuzz {

namespace opt {
// Prepend a valid upgrade request and its 101, so the WebSocket phase starts at once.
inline constexpr uint8_t prefix = 0x01;
inline constexpr uint8_t deflate = 0x02;         // the prefix negotiates permessage-deflate
inline constexpr uint8_t deflate_params = 0x04;  // no context takeover, small windows
inline constexpr uint8_t size_limit = 0x08;      // max_message_size = 64
inline constexpr uint8_t few_reports = 0x10;     // max_reports_per_rule = 2
inline constexpr uint8_t small_hold = 0x20;      // max_held_bytes = 100, 2 pending requests
inline constexpr uint8_t preview = 0x40;         // preview = 8 (on_payload runs)
}  // namespace opt

inline constexpr size_t kShortLength = 31;  // H >> 3 == 31: a two-byte length follows

struct ConnInput {
  uint8_t options = 0;
  uint8_t cut_seed = 0;
  ConnScript script;
};

inline ConnConfig conn_config(uint8_t options) {
  ConnConfig cfg;
  if (options & opt::size_limit) cfg.max_message_size = 64;
  if (options & opt::few_reports) cfg.max_reports_per_rule = 2;
  if (options & opt::small_hold) {
    cfg.max_held_bytes = 100;
    cfg.max_pending_requests = 2;
  }
  if (options & opt::preview) cfg.preview = 8;
  return cfg;
}

// The RFC 6455 §1.3 sample key; the accept is computed, not copied.
inline constexpr const char* kPrefixKey = "dGhlIHNhbXBsZSBub25jZQ==";

inline void add_bytes(ConnScript& s, Direction d, const std::string& text) {
  ConnStep st;
  st.dir = d;
  st.bytes.assign(text.begin(), text.end());
  s.steps.push_back(std::move(st));
}

inline void add_prefix(ConnScript& s, uint8_t options) {
  std::string offer, answer;
  if (options & opt::deflate) {
    offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    answer = (options & opt::deflate_params)
                 ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
                   "server_no_context_takeover; server_max_window_bits=9; "
                   "client_max_window_bits=10\r\n"
                 : "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  }
  add_bytes(s, Direction::client_to_server,
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: " +
                std::string(kPrefixKey) + "\r\nSec-WebSocket-Version: 13\r\n" + offer + "\r\n");
  add_bytes(s, Direction::server_to_client,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: " +
                websocket_accept(kPrefixKey) + "\r\n" + answer + "\r\n");
}

// Never fails: every input is some connection.
inline ConnInput decode_conn_input(const uint8_t* data, size_t size) {
  ConnInput in;
  size_t at = 0;
  if (at < size) in.options = data[at++];
  if (at < size) in.cut_seed = data[at++];
  if (in.options & opt::prefix) add_prefix(in.script, in.options);
  while (at < size) {
    const uint8_t h = data[at++];
    ConnStep st;
    st.dir = (h & 1) ? Direction::server_to_client : Direction::client_to_server;
    size_t n = h >> 3;
    if (n == kShortLength) {
      n = 0;
      if (at < size) n = data[at++];
      if (at < size) n |= static_cast<size_t>(data[at++]) << 8;
    }
    switch ((h >> 1) & 3) {
      case 0: {
        const size_t take = n < size - at ? n : size - at;
        st.bytes.assign(data + at, data + at + take);
        at += take;
        break;
      }
      case 1:
        st.kind = ConnStep::Kind::fin;
        break;
      case 2:
        st.kind = ConnStep::Kind::reset;
        break;
      default:
        st.kind = ConnStep::Kind::time;
        st.ms = n;
        break;
    }
    in.script.steps.push_back(std::move(st));
  }
  return in;
}

// The inverse for the steps of a script (the prefix is an option, not
// steps): long bytes steps become several, long time steps too.
inline std::vector<uint8_t> encode_conn_input(const ConnScript& s, uint8_t options,
                                              uint8_t cut_seed) {
  std::vector<uint8_t> out{options, cut_seed};
  auto header = [&out](uint8_t dir_kind, size_t n) {
    if (n < kShortLength) {
      out.push_back(static_cast<uint8_t>(dir_kind | n << 3));
    } else {
      out.push_back(static_cast<uint8_t>(dir_kind | kShortLength << 3));
      out.push_back(static_cast<uint8_t>(n & 0xff));
      out.push_back(static_cast<uint8_t>(n >> 8));
    }
  };
  for (const ConnStep& st : s.steps) {
    const uint8_t dir = st.dir == Direction::server_to_client ? 1 : 0;
    switch (st.kind) {
      case ConnStep::Kind::bytes:
        for (size_t at = 0;;) {  // an empty step stays one empty step
          const size_t n = st.bytes.size() - at < 0xffff ? st.bytes.size() - at : 0xffff;
          header(dir, n);
          out.insert(out.end(), st.bytes.begin() + static_cast<ptrdiff_t>(at),
                     st.bytes.begin() + static_cast<ptrdiff_t>(at + n));
          at += n;
          if (at == st.bytes.size()) break;
        }
        break;
      case ConnStep::Kind::fin:
        header(dir | 1 << 1, 0);
        break;
      case ConnStep::Kind::reset:
        header(dir | 2 << 1, 0);
        break;
      case ConnStep::Kind::time:
        for (uint64_t left = st.ms;;) {
          const size_t n = left < 0xffff ? static_cast<size_t>(left) : 0xffff;
          header(3 << 1, n);
          left -= n;
          if (left == 0) break;
        }
        break;
    }
  }
  return out;
}

}  // namespace wsi::fuzz
