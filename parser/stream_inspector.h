// StreamInspector: judges one direction's WebSocket byte stream against the
// rules of RFC 6455 (and RFC 7692's RSV1 rules), reporting frames, messages,
// violations and close frames to a sink. One inspector per direction; it
// knows whether the sender is the client or the server.
//
// It reads views of the caller's bytes and never modifies them. Text payloads
// are unmasked into a small scratch window and validated as UTF-8 as they
// stream, so an invalid byte is reported where it occurs, not at message end.
// After a violation it keeps decoding (frame boundaries stay known), and
// repeated reports of one rule are capped so a broken stream cannot flood a log.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include <memory>

#include "parser/deflate.h"
#include "parser/frame.h"
#include "parser/frame_decoder.h"
#include "parser/rules.h"
#include "parser/utf8.h"

namespace wsi {

struct Violation {
  Rule rule;
  Direction dir;
  uint64_t offset;            // bytes from the first WebSocket byte of this direction
  uint64_t frame_index;       // 0-based
  const FrameHeader* header;  // the frame's header bytes; null when no frame applies
  std::string_view detail;    // valid during the callback only
};

struct CloseFrame {
  Direction dir;
  uint64_t offset;  // of the frame's first header byte
  uint64_t frame_index;
  bool has_code;                    // false: empty payload, reported as 1005 (not on the wire)
  uint16_t code;                    // 1005 when !has_code
  std::span<const uint8_t> reason;  // unmasked reason bytes, possibly invalid UTF-8
  bool code_valid;                  // the code may appear in a close frame
  bool reason_valid;                // the reason is valid UTF-8
  bool length_valid;                // payload is not 1 byte and not over 125 bytes
  bool valid() const { return code_valid && reason_valid && length_valid; }
};

struct MessageInfo {
  Direction dir;
  uint8_t opcode;          // text or binary
  uint64_t size;           // payload bytes on the wire
  uint64_t inflated_size;  // compressed: bytes after inflation (0 when not inflated)
  uint64_t frames;
  uint64_t first_frame_index;
  bool compressed;  // RSV1 on its first frame, deflate negotiated
  // Compressed, and not wholly inflated: inflation failed, could not start
  // (an earlier message broke the shared window) or stopped at
  // max_message_size; the content seen is cut short.
  bool incomplete = false;
};

class InspectorSink {
 public:
  virtual ~InspectorSink() = default;
  virtual void on_frame(Direction, const FrameHeader&) {}
  virtual void on_violation(const Violation&) {}
  virtual void on_close(const CloseFrame&) {}
  virtual void on_message(const MessageInfo&) {}
  // Payload bytes as they arrive (still masked: unmask with h.mask at phase
  // `at`), only when InspectorConfig::want_payload is set.
  virtual void on_payload(Direction, const FrameHeader&, const uint8_t*, size_t, uint64_t) {}
  // A frame's last payload byte has been read (every frame that is complete).
  virtual void on_frame_end(Direction, const FrameHeader&) {}
  // A data message's content as the receiving application gets it: the
  // unmasked payload, inflated when the message is compressed. Only when
  // InspectorConfig::want_message_data is set.
  virtual void on_message_data(Direction, const uint8_t*, size_t) {}
};

struct InspectorConfig {
  Sender sender = Sender::client;
  bool deflate_negotiated = false;     // permessage-deflate accepted in the handshake
  DeflateParams deflate;               // its parameters: compressed messages are inflated
  uint64_t max_message_size = 0;       // 0: no limit; above it: message-too-big (1009)
  uint32_t max_reports_per_rule = 10;  // further reports of a rule are counted only
  bool want_payload = false;           // call InspectorSink::on_payload
  bool want_message_data = false;      // call InspectorSink::on_message_data
};

struct InspectorStats {
  uint64_t bytes = 0;
  uint64_t frames = 0;
  uint64_t messages = 0;
  uint64_t control_frames = 0;
  uint64_t errors = 0;  // error-severity violations, reported or not
  uint64_t warnings = 0;
  uint64_t suppressed = 0;  // violations counted but not reported (cap reached)
  uint64_t closes = 0;

