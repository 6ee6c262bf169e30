// The report layer: sinks of the connection core's typed events, plus the
// proxy's own events (listening, refusals, upstream errors, shutdown). JSON
// and text are two sinks that format the same event; a counting sink keeps
// the totals of the `stopped` event. Nothing else builds a log line.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "parser/catalog_pt_br.h"
#include "parser/compare/hop_compare.h"
#include "parser/conn/events.h"
#include "proxy/config.h"
#include "proxy/net/tls_failure.h"

namespace wsi {

enum class EventLevel : uint8_t { debug, info, warn, error };
const char* level_name(EventLevel l);

// Whether the live proxy's log budget may drop a line: every event a peer
// can provoke may be; the start and end of the proxy (listening, shutdown,
// stopped), the per-connection summary (conn_close) and the summaries that
// carry counts (conn_refused_summary, log_dropped) never are.
// `always`: what a run starts and ends with (listening, shutdown, stopped),
// written whatever the level, so `--log-level warn` still shows where to
// connect and the totals.
enum class LineClass : uint8_t { budgeted, kept, always };

// Where formatted lines go: the proxy's log (spdlog) or a stream (decode).
class LineOut {
 public:
  virtual ~LineOut() = default;
  virtual bool enabled(EventLevel level) const = 0;
  // Asked before a line is formatted: enabled, and within the log budget
  // when there is one (a line refused here is counted as dropped).
  virtual bool admit(EventLevel level, LineClass) { return enabled(level); }
  virtual void write(EventLevel level, const std::string& line) = 0;
};

// Every line to a stream (decode, compare); with no stream, nothing at all.
class StreamOut final : public LineOut {
 public:
  explicit StreamOut(std::ostream* out) : out_(out) {}
  bool enabled(EventLevel) const override { return out_ != nullptr; }
  void write(EventLevel, const std::string& line) override {
    if (out_) *out_ << line << '\n';
  }

