// A HopRecorder as a ReportSink, so a server's or a decoder's FanOutSink can
// feed it: the events the recorder keeps are passed on, the others ignored.
// Bracket mode taps both of its servers with one each, `compare` its
// capture decoder.
#pragma once

#include "parser/compare/hop_record.h"
#include "proxy/report/report_sink.h"

namespace wsi {

class RecorderTap final : public ReportSink {
 public:
  explicit RecorderTap(HopRecorder& r) : r_(r) {}
  void on_handshake(const EventContext& c, const HandshakeEvent& e) override {
    r_.on_handshake(c, e);
  }
  void on_frame_digest(const EventContext& c, const FrameDigestEvent& e) override {
    r_.on_frame_digest(c, e);
  }
  void on_message_digest(const EventContext& c, const MessageDigestEvent& e) override {
    r_.on_message_digest(c, e);
  }
  void on_violation(const EventContext& c, const Violation& v) override { r_.on_violation(c, v); }
  void on_close(const EventContext& c, const CloseEvent& e) override { r_.on_close(c, e); }
  void on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) override {
    r_.on_synthesized_close(c, e);
  }
  void on_gap(const EventContext& c, const GapEvent& e) override { r_.on_gap(c, e); }
  void on_conn_close(const EventContext& c, const ConnCloseEvent& e) override {
    r_.on_conn_close(c, e);
  }

 private:
  HopRecorder& r_;
};

}  // namespace wsi