  // Violations per rule, reported or not. The table is allocated at the
  // first violation: a clean connection carries none.
  uint32_t count(Rule r) const { return by_rule_ ? (*by_rule_)[static_cast<size_t>(r)] : 0; }
  uint32_t& counter(Rule r) {
    if (!by_rule_) by_rule_ = std::make_unique<std::array<uint32_t, kRuleCount>>();
    return (*by_rule_)[static_cast<size_t>(r)];
  }

 private:
  std::unique_ptr<std::array<uint32_t, kRuleCount>> by_rule_;
};

class StreamInspector {
 public:
  StreamInspector(const InspectorConfig& cfg, InspectorSink& sink);
  ~StreamInspector();

  void feed(std::span<const uint8_t> bytes);
  // The stream ended (TCP FIN or end of input): flags a frame cut short.
  void finish();

  Direction direction() const { return dir_; }
  const InspectorConfig& config() const { return cfg_; }
  const InspectorStats& stats() const { return stats_; }
  uint64_t offset() const { return decoder_.offset(); }
  bool close_seen() const { return close_seen_; }
  // The stream stopped inside a frame (header or payload).
  bool mid_frame() const { return decoder_.mid_frame(); }

  // FrameDecoder handler interface.
  void on_frame_header(const FrameHeader& h);
  void on_frame_payload(const FrameHeader& h, const uint8_t* data, size_t n, uint64_t at);
  void on_frame_end(const FrameHeader& h);

 private:
  void report(Rule rule, uint64_t offset, const FrameHeader* h, const char* fmt, ...)
      __attribute__((format(printf, 5, 6)));
  void check_header(const FrameHeader& h);
  void check_length_encoding(const FrameHeader& h);
  void validate_text(const FrameHeader& h, const uint8_t* data, size_t n, uint64_t at);
  void finish_close(const FrameHeader& h);
  void end_message(const FrameHeader& h);
  void inflate(const FrameHeader& h, const uint8_t* data, size_t n, uint64_t at);
  static bool on_inflated(void* self, const uint8_t* data, size_t n);
  bool check_inflated(const uint8_t* data, size_t n);
  void inflate_failed(const char* when);

  InspectorConfig cfg_;
  InspectorSink& sink_;
  Direction dir_;
  FrameDecoder decoder_;
  InspectorStats stats_;

  // The open data message, if any.
  bool in_message_ = false;
  uint8_t msg_opcode_ = 0;
  bool msg_compressed_ = false;
  bool msg_check_utf8_ = false;  // text, not compressed, no UTF-8 error yet
  bool msg_too_big_ = false;     // reported once per message
  uint64_t msg_size_ = 0;
  uint64_t msg_frames_ = 0;
  uint64_t msg_first_frame_ = 0;
  uint64_t utf8_pending_offset_ = 0;  // where an unfinished code point began
  Utf8Validator utf8_;

  // Compressed messages (permessage-deflate).
  std::unique_ptr<MessageInflater> inflater_;  // only when deflate was negotiated
  bool msg_inflate_ = false;                   // this message is being inflated
  uint64_t inflate_wire_offset_ = 0;           // wire offset of the compressed bytes being fed
  const FrameHeader* inflate_frame_ = nullptr;

  // The current frame.
  bool frame_is_text_data_ = false;  // payload goes through UTF-8 validation
  bool frame_in_message_ = false;    // a data frame belonging to the open message

  bool close_seen_ = false;
  // A close frame's unmasked payload (first 125 bytes), allocated at the
  // first close frame: it may arrive over several reads.
  std::unique_ptr<uint8_t[]> close_payload_;
  size_t close_len_ = 0;
};

}  // namespace wsi
