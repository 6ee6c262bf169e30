// `wsinspect decode`: inspects one direction's byte stream (raw or hex, with
// or without its HTTP handshake in front), a whole connection written as a
// connection vector, or every connection of a pcap/pcapng capture.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parser/conn/conn_script.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/preview.h"
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
  PrintingSink(std::ostream& out, bool json, uint32_t preview)
      : out_(out), json_(json), preview_(preview) {}

  void on_frame(Direction dir, const FrameHeader& h) override {
    // A text or binary frame starts a message (a continuation goes on with it).
    if (opcode::is_data(h.opcode)) preview_.start();
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
    if (!preview_.limit()) return;
    emit([&](JsonWriter& w) { preview_json(w, m, preview_.kept()); },
         [&] { return preview_text(m, preview_.kept()); });
  }
  void on_message_data(Direction, const uint8_t* data, size_t n) override { preview_.add(data, n); }
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
  PreviewBuffer preview_;
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
  cfg.preview = opts.preview;
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
  copts.preview = opts.preview;
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

// An accepted extension's parameters as text: "a; b=10".
std::string params_text(const Extension& e, bool drop_valueless_client_bits = false) {
  std::string out;
  for (const ExtensionParam& p : e.params) {
    // An offer may ask for client_max_window_bits without a value ("the
    // client supports it"); the answer then names the bits or leaves it out.
    if (drop_valueless_client_bits && !p.value && p.name == "client_max_window_bits") continue;
    if (!out.empty()) out += "; ";
    out += p.name;
    if (p.value) out += "=" + *p.value;
  }
  return out;
}

// The first permessage-deflate element of a Sec-WebSocket-Extensions list.
const Extension* first_deflate(const std::vector<Extension>& all) {
  for (const Extension& e : all)
    if (e.syntax_error.empty() && iequals(e.name, "permessage-deflate")) return &e;
  return nullptr;
}

// A handshake finding's lines under the handshake's, as the proxy's text log has them.
std::string finding_text(const Finding& f) {
  const RuleInfo& r = rule_info(f.rule);
  return "\n    " + std::string(severity_name(r.severity)) + " " + std::string(r.id) + " (" +
         std::string(r.rfc) + "): " + escape_text(f.detail) + "\n      fix: " + std::string(r.fix);
}

// One direction's byte stream, which may start with that direction's HTTP
// handshake: a request makes the bytes after it the client's, a response the
// server's. The handshake is parsed with HttpParser and never decoded as
// frames; the frames after it are inspected with what it settled.
class OneDirection {
 public:
  OneDirection(const DecodeOptions& opts, const DeflateParams& given, std::ostream& out,
               std::ostream& err)
      : opts_(opts), given_(given), err_(err), sink_(out, opts.json, opts.preview) {}

  // False after an input or usage error, said on `err`.
  bool feed(std::span<const uint8_t> data) {
    if (phase_ == Phase::sniffing) {
      // "GET " or "HTTP/" cannot start a valid frame: 'G' (0x47) is a
      // reserved opcode with RSV1, 'H' (0x48) a close without FIN.
      lead_.insert(lead_.end(), data.begin(), data.end());
      const bool request = could_be("GET "), response = could_be("HTTP/");
      if ((request && lead_.size() < 4) || (response && lead_.size() < 5)) return true;
      const std::vector<uint8_t> lead = std::move(lead_);
      if (request || response) {
        http_ = std::make_unique<HttpParser>(request ? HttpMode::request : HttpMode::response);
        phase_ = Phase::handshake;
      } else if (!start_frames()) {
        return false;
      }
      return feed_phase(lead);
    }
    return feed_phase(data);
  }

