#include "parser/net/frame_resync.h"

#include <vector>

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

Resync find_frame_start(std::span<const uint8_t> bytes, bool complete, int masked) {
  // From the end backwards, for every offset: where a chain of headers
  // starting there (one mask bit throughout) breaks, how many headers it
  // has, and where its first two message starts are. Linear in the bytes.
  const size_t n = bytes.size();
  struct Chain {
    size_t end = 0;  // the offset of the first header that does not chain (n: none)
    // How far the chain is borne out: to where it breaks, or exactly to n,
    // or to the header of a last frame the end cuts (its length unchecked).
    size_t verified = 0;
    uint32_t headers = 0;
    bool exact = false;  // the last frame ends exactly at n
    bool masked = false;
    size_t start = SIZE_MAX, second = SIZE_MAX, control = SIZE_MAX;
  };
  std::vector<Chain> at(n + 1);
  at[n].end = n;
  at[n].exact = true;
  for (size_t p = n; p-- > 0;) {
    Chain& c = at[p];
    c.end = c.verified = p;
    const Header h = parse_header(bytes.subspan(p));
    if (!h.ok || (masked >= 0 && h.masked != (masked == 1))) continue;
    c.headers = 1;
    if (!h.complete || h.size >= n - p) {
      c.end = n;  // a frame (or header) cut by the end of what was seen
      c.exact = h.complete && h.size == n - p;
      c.verified = c.exact ? n : p;
      c.masked = h.masked;
    } else {
      const size_t next = p + static_cast<size_t>(h.size);
      const Chain& d = at[next];
      c.masked = h.masked;
      if (d.headers && d.masked == h.masked) {
        c.end = d.end;
        c.verified = d.verified;
        c.exact = d.exact;
        c.headers += d.headers;
        c.start = d.start;
        c.second = d.second;
        c.control = d.control;
      } else {
        c.end = c.verified = next;
      }
    }
    if (opcode::is_data(h.opcode)) {
      c.second = c.start;
      c.start = p;
    }
    if (opcode::is_control(h.opcode)) c.control = p;
  }
  // In order of evidence: the first chain of three headers or more that
  // runs to the end of what was seen (exactly to it when nothing more will
  // come: a stream that ended did so between frames, unless cut, which a
  // false chain's last length mostly claims); with nothing more to come,
  // the chain of three or more borne out furthest (up to a header that is
  // not plausible: the stream's first finding; a chain inside a payload
  // stops where the real frames begin); last, a shorter chain that ends
  // exactly at the end. A chain of false headers inside a payload that
  // merges into the real frames is guarded against below.
  const auto pick = [&]() -> size_t {
    for (size_t p = 0; p < n; ++p)
      if (at[p].headers >= 3 && at[p].end == n && (at[p].exact || !complete)) return p;
    if (!complete) return SIZE_MAX;
    size_t best = SIZE_MAX;
    for (size_t p = 0; p < n; ++p)
      if (at[p].headers >= 3 && (best == SIZE_MAX || at[p].verified > at[best].verified)) best = p;
    if (best != SIZE_MAX) return best;
    for (size_t p = 0; p < n; ++p)
      if (at[p].headers && at[p].end == n && (at[p].exact || at[p].headers >= 2)) return p;
    return SIZE_MAX;
  };
  Resync r;
  r.result = complete ? Resync::Result::none : Resync::Result::need_more;
  const size_t best = pick();
  if (best == SIZE_MAX) return r;
  const Chain& c = at[best];
  // Inside a payload, bytes that pass for a header whose length happens to
  // land on a real header chain on into the real frames: with a long enough
  // chain the second message start is taken, so such a false first frame
  // costs one message instead of a false finding.
  size_t start = c.headers >= 4 && c.second != SIZE_MAX ? c.second : c.start;
  if (start == SIZE_MAX) start = c.control;
  if (start == SIZE_MAX) return r;  // only continuations: no message starts in it
  r.result = Resync::Result::found;
  r.offset = start;
  r.masked = c.masked;
  return r;
}

}  // namespace wsi
