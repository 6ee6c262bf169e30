// `wsinspect decode`: inspects one direction's raw post-handshake byte stream,
// a whole connection written as a connection vector, or every connection of
// a pcap/pcapng capture.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <vector>

#include "parser/conn/conn_script.h"
#include "parser/handshake.h"
#include "proxy/capture_decode.h"
#include "proxy/commands.h"
#include "proxy/event_format.h"
#include "proxy/hex_reader.h"
#include "proxy/pcap_input.h"
#include "proxy/report/json_writer.h"
#include "proxy/report/report_sink.h"

namespace wsi {
namespace {

class PrintingSink : public InspectorSink {
 public:
  PrintingSink(std::ostream& out, bool json) : out_(out), json_(json) {}

  void on_frame(Direction dir, const FrameHeader& h) override {
    emit([&](JsonWriter& w) { frame_json(w, dir, h); }, [&] { return frame_text(dir, h); });
  }
  void on_violation(const Violation& v) override {
    emit([&](JsonWriter& w) { violation_json(w, v); }, [&] { return violation_text(v); });
  }
  void on_close(const CloseFrame& c) override {
    emit([&](JsonWriter& w) { close_json(w, c); }, [&] { return close_text(c); });
  }
  void on_message(const MessageInfo& m) override {
    emit([&](JsonWriter& w) { message_json(w, m); }, [&] { return message_text(m); });
  }
  // One line: the event's JSON object, or its text.
  template <class Json, class Text>
  void emit(Json json, Text text) {
    if (json_)
      out_ << json_object(json) << '\n';
    else
      out_ << text() << '\n';
  }

 private:
  std::ostream& out_;
  bool json_;
};

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f && f != stdin) std::fclose(f);
  }
};

// Lines to a stream, every level.
// Notes whether anything an endpoint fails on was found.
class ErrorSeen final : public ReportSink {
 public:
  void on_violation(const EventContext&, const Violation& v) override {
    error |= level_of(v) == EventLevel::error;
  }
  void on_handshake(const EventContext&, const HandshakeEvent& e) override {
    error |= level_of(e) == EventLevel::error;
  }
  bool error = false;
};

int decode_connection(const DecodeOptions& opts, std::FILE* in, std::ostream& out,
                      std::ostream& err) {
  std::string text;
  char buf[64 * 1024];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, in)) > 0;) text.append(buf, n);
  if (std::ferror(in)) {
    err << "wsinspect decode: read error on " << escape_text(opts.input) << ": "
        << std::strerror(errno) << '\n';
    return 2;
  }
  ConnScript script;
  std::string error;
  if (!parse_conn_script(text, script, error)) {
    err << "wsinspect decode: " << escape_text(opts.input) << ": " << escape_text(error) << '\n';
    return 2;
  }
  StreamOut lines(&out);
  ReportOptions ropts;
  ropts.stamped = false;
  const std::unique_ptr<ReportSink> format =
      opts.json ? make_json_sink(lines, ropts) : make_text_sink(lines, ropts);
  ErrorSeen seen;
  FanOutSink sink;
  sink.add(seen);
  sink.add(*format);
  ConnConfig cfg;
  cfg.max_message_size = opts.max_message_size;
  ConnectionInspector core(cfg, sink);
  replay_conn_script(script, core, [](size_t, size_t n) { return n; });
  return seen.error ? 1 : 0;
}

// Every connection of a capture file, read as it streams by; a progress
// line on standard error when that is a terminal.
int decode_capture(const DecodeOptions& opts, std::ostream& out, std::ostream& err) {
  if (opts.connection || opts.hex || opts.permessage_deflate || !opts.sender.empty()) {
    err << "wsinspect decode: " << escape_text(opts.input)
        << " is a capture file, decoded as whole connections (the handshake says what was "
           "negotiated): no --sender, --hex, --connection or --permessage-deflate\n";
    return 2;
  }
  StreamOut lines(&out);
  CaptureDecodeOptions copts;
  copts.json = opts.json;
  copts.max_message_size = opts.max_message_size;
  CaptureDecoder decoder(copts, lines);
  int link = -1;
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto last = std::chrono::steady_clock::now();
  bool shown = false;
  const auto progress = [&](uint64_t at, uint64_t size) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(500)) return;
    last = now;
    shown = true;
    char line[160];
    std::snprintf(line, sizeof line,
                  "\rwsinspect decode: %.1f of %.1f MB (%d %%), %zu connections open ",
                  static_cast<double>(at) / 1e6, static_cast<double>(size) / 1e6,
                  size ? static_cast<int>(at * 100 / size) : 0, decoder.open());
    err << line << std::flush;
  };
  const CaptureReadResult r = read_capture(
      opts.input,
      [&](const CapturedPacket& p) {
        link = p.link;
        decoder.packet(p.time_us, p.link, p.data);
      },
      tty ? std::function<void(uint64_t, uint64_t)>(progress) : nullptr);
  if (shown) err << "\r\033[K" << std::flush;
  decoder.finish();
  if (!r.ok) {
    err << "wsinspect decode: " << escape_text(opts.input) << ": " << escape_text(r.error) << '\n';
    return 2;
  }
  if (link >= 0 && !linktype_supported(link)) {
    err << "wsinspect decode: " << escape_text(opts.input) << ": link type " << link
        << " is not one wsinspect reads (Ethernet, Linux cooked SLL and SLL2, BSD loopback, raw "
           "IP)\n";
    return 2;
  }
  return decoder.error_seen() ? 1 : 0;
}