  // The end of the input: the exit status.
  int finish() {
    if (phase_ == Phase::sniffing) {  // fewer bytes than "HTTP/": frames
      const std::vector<uint8_t> lead = std::move(lead_);
      if (!start_frames() || !feed_phase(lead)) return 2;
    }
    if (phase_ == Phase::handshake) {
      err_ << "wsinspect decode: " << escape_text(opts_.input) << " ends inside the HTTP "
           << (http_->mode() == HttpMode::request ? "request" : "response") << " it starts with ("
           << http_->offset() << " bytes, "
           << (final_head_ ? "its body is cut short"
                           : "the empty line that ends its head is missing")
           << ")\n";
      return 2;
    }
    const bool truncated = [&] {
      const uint64_t before = inspector_->stats().count(Rule::stream_ended_mid_frame);
      inspector_->finish();
      return inspector_->stats().count(Rule::stream_ended_mid_frame) != before;
    }();
    sink_.emit(
        [&](JsonWriter& w) {
          summary_json(w, inspector_->direction(), inspector_->stats(), truncated);
        },
        [&] { return summary_text(inspector_->direction(), inspector_->stats(), truncated); });
    return inspector_->stats().errors || handshake_error_ ? 1 : 0;
  }

 private:
  enum class Phase : uint8_t { sniffing, handshake, frames };

  bool could_be(std::string_view start) const {
    const size_t n = std::min(lead_.size(), start.size());
    return std::equal(lead_.begin(), lead_.begin() + static_cast<std::ptrdiff_t>(n), start.begin());
  }

  bool fail(const std::string& why) {
    err_ << "wsinspect decode: " << escape_text(opts_.input) << ": " << why << '\n';
    return false;
  }

  bool feed_phase(std::span<const uint8_t> data) {
    while (phase_ == Phase::handshake) {
      const HttpFeedResult r = http_->feed(data);
      data = data.subspan(r.consumed);
      switch (r.event) {
        case HttpEvent::need_more:
          return true;
        case HttpEvent::head_complete:
          if (!check_head()) return false;
          break;
        case HttpEvent::message_complete:
        case HttpEvent::upgrade:
          if (!final_head_) break;  // an interim 1xx response: the 101 comes next
          if (!start_frames()) return false;
          break;
        case HttpEvent::error:
          return fail("the HTTP " + std::string(request() ? "request" : "response") +
                      " it starts with does not parse at byte " +
                      std::to_string(http_->error().offset) + ": " +
                      escape_text(http_->error().reason) + " (" + escape_text(http_->error().name) +
                      ")");
      }
    }
    inspector_->feed(data);
    return true;
  }

  bool request() const { return http_->mode() == HttpMode::request; }

  // The head of the handshake: a WebSocket upgrade request, or a 101.
  bool check_head() {
    const HttpHead& head = http_->head();
    const std::string version =
        "HTTP/" + std::to_string(head.http_major) + "." + std::to_string(head.http_minor);
    if (request()) {
      request_ = analyze_request(head, findings_);
      for (const Finding& f : findings_)
        handshake_error_ |= rule_info(f.rule).severity == Severity::error;
      start_line_ =
          escape_text(head.method) + " " + escape_text(redact_url(request_.path)) + " " + version;
      extensions_ = escape_text(request_.extensions_header);
      if (!request_.is_websocket_upgrade)
        return fail("it starts with an HTTP request that is not a WebSocket upgrade (" +
                    start_line_ + " with no 'Upgrade: websocket'): nothing after it is frames");
      final_head_ = true;
      return true;
    }
    if (head.status >= 100 && head.status < 200 && head.status != 101) return true;
    final_head_ = true;
    start_line_ = version + " " + std::to_string(head.status) + " " + escape_text(head.reason);
    const HttpHeader* upgrade = head.find("Upgrade");
    if (head.status != 101)
      return fail("it starts with the response " + start_line_ +
                  ", not 101 Switching Protocols: the server did not switch to WebSocket, so "
                  "no frames follow");
    if (!upgrade || !iequals(upgrade->value, "websocket"))
      return fail("it starts with a 101 that switches to '" +
                  escape_text(upgrade ? upgrade->value : "") +
                  "', not to websocket: what follows is not WebSocket frames");
    const HttpHeader* ext = head.find("Sec-WebSocket-Extensions");
    extensions_ = ext ? escape_text(ext->value) : "";
    selected_ = parse_extensions(head);
    return true;
  }

