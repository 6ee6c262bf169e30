#include "parser/stream_inspector.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "parser/close_codes.h"
#include "parser/mask.h"

namespace wsi {
namespace {

// Text payloads are unmasked here, a window at a time, before validation. One
// window per thread serves every inspector: it holds nothing between calls.
constexpr size_t kScratch = 4096;
thread_local uint8_t scratch_[kScratch];

// Calls fn(block, len, done) over a payload chunk in order, each block
// unmasked into the scratch window when the frame is masked (the caller's
// bytes as they are otherwise). `done` is the block's position in the chunk;
// fn returns false to stop.
template <class Fn>
void for_each_unmasked_block(const FrameHeader& h, const uint8_t* data, size_t n, uint64_t at,
                             Fn fn) {
  for (size_t done = 0; done < n;) {
    const uint8_t* block = data + done;
    size_t len = n - done;
    if (h.masked) {
      if (len > kScratch) len = kScratch;
      unmask_copy(scratch_, block, len, h.mask, at + done);
      block = scratch_;
    }
    if (!fn(block, len, done)) return;
    done += len;
  }
}

}  // namespace

StreamInspector::StreamInspector(const InspectorConfig& cfg, InspectorSink& sink)
    : cfg_(cfg), sink_(sink), dir_(direction_of(cfg.sender)) {
  if (cfg_.deflate_negotiated) {
    const bool client = cfg_.sender == Sender::client;
    inflater_ = std::make_unique<MessageInflater>(
        client ? cfg_.deflate.client_max_window_bits : cfg_.deflate.server_max_window_bits,
        client ? cfg_.deflate.client_no_context_takeover : cfg_.deflate.server_no_context_takeover);
  }
}

StreamInspector::~StreamInspector() = default;

void StreamInspector::feed(std::span<const uint8_t> bytes) {
  stats_.bytes += bytes.size();
  decoder_.feed(bytes.data(), bytes.size(), *this);
}

void StreamInspector::finish() {
  if (!decoder_.mid_frame()) return;
  if (decoder_.in_header()) {
    // The header is incomplete: describe what arrived of it.
    FrameHeader partial = decoder_.current();
    partial.raw_len = decoder_.header_bytes();
    partial.offset = decoder_.offset() - partial.raw_len;
    partial.index = decoder_.frames();
    report(Rule::stream_ended_mid_frame, partial.offset, &partial,
           "the stream ended after %u bytes of a frame header", partial.raw_len);
    return;
  }
  const FrameHeader& h = decoder_.current();
  const uint64_t got = decoder_.offset() - h.payload_offset();
  report(Rule::stream_ended_mid_frame, h.offset, &h,
         "the stream ended after %llu of the frame's %llu payload bytes",
         static_cast<unsigned long long>(got), static_cast<unsigned long long>(h.length));
}

void StreamInspector::report(Rule rule, uint64_t offset, const FrameHeader* h, const char* fmt,
                             ...) {
  const RuleInfo& info = rule_info(rule);
  (info.severity == Severity::error ? stats_.errors : stats_.warnings)++;
  uint32_t& n = stats_.counter(rule);
  if (++n > cfg_.max_reports_per_rule) {
    stats_.suppressed++;
    return;
  }
  char detail[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  const uint64_t index = h ? h->index : decoder_.frames();
  sink_.on_violation(Violation{rule, dir_, offset, index, h, detail});
}

void StreamInspector::on_frame_header(const FrameHeader& h) {
  stats_.frames++;
  if (h.is_control()) stats_.control_frames++;
  sink_.on_frame(dir_, h);
  check_header(h);
}

void StreamInspector::check_header(const FrameHeader& h) {
  const uint64_t at = h.offset;
  if (close_seen_)
    report(Rule::frame_after_close, at, &h, "%s frame after this endpoint's close frame",
           opcode::name(h.opcode).data());

  if (h.rsv & (rsv::rsv2 | rsv::rsv3))
    report(Rule::reserved_bits_set, at, &h, "RSV2=%d RSV3=%d, and no extension defines them",
           (h.rsv >> 1) & 1, h.rsv & 1);
  if (h.rsv & rsv::rsv1) {
    if (!cfg_.deflate_negotiated)
      report(Rule::rsv1_without_extension, at, &h,
             "RSV1 set on a %s frame, but no extension was negotiated",
             opcode::name(h.opcode).data());
    else if (h.is_control())
      report(Rule::rsv1_on_control, at, &h, "RSV1 set on a %s frame",
             opcode::name(h.opcode).data());
    else if (h.opcode == opcode::continuation)
      report(Rule::rsv1_on_continuation, at, &h, "RSV1 set on a continuation frame");
  }

  if (cfg_.sender == Sender::client && !h.masked)
    report(Rule::unmasked_client_frame, at, &h, "client frame with MASK=0");
  else if (cfg_.sender == Sender::server && h.masked)
    report(Rule::masked_server_frame, at, &h, "server frame with MASK=1");
  check_length_encoding(h);

  frame_is_text_data_ = false;
  frame_in_message_ = false;
  close_len_ = 0;

  if (opcode::is_reserved(h.opcode)) {
    report(Rule::reserved_opcode, at, &h, "opcode 0x%X is reserved", h.opcode);
    return;
  }
  if (h.is_control()) {
    if (!h.fin)
      report(Rule::fragmented_control_frame, at, &h, "%s frame with FIN=0",
             opcode::name(h.opcode).data());
    if (h.length > kMaxControlPayload)
      report(Rule::control_frame_too_long, at, &h, "%s payload of %llu bytes (limit 125)",
             opcode::name(h.opcode).data(), static_cast<unsigned long long>(h.length));
    if (h.opcode == opcode::close && h.length == 1)
      report(Rule::close_payload_length_1, at, &h,
             "close payload of 1 byte: a status code needs two");
    return;
  }

  // Data frames.
  if (h.opcode == opcode::continuation) {
    if (!in_message_) {
      report(Rule::continuation_without_start, at, &h,
             "continuation frame with no fragmented message open");
      return;
    }
  } else {
    if (in_message_)
      report(Rule::data_frame_during_fragmented_message, at, &h,
             "%s frame while the %s message begun at frame %llu is unfinished",
             opcode::name(h.opcode).data(), opcode::name(msg_opcode_).data(),
             static_cast<unsigned long long>(msg_first_frame_));
    // Start a new message (abandoning any unfinished one).
    in_message_ = true;
    msg_opcode_ = h.opcode;
    msg_compressed_ = cfg_.deflate_negotiated && (h.rsv & rsv::rsv1);
    // RSV1 without negotiation means some unknown encoding: the payload is
    // not plain text, and the frame is already flagged.
    msg_check_utf8_ = h.opcode == opcode::text && (msg_compressed_ || !(h.rsv & rsv::rsv1));
    msg_inflate_ = msg_compressed_ && inflater_ && !inflater_->broken();
    if (msg_compressed_ && !msg_inflate_) msg_check_utf8_ = false;  // nothing to read
    if (msg_inflate_) inflater_->begin_message();
    msg_too_big_ = false;
    msg_size_ = 0;
    msg_frames_ = 0;
    msg_first_frame_ = h.index;
    utf8_.reset();
  }
  frame_in_message_ = true;
  frame_is_text_data_ = msg_check_utf8_ && !msg_compressed_;
  msg_frames_++;
  const uint64_t size = msg_size_ + h.length;
  msg_size_ = size < msg_size_ ? UINT64_MAX : size;
  if (cfg_.max_message_size && !msg_too_big_ && !msg_compressed_ &&
      msg_size_ > cfg_.max_message_size) {
    msg_too_big_ = true;
    report(Rule::message_too_big, at, &h, "message reaches %llu bytes (limit %llu)",
           static_cast<unsigned long long>(msg_size_),
           static_cast<unsigned long long>(cfg_.max_message_size));
  }
}

void StreamInspector::check_length_encoding(const FrameHeader& h) {
  if (h.len7 == 127 && (h.length >> 63))
    report(Rule::length_msb_set, h.offset, &h,
           "64-bit length 0x%016llX has its most significant bit set",
           static_cast<unsigned long long>(h.length));
  else if (h.len7 == 126 && h.length < 126)
    report(Rule::non_minimal_length, h.offset, &h,
           "length %llu sent in the 16-bit form; the 7-bit form is required",
           static_cast<unsigned long long>(h.length));
  else if (h.len7 == 127 && h.length < 65536)
    report(Rule::non_minimal_length, h.offset, &h,
           "length %llu sent in the 64-bit form; the %s form is required",
           static_cast<unsigned long long>(h.length), h.length < 126 ? "7-bit" : "16-bit");
}

void StreamInspector::on_frame_payload(const FrameHeader& h, const uint8_t* data, size_t n,
                                       uint64_t at) {
  if (cfg_.want_payload) sink_.on_payload(dir_, h, data, n, at);
  // A compressed message's content is what inflates: nothing of it when
  // inflation failed or could not start (a broken shared window).
  if (cfg_.want_message_data && frame_in_message_ && !msg_compressed_)
    for_each_unmasked_block(h, data, n, at, [&](const uint8_t* block, size_t len, size_t) {
      sink_.on_message_data(dir_, block, len);
      return true;
    });
  if (frame_in_message_ && msg_inflate_) {
    inflate(h, data, n, at);
  } else if (frame_is_text_data_) {
    validate_text(h, data, n, at);
  } else if (h.opcode == opcode::close && at < kMaxControlPayload) {
    if (!close_payload_) close_payload_ = std::make_unique<uint8_t[]>(kMaxControlPayload);
    uint8_t* dst = close_payload_.get();
    const size_t take = std::min<uint64_t>(n, kMaxControlPayload - at);
    if (h.masked)
      unmask_copy(dst + at, data, take, h.mask, at);
    else
      std::memcpy(dst + at, data, take);
    close_len_ = at + take;
  }
}

void StreamInspector::validate_text(const FrameHeader& h, const uint8_t* data, size_t n,
                                    uint64_t at) {
  const uint64_t base = h.payload_offset() + at;
  for_each_unmasked_block(h, data, n, at, [&](const uint8_t* block, size_t len, size_t done) {
    const size_t bad = utf8_.feed(block, len);
    if (bad != Utf8Validator::npos) {
      const uint64_t pos_in_msg = msg_size_ - h.length + at + done + bad;
      report(Rule::invalid_utf8_text, base + done + bad, &h,
             "byte 0x%02X at message byte %llu is not valid UTF-8 here", block[bad],
             static_cast<unsigned long long>(pos_in_msg));
      msg_check_utf8_ = frame_is_text_data_ = false;
      return false;
    }
    if (!utf8_.complete() && utf8_.pending() <= len)
      utf8_pending_offset_ = base + done + len - utf8_.pending();
    return true;
  });
}

void StreamInspector::on_frame_end(const FrameHeader& h) {
  sink_.on_frame_end(dir_, h);
  if (h.opcode == opcode::close) {
    finish_close(h);
    return;
  }
  if (frame_in_message_ && h.fin) end_message(h);
}

void StreamInspector::inflate(const FrameHeader& h, const uint8_t* data, size_t n, uint64_t at) {
  inflate_frame_ = &h;
  // Inflated output cannot be traced to one compressed byte: findings in it
  // point at the payload of the frame whose compressed bytes produced it.
  inflate_wire_offset_ = h.payload_offset();
  // The scratch window is free again once inflate() has consumed a block:
  // zlib copies its input into its own window.
  for_each_unmasked_block(h, data, n, at, [&](const uint8_t* block, size_t len, size_t) {
    if (!inflater_->feed(block, len, on_inflated, this)) inflate_failed("in");
    return msg_inflate_;
  });
}

bool StreamInspector::on_inflated(void* self, const uint8_t* data, size_t n) {
  return static_cast<StreamInspector*>(self)->check_inflated(data, n);
}

bool StreamInspector::check_inflated(const uint8_t* data, size_t n) {
  const FrameHeader* h = inflate_frame_;
  const uint64_t before = inflater_->produced() - n;  // message bytes before this piece
  // Only the bytes up to the limit are checked, so the findings do not depend
  // on how zlib happened to cut its output.
  const uint64_t limit = cfg_.max_message_size;
  const bool over = limit && !msg_too_big_ && inflater_->produced() > limit;
  const size_t usable = over ? static_cast<size_t>(limit > before ? limit - before : 0) : n;
  if (cfg_.want_message_data) sink_.on_message_data(dir_, data, usable);
  if (msg_check_utf8_) {
    const size_t bad = utf8_.feed(data, usable);
    if (bad != Utf8Validator::npos) {
      report(Rule::invalid_utf8_text, inflate_wire_offset_, h,
             "decompressed byte 0x%02X at message byte %llu is not valid UTF-8 here", data[bad],
             static_cast<unsigned long long>(before + bad));
      msg_check_utf8_ = false;
    } else if (!utf8_.complete() && utf8_.pending() <= usable) {
      utf8_pending_offset_ = inflate_wire_offset_;
    }
  }
  if (over) {
    msg_too_big_ = true;
    report(Rule::message_too_big, inflate_wire_offset_, h,
           "compressed message inflates to more than %llu bytes (the limit); inflation stopped",
           static_cast<unsigned long long>(limit));
    msg_check_utf8_ = false;
    return false;  // a decompression bomb goes no further
  }
  return true;
}

void StreamInspector::inflate_failed(const char* when) {
  const FrameHeader* h = inflate_frame_;
  report(Rule::inflate_error, inflate_wire_offset_, h,
         "the compressed payload does not inflate (%s the message): %s", when,
         inflater_->error().c_str());
  msg_inflate_ = false;
  msg_check_utf8_ = false;
}

void StreamInspector::end_message(const FrameHeader& h) {
  uint64_t inflated = 0;
  if (msg_inflate_) {
    inflate_frame_ = &h;
    inflate_wire_offset_ = h.payload_offset();
    if (!inflater_->end_message(on_inflated, this)) inflate_failed("at the end of");
    inflated = inflater_->produced();
  }
  if (msg_check_utf8_ && !utf8_.complete())
    report(Rule::invalid_utf8_text, utf8_pending_offset_, &h,
           "the text message ends inside a code point (%u of its bytes present)", utf8_.pending());
  stats_.messages++;
  const bool incomplete = msg_compressed_ && (!msg_inflate_ || msg_too_big_);
  sink_.on_message(MessageInfo{dir_, msg_opcode_, msg_size_, inflated, msg_frames_,
                               msg_first_frame_, msg_compressed_, incomplete});
  in_message_ = false;
  msg_check_utf8_ = false;
  msg_inflate_ = false;
}

void StreamInspector::finish_close(const FrameHeader& h) {
  stats_.closes++;
  CloseFrame c{};
  c.dir = dir_;
  c.offset = h.offset;
  c.frame_index = h.index;
  c.length_valid = h.length != 1 && h.length <= kMaxControlPayload;
  c.code_valid = true;
  c.reason_valid = true;
  if (close_len_ >= 2) {
    const uint8_t* p = close_payload_.get();
    c.has_code = true;
    c.code = static_cast<uint16_t>((p[0] << 8) | p[1]);
    c.reason = std::span<const uint8_t>(p + 2, close_len_ - 2);
    c.code_valid = close_code_valid_on_wire(c.code);
    if (!c.code_valid)
      report(Rule::invalid_close_code, h.payload_offset(), &h,
             "close code %u may not be sent in a close frame", c.code);
    Utf8Validator v;
    const size_t bad = v.feed(c.reason.data(), c.reason.size());
    if (bad != Utf8Validator::npos || !v.complete()) {
      c.reason_valid = false;
      const size_t pos = bad != Utf8Validator::npos ? bad : c.reason.size() - v.pending();
      report(Rule::invalid_utf8_close_reason, h.payload_offset() + 2 + pos, &h,
             "close reason byte %zu is not valid UTF-8", pos);
    }
  } else {
    c.has_code = false;
    c.code = 1005;
  }
  close_seen_ = true;
  sink_.on_close(c);
}

}  // namespace wsi
