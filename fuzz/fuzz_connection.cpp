// libFuzzer target: the whole connection core (ConnectionInspector) on
// arbitrary sequences of steps, both senders' bytes, FIN, reset and time
// (the format is in conn_input.h; byte 0 can prepend a valid upgrade and 101,
// with permessage-deflate, so inputs reach the WebSocket phase at once).
//
// Oracle: replaying the steps with every bytes step whole, cut in two at a
// position taken from the input, and (short inputs) byte by byte yields the
// same event log, frames and messages included, and the same handshakes down
// to each finding's detail and negotiated value; no event line holds a raw
// control character, no detail an unprintable byte or a valid
// Sec-WebSocket-Key, and negotiated window bits stay within 8..15. One
// exemption, as in fuzz_frames.cpp: on corrupt DEFLATE data zlib may emit a
// different amount of output before it notices, depending on how its input
// was cut, so findings about inflated output may differ, and with them what
// the per-rule report cap lets through later. In a direction that carried a
// compressed frame (RSV1 after a handshake that negotiated
// permessage-deflate), its violations are not compared, nor what they feed:
// the caused_by and unseen of closes sent by the endpoint that received that
// direction. Inputs that once found split-dependent events are kept as seeds
// in fuzz/corpus/connection/, beside opening handshakes of several shapes
// (handshake-*.bin).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/conn_input.h"
#include "parser/compare/hop_compare.h"
#include "parser/conn/conn_script.h"
#include "parser/conn/connection_inspector.h"
#include "tests/support/conn_recorder.h"

namespace {

using wsi::dir_index;
using wsi::Direction;

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "fuzz_connection: %s\n--- whole\n%s--- other\n%s", what, a.c_str(),
               b.c_str());
  std::abort();
}

// What a handshake event carries beyond its line in the log, checked on the
// way: its findings with their details, the request and the negotiated values.
void describe_handshake(const wsi::HandshakeEvent& e, std::string& out) {
  const wsi::HandshakeRequest& rq = e.request;
  for (const auto* list : {&e.request_findings, &e.response_findings}) {
    for (const wsi::Finding& f : *list) {
      for (const char c : f.detail) {
        if (c < 0x20 || c > 0x7e) fail("unprintable byte in a finding's detail", f.detail, "");
      }
      if (rq.key_valid && f.detail.find(rq.key) != std::string::npos)
        fail("a finding's detail holds the Sec-WebSocket-Key", f.detail, "");
      out += std::string(wsi::rule_info(f.rule).id) + "@" + std::to_string(f.offset) + ":" +
             f.detail + ";";
    }
  }
  out += rq.path + "|" + rq.host + "|" + rq.extensions_header + "|" +
         std::to_string(rq.is_websocket_upgrade) + std::to_string(rq.attempts_websocket) +
         std::to_string(rq.key_valid) + "|" + std::to_string(rq.end);
  if (const wsi::Negotiated* n = e.negotiated) {
    const wsi::DeflateParams& d = n->deflate_params;
    if (d.server_max_window_bits < 8 || d.server_max_window_bits > 15 ||
        d.client_max_window_bits < 8 || d.client_max_window_bits > 15)
      fail("negotiated window bits out of range", out, "");
    out += "|" + std::to_string(n->status) + std::to_string(n->switched) +
           std::to_string(n->websocket) + std::to_string(n->deflate) +
           std::to_string(d.server_no_context_takeover) +
           std::to_string(d.client_no_context_takeover) + std::to_string(d.server_max_window_bits) +
           "/" + std::to_string(d.client_max_window_bits) + "|" + n->subprotocol + "|" +
           n->extensions + "|" + std::to_string(e.response->end_offset);
  }
  out += "\n";
}

// ConnRecorder(true), plus which directions carried compressed frames and
// what the handshakes carried.
class Tee final : public wsi::ConnSink {
 public:
  wsi::test::ConnRecorder rec{true};
  wsi::HopRecorder hop;  // what `compare` and bracket mode would see
  bool deflate = false;  // the last upgrade response negotiated permessage-deflate
  bool compressed[2] = {false, false};
  std::string handshakes;

  void on_http_error(const wsi::EventContext& c, const wsi::HttpErrorEvent& e) override {
    rec.on_http_error(c, e);
  }
  void on_handshake(const wsi::EventContext& c, const wsi::HandshakeEvent& e) override {
    if (e.negotiated) deflate = e.negotiated->websocket && e.negotiated->deflate;
    rec.on_handshake(c, e);
    hop.on_handshake(c, e);
    describe_handshake(e, handshakes);
  }
  void on_http(const wsi::EventContext& c, const wsi::HttpExchangeEvent& e) override {
    rec.on_http(c, e);
  }
  void on_frame(const wsi::EventContext& c, Direction d, const wsi::FrameHeader& h) override {
    if (deflate && (h.rsv & wsi::rsv::rsv1)) compressed[dir_index(d)] = true;
    rec.on_frame(c, d, h);
  }
  void on_message(const wsi::EventContext& c, const wsi::MessageInfo& m) override {
    if (m.compressed) compressed[dir_index(m.dir)] = true;
    rec.on_message(c, m);
  }
  void on_preview(const wsi::EventContext& c, const wsi::PreviewEvent& e) override {
    if (e.content.size() > 8) std::abort();  // the configured preview limit
    rec.on_preview(c, e);
  }
  void on_violation(const wsi::EventContext& c, const wsi::Violation& v) override {
    rec.on_violation(c, v);
    hop.on_violation(c, v);
  }
  void on_close(const wsi::EventContext& c, const wsi::CloseEvent& e) override {
    rec.on_close(c, e);
    hop.on_close(c, e);
  }
  void on_synthesized_close(const wsi::EventContext& c,
                            const wsi::SynthesizedCloseEvent& e) override {
    rec.on_synthesized_close(c, e);
    hop.on_synthesized_close(c, e);
  }
  void on_gap(const wsi::EventContext& c, const wsi::GapEvent& e) override {
    rec.on_gap(c, e);
    hop.on_gap(c, e);
  }
  void on_conn_close(const wsi::EventContext& c, const wsi::ConnCloseEvent& e) override {
    rec.on_conn_close(c, e);
    hop.on_conn_close(c, e);
  }
  void on_frame_digest(const wsi::EventContext& c, const wsi::FrameDigestEvent& e) override {
    hop.on_frame_digest(c, e);
  }
  void on_message_digest(const wsi::EventContext& c, const wsi::MessageDigestEvent& e) override {
    hop.on_message_digest(c, e);
  }
};

