// The text form of every event: one line for people (with an indented
// explanation where it helps), prefixed by the time and the connection.
#include <cstdio>

#include "parser/close_codes.h"
#include "proxy/event_format.h"
#include "proxy/event_log.h"
#include "proxy/report/report_sink.h"

namespace wsi {
namespace {

std::string endpoint_receiving(Direction d) {
  return d == Direction::client_to_server ? "server" : "client";
}

// "TLSv1.3 TLS_AES_256_GCM_SHA384 sni=example.com alpn=http/1.1 cert CN=... (ok)"
std::string tls_text(const TlsSummary& t) {
  std::string s = escape_text(t.version) + " " + escape_text(t.cipher);
  if (!t.sni.empty()) s += " sni=" + escape_text(t.sni);
  if (!t.alpn.empty()) s += " alpn=" + escape_text(t.alpn);
  if (t.peer_certificate) s += " cert \"" + escape_text(t.peer_subject) + "\"";
  if (!t.verification.empty()) s += " (" + escape_text(t.verification) + ")";
  return s;
}

class TextSink final : public ReportSink {
 public:
  TextSink(LineOut& out, const ReportOptions& opts) : out_(out), opts_(opts) {}

  void on_http_error(const EventContext& c, const HttpErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      return std::string(direction_arrow(e.dir)) + " not HTTP at offset " +
             std::to_string(e.error.offset) + ": " + e.error.name + " (" +
             escape_text(e.error.reason) + "); relaying this direction unparsed from here on" +
             (e.starts_with_tls ? std::string("\n    ") + kTlsToPlainHint : std::string());
    });
  }

  void on_handshake(const EventContext& c, const HandshakeEvent& e) override {
    emit(level_of(e), c.conn, [&] {
      const HandshakeRequest& r = e.request;
      const Negotiated* n = e.negotiated;
      const uint16_t status = e.response ? e.response->status : 0;
      std::string text = "handshake " + escape_text(r.method) + " " + shown_path(r.path) +
                         " host=" + escape_text(r.host) + " -> " +
                         (status ? std::to_string(status) : std::string("no response"));
      if (n && !n->subprotocol.empty())
        text +=
            " subprotocol=" +
            escape_text(opts_.show_secrets ? n->subprotocol : redact_subprotocol(n->subprotocol));
      if (n && !n->extensions.empty()) text += " extensions=\"" + escape_text(n->extensions) + "\"";
      text += n && n->websocket ? " (upgraded)" : " (not upgraded)";
      if (!e.forwarded_host.empty())
        text += " forwarded with Host " + escape_text(e.forwarded_host);
      if (e.tls_client) text += "\n    tls client leg: " + tls_text(*e.tls_client);
      if (e.tls_server) text += "\n    tls server leg: " + tls_text(*e.tls_server);
      for (const auto* list : {&e.request_findings, &e.response_findings}) {
        for (const Finding& f : *list) {
          const RuleInfo& info = rule_info(f.rule);
          text += "\n    " + std::string(severity_name(info.severity)) + " " +
                  std::string(info.id) + " (" + std::string(info.rfc) +
                  "): " + escape_text(f.detail) + "\n      fix: " + std::string(info.fix);
        }
      }
      return text;
    });
  }

  void on_http(const EventContext& c, const HttpExchangeEvent& e) override {
    emit(e.status ? EventLevel::info : EventLevel::warn, c.conn, [&] {
      return "http " + escape_text(e.method) + " " + shown_path(e.path) + " -> " +
             (e.status ? std::to_string(e.status) : std::string("no response"));
    });
  }

  void on_frame(const EventContext& c, Direction d, const FrameHeader& h) override {
    emit(EventLevel::debug, c.conn, [&] { return frame_text(d, h); });
  }

  void on_message(const EventContext& c, const MessageInfo& m) override {
    emit(EventLevel::debug, c.conn, [&] { return message_text(m); });
  }

  void on_preview(const EventContext& c, const PreviewEvent& e) override {
    emit(EventLevel::info, c.conn, [&] {
      const FrameHeader& h = e.header;
      return std::string(direction_arrow(e.dir)) + " frame #" + std::to_string(h.index) + " " +
             std::string(opcode::name(h.opcode)) + " \"" + escape_text(e.payload) + "\"" +
             (e.truncated ? "..." : "");
    });
  }