  // After the handshake, or at once when there is none: who sent the bytes
  // and whether permessage-deflate is on.
  bool start_frames() {
    InspectorConfig cfg;
    if (http_) {
      const std::string_view sender = request() ? "client" : "server";
      if (!opts_.sender.empty() && opts_.sender != sender)
        return fail("it starts with an HTTP " +
                    std::string(request()
                                    ? "request, so the bytes after it are the client's"
                                    : "101 response, so the bytes after it are the server's") +
                    ", but --sender " + opts_.sender + " was given");
      cfg.sender = request() ? Sender::client : Sender::server;
    } else if (opts_.sender.empty()) {
      return fail(
          "--sender client|server is required when the input does not start with its "
          "HTTP handshake (or --connection for a whole connection)");
    } else {
      cfg.sender = opts_.sender == "client" ? Sender::client : Sender::server;
    }
    cfg.max_message_size = opts_.max_message_size;
    cfg.want_message_data = opts_.preview > 0;
    cfg.deflate_negotiated = opts_.permessage_deflate;
    cfg.deflate = given_;
    if (http_ && !settle_deflate(cfg)) return false;
    phase_ = Phase::frames;
    inspector_ = std::make_unique<StreamInspector>(cfg, sink_);
    return true;
  }

  // What the handshake says of permessage-deflate, or what was assumed, and
  // the lines that say so.
  bool settle_deflate(InspectorConfig& cfg) {
    const Direction dir = request() ? Direction::client_to_server : Direction::server_to_client;
    // A server declines an offer whose parameters it cannot accept and takes
    // the next one; with none left, no compression.
    const Extension* deflate = nullptr;
    DeflateParams params_in_force;
    std::string declined;  // why the first offer a server declines is declined
    std::string broken;    // why the 101's answer cannot be applied
    if (request()) {
      for (const Extension& e : request_.offered_extensions) {
        if (!e.syntax_error.empty() || !iequals(e.name, "permessage-deflate")) continue;
        std::string error;
        if (deflate_params_of(e, /*response=*/false, params_in_force, error)) {
          deflate = &e;
          break;
        }
        if (declined.empty()) declined = error;
      }
    } else if ((deflate = first_deflate(selected_))) {
      deflate_params_of(*deflate, /*response=*/true, params_in_force, broken);
    }
    const std::string offered = deflate ? params_text(*deflate) : "";
    const std::string params = deflate ? params_text(*deflate, request()) : "";
    const uint64_t length = http_->offset();
    sink_.emit(
        [&](JsonWriter& w) {
          w.field("event", "stream_handshake")
              .field("dir", direction_name(dir))
              .field("http", request() ? "request" : "response")
              .field("start_line", start_line_)
              .field("length", length)
              .field("extensions", extensions_);
          if (!request()) return;  // a response is checked for its status and Upgrade only
          w.key("findings").begin_array();
          for (const Finding& f : findings_) finding_json(w, f);
          w.end_array();
        },
        [&] {
          return std::string(direction_arrow(dir)) + " handshake: " + start_line_ + ", " +
                 size_and_count(length) + (request() ? "; the client's" : "; the server's") +
                 " frames follow, their offsets counted from its end; " +
                 (deflate ? std::string("permessage-deflate ") +
                                (request() ? "offered" : "negotiated") +
                                (offered.empty() ? "" : ": " + escape_text(offered))
                  : !declined.empty()
                      ? "permessage-deflate offered with parameters a server declines (" +
                            escape_text(declined) + "): taken as not negotiated"
                      : std::string("no permessage-deflate")) +
                 findings_lines();
        });
    std::string why;
    std::string used = opts_.permessage_deflate_params;
    if (opts_.permessage_deflate) {
      why = std::string("--permessage-deflate was given: it overrides what the ") +
            (request() ? "request offered" : "101 negotiated");
    } else if (deflate) {
      if (!broken.empty())
        return fail(
            "the permessage-deflate accepted by the 101 has parameters that cannot be "
            "applied (" +
            escape_text(broken) + "): give --permessage-deflate=PARAMS");
      cfg.deflate = params_in_force;
      cfg.deflate_negotiated = true;
      used = params;
      if (request())
        why =
            "the input holds the client's request only, not the server's answer: the first "
            "permessage-deflate offer a server can accept is taken as accepted as offered";
    }
    if (why.empty()) return true;
    const std::string source = opts_.permessage_deflate ? "option" : "offer";
    sink_.emit(
        [&](JsonWriter& w) {
          w.field("event", "assumed")
              .field("dir", direction_name(dir))
              .field("extension", "permessage-deflate")
              .field("params", escape_text(used))
              .field("source", source)
              .field("why", why);
        },
        [&] {
          // An offer's bare client_max_window_bits is a hint, not a parameter to accept.
          const bool hint_dropped = !opts_.permessage_deflate && offered != used;
          return std::string(direction_arrow(dir)) + " assumed: permessage-deflate" +
                 (used.empty() ? " with no parameters" : " with " + escape_text(used)) + ", as " +
                 (opts_.permessage_deflate ? "given by --permessage-deflate"
                  : hint_dropped ? "offered (client_max_window_bits without a value is only a hint)"
                                 : "offered") +
                 ": " + why;
        });
    return true;
  }

