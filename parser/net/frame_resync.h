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
// come (the stream ended, or the caller will wait no longer). Taken, in
// order: the first chain of three headers or more that runs to the end of
// the bytes; when complete, the chain of three or more borne out furthest
// (it may stop at a header that is not plausible: a corrupted frame); then
// a shorter chain that ends exactly at the end. The offset found is that of
// a header starting a message (text or binary), the second one in a chain of
// four headers or more (bytes of a payload can pass for a first header), or
// of a control frame when the chain has no message start.
// `masked`: 1 or 0 when the sender is known (a client masks), -1 when not.
Resync find_frame_start(std::span<const uint8_t> bytes, bool complete, int masked = -1);

}  // namespace wsi
