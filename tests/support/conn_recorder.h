// The connection core's events as the one-line canonical form of
// tests/vectors/connections/README.md, for the vector tests and the
// whole-connection fuzzer. A test that also keeps what an event carried
// derives from it and calls the recorder's function first.
#pragma once

#include <string>
#include <string_view>

#include "parser/conn/events.h"

namespace wsi::test {

inline const char* dir_short(Direction d) {
  return d == Direction::client_to_server ? "c2s" : "s2c";
}

// A peer's text (a method, a path), which the core reports raw and leaves to
// its sinks to escape: here `\\` and `\xNN` for bytes outside printable
// ASCII, so each event stays one printable line.
inline std::string escaped(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

class ConnRecorder : public ConnSink {
 public:
  // With frames: frame and message lines too (the fuzzer compares them).
  explicit ConnRecorder(bool frames = false) : frames_(frames) {}

  const std::string& log() const { return log_; }

  void on_http_error(const EventContext&, const HttpErrorEvent& e) override {
    line("http_error " + std::string(dir_short(e.dir)) + " " + e.error.name +
         " off=" + std::to_string(e.error.offset));
  }
  void on_handshake(const EventContext&, const HandshakeEvent& e) override {
    std::string s = "handshake " + escaped(e.request.method) + " " + escaped(e.request.path) +
                    " status=" + std::to_string(e.response ? e.response->status : 0) +
                    " upgraded=" + (e.negotiated && e.negotiated->websocket ? "1" : "0");
    std::string f;
    for (const auto* list : {&e.request_findings, &e.response_findings})
      for (const Finding& x : *list)
        f += (f.empty() ? "" : ",") + std::string(rule_info(x.rule).id) + "@" +
             std::to_string(x.offset);
    if (!f.empty()) s += " findings=" + f;
    line(s);
  }
  void on_http(const EventContext&, const HttpExchangeEvent& e) override {
    line("http " + escaped(e.method) + " " + escaped(e.path) +
         " status=" + std::to_string(e.status));
  }
  void on_frame(const EventContext&, Direction d, const FrameHeader& h) override {
    if (frames_)
      line("frame " + std::string(dir_short(d)) + " #" + std::to_string(h.index) +
           " off=" + std::to_string(h.offset) + " op=" + std::to_string(h.opcode) +
           " len=" + std::to_string(h.length));
  }
  void on_message(const EventContext&, const MessageInfo& m) override {
    if (frames_)
      line("message " + std::string(dir_short(m.dir)) + " #" + std::to_string(m.first_frame_index) +
           " size=" + std::to_string(m.size));
  }
  void on_violation(const EventContext&, const Violation& v) override {
    line("violation " + std::string(dir_short(v.dir)) + " " + std::string(rule_info(v.rule).id) +
         " off=" + std::to_string(v.offset) + " frame=" + std::to_string(v.frame_index));
  }
  void on_close(const EventContext&, const CloseEvent& e) override {
    std::string s = "close " + std::string(dir_short(e.frame.dir)) + " " +
                    std::to_string(e.frame.code) + " frame=" + std::to_string(e.frame.frame_index);
    if (e.in_reply) s += " in_reply";
    if (const CloseCause* k = e.caused_by)
      s += " caused_by=" + std::string(rule_info(k->rule).id) + "/" + dir_short(k->dir) + "/" +
           std::to_string(k->offset) + "/" + std::to_string(k->frame_index) + "/" +
           std::to_string(k->ms_before);
    if (e.caused_by && e.caused_by->message_size)
      s += "/size=" + std::to_string(e.caused_by->message_size);
    if (e.unseen_corruption) s += " unseen";
    line(s);
  }
  void on_synthesized_close(const EventContext&, const SynthesizedCloseEvent& e) override {
    std::string s = "synth " + std::string(dir_short(e.dir)) + " " + std::to_string(e.code) +
                    " cause=" + std::string(end_cause_id(e.cause));
    if (const CloseCause* k = e.caused_by)
      s += " caused_by=" + std::string(rule_info(k->rule).id) + (k->handshake ? "/handshake" : "");
    line(s);
  }
  void on_gap(const EventContext&, const GapEvent& e) override {
    line("gap " + std::string(dir_short(e.dir)) + " " + std::to_string(e.from) + "-");
  }
  void on_conn_close(const EventContext&, const ConnCloseEvent& e) override {
    std::string s = "conn_close ended_by=" + std::string(end_cause_id(e.ended_by)) +
                    " upgraded=" + (e.upgraded ? "1" : "0");
    for (size_t i = 0; i < 2; ++i) {
      s += i == 0 ? " c2s=" : " s2c=";
      s += std::to_string(e.dir[i].bytes) + "/" +
           (e.dir[i].stats ? std::to_string(e.dir[i].stats->frames) : std::string("-"));
    }
    s += " ms=" + std::to_string(e.duration_ms);
    line(s);
  }

 private:
  void line(const std::string& s) { log_ += s + "\n"; }
  bool frames_;
  std::string log_;
};

}  // namespace wsi::test
