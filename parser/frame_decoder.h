// FrameDecoder: a push parser for one direction's WebSocket byte stream.
//
// It is fed arbitrary pieces of the stream and calls its handler with
//   on_frame_header(const FrameHeader&)
//   on_frame_payload(const FrameHeader&, const uint8_t* data, size_t n, uint64_t at)
//   on_frame_end(const FrameHeader&)
// where `data` points into the caller's bytes (never modified) and `at` is the
// position of data[0] within the frame's payload. A partial header (at most 14
// bytes) is carried across calls. The decoder checks no rules: every byte
// sequence has a frame structure, and StreamInspector judges it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "parser/frame.h"

namespace wsi {

class FrameDecoder {
 public:
  // Bytes consumed so far: the absolute offset of the next byte.
  uint64_t offset() const { return offset_; }
  // Frames whose header has been decoded.
  uint64_t frames() const { return next_index_; }
  // True when the stream stopped inside a frame (header or payload).
  bool mid_frame() const { return in_payload_ || have_ > 0; }
  // True when the stream stopped inside a header; header_bytes() were seen.
  bool in_header() const { return !in_payload_ && have_ > 0; }
  uint8_t header_bytes() const { return have_; }
  const FrameHeader& current() const { return hdr_; }

  template <class Handler>
  void feed(const uint8_t* p, size_t n, Handler& h) {
    while (n > 0) {
      if (in_payload_) {
        const size_t take = remaining_ < n ? static_cast<size_t>(remaining_) : n;
        h.on_frame_payload(hdr_, p, take, hdr_.length - remaining_);
        remaining_ -= take;
        offset_ += take;
        p += take;
        n -= take;
        if (remaining_ == 0) finish_frame(h);
        continue;
      }
      // Header: gather the two fixed bytes, then the extended length and mask key.
      size_t need = have_ < 2 ? 2 : header_size(hdr_.raw[1]);
      size_t take = need - have_;
      if (take > n) take = n;
      std::memcpy(hdr_.raw + have_, p, take);
      have_ += static_cast<uint8_t>(take);
      offset_ += take;
      p += take;
      n -= take;
      if (have_ < 2) continue;
      need = header_size(hdr_.raw[1]);
      if (have_ < need) continue;
      parse_header(static_cast<uint8_t>(need));
      h.on_frame_header(hdr_);
      if (hdr_.length == 0) {
        finish_frame(h);
      } else {
        in_payload_ = true;
        remaining_ = hdr_.length;
      }
    }
  }

 private:
  static size_t header_size(uint8_t b1) {
    const uint8_t len7 = b1 & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
  }

  void parse_header(uint8_t size) {
    const uint8_t b0 = hdr_.raw[0], b1 = hdr_.raw[1];
    hdr_.offset = offset_ - size;
    hdr_.index = next_index_++;
    hdr_.raw_len = size;
    hdr_.fin = (b0 & 0x80) != 0;
    hdr_.rsv = (b0 >> 4) & 0x7;
    hdr_.opcode = b0 & 0x0f;
    hdr_.masked = (b1 & 0x80) != 0;
    hdr_.len7 = b1 & 0x7f;
    size_t pos = 2;
    if (hdr_.len7 < 126) {
      hdr_.length = hdr_.len7;
    } else {
      const size_t bytes = hdr_.len7 == 126 ? 2 : 8;
      uint64_t len = 0;
      for (size_t i = 0; i < bytes; ++i) len = (len << 8) | hdr_.raw[pos + i];
      hdr_.length = len;
      pos += bytes;
    }
    if (hdr_.masked) {
      std::memcpy(hdr_.mask, hdr_.raw + pos, 4);
    } else {
      std::memset(hdr_.mask, 0, 4);
    }
  }

  template <class Handler>
  void finish_frame(Handler& h) {
    in_payload_ = false;
    have_ = 0;
    h.on_frame_end(hdr_);
  }

  FrameHeader hdr_;
  uint64_t offset_ = 0;
  uint64_t next_index_ = 0;
  uint64_t remaining_ = 0;
  uint8_t have_ = 0;  // header bytes gathered so far
  bool in_payload_ = false;
};

}  // namespace wsi