  void on_violation(const EventContext& c, const Violation& v) override {
    emit(level_of(v), c.conn, [&] { return violation_text(v); });
  }

  void on_close(const EventContext& c, const CloseEvent& e) override {
    emit(level_of(e), c.conn, [&] {
      std::string text = close_text(e.frame);
      if (e.in_reply)
        text += "\n    (in reply to the " + endpoint_receiving(e.frame.dir) + "'s close)";
      if (const CloseCause* k = e.caused_by) {
        text += "\n    caused by: " + std::string(rule_info(k->rule).id) + " flagged " +
                std::string(direction_arrow(k->dir)) + " at offset " + std::to_string(k->offset) +
                ", frame #" + std::to_string(k->frame_index) + ", " + std::to_string(k->ms_before) +
                " ms earlier";
      } else if (e.unseen_corruption) {
        text += "\n    note: " + unseen_corruption_note(e.frame);
      }
      return text;
    });
  }

  void on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) override {
    const std::string who = endpoint_receiving(e.dir);
    const CloseCodeInfo& info = close_code_info(e.code);
    if (e.code == 1001) {
      emit(EventLevel::info, c.conn, [&] {
        return std::string(direction_arrow(e.dir)) + " wsinspect sent the " + who + " close 1001 " +
               std::string(info.name) + " while shutting down";
      });
      return;
    }
    emit(EventLevel::warn, c.conn, [&] {
      return std::string(direction_arrow(e.dir)) + " no close frame reached the " + who +
             ": its application reports " + std::to_string(e.code) + " " + std::string(info.name) +
             "\n    cause: " + describe_end_cause(e.cause, opts_) +
             "\n    what it means: " + std::string(info.description) +
             "\n    how to fix it: " + std::string(info.fix);
    });
  }

  void on_gap(const EventContext& c, const GapEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      return std::string(direction_arrow(e.dir)) + " gap: bytes from offset " +
             std::to_string(e.from) + " on are not inspected (" + std::string(e.reason) +
             "); this direction is only counted from here on";
    });
  }

  void on_conn_close(const EventContext& c, const ConnCloseEvent& e) override {
    emit_kept(EventLevel::info, c.conn, [&] {
      std::string text = "connection closed after " + std::to_string(e.duration_ms) + " ms (" +
                         std::string(end_cause_id(e.ended_by)) + ")";
      for (size_t i = 0; i < 2; ++i) {
        const Direction d = i == 0 ? Direction::client_to_server : Direction::server_to_client;
        text += "\n    " + std::string(direction_arrow(d)) + ": " + std::to_string(e.dir[i].bytes) +
                " bytes";
        if (const InspectorStats* st = e.dir[i].stats) {
          text += ", " + std::to_string(st->frames) + " frames, " + std::to_string(st->messages) +
                  " messages, " + std::to_string(st->errors) + " errors, " +
                  std::to_string(st->warnings) + " warnings, " + std::to_string(st->closes) +
                  " close frames";
        }
        if (e.dir[i].closes_unreported)
          text += " (" + std::to_string(e.dir[i].closes_unreported) + " not logged one by one)";
      }
      if (e.handshakes_unreported)
        text += "\n    " + std::to_string(e.handshakes_unreported) +
                " more handshake(s) without an upgrade, not logged one by one";
      if (e.unanswered_unreported)
        text += "\n    " + std::to_string(e.unanswered_unreported) +
                " more request(s) without a response, not logged one by one";
      return text;
    });
  }

  void on_listening(const ListeningEvent& e) override {
    emit_kept(EventLevel::info, 0, [&] {
      const std::string upstream =
          e.upstream == "builtin:echo" ? "the built-in echo server" : std::string(e.upstream);
      std::string text =
          e.role == "bracket"
              ? "wsinspect bracket listener on " + std::string(e.address) + ", relaying to " +
                    upstream + "; point the intermediary at " + std::string(e.url)
              : "wsinspect listening on " + std::string(e.address) + ", relaying to " + upstream +
                    "; connect WebSocket clients to " + std::string(e.url);
      if (!e.tls_fingerprint.empty()) {
        text += std::string("\n    TLS certificate") + (e.tls_self_signed ? " (self-signed)" : "") +
                " SHA-256 " + std::string(e.tls_fingerprint);
        if (e.tls_names && !e.tls_names->empty()) {
          text += " for";
          for (const std::string& n : *e.tls_names) text += " " + escape_text(n);
        }
      }
      if (!e.host_rewrite.empty())
        text += "\n    the Host header is rewritten to " + escape_text(e.host_rewrite) +
                " (--keep-host keeps the client's)";
      if (e.notes)
        for (const std::string& n : *e.notes) text += "\n    note: " + escape_text(n);
      return text;
    });
    if (e.upstream_insecure) {
      emit_kept(EventLevel::warn, 0, [&] {
        return std::string(
            "the upstream's TLS certificate is NOT checked (--upstream-insecure): "
            "anyone on the path can impersonate it");
      });
    }
  }

  void on_tls_error(const EventContext& c, const TlsErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      const TlsFailure& f = e.failure;
      std::string text = "tls handshake with the " + std::string(e.leg) + " failed: " + f.id;
      if (!f.alert.empty()) text += " (alert " + escape_text(f.alert) + ")";
      if (!f.reason.empty()) text += ": " + escape_text(f.reason);
      text += "\n    " + f.explanation;
      return text;
    });
  }

  void on_forward(const EventContext& c, const ForwardEvent& e) override {
    const bool refused = e.mode == "refused";
    emit(refused ? EventLevel::warn : EventLevel::info, c.conn, [&] {
      std::string text = "forward " + escape_text(e.method) + " " + escape_text(e.target);
      if (refused)
        return text + " refused with " + std::to_string(e.status) + ": " + escape_text(e.detail);
      if (e.mode == "intercepted") return text + ": TLS intercepted and inspected";
      if (e.mode == "passthrough")
        return text + ": TLS tunnelled without interception (--passthrough)";
      if (e.mode == "tunnelled") return text + ": TLS tunnelled, not inspected (no --ca)";
      return text + ": plain, inspected";
    });
  }

  void on_tls_end(const EventContext& c, const TlsEndEvent& e) override {
    const bool problem = tls_end_is_problem(e);
    emit(problem ? EventLevel::warn : EventLevel::info, c.conn,
         [&] { return "tls " + std::string(e.leg) + " " + tls_end_detail(e); });
  }

  void on_hop_diff(const EventContext& c, const HopDiffEvent& e) override {
    const HopDiff& d = e.diff;
    emit_kept(d.significant ? EventLevel::warn : EventLevel::info, c.conn, [&] {
      std::string s = "hop " + std::string(diff_kind_id(d.kind)) +
                      (d.significant ? ": " : " (benign): ") + escape_text(d.text);
      if (!d.header_a.empty() || !d.header_b.empty())
        s += " [header A " + (d.header_a.empty() ? "-" : d.header_a) + ", B " +
             (d.header_b.empty() ? "-" : d.header_b) + "]";
      return s;
    });
  }

  void on_hop_verdict(const EventContext& c, const HopVerdictEvent& e) override {
    const HopVerdict& v = e.verdict;
    emit_kept(v.significant ? EventLevel::warn : EventLevel::info, c.conn, [&] {
      return "hop verdict (conn " + std::to_string(e.conn_a) + " and " + std::to_string(e.conn_b) +
             ", " + shown_path(e.path) + "): " + escape_text(v.text);
    });
  }

  void on_hop_unmatched(const EventContext& c, const HopUnmatchedEvent& e) override {
    emit_kept(EventLevel::warn, c.conn, [&] {
      return "hop unmatched: " + escape_text(e.side) + " connection " + std::to_string(e.conn) +
             (e.label.empty() ? "" : " (" + escape_text(e.label) + ")") + " to " +
             shown_path(e.path) + ": " + escape_text(e.why);
    });
  }

  void on_conn_open(const EventContext& c, std::string_view client) override {
    emit(EventLevel::info, c.conn, [&] { return "connection from " + std::string(client); });
  }

  void on_conn_refused(const EventContext& c, uint64_t limit) override {
    emit(EventLevel::warn, c.conn, [&] {
      return "connection refused with 503: " + std::to_string(limit) +
             " connections already open (the connection limit)";
    });
  }

  void on_refusal_summary(uint64_t refused, uint64_t window_ms) override {
    emit_kept(EventLevel::warn, 0, [&] {
      return std::to_string(refused) + " more connection(s) refused in the last " +
             std::to_string(window_ms / 1000) + " s (not logged one by one)";
    });
  }

  void on_upstream_error(const EventContext& c, const UpstreamErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      return "upstream " + std::string(e.upstream) + " unreachable (" + std::string(e.stage) +
             "): " + std::string(e.error) + "; answering the client with " +
             std::to_string(e.status);
    });
  }

  void on_shutdown(std::string_view signal, size_t open, uint64_t drain_ms) override {
    emit_kept(EventLevel::info, 0, [&] {
      return std::string(signal) + ": no longer accepting; " + std::to_string(open) +
             " open connection(s) get " + std::to_string(drain_ms) + " ms to finish";
    });
  }

  void on_drain_over(size_t open) override {
    emit_kept(EventLevel::warn, 0, [&] {
      return "drain time over: ending " + std::to_string(open) + " open connection(s)";
    });
  }

  void on_stopped(const ProxyTotals& t) override {
    emit_kept(EventLevel::info, 0, [&] {
      return "stopped after " + std::to_string(t.accepted) +
             " connection(s): " + std::to_string(t.violations) + " violation(s), " +
             std::to_string(t.handshake_findings) + " handshake finding(s), " +
             std::to_string(t.upstream_errors) + " upstream error(s), " +
             std::to_string(t.tls_errors) + " TLS handshake failure(s), " +
             std::to_string(t.refused) + " refused" +
             (t.log_dropped ? ", " + std::to_string(t.log_dropped) +
                                  " log line(s) dropped over the log budget"
                            : std::string()) +
             (t.capture_dropped ? ", " + std::to_string(t.capture_dropped) +
                                      " captured packet(s) dropped (the disk fell behind)"
                                : std::string());
    });
  }

  void on_log_dropped(uint64_t dropped, uint64_t total, uint64_t window_ms,
                      uint32_t lines_per_second) override {
    emit_kept(EventLevel::warn, 0, [&] {
      return std::to_string(dropped) + " log line(s) dropped in the last " +
             std::to_string(window_ms) + " ms over the log budget of " +
             std::to_string(lines_per_second) + " a second (--log-rate); " + std::to_string(total) +
             " since start";
    });
  }

 private:
  template <class Build>
  void emit(EventLevel level, uint64_t conn, Build build) {
    emit_as(LineClass::budgeted, level, conn, build);
  }
  // The lines the log budget never drops (see LineClass).
  template <class Build>
  void emit_kept(EventLevel level, uint64_t conn, Build build) {
    emit_as(LineClass::kept, level, conn, build);
  }
  template <class Build>
  void emit_as(LineClass cls, EventLevel level, uint64_t conn, Build& build) {
    if (!out_.admit(level, cls)) return;
    if (!opts_.stamped) {
      out_.write(level, build());
      return;
    }
    const std::string ts = timestamp_now();
    char prefix[64];
    if (conn)
      std::snprintf(prefix, sizeof prefix, "%s #%llu ", ts.c_str() + 11,
                    static_cast<unsigned long long>(conn));
    else
      std::snprintf(prefix, sizeof prefix, "%s ", ts.c_str() + 11);
    out_.write(level, prefix + build());
  }

  // The path, escaped, with credential path parameters redacted.
  std::string shown_path(std::string_view path) const {
    return escape_text(opts_.show_secrets ? std::string(path) : redact_url(path));
  }

  LineOut& out_;
  ReportOptions opts_;
};

}  // namespace

std::unique_ptr<ReportSink> make_text_sink(LineOut& out, const ReportOptions& opts) {
  return std::make_unique<TextSink>(out, opts);
}

}  // namespace wsi
