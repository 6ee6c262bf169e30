// The JSON form of every event: one object per line, the schema of
// docs/events.md (fields are added, never renamed). Each line is written
// straight into one reused buffer (JsonWriter), with no tree in between.
#include "parser/close_codes.h"
#include "proxy/event_format.h"
#include "proxy/event_log.h"
#include "proxy/report/json_writer.h"
#include "proxy/report/report_sink.h"

namespace wsi {
namespace {

void string_array(JsonWriter& w, const std::vector<std::string>& v) {
  w.begin_array();
  for (const std::string& s : v) w.value(escape_text(s));
  w.end_array();
}

// What one TLS leg negotiated; every string may come from the peer.
void tls_json(JsonWriter& w, const TlsSummary& t) {
  w.begin_object()
      .field("version", escape_text(t.version))
      .field("cipher", escape_text(t.cipher))
      .field("sni", escape_text(t.sni))
      .field("alpn", escape_text(t.alpn))
      .field("verification", escape_text(t.verification))
      .key("peer_certificate");
  if (t.peer_certificate) {
    w.begin_object()
        .field("subject", escape_text(t.peer_subject))
        .field("issuer", escape_text(t.peer_issuer))
        .field("not_before", t.not_before)
        .field("not_after", t.not_after)
        .end_object();
  } else {
    w.raw("null");
  }
  w.end_object();
}

class JsonSink final : public ReportSink {
 public:
  JsonSink(LineOut& out, const ReportOptions& opts) : out_(out), opts_(opts) {}