using Input = std::unique_ptr<std::FILE, FileCloser>;

// The input file or standard input; null after saying why it cannot be opened.
Input open_input(const DecodeOptions& opts, std::ostream& err) {
  Input in(opts.input == "-" ? stdin : std::fopen(opts.input.c_str(), "rb"));
  if (!in)
    err << "wsinspect decode: cannot open " << escape_text(opts.input) << ": "
        << std::strerror(errno) << '\n';
  return in;
}

}  // namespace

int run_decode(const DecodeOptions& opts, std::ostream& out, std::ostream& err) {
  // Told apart by its magic number, so raw streams and vectors are read as before.
  if (opts.input != "-" && is_capture_file(opts.input)) return decode_capture(opts, out, err);
  if (opts.connection) {
    if (opts.hex || opts.permessage_deflate) {
      err << "wsinspect decode: --connection takes the handshake from the vector: no --hex or "
             "--permessage-deflate\n";
      return 2;
    }
    const Input in = open_input(opts, err);
    return in ? decode_connection(opts, in.get(), out, err) : 2;
  }
  InspectorConfig cfg;
  if (opts.sender == "client") {
    cfg.sender = Sender::client;
  } else if (opts.sender == "server") {
    cfg.sender = Sender::server;
  } else if (opts.sender.empty()) {
    err << "wsinspect decode: --sender client|server is required (or --connection for a whole "
           "connection)\n";
    return 2;
  } else {
    err << "wsinspect decode: --sender must be client or server, not '" << escape_text(opts.sender)
        << "'\n";
    return 2;
  }
  cfg.deflate_negotiated = opts.permessage_deflate;
  if (opts.permessage_deflate) {
    std::string error;
    if (!parse_deflate_params(opts.permessage_deflate_params, cfg.deflate, error)) {
      err << "wsinspect decode: --permessage-deflate="
          << escape_text(opts.permessage_deflate_params) << ": " << escape_text(error) << '\n';
      return 2;
    }
  }
  cfg.max_message_size = opts.max_message_size;

  const Input in = open_input(opts, err);
  if (!in) return 2;

  PrintingSink sink(out, opts.json);
  StreamInspector inspector(cfg, sink);
  HexReader hex;
  std::vector<uint8_t> decoded;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), in.get());
    if (n == 0) {
      if (std::ferror(in.get())) {
        err << "wsinspect decode: read error on " << escape_text(opts.input) << ": "
            << std::strerror(errno) << '\n';
        return 2;
      }
      break;
    }
    if (!opts.hex) {
      inspector.feed({reinterpret_cast<const uint8_t*>(buf.data()), n});
      continue;
    }
    decoded.clear();
    if (!hex.feed(buf.data(), n, decoded)) {
      err << "wsinspect decode: " << escape_text(opts.input) << ":" << hex.line()
          << ": not a hex digit: '" << escape_text(std::string(1, hex.bad())) << "'\n";
      return 2;
    }
    inspector.feed(decoded);
  }
  if (opts.hex && hex.odd()) {
    err << "wsinspect decode: " << escape_text(opts.input)
        << ": odd number of hex digits (the last byte is incomplete)\n";
    return 2;
  }
  const bool truncated = [&] {
    const uint64_t before = inspector.stats().count(Rule::stream_ended_mid_frame);
    inspector.finish();
    return inspector.stats().count(Rule::stream_ended_mid_frame) != before;
  }();
  sink.emit(
      [&](JsonWriter& w) { summary_json(w, inspector.direction(), inspector.stats(), truncated); },
      [&] { return summary_text(inspector.direction(), inspector.stats(), truncated); });
  return inspector.stats().errors ? 1 : 0;
}

}  // namespace wsi
