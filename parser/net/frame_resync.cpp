#include "parser/net/frame_resync.h"

#include "parser/frame.h"

namespace wsi {
namespace {

struct Header {
  bool ok = false;
  bool complete = false;  // the header bytes are all there
  uint8_t opcode = 0;
  bool masked = false;
  uint64_t size = 0;  // header and payload
};

// A header no endpoint following RFC 6455 would reject for its form:
// RSV2/RSV3 clear, RSV1 only on a message's first frame, a known opcode,
// control frames short and final, the length in its shortest encoding.
Header parse_header(std::span<const uint8_t> b) {
  Header h;
  if (b.size() < 2) return h;
  const uint8_t op = b[0] & 0x0f;
  const bool fin = b[0] & 0x80;
  const uint8_t rsv_bits = (b[0] >> 4) & 0x7;
  if (rsv_bits & (rsv::rsv2 | rsv::rsv3) || opcode::is_reserved(op)) return h;
  if ((rsv_bits & rsv::rsv1) && !opcode::is_data(op)) return h;
  h.masked = b[1] & 0x80;
  uint64_t len = b[1] & 0x7f;
  size_t head = 2;
  if (len == 126) {
    if (b.size() < 4) return h.ok = true, h;
    len = uint64_t{b[2]} << 8 | b[3];
    if (len < 126) return h;
    head = 4;
  } else if (len == 127) {
    if (b.size() < 10) return h.ok = true, h;
    len = 0;
    for (int i = 2; i < 10; ++i) len = len << 8 | b[i];
    if (len >> 63 || len < 65536) return h;
    head = 10;
  }
  if (opcode::is_control(op) && (!fin || len > kMaxControlPayload)) return h;
  if (h.masked) head += 4;
  h.ok = h.complete = true;
  h.opcode = op;
  h.size = head + len;
  return h;
}

}  // namespace

Resync find_frame_start(std::span<const uint8_t> bytes, bool complete) {
  Resync r;
  for (size_t k = 0; k + 2 <= bytes.size(); ++k) {
    size_t at = k;
    size_t headers = 0;
    bool masked = false;
    bool reaches_end = false;  // the chain runs to (or past) the end of the bytes
    bool exact_end = false;    // its last frame ends exactly there
    size_t start = SIZE_MAX;   // the first message start (or, failing that, control frame)
    size_t first_control = SIZE_MAX;
    for (;;) {
      if (at == bytes.size()) {
        reaches_end = exact_end = true;
        break;
      }
      const Header h = parse_header(bytes.subspan(at));
      if (!h.ok) break;
      if (!h.complete) {
        reaches_end = true;  // a header cut by the end of what was seen
        break;
      }
      if (headers == 0) masked = h.masked;
      if (h.masked != masked) break;
      if (start == SIZE_MAX && opcode::is_data(h.opcode)) start = at;
      if (first_control == SIZE_MAX && opcode::is_control(h.opcode)) first_control = at;
      ++headers;
      if (h.size > bytes.size() - at) {
        reaches_end = true;
        break;
      }
      at += static_cast<size_t>(h.size);
    }
    if (!reaches_end || headers == 0) continue;
    // Enough evidence: three headers in a row, or (with nothing more to
    // come) a chain that ends exactly where the stream does.
    const bool enough = headers >= 3 || (complete && (exact_end || headers >= 2));
    if (!enough) continue;
    if (start == SIZE_MAX) start = first_control;
    if (start == SIZE_MAX) continue;  // only continuations: no message starts here
    r.result = Resync::Result::found;
    r.offset = start;
    r.masked = masked;
    return r;
  }
  r.result = complete ? Resync::Result::none : Resync::Result::need_more;
  return r;
}

}  // namespace wsi