  std::string findings_lines() const {
    std::string out;
    for (const Finding& f : findings_) out += finding_text(f);
    return out;
  }

  const DecodeOptions& opts_;
  const DeflateParams given_;
  std::ostream& err_;
  PrintingSink sink_;
  Phase phase_ = Phase::sniffing;
  std::vector<uint8_t> lead_;  // the first bytes, until they tell a handshake from frames
  std::unique_ptr<HttpParser> http_;
  bool final_head_ = false;  // the request, or the response after any interim 1xx
  HandshakeRequest request_;
  std::vector<Finding> findings_;    // the request's
  bool handshake_error_ = false;     // one of them is error-severity
  std::vector<Extension> selected_;  // a 101's extensions
  std::string start_line_;           // escaped, the query left out
  std::string extensions_;           // the Sec-WebSocket-Extensions values, escaped
  std::unique_ptr<StreamInspector> inspector_;
};

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
  if (!opts.sender.empty() && opts.sender != "client" && opts.sender != "server") {
    err << "wsinspect decode: --sender must be client or server, not '" << escape_text(opts.sender)
        << "'\n";
    return 2;
  }
  DeflateParams given;
  if (opts.permessage_deflate) {
    std::string error;
    if (!parse_deflate_params(opts.permessage_deflate_params, given, error)) {
      err << "wsinspect decode: --permessage-deflate="
          << escape_text(opts.permessage_deflate_params) << ": " << escape_text(error) << '\n';
      return 2;
    }
  }
  const Input in = open_input(opts, err);
  if (!in) return 2;

  OneDirection decode(opts, given, out, err);
  HexReader hex;
  std::vector<uint8_t> decoded;
  std::vector<char> buf(64 * 1024);
  const auto hex_error = [&] {
    err << "wsinspect decode: " << escape_text(opts.input) << ":" << hex.line() << ": "
        << hex.error() << '\n';
    return 2;
  };
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
      if (!decode.feed({reinterpret_cast<const uint8_t*>(buf.data()), n})) return 2;
      continue;
    }
    decoded.clear();
    if (!hex.feed(buf.data(), n, decoded)) return hex_error();
    if (!decode.feed(decoded)) return 2;
  }
  if (opts.hex) {
    decoded.clear();
    if (!hex.finish(decoded)) return hex_error();
    if (!decode.feed(decoded)) return 2;
    if (hex.odd()) {
      err << "wsinspect decode: " << escape_text(opts.input)
          << ": odd number of hex digits (the last byte is incomplete)\n";
      return 2;
    }
  }
  return decode.finish();
}

}  // namespace wsi