 private:
  std::ostream* out_;
};

struct ListeningEvent {
  std::string_view address;
  std::string_view upstream;  // "builtin:echo" or HOST:PORT
  std::string_view url;
  bool inspect;
  // With TLS on the listener: the certificate's SHA-256 fingerprint and names.
  std::string_view tls_fingerprint = {};
  const std::vector<std::string>* tls_names = nullptr;
  bool tls_self_signed = false;
  bool upstream_insecure = false;      // the wss:// upstream's certificate is not checked
  std::string_view host_rewrite = {};  // the Host value requests get; empty: unchanged
  const std::vector<std::string>* notes = nullptr;  // start-up remarks (an ignored URL path)
  // "bracket": the far-side listener of bracket mode; empty: the main one.
  std::string_view role = {};
};

// The forward proxy's request of one connection: where it goes, and how.
struct ForwardEvent {
  std::string_view method;  // "CONNECT", "GET", ...
  std::string_view target;  // "example.com:443"
  // intercepted (TLS terminated and inspected), passthrough (TLS tunnelled
  // by --passthrough), tunnelled (TLS without --ca), plain (inspected
  // without TLS), refused (answered with `status`).
  std::string_view mode;
  int status = 0;
  std::string_view detail = {};
};

// A TLS handshake that failed, on the client's leg or the upstream's.
struct TlsErrorEvent {
  std::string_view leg;  // "client" or "upstream"
  const TlsFailure& failure;
};

// A TLS stream ended by TCP FIN: with close_notify, or truncated.
struct TlsEndEvent {
  std::string_view leg;  // whose stream ended
  bool close_notify;
  bool close_handshake_done;  // the WebSocket close handshake had completed
};

// What two vantage points of one connection saw differently (bracket mode,
// `compare`): A is the nearer the client, B the nearer the server.
struct HopDiffEvent {
  uint64_t conn_a;
  uint64_t conn_b;
  const HopDiff& diff;
};

struct HopVerdictEvent {
  uint64_t conn_a;
  uint64_t conn_b;
  std::string_view path;
  const HopVerdict& verdict;
};

// A connection seen at one vantage point only.
struct HopUnmatchedEvent {
  std::string_view side;  // the vantage point's name ("front", "back", a file)
  uint64_t conn;
  std::string_view label;  // its addresses, if known
  std::string_view path;
  uint16_t status;
  std::string_view why;
};

struct UpstreamErrorEvent {
  std::string_view upstream;
  std::string_view stage;  // resolve, connect, timeout
  std::string_view error;
  int status;  // the HTTP status the client is answered with
};

struct ProxyTotals {
  uint64_t accepted = 0;
  uint64_t refused = 0;  // over max_connections
  uint64_t upstream_errors = 0;
  uint64_t violations = 0;  // every violation flagged, reported or not
  uint64_t handshake_findings = 0;
  uint64_t tls_errors = 0;
  uint64_t log_dropped = 0;  // lines the log budget dropped
  bool capture = false;      // --capture: its packets written and dropped
  uint64_t capture_packets = 0;
  uint64_t capture_dropped = 0;
};

class ReportSink : public ConnSink {
 public:
  virtual void on_listening(const ListeningEvent&) {}
  virtual void on_conn_open(const EventContext&, std::string_view /*client*/) {}
  virtual void on_conn_refused(const EventContext&, uint64_t /*limit*/) {}
  // Refusals not logged one by one (over the per-second budget) in the last window.
  virtual void on_refusal_summary(uint64_t /*refused*/, uint64_t /*window_ms*/) {}
  virtual void on_upstream_error(const EventContext&, const UpstreamErrorEvent&) {}
  virtual void on_tls_error(const EventContext&, const TlsErrorEvent&) {}
  virtual void on_forward(const EventContext&, const ForwardEvent&) {}
  virtual void on_tls_end(const EventContext&, const TlsEndEvent&) {}
  virtual void on_shutdown(std::string_view /*signal*/, size_t /*open*/, uint64_t /*drain_ms*/) {}
  virtual void on_drain_over(size_t /*open*/) {}
  // Lines the log budget dropped in the last `window_ms` (`total` since start).
  virtual void on_log_dropped(uint64_t /*dropped*/, uint64_t /*total*/, uint64_t /*window_ms*/,
                              uint32_t /*lines_per_second*/) {}
  virtual void on_stopped(const ProxyTotals&) {}
  virtual void on_hop_diff(const EventContext&, const HopDiffEvent&) {}
  virtual void on_hop_verdict(const EventContext&, const HopVerdictEvent&) {}
  virtual void on_hop_unmatched(const EventContext&, const HopUnmatchedEvent&) {}
};

// What the format sinks need to know beyond the events.
struct ReportOptions {
  bool stamped = true;  // lines begin with the time (and JSON has ts, level, conn)
  // The text log: explanations of close codes, rules and end causes the
  // first time each appears (once), every time, or never. JSON always has them.
  ExplainMode explain = ExplainMode::once;
  Lang lang = Lang::en;  // of the text log's explanations
  // Text log filters: only the lines of connections with a problem (from
  // the first one on, with the handshake line), whose first request's path
  // starts with only_path, whose client is in only_client (ADDR[/BITS]), or
  // that broke one of only_rules.
  bool only_problems = false;
  std::string only_path;
  std::string only_client;
  std::vector<std::string> only_rules;
  bool show_secrets = false;  // Authorization, Cookie, Sec-WebSocket-Key in clear
  // The text log: warnings in yellow, errors in red, each direction in its
  // own colour (ANSI escapes; only ever ours, peers' bytes stay escaped).
  bool color = false;
  bool log_digests = false;  // frame_digest and message_digest lines, key_digest
  // For the text of end causes.
  uint64_t idle_timeout_ms = 0;
  uint64_t handshake_timeout_ms = 0;
  uint64_t http_inactivity_timeout_ms = 0;
  std::string upstream_label;
};

std::unique_ptr<ReportSink> make_json_sink(LineOut& out, const ReportOptions& opts);
std::unique_ptr<ReportSink> make_text_sink(LineOut& out, const ReportOptions& opts);

// The levels of events, shared by both formats.
EventLevel level_of(const CloseEvent& e);
EventLevel level_of(const Violation& v);
EventLevel level_of(const HandshakeEvent& e);
// The sentence explaining an end cause, e.g. for a synthesized 1006.
std::string describe_end_cause(EndCause cause, const ReportOptions& opts);
// A TLS stream that ended without close_notify before the close handshake
// completed was truncated: the explanation of a 1006 over TLS.
bool tls_end_is_problem(const TlsEndEvent& e);
// For an http_error whose stream starts with a TLS record.
inline constexpr const char* kTlsToPlainHint =
    "this client speaks TLS (its first byte, 0x16, opens a TLS record) to a plain listener: start "
    "wsinspect with --tls-cert/--tls-key or --tls-self-signed so it connects with wss://";
std::string tls_end_detail(const TlsEndEvent& e);
// Why a 1002/1007 close with nothing flagged points at the closer's side.
std::string unseen_corruption_note(const CloseFrame& c);

// Counts what the `stopped` event totals; every violation is counted, also
// those a format sink filters out by level.
class CountingSink final : public ReportSink {
 public:
  void on_violation(const EventContext&, const Violation&) override { totals_.violations++; }
  void on_handshake(const EventContext&, const HandshakeEvent& e) override {
    totals_.handshake_findings += e.request_findings.size() + e.response_findings.size();
  }
  void on_conn_refused(const EventContext&, uint64_t) override { totals_.refused++; }
  void on_upstream_error(const EventContext&, const UpstreamErrorEvent&) override {
    totals_.upstream_errors++;
  }
  void on_conn_open(const EventContext&, std::string_view) override { totals_.accepted++; }
  void on_tls_error(const EventContext&, const TlsErrorEvent&) override { totals_.tls_errors++; }
  const ProxyTotals& totals() const { return totals_; }

