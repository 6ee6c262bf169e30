#include "parser/compare/hop_record.h"

#include <algorithm>
#include <cstring>

namespace wsi {
namespace {

bool is_message_frame(uint8_t op) {
  return op == opcode::text || op == opcode::binary || op == opcode::continuation;
}

// Close reasons are shown, never interpreted: printable ASCII kept, the rest
// as \xNN.
std::string shown_reason(std::span<const uint8_t> r) {
  std::string s;
  for (uint8_t c : r) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      s += static_cast<char>(c);
    } else {
      static const char* const kHex = "0123456789abcdef";
      s += "\\x";
      s += kHex[c >> 4];
      s += kHex[c & 15];
    }
  }
  return s;
}

}  // namespace

FrameRecord frame_record(const FrameHeader& h, const Digest& d, uint64_t time_ms) {
  FrameRecord f;
  f.index = h.index;
  f.offset = h.offset;
  f.length = h.length;
  f.time_ms = time_ms;
  f.digest = d;
  f.opcode = h.opcode;
  f.rsv = h.rsv;
  f.fin = h.fin;
  f.masked = h.masked;
  std::memcpy(f.mask, h.mask, 4);
  f.raw_len = std::min<uint8_t>(h.raw_len, sizeof f.raw);
  std::memcpy(f.raw, h.raw, f.raw_len);
  return f;
}

void queue_unit(DirectionRecord& d, Unit u) {
  d.frames += u.frames.size();
  ++d.units;
  d.pending.push_back(std::move(u));
}

void end_message(DirectionRecord& d, uint64_t first, const MessageInfo& m, const Digest& content,
                 uint64_t time_ms) {
  // Frames before the message's first are strays (a continuation with no
  // message open): each is a unit of its own.
  auto it = std::find_if(d.open.begin(), d.open.end(),
                         [&](const FrameRecord& f) { return f.index >= first; });
  for (auto s = d.open.begin(); s != it; ++s) {
    Unit u;
    u.opcode = s->opcode;
    u.content = s->digest;
    u.size = s->length;
    u.time_ms = s->time_ms;
    u.frames.push_back(*s);
    queue_unit(d, std::move(u));
  }
  Unit u;
  u.opcode = m.opcode;
  u.compressed = m.compressed;
  u.content = content;
  u.size = m.inflated_size ? m.inflated_size : m.size;
  u.time_ms = time_ms;
  u.frames.assign(it, d.open.end());
  d.open.clear();
  queue_unit(d, std::move(u));
}

void flush_open(DirectionRecord& d) {
  if (d.open.empty()) return;
  Unit u;
  u.opcode = d.open.front().opcode;
  u.complete = false;
  // An unfinished message has no content digest: its frames' digests stand
  // for it, so two views of the same cut message still align.
  PayloadDigester hash(DigestKey("frames"));
  for (const FrameRecord& f : d.open) {
    hash.add(f.digest.b.data(), f.digest.b.size());
    u.size += f.length;
  }
  u.content = hash.done();
  u.time_ms = d.open.back().time_ms;
  u.frames = std::move(d.open);
  d.open.clear();
  queue_unit(d, std::move(u));
}

HopRecord& HopRecorder::record(uint64_t conn) {
  auto [it, added] = records_.try_emplace(conn);
  if (added) it->second.conn = conn;
  return it->second;
}

HopRecord* HopRecorder::find(uint64_t conn) {
  auto it = records_.find(conn);
  return it == records_.end() ? nullptr : &it->second;
}

void HopRecorder::erase(uint64_t conn) {
  records_.erase(conn);
}

std::vector<HopRecord> HopRecorder::take_all() {
  std::vector<HopRecord> out;
  out.reserve(records_.size());
  for (auto& [id, r] : records_) out.push_back(std::move(r));
  records_.clear();
  return out;
}