  void on_http_error(const EventContext& c, const HttpErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "http_error")
          .field("dir", direction_name(e.dir))
          .field("error", e.error.name)
          .field("reason", escape_text(e.error.reason))
          .field("offset", e.error.offset);
      if (e.starts_with_tls) w.field("hint", kTlsToPlainHint);
    });
  }

  void on_handshake(const EventContext& c, const HandshakeEvent& e) override {
    emit(level_of(e), c.conn, [&](JsonWriter& w) {
      const HandshakeRequest& r = e.request;
      const Negotiated* n = e.negotiated;
      w.field("event", "handshake").field("path", escape_text(shown_path(r.path)));
      if (opts_.show_secrets && !r.query.empty()) w.field("query", escape_text(r.query));
      w.field("host", escape_text(r.host)).key("subprotocols_offered");
      string_array(w, opts_.show_secrets ? r.offered_subprotocols
                                         : redact_subprotocols(r.offered_subprotocols));
      w.field("extensions_offered", escape_text(r.extensions_header))
          .field("status", e.response ? e.response->status : 0)
          .field("subprotocol", n ? escape_text(shown_subprotocol(n->subprotocol)) : "")
          .field("extensions", n ? escape_text(n->extensions) : "")
          .field("upgraded", n && n->websocket)
          .key("headers");
      headers_json(w, e.headers);
      if (e.response) {
        w.key("response_headers");
        headers_json(w, e.response->headers);
      }
      if (e.key_digest && opts_.log_digests) w.field("key_digest", e.key_digest->hex());
      w.key("findings").begin_array();
      for (const auto* list : {&e.request_findings, &e.response_findings})
        for (const Finding& f : *list) finding_json(w, f);
      w.end_array();
      if (!e.forwarded_host.empty()) w.field("forwarded_host", escape_text(e.forwarded_host));
      if (e.tls_client || e.tls_server) {
        w.key("tls").begin_object();
        if (e.tls_client) tls_json(w.key("client"), *e.tls_client);
        if (e.tls_server) tls_json(w.key("server"), *e.tls_server);
        w.end_object();
      }
    });
  }

  void on_http(const EventContext& c, const HttpExchangeEvent& e) override {
    emit(e.status ? EventLevel::info : EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "http")
          .field("method", escape_text(e.method))
          .field("path", escape_text(shown_path(e.path)));
      if (opts_.show_secrets && !e.query.empty()) w.field("query", escape_text(e.query));
      w.field("status", e.status);
    });
  }

  void on_frame(const EventContext& c, Direction d, const FrameHeader& h) override {
    emit(EventLevel::debug, c.conn, [&](JsonWriter& w) { frame_json(w, d, h); });
  }

  void on_message(const EventContext& c, const MessageInfo& m) override {
    emit(EventLevel::debug, c.conn, [&](JsonWriter& w) { message_json(w, m); });
  }

  // Digest lines (--log-digests) are what `compare` reads: never dropped.
  void on_frame_digest(const EventContext& c, const FrameDigestEvent& e) override {
    if (!opts_.log_digests) return;
    emit_kept(EventLevel::info, c.conn, [&](JsonWriter& w) {
      const FrameHeader& h = e.header;
      w.field("event", "frame_digest")
          .field("dir", direction_name(e.dir))
          .field("frame_index", h.index)
          .field("offset", h.offset)
          .field("fin", h.fin)
          .field("rsv", h.rsv)
          .field("opcode", h.opcode)
          .field("masked", h.masked)
          .field("length", h.length)
          .field("header_hex", hex_bytes({h.raw, h.raw_len}))
          .field("digest", e.payload.hex());
    });
  }

  void on_message_digest(const EventContext& c, const MessageDigestEvent& e) override {
    if (!opts_.log_digests) return;
    emit_kept(EventLevel::info, c.conn, [&](JsonWriter& w) {
      const MessageInfo& m = e.message;
      w.field("event", "message_digest")
          .field("dir", direction_name(m.dir))
          .field("first_frame_index", m.first_frame_index)
          .field("frames", m.frames)
          .field("opcode", m.opcode)
          .field("compressed", m.compressed)
          .field("size", m.size)
          .field("inflated_size", m.inflated_size)
          .field("digest", e.content.hex());
    });
  }

  void on_hop_diff(const EventContext& c, const HopDiffEvent& e) override {
    const HopDiff& d = e.diff;
    emit_kept(d.significant ? EventLevel::warn : EventLevel::info, c.conn, [&](JsonWriter& w) {
      w.field("event", "hop_diff")
          .field("conn_a", e.conn_a)
          .field("conn_b", e.conn_b)
          .field("kind", diff_kind_id(d.kind))
          .field("significant", d.significant);
      if (d.has_dir) w.field("dir", direction_name(d.dir));
      if (d.frame_a >= 0) w.field("frame_a", static_cast<uint64_t>(d.frame_a));
      if (d.frame_b >= 0) w.field("frame_b", static_cast<uint64_t>(d.frame_b));
      if (!d.header_a.empty()) w.field("header_hex_a", d.header_a);
      if (!d.header_b.empty()) w.field("header_hex_b", d.header_b);
      if (!d.header.empty()) w.field("header", escape_text(d.header));
      w.field("text", escape_text(d.text));
    });
  }

  void on_hop_verdict(const EventContext& c, const HopVerdictEvent& e) override {
    const HopVerdict& v = e.verdict;
    emit_kept(v.significant ? EventLevel::warn : EventLevel::info, c.conn, [&](JsonWriter& w) {
      w.field("event", "hop_verdict")
          .field("conn_a", e.conn_a)
          .field("conn_b", e.conn_b)
          .field("path", escape_text(shown_path(e.path)))
          .field("identical", v.identical)
          .field("significant", v.significant)
          .field("differences", static_cast<uint64_t>(v.differences))
          .field("benign", static_cast<uint64_t>(v.benign))
          .field("text", escape_text(v.text));
    });
  }

  void on_hop_unmatched(const EventContext& c, const HopUnmatchedEvent& e) override {
    emit_kept(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "hop_unmatched")
          .field("side", escape_text(e.side))
          .field("side_conn", e.conn)
          .field("label", escape_text(e.label))
          .field("path", escape_text(shown_path(e.path)))
          .field("status", e.status)
          .field("why", escape_text(e.why));
    });
  }

  void on_preview(const EventContext& c, const PreviewEvent& e) override {
    emit(EventLevel::info, c.conn, [&](JsonWriter& w) { preview_json(w, e.message, e.content); });
  }

  void on_violation(const EventContext& c, const Violation& v) override {
    emit(level_of(v), c.conn, [&](JsonWriter& w) { violation_json(w, v); });
  }

  void on_close(const EventContext& c, const CloseEvent& e) override {
    emit(level_of(e), c.conn, [&](JsonWriter& w) {
      close_json(w, e.frame);
      w.field("in_reply", e.in_reply);
      if (const CloseCause* k = e.caused_by) {
        cause_json(w, *k);
      } else if (e.unseen_corruption) {
        w.field("note", unseen_corruption_note(e.frame));
      }
    });
  }

  void on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) override {
    const char* who = e.dir == Direction::client_to_server ? "server" : "client";
    if (e.code == 1001) {
      emit(EventLevel::info, c.conn, [&](JsonWriter& w) {
        w.field("event", "close")
            .field("dir", direction_name(e.dir))
            .field("synthesized", true)
            .field("sent_by", "wsinspect")
            .field("endpoint", who)
            .field("code", 1001)
            .field("on_wire", true)
            .field("name", close_code_info(1001).name)
            .field("reason", "wsinspect shutting down")
            .field("valid", true)
            .field("cause", end_cause_id(e.cause))
            .key("explanation")
            .raw(explanation_json(1001));
      });
      return;
    }
    emit(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "close")
          .field("dir", direction_name(e.dir))
          .field("synthesized", true)
          .field("endpoint", who)
          .field("code", e.code)
          .field("on_wire", false)
          .field("name", close_code_info(e.code).name)
          .field("reason", "")
          .field("valid", false)
          .field("cause", end_cause_id(e.cause))
          .field("cause_detail", describe_end_cause(e.cause, opts_));
      if (e.caused_by) cause_json(w, *e.caused_by);
      w.key("explanation").raw(explanation_json(e.code));
    });
  }

  // What a close (or an endpoint's 1006) is linked to.
  static void cause_json(JsonWriter& w, const CloseCause& k) {
    w.key("caused_by")
        .begin_object()
        .field("rule", rule_info(k.rule).id)
        .field("dir", direction_name(k.dir))
        .field("offset", k.offset)
        .field("frame_index", k.frame_index)
        .field("ms_before", k.ms_before);
    if (k.handshake) w.field("handshake", true);
    if (k.message_size) w.field("message_size", k.message_size);
    w.end_object();
  }

  void on_gap(const EventContext& c, const GapEvent& e) override {
    emit(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "gap")
          .field("dir", direction_name(e.dir))
          .field("from", e.from)
          .field("reason", e.reason);
    });
  }

  void on_conn_close(const EventContext& c, const ConnCloseEvent& e) override {
    emit_kept(EventLevel::info, c.conn, [&](JsonWriter& w) {
      w.field("event", "conn_close")
          .field("duration_ms", e.duration_ms)
          .field("ended_by", end_cause_id(e.ended_by))
          .field("upgraded", e.upgraded);
      for (size_t i = 0; i < 2; ++i) {
        const Direction d = i == 0 ? Direction::client_to_server : Direction::server_to_client;
        w.key(direction_name(d)).begin_object().field("bytes", e.dir[i].bytes);
        if (const InspectorStats* st = e.dir[i].stats) {
          w.field("frames", st->frames)
              .field("messages", st->messages)
              .field("errors", st->errors)
              .field("warnings", st->warnings)
              .field("closes", st->closes);
        }
        if (e.dir[i].closes_unreported) w.field("closes_unreported", e.dir[i].closes_unreported);
        // When (ms after the connection began) the sender's last bytes came
        // and how its stream ended.
        const uint64_t start = c.time_ms >= e.duration_ms ? c.time_ms - e.duration_ms : 0;
        if (e.dir[i].last_data_ms >= start) w.field("last_data_ms", e.dir[i].last_data_ms - start);
        if (e.dir[i].ended)
          w.field("end", e.dir[i].how == StreamEnd::reset ? "reset" : "fin")
              .field("end_ms", e.dir[i].end_ms >= start ? e.dir[i].end_ms - start : 0);
        w.end_object();
      }
      if (e.handshakes_unreported) w.field("handshakes_unreported", e.handshakes_unreported);
      if (e.unanswered_unreported) w.field("unanswered_unreported", e.unanswered_unreported);
    });
  }

  void on_listening(const ListeningEvent& e) override {
    // An upstream whose certificate is not checked is said loudly.
    auto fields = [&](JsonWriter& w) {
      w.field("event", "listening")
          .field("address", e.address)
          .field("upstream", e.upstream)
          .field("url", e.url)
          .field("inspect", e.inspect);
      if (!e.role.empty()) w.field("role", e.role);
      if (!e.tls_fingerprint.empty()) {
        w.key("tls").begin_object().field("fingerprint_sha256", e.tls_fingerprint);
        w.key("names");
        string_array(w, e.tls_names ? *e.tls_names : std::vector<std::string>{});
        w.field("self_signed", e.tls_self_signed).end_object();
      }
      if (e.upstream_insecure)
        w.field("upstream_insecure", true)
            .field("warning",
                   "the upstream's TLS certificate is not checked (--upstream-insecure): anyone "
                   "on the path can impersonate it");
      if (!e.host_rewrite.empty()) w.field("host_rewrite", escape_text(e.host_rewrite));
      if (e.notes && !e.notes->empty()) {
        w.key("notes");
        string_array(w, *e.notes);
      }
    };
    emit_as(LineClass::always, e.upstream_insecure ? EventLevel::warn : EventLevel::info, 0,
            fields);
  }

  void on_tls_error(const EventContext& c, const TlsErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      const TlsFailure& f = e.failure;
      w.field("event", "tls_error")
          .field("leg", e.leg)
          .field("error", f.id)
          .field("alert", escape_text(f.alert))
          .field("reason", escape_text(f.reason))
          .field("explanation", f.explanation);
    });
  }

  void on_tls_end(const EventContext& c, const TlsEndEvent& e) override {
    const bool problem = tls_end_is_problem(e);
    emit(problem ? EventLevel::warn : EventLevel::info, c.conn, [&](JsonWriter& w) {
      w.field("event", "tls_end")
          .field("leg", e.leg)
          .field("close_notify", e.close_notify)
          .field("problem", problem)
          .field("detail", tls_end_detail(e));
    });
  }

  void on_forward(const EventContext& c, const ForwardEvent& e) override {
    const bool refused = e.mode == "refused";
    emit(refused ? EventLevel::warn : EventLevel::info, c.conn, [&](JsonWriter& w) {
      w.field("event", "forward")
          .field("method", escape_text(e.method))
          .field("target", escape_text(e.target))
          .field("mode", e.mode);
      if (refused) w.field("status", e.status).field("detail", escape_text(e.detail));
    });
  }

  void on_conn_open(const EventContext& c, std::string_view client) override {
    emit(EventLevel::info, c.conn,
         [&](JsonWriter& w) { w.field("event", "conn_open").field("client", client); });
  }

  void on_conn_refused(const EventContext& c, uint64_t limit) override {
    emit(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "conn_refused").field("reason", "max_connections").field("limit", limit);
    });
  }

  void on_refusal_summary(uint64_t refused, uint64_t window_ms) override {
    emit_kept(EventLevel::warn, 0, [&](JsonWriter& w) {
      w.field("event", "conn_refused_summary")
          .field("refused", refused)
          .field("window_ms", window_ms);
    });
  }

  void on_upstream_error(const EventContext& c, const UpstreamErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&](JsonWriter& w) {
      w.field("event", "upstream_error")
          .field("upstream", e.upstream)
          .field("stage", e.stage)
          .field("error", e.error)
          .field("status", e.status);
    });
  }

  void on_shutdown(std::string_view signal, size_t open, uint64_t drain_ms) override {
    emit_always(EventLevel::info, [&](JsonWriter& w) {
      w.field("event", "shutdown")
          .field("signal", signal)
          .field("open_connections", open)
          .field("drain_ms", drain_ms);
    });
  }

  void on_drain_over(size_t open) override {
    emit_kept(EventLevel::warn, 0, [&](JsonWriter& w) {
      w.field("event", "shutdown").field("phase", "forced").field("open_connections", open);
    });
  }

  void on_stopped(const ProxyTotals& t) override {
    emit_always(EventLevel::info, [&](JsonWriter& w) {
      w.field("event", "stopped")
          .field("connections", t.accepted)
          .field("refused", t.refused)
          .field("upstream_errors", t.upstream_errors)
          .field("violations", t.violations)
          .field("handshake_findings", t.handshake_findings)
          .field("tls_errors", t.tls_errors)
          .field("log_dropped", t.log_dropped);
      if (t.capture)
        w.field("capture_packets", t.capture_packets).field("capture_dropped", t.capture_dropped);
    });
  }

  void on_log_dropped(uint64_t dropped, uint64_t total, uint64_t window_ms,
                      uint32_t lines_per_second) override {
    emit_kept(EventLevel::warn, 0, [&](JsonWriter& w) {
      w.field("event", "log_dropped")
          .field("dropped", dropped)
          .field("total", total)
          .field("window_ms", window_ms)
          .field("max_lines_per_second", lines_per_second);
    });
  }

 private:
  // One key per header name, in the order names first appear; a header sent
  // on several lines keeps every value, joined with ", " as HTTP would.
  // Names are compared as sent: escape_text() maps distinct names to
  // distinct texts, so this is the same as comparing the escaped keys.
  void headers_json(JsonWriter& w, const std::vector<HttpHeader>& headers) const {
    w.begin_object();
    for (size_t i = 0; i < headers.size(); ++i) {
      const std::string& name = headers[i].name;
      bool seen = false;
      for (size_t j = 0; j < i && !seen; ++j) seen = headers[j].name == name;
      if (seen) continue;
      std::string value = header_value(headers[i]);
      for (size_t j = i + 1; j < headers.size(); ++j)
        if (headers[j].name == name) value += ", " + header_value(headers[j]);
      w.field(escape_text(name), value);
    }
    w.end_object();
  }

  std::string header_value(const HttpHeader& h) const {
    return opts_.show_secrets ? escape_text(h.value) : logged_header_value(h.name, h.value);
  }
  std::string shown_path(std::string_view path) const {
    return opts_.show_secrets ? std::string(path) : redact_url(path);
  }
  std::string shown_subprotocol(std::string_view token) const {
    return opts_.show_secrets ? std::string(token) : redact_subprotocol(token);
  }

  template <class Fields>
  void emit(EventLevel level, uint64_t conn, Fields fields) {
    emit_as(LineClass::budgeted, level, conn, fields);
  }
  // The lines the log budget never drops (see LineClass).
  template <class Fields>
  void emit_kept(EventLevel level, uint64_t conn, Fields fields) {
    emit_as(LineClass::kept, level, conn, fields);
  }
  // What a run starts and ends with, whatever the level (see LineClass).
  template <class Fields>
  void emit_always(EventLevel level, Fields fields) {
    emit_as(LineClass::always, level, 0, fields);
  }
  template <class Fields>
  void emit_as(LineClass cls, EventLevel level, uint64_t conn, Fields& fields) {
    if (!out_.admit(level, cls)) return;
    line_.clear();
    JsonWriter w(line_);
    w.begin_object();
    if (opts_.stamped) {
      w.field("ts", timestamp_now()).field("level", level_name(level));
      if (conn) w.field("conn", conn);
    }
    fields(w);
    w.end_object();
    out_.write(level, line_);
  }

  LineOut& out_;
  ReportOptions opts_;
  std::string line_;  // reused: its capacity stays from one line to the next
};

}  // namespace

std::unique_ptr<ReportSink> make_json_sink(LineOut& out, const ReportOptions& opts) {
  return std::make_unique<JsonSink>(out, opts);
}

}  // namespace wsi