 private:
  ProxyTotals totals_;
};

// Hands every event to each sink in turn.
class FanOutSink final : public ReportSink {
 public:
  void add(ReportSink& s) { sinks_.push_back(&s); }
  void on_http_error(const EventContext& c, const HttpErrorEvent& e) override;
  void on_handshake(const EventContext& c, const HandshakeEvent& e) override;
  void on_http(const EventContext& c, const HttpExchangeEvent& e) override;
  void on_frame(const EventContext& c, Direction d, const FrameHeader& h) override;
  void on_message(const EventContext& c, const MessageInfo& m) override;
  void on_frame_digest(const EventContext& c, const FrameDigestEvent& e) override;
  void on_hop_diff(const EventContext& c, const HopDiffEvent& e) override;
  void on_hop_verdict(const EventContext& c, const HopVerdictEvent& e) override;
  void on_hop_unmatched(const EventContext& c, const HopUnmatchedEvent& e) override;
  void on_message_digest(const EventContext& c, const MessageDigestEvent& e) override;
  void on_preview(const EventContext& c, const PreviewEvent& e) override;
  void on_violation(const EventContext& c, const Violation& v) override;
  void on_close(const EventContext& c, const CloseEvent& e) override;
  void on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) override;
  void on_gap(const EventContext& c, const GapEvent& e) override;
  void on_conn_close(const EventContext& c, const ConnCloseEvent& e) override;
  void on_listening(const ListeningEvent& e) override;
  void on_conn_open(const EventContext& c, std::string_view client) override;
  void on_conn_refused(const EventContext& c, uint64_t limit) override;
  void on_refusal_summary(uint64_t refused, uint64_t window_ms) override;
  void on_upstream_error(const EventContext& c, const UpstreamErrorEvent& e) override;
  void on_tls_error(const EventContext& c, const TlsErrorEvent& e) override;
  void on_forward(const EventContext& c, const ForwardEvent& e) override;
  void on_tls_end(const EventContext& c, const TlsEndEvent& e) override;
  void on_shutdown(std::string_view signal, size_t open, uint64_t drain_ms) override;
  void on_drain_over(size_t open) override;
  void on_log_dropped(uint64_t dropped, uint64_t total, uint64_t window_ms,
                      uint32_t lines_per_second) override;
  void on_stopped(const ProxyTotals& t) override;

 private:
  std::vector<ReportSink*> sinks_;
};

}  // namespace wsi