void HopRecorder::on_handshake(const EventContext& c, const HandshakeEvent& e) {
  if (!e.request.attempts_websocket) return;
  HopRecord& r = record(c.conn);
  if (r.handshake && r.upgraded) return;  // one upgrade per connection
  r.handshake = true;
  r.start_ms = c.time_ms;
  r.path = e.request.path;
  r.has_key = !e.request.key.empty();
  r.key = e.key_digest ? e.key_digest->hex() : e.request.key;
  r.request_headers = e.headers;
  r.status = e.response ? e.response->status : 0;
  if (e.response) r.response_headers = e.response->headers;
  r.upgraded = e.negotiated && e.negotiated->websocket;
  r.deflate = e.negotiated && e.negotiated->deflate;
  changed(r);
}

void HopRecorder::on_frame_digest(const EventContext& c, const FrameDigestEvent& e) {
  HopRecord& r = record(c.conn);
  DirectionRecord& d = r.dir[dir_index(e.dir)];
  FrameRecord f = frame_record(e.header, e.payload, c.time_ms);
  if (is_message_frame(e.header.opcode)) {
    d.open.push_back(f);
    return;
  }
  Unit u;
  u.opcode = f.opcode;
  u.content = f.digest;
  u.size = f.length;
  u.time_ms = f.time_ms;
  u.frames.push_back(f);
  queue_unit(d, std::move(u));
  // A close frame's code arrives in on_close, right after; the unit waits
  // for it in the queue (callers compare between feeds, not inside one).
  if (f.opcode != opcode::close) changed(r);
}

void HopRecorder::on_message_digest(const EventContext& c, const MessageDigestEvent& e) {
  HopRecord& r = record(c.conn);
  DirectionRecord& d = r.dir[dir_index(e.message.dir)];
  end_message(d, e.message.first_frame_index, e.message, e.content, c.time_ms);
  changed(r);
}

void HopRecorder::on_violation(const EventContext& c, const Violation& v) {
  HopRecord& r = record(c.conn);
  DirectionRecord& d = r.dir[dir_index(v.dir)];
  if (d.violations.size() < kViolationsKept)
    d.violations.push_back({v.rule, v.frame_index, v.offset, c.time_ms});
}

void HopRecorder::on_close(const EventContext& c, const CloseEvent& e) {
  HopRecord& r = record(c.conn);
  DirectionRecord& d = r.dir[dir_index(e.frame.dir)];
  CloseRecord cr{e.frame.has_code, e.frame.code, shown_reason(e.frame.reason), e.frame.frame_index,
                 c.time_ms};
  if (!d.close) d.close = cr;
  for (auto it = d.pending.rbegin(); it != d.pending.rend(); ++it) {
    if (it->frames.empty() || it->frames.front().index != e.frame.frame_index) continue;
    it->has_code = cr.has_code;
    it->code = cr.code;
    it->reason = cr.reason;
    break;
  }
  changed(r);
}

void HopRecorder::on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) {
  HopRecord& r = record(c.conn);
  r.dir[dir_index(e.dir)].synthesized = e.code;
}

void HopRecorder::on_gap(const EventContext& c, const GapEvent& e) {
  record(c.conn).dir[dir_index(e.dir)].gap = true;
}

void HopRecorder::on_conn_close(const EventContext& c, const ConnCloseEvent& e) {
  HopRecord* r = find(c.conn);
  if (!r) return;  // not a WebSocket connection
  r->finished = true;
  r->end_ms = c.time_ms;
  r->ended_by = e.ended_by;
  for (size_t i = 0; i < 2; ++i) {
    DirectionRecord& d = r->dir[i];
    flush_open(d);
    d.bytes = e.dir[i].bytes;
    d.ended = e.dir[i].ended;
    d.how = e.dir[i].how;
    d.end_ms = e.dir[i].end_ms;
    d.last_data_ms = e.dir[i].last_data_ms;
  }
  changed(*r);
}

}  // namespace wsi