struct Run {
  std::string log;
  bool compressed[2];
  std::string handshakes;
  std::vector<wsi::HopRecord> records;
};

const wsi::DigestKey& digest_key() {
  static const wsi::DigestKey k("fuzz");
  return k;
}

struct DiffText final : wsi::HopDiffSink {
  void on_diff(const wsi::HopDiff& d) override { text += d.text + "\n"; }
  std::string text;
};

// Two views of one connection that differ only in how its bytes were cut
// are the same connection to the comparer.
void check_same_records(Run& a, Run& b) {
  if (a.compressed[0] || a.compressed[1] || b.compressed[0] || b.compressed[1]) return;
  if (a.records.size() != b.records.size()) fail("records differ in number", a.log, b.log);
  for (size_t i = 0; i < a.records.size(); ++i) {
    DiffText diffs;
    wsi::HopComparer cmp({}, diffs);
    const wsi::HopVerdict v = cmp.finish(a.records[i], b.records[i]);
    if (!v.identical) fail("the comparer sees a difference between two cuts", diffs.text, a.log);
  }
}

// `cut(i, n)`: where the i-th bytes step of n bytes is cut in two (0: whole).
template <class Cut>
Run replay(const wsi::fuzz::ConnInput& in, Cut cut, bool bytewise) {
  Tee tee;
  wsi::ConnConfig cfg = wsi::fuzz::conn_config(in.options);
  cfg.digests = &digest_key();
  wsi::ConnectionInspector core(cfg, tee);
  wsi::replay_conn_script(in.script, core, cut, bytewise);
  return {
      tee.rec.log(), {tee.compressed[0], tee.compressed[1]}, tee.handshakes, tee.hop.take_all()};
}

void check_printable(const std::string& log) {
  for (const char c : log) {
    const auto u = static_cast<unsigned char>(c);
    if (c != '\n' && (u < 0x20 || u == 0x7f)) fail("raw control character in an event", log, "");
  }
}

// The log without what zlib's output on corrupt data may change (see the top).
std::string comparable(const std::string& log, const bool compressed[2]) {
  std::string out;
  std::string_view rest(log);
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string line(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    if ((compressed[0] && line.rfind("violation c2s ", 0) == 0) ||
        (compressed[1] && line.rfind("violation s2c ", 0) == 0))
      continue;
    // "close c2s": the client closes, judged by what it received (s2c).
    const bool judged_on_exempt = (line.rfind("close c2s ", 0) == 0 && compressed[1]) ||
                                  (line.rfind("close s2c ", 0) == 0 && compressed[0]);
    if (judged_on_exempt) {
      for (const char* token : {" caused_by=", " unseen"}) {
        const size_t at = line.find(token);
        if (at == std::string::npos) continue;
        const size_t end = line.find(' ', at + 1);
        line.erase(at, end == std::string::npos ? std::string::npos : end - at);
      }
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const wsi::fuzz::ConnInput in = wsi::fuzz::decode_conn_input(data, size);
  size_t total = 0;
  for (const wsi::ConnStep& st : in.script.steps) total += st.bytes.size();

  const auto whole = [](size_t, size_t) { return size_t{0}; };
  const auto cut = [seed = in.cut_seed](size_t i, size_t n) {
    return n < 2 ? 0 : 1 + (seed + 97 * i) % (n - 1);  // 1..n-1: always two pieces
  };
  Run a = replay(in, whole, false);
  check_printable(a.log);
  auto same = [&a](const Run& b) {
    const bool compressed[2] = {a.compressed[0] || b.compressed[0],
                                a.compressed[1] || b.compressed[1]};
    return comparable(a.log, compressed) == comparable(b.log, compressed);
  };
  Run b = replay(in, cut, false);
  if (!same(b)) fail("cut in two differs from whole", a.log, b.log);
  check_same_records(a, b);
  // Handshakes come before any compressed frame: no exemption.
  if (b.handshakes != a.handshakes)
    fail("handshakes cut in two differ", a.handshakes, b.handshakes);
  if (total <= 2048) {
    const Run c = replay(in, whole, true);
    if (!same(c)) fail("byte by byte differs from whole", a.log, c.log);
    if (c.handshakes != a.handshakes)
      fail("handshakes byte by byte differ", a.handshakes, c.handshakes);
  }
  return 0;
}
