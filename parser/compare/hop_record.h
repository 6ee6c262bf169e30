// What one vantage point saw of one WebSocket connection, reduced to what a
// second vantage point's view can be compared with: the handshake's headers,
// each direction's frames and messages by keyed digest (never the payload),
// the close frames, the violations flagged, and how each TCP stream ended.
//
// A HopRecorder is a ConnSink: the live proxy (bracket mode), `decode` of a
// capture and `compare` all build records from the connection core's events
// (with ConnConfig::digests on), and a JSON log written with --log-digests is
// read back into the same record. The units of each direction wait in a
// queue until a HopComparer has aligned them with the other vantage point's.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "parser/conn/digest.h"
#include "parser/conn/events.h"

namespace wsi {

struct FrameRecord {
  uint64_t index = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t time_ms = 0;
  Digest digest;  // of the unmasked payload as on the wire
  uint8_t opcode = 0;
  uint8_t rsv = 0;
  bool fin = false;
  bool masked = false;
  uint8_t mask[4] = {};
  uint8_t raw[14] = {};
  uint8_t raw_len = 0;
};

// A data message, or a control frame, with the frames that carried it: what
// the alignment of two vantage points works on.
struct Unit {
  uint8_t opcode = 0;       // of the first frame
  bool compressed = false;  // RSV1 on the first frame with deflate negotiated here
  bool complete = true;     // false: the stream ended inside it
  Digest content;           // messages: as the application gets it; control frames: payload
  uint64_t size = 0;        // content bytes (inflated size when inflated here)
  uint64_t time_ms = 0;     // when its last frame was seen
  std::vector<FrameRecord> frames;
  // Close frames.
  bool has_code = false;
  uint16_t code = 0;
  std::string reason;  // escaped for display
};

struct ViolationRecord {
  Rule rule;
  uint64_t frame_index = 0;
  uint64_t offset = 0;
  uint64_t time_ms = 0;
};

struct CloseRecord {
  bool has_code = false;
  uint16_t code = 1005;
  std::string reason;
  uint64_t frame_index = 0;
  uint64_t time_ms = 0;
};

struct DirectionRecord {
  std::deque<Unit> pending;  // units not yet aligned
  uint64_t units = 0;        // ever queued
  uint64_t frames = 0;
  uint64_t bytes = 0;
  std::vector<ViolationRecord> violations;  // the first few
  std::optional<CloseRecord> close;         // the first close frame
  uint16_t synthesized = 0;  // 1006 (or 1001) the receiving endpoint reports without a close frame
  bool ended = false;        // the sender ended its TCP stream
  StreamEnd how = StreamEnd::fin;
  uint64_t end_ms = 0;
  uint64_t last_data_ms = 0;
  bool gap = false;  // bytes missing: the alignment stops being judged
  // Data frames of the message in progress.
  std::vector<FrameRecord> open;
};

struct HopRecord {
  uint64_t conn = 0;
  std::string label;  // the connection's addresses, or "conn N"
  bool has_key = false;
  std::string key;  // Sec-WebSocket-Key, or its keyed digest in hex (both sides alike)
  std::string path;
  uint64_t start_ms = 0;
  bool handshake = false;  // a WebSocket handshake was seen
  std::vector<HttpHeader> request_headers;
  uint16_t status = 0;
  std::vector<HttpHeader> response_headers;
  bool headers_redacted = false;  // secret values replaced (by the caller) before comparing
  bool upgraded = false;
  bool deflate = false;
  bool finished = false;
  uint64_t end_ms = 0;
  EndCause ended_by = EndCause::none;
  DirectionRecord dir[2];
};

// Builds HopRecords from the connection core's events; one record per
// connection id. Records stay until taken.
class HopRecorder : public ConnSink {
 public:
  // How many violations each direction keeps (the first ones).
  static constexpr size_t kViolationsKept = 8;

  HopRecord& record(uint64_t conn);
  HopRecord* find(uint64_t conn);
  void erase(uint64_t conn);
  std::vector<HopRecord> take_all();
  // Called after each record changed (a handshake, a unit queued, the end).
  virtual void changed(HopRecord&) {}

  void on_handshake(const EventContext&, const HandshakeEvent&) override;
  void on_frame_digest(const EventContext&, const FrameDigestEvent&) override;
  void on_message_digest(const EventContext&, const MessageDigestEvent&) override;
  void on_violation(const EventContext&, const Violation&) override;
  void on_close(const EventContext&, const CloseEvent&) override;
  void on_synthesized_close(const EventContext&, const SynthesizedCloseEvent&) override;
  void on_gap(const EventContext&, const GapEvent&) override;
  void on_conn_close(const EventContext&, const ConnCloseEvent&) override;

 private:
  std::map<uint64_t, HopRecord> records_;  // by connection id: looked up at every event
};

// Adds a unit to a direction (used by the recorder and by log readers).
void queue_unit(DirectionRecord& d, Unit u);
FrameRecord frame_record(const FrameHeader& h, const Digest& d, uint64_t time_ms);
// The frames of `d` from `first` on become one message unit.
void end_message(DirectionRecord& d, uint64_t first, const MessageInfo& m, const Digest& content,
                 uint64_t time_ms);
// The stream ended: frames of a message still open become incomplete units.
void flush_open(DirectionRecord& d);

}  // namespace wsi
