// Where WebSocket frames begin in a stream seen from its middle (a capture
// that started after the handshake): the first offset from which a chain of
// plausible frame headers runs on to the end of what was seen, and whether
// those frames are masked (so a client's). A guess made with the evidence
// the bytes give, never a certainty: a caller says its findings come from a
// resynchronised stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace wsi {

struct Resync {
  enum class Result : uint8_t {
    found,      // frames start at `offset`
    need_more,  // no chain is long enough yet
    none,       // nothing in these bytes chains like frames
  };
  Result result = Result::need_more;
  size_t offset = 0;
  bool masked = false;  // the chained frames are masked: the client sent them
};

// `bytes` are the stream's first bytes seen; `complete` says no more will
// come (the stream ended, or the caller will wait no longer), so a shorter
// chain that ends exactly at the end is taken. The offset found is that of
// a header starting a message (text or binary), or of a control frame when
// the chain has no message start.
Resync find_frame_start(std::span<const uint8_t> bytes, bool complete);

}  // namespace wsi
