// The text form of every event: one line for people (with an indented
// explanation where it helps), prefixed by the time and the connection.
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "parser/close_codes.h"
#include "proxy/event_format.h"
#include "proxy/event_log.h"
#include "proxy/report/report_sink.h"
#include "proxy/taps/capture.h"

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

// "340 ms", "12.5 s", "3 min 20 s".
std::string duration_text(uint64_t ms) {
  char buf[48];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%llu ms", static_cast<unsigned long long>(ms));
  else if (ms < 120'000)
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%llu min %llu s", static_cast<unsigned long long>(ms / 60'000),
                  static_cast<unsigned long long>(ms / 1000 % 60));
  return buf;
}

// A close that is an ordinary end: 1000, 1001, or an empty close frame
// (1005: what close() without a code sends, and a common reply).
bool normal_close(const CloseFrame& c) {
  return c.valid() && (c.code == 1000 || c.code == 1001 || !c.has_code);
}

// An address "1.2.3.4:5" or "[::1]:5" inside --only-client ADDR[/BITS].
bool client_in(const CaptureNet& net, std::string_view client) {
  std::string_view host = client;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  CaptureNet addr;
  std::string why;
  if (!parse_capture_net(host, addr, why) || addr.v6 != net.v6) return false;
  for (int bit = 0; bit < net.bits; ++bit) {
    const uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((addr.addr[bit / 8] & m) != (net.addr[bit / 8] & m)) return false;
  }
  return true;
}

class TextSink final : public ReportSink {
 public:
  TextSink(LineOut& out, const ReportOptions& opts) : out_(out), opts_(opts) {
    std::string why;
    if (!opts_.only_client.empty()) {
      CaptureNet net;
      if (parse_capture_net(opts_.only_client, net, why)) client_net_ = net;
    }
    for (const std::string& id : opts_.only_rules)
      if (auto r = rule_from_id(id)) only_rules_.push_back(*r);
  }

  void on_http_error(const EventContext& c, const HttpErrorEvent& e) override {
    problem(conn(c.conn), "not HTTP");
    emit(EventLevel::warn, c.conn, Kind::other, [&] {
      return std::string(direction_arrow(e.dir)) + " not HTTP at offset " +
             std::to_string(e.error.offset) + ": " + e.error.name + " (" +
             escape_text(e.error.reason) + "); relaying this direction unparsed from here on" +
             (e.starts_with_tls ? std::string("\n    ") + kTlsToPlainHint : std::string());
    });
  }

  void on_handshake(const EventContext& c, const HandshakeEvent& e) override {
    Conn& k = conn(c.conn);
    if (k.path.empty()) k.path = e.request.path;
    if (level_of(e) >= EventLevel::warn) {
      for (const auto* list : {&e.request_findings, &e.response_findings})
        for (const Finding& f : *list) problem(k, std::string(rule_info(f.rule).id), f.rule);
    }
    emit(level_of(e), c.conn, Kind::handshake, [&] {
      const HandshakeRequest& r = e.request;
      const Negotiated* n = e.negotiated;
      const uint16_t status = e.response ? e.response->status : 0;
      std::string text = "handshake " + escape_text(r.method) + " " + shown_path(r.path, r.query) +
                         " host=" + escape_text(r.host) + " -> " +
                         (status ? std::to_string(status) : std::string("no response"));
      text += n && n->websocket ? " (upgraded)" : " (not upgraded)";
      auto shown_token = [&](const std::string& t) {
        return escape_text(opts_.show_secrets ? t : redact_subprotocol(t));
      };
      if (!r.offered_subprotocols.empty() || (n && !n->subprotocol.empty())) {
        std::string offered;
        for (const std::string& p : r.offered_subprotocols)
          offered += (offered.empty() ? "" : ", ") + shown_token(p);
        text += " subprotocols offered [" + offered + "] selected " +
                (n && !n->subprotocol.empty() ? shown_token(n->subprotocol) : "none");
      }
      if (!r.extensions_header.empty() || (n && !n->extensions.empty()))
        text += " extensions offered \"" + escape_text(r.extensions_header) + "\" selected " +
                (n && !n->extensions.empty() ? "\"" + escape_text(n->extensions) + "\""
                                             : std::string("none"));
      if (!e.forwarded_host.empty())
        text += " forwarded with Host " + escape_text(e.forwarded_host);
      if (e.tls_client) text += "\n    tls client leg: " + tls_text(*e.tls_client);
      if (e.tls_server) text += "\n    tls server leg: " + tls_text(*e.tls_server);
      for (const auto* list : {&e.request_findings, &e.response_findings}) {
        for (const Finding& f : *list) {
          const RuleInfo& info = rule_info(f.rule);
          text += "\n    " + std::string(severity_name(info.severity)) + " " +
                  std::string(info.id) + " (" + std::string(info.rfc) +
                  "): " + escape_text(f.detail);
          if (first_time("rule:" + std::string(info.id)))
            text += "\n      " + std::string(rules_text(opts_.lang).fix_label) +
                    std::string(rule_text(info, opts_.lang).fix);
        }
      }
      return text;
    });
  }

  void on_http(const EventContext& c, const HttpExchangeEvent& e) override {
    Conn& k = conn(c.conn);
    if (k.path.empty()) k.path = e.path;
    if (!e.status) problem(k, "no response");
    emit(e.status ? EventLevel::info : EventLevel::warn, c.conn, Kind::http, [&] {
      return "http " + escape_text(e.method) + " " + shown_path(e.path, e.query) + " -> " +
             (e.status ? std::to_string(e.status) : std::string("no response"));
    });
  }

  void on_frame(const EventContext& c, Direction d, const FrameHeader& h) override {
    emit(EventLevel::debug, c.conn, Kind::other, [&] { return frame_text(d, h); });
  }

  void on_message(const EventContext& c, const MessageInfo& m) override {
    emit(EventLevel::debug, c.conn, Kind::other, [&] { return message_text(m); });
  }

  void on_preview(const EventContext& c, const PreviewEvent& e) override {
    emit(EventLevel::info, c.conn, Kind::other, [&] { return preview_text(e.message, e.content); });
  }

  void on_violation(const EventContext& c, const Violation& v) override {
    const RuleInfo& r = rule_info(v.rule);
    ++rules_[std::string(r.id)];
    problem(conn(c.conn), std::string(r.id), v.rule);
    emit(level_of(v), c.conn, Kind::other, [&] {
      std::string out = std::string(direction_arrow(v.dir)) + " " +
                        std::string(severity_name(r.severity)) + " " + std::string(r.id) +
                        " at offset " + std::to_string(v.offset) + ", frame #" +
                        std::to_string(v.frame_index);
      if (v.header) out += " (header " + hex_bytes({v.header->raw, v.header->raw_len}) + ")";
      out += ": " + escape_text(v.detail);
      if (first_time("rule:" + std::string(r.id))) {
        const RuleText t = rule_text(r, opts_.lang);
        const bool pt = opts_.lang == Lang::pt_br;
        out += std::string(pt ? "\n    regra: " : "\n    rule: ") + std::string(t.summary) + " (" +
               std::string(r.rfc);
        if (r.close_code)
          out += (pt ? "; uma ponta fecha com " : "; an endpoint closes with ") +
                 std::to_string(r.close_code);
        out += ")\n    " + std::string(rules_text(opts_.lang).fix_label) + std::string(t.fix);
      }
      return out;
    });
  }

  void on_close(const EventContext& c, const CloseEvent& e) override {
    const CloseFrame& f = e.frame;
    Conn& k = conn(c.conn);
    ++closes_[{f.code, dir_index(f.dir)}];
    k.closes += (k.closes.empty() ? "" : ", ") + std::to_string(f.code) + " " +
                std::string(direction_arrow(f.dir));
    const bool problem_close = !normal_close(f) || e.caused_by || e.unseen_corruption;
    if (problem_close) problem(k, "close " + std::to_string(f.code));
    emit(problem_close ? EventLevel::warn : EventLevel::info, c.conn, Kind::other, [&] {
      const CloseCodeInfo& info = close_code_info(f.code);
      std::string text = std::string(direction_arrow(f.dir)) + " close frame #" +
                         std::to_string(f.frame_index) + " at offset " + std::to_string(f.offset) +
                         ": " + std::to_string(f.code) + " " + std::string(info.name);
      if (!f.has_code) text += " (no status code in the frame)";
      if (!f.reason.empty()) text += " reason=\"" + escape_bytes(f.reason) + "\"";
      if (!f.valid()) text += " (INVALID)";
      if (e.in_reply) text += ", in reply to the " + endpoint_receiving(f.dir) + "'s close";
      if (const CloseCause* cause = e.caused_by) text += cause_text(*cause);
      if (!e.caused_by && e.unseen_corruption) text += "\n    note: " + unseen_corruption_note(f);
      text += explanation(f.code, problem_close);
      return text;
    });
  }

  void on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) override {
    const std::string who = endpoint_receiving(e.dir);
    const CloseCodeInfo& info = close_code_info(e.code);
    Conn& k = conn(c.conn);
    ++closes_[{e.code, dir_index(e.dir)}];
    k.closes += (k.closes.empty() ? "" : ", ") + std::to_string(e.code) + " " +
                std::string(direction_arrow(e.dir)) + " (no frame)";
    if (e.code == 1001) {
      emit(EventLevel::info, c.conn, Kind::other, [&] {
        return std::string(direction_arrow(e.dir)) + " wsinspect sent the " + who + " close 1001 " +
               std::string(info.name) + " while shutting down";
      });
      return;
    }
    problem(k, std::to_string(e.code) + " at the " + who);
    emit(EventLevel::warn, c.conn, Kind::other, [&] {
      std::string text = std::string(direction_arrow(e.dir)) + " no close frame reached the " +
                         who + ": its application reports " + std::to_string(e.code) + " " +
                         std::string(info.name) + " (" + std::string(end_cause_id(e.cause)) + ")";
      if (e.caused_by) text += cause_text(*e.caused_by);
      if (first_time("cause:" + std::string(end_cause_id(e.cause))))
        text += "\n    cause: " + describe_end_cause(e.cause, opts_);
      text += explanation(e.code, true);
      return text;
    });
  }

  void on_gap(const EventContext& c, const GapEvent& e) override {
    problem(conn(c.conn), "gap");
    emit(EventLevel::warn, c.conn, Kind::other, [&] {
      return std::string(direction_arrow(e.dir)) + " gap: bytes from offset " +
             std::to_string(e.from) + " on are not inspected (" + std::string(e.reason) +
             "); this direction is only counted from here on";
    });
  }

  // One line per connection, in the spirit of HAProxy's log line.
  void on_conn_close(const EventContext& c, const ConnCloseEvent& e) override {
    Conn& k = conn(c.conn);
    ++ends_[std::string(end_cause_id(e.ended_by))];
    uint64_t errors = 0;
    for (const DirectionSummary& d : e.dir)
      if (d.stats) errors += d.stats->errors;
    if (errors && !k.problem) problem(k, "errors");
    emit_as(
        LineClass::kept, k.problem ? EventLevel::warn : EventLevel::info, c.conn, Kind::summary,
        [&] {
          std::string text = "connection closed after " + duration_text(e.duration_ms) + ": " +
                             (k.client.empty() ? std::string("?") : k.client);
          if (!k.path.empty()) text += " " + shown_path(k.path);
          for (size_t i = 0; i < 2; ++i) {
            const Direction d = i == 0 ? Direction::client_to_server : Direction::server_to_client;
            text += ", " + std::string(direction_arrow(d)) + " " + size_text(e.dir[i].bytes);
            if (const InspectorStats* st = e.dir[i].stats)
              text += " in " + count_text(st->frames, "frame", "frames");
            if (e.dir[i].closes_unreported)
              text += " (" + count_text(e.dir[i].closes_unreported, "close", "closes") +
                      " not logged one by one)";
          }
          if (!k.closes.empty()) text += "; closes " + k.closes;
          text += "; " + std::string(end_cause_id(e.ended_by));
          if (k.problem) text += "; first problem: " + k.first_problem;
          if (e.handshakes_unreported)
            text += "; " +
                    count_text(e.handshakes_unreported, "more handshake", "more handshakes") +
                    " without an upgrade not logged one by one";
          if (e.unanswered_unreported)
            text += "; " + count_text(e.unanswered_unreported, "more request", "more requests") +
                    " without a response not logged one by one";
          return text;
        });
    conns_.erase(c.conn);
  }

  void on_listening(const ListeningEvent& e) override {
    emit_as(LineClass::always, EventLevel::info, 0, Kind::other, [&] {
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

  // Shown at debug level: the connection's summary line names the client.
  void on_conn_open(const EventContext& c, std::string_view client) override {
    conn(c.conn).client = client;
    emit(EventLevel::debug, c.conn, [&] { return "connection from " + std::string(client); });
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
    problem(conn(c.conn), "upstream " + std::string(e.stage));
    emit(EventLevel::warn, c.conn, [&] {
      return "upstream " + std::string(e.upstream) + " unreachable (" + std::string(e.stage) +
             "): " + std::string(e.error) + "; answering the client with " +
             std::to_string(e.status);
    });
  }

  void on_shutdown(std::string_view signal, size_t open, uint64_t drain_ms) override {
    emit_as(LineClass::always, EventLevel::info, 0, Kind::other, [&] {
      return std::string(signal) + ": no longer accepting; " +
             count_text(open, "open connection gets ", "open connections get ") +
             duration_text(drain_ms) + " to finish";
    });
  }

  void on_drain_over(size_t open) override {
    emit_kept(EventLevel::warn, 0, [&] {
      return "drain time over: ending " + count_text(open, "open connection", "open connections");
    });
  }

  // The totals, then a table of how the connections ended, the close codes
  // and the rules broken.
  void on_stopped(const ProxyTotals& t) override {
    emit_as(LineClass::always, EventLevel::info, 0, Kind::other, [&] {
      std::string text =
          "stopped after " + count_text(t.accepted, "connection", "connections") + ": " +
          count_text(t.violations, "violation", "violations") + ", " +
          count_text(t.handshake_findings, "handshake finding", "handshake findings") + ", " +
          count_text(t.upstream_errors, "upstream error", "upstream errors") + ", " +
          count_text(t.tls_errors, "TLS handshake failure", "TLS handshake failures") + ", " +
          std::to_string(t.refused) + " refused";
      if (t.log_dropped)
        text += ", " + count_text(t.log_dropped, "log line", "log lines") +
                " dropped over the log budget";
      if (t.capture_dropped)
        text += ", " + count_text(t.capture_dropped, "captured packet", "captured packets") +
                " dropped (the disk fell behind)";
      auto row = [&](const char* title, const std::vector<std::pair<std::string, uint64_t>>& r) {
        if (r.empty()) return;
        text += "\n    " + std::string(title) + ":";
        for (const auto& [name, n] : r) text += " " + name + " " + std::to_string(n) + ",";
        text.pop_back();
      };
      std::vector<std::pair<std::string, uint64_t>> ends(ends_.begin(), ends_.end());
      std::vector<std::pair<std::string, uint64_t>> closes, rules(rules_.begin(), rules_.end());
      for (const auto& [key, n] : closes_)
        closes.emplace_back(
            std::to_string(key.first) + " " +
                std::string(direction_arrow(key.second == 0 ? Direction::client_to_server
                                                            : Direction::server_to_client)),
            n);
      row("ended by", ends);
      row("close codes", closes);
      row("rules", rules);
      return text;
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
  enum class Kind : uint8_t { other, handshake, http, summary };

  static std::string cause_text(const CloseCause& k) {
    const std::string id(rule_info(k.rule).id);
    if (k.handshake)
      return "; caused by: " + id + " in the server's 101 (response offset " +
             std::to_string(k.offset) + "), which clients fail the connection on";
    std::string t = "; caused by: " + id + " flagged " + std::string(direction_arrow(k.dir)) +
                    " at offset " + std::to_string(k.offset) + ", frame #" +
                    std::to_string(k.frame_index) + ", " + std::to_string(k.ms_before) +
                    " ms earlier";
    if (k.message_size) t += " (a message of " + size_text(k.message_size) + ")";
    return t;
  }

  // What the text log keeps of an open connection: for its summary line and
  // for the filters.
  struct Conn {
    std::string client;
    std::string path;
    std::string closes;
    bool problem = false;
    bool rule_hit = false;  // broke one of --only-rule
    std::string first_problem;
    // --only-problems: the handshake line, shown once a problem comes.
    EventLevel held_level = EventLevel::info;
    std::string held;
  };

  Conn& conn(uint64_t id) { return conns_[id]; }

  void problem(Conn& k, std::string what, std::optional<Rule> rule = std::nullopt) {
    if (!k.problem) {
      k.problem = true;
      k.first_problem = std::move(what);
    }
    if (rule && std::find(only_rules_.begin(), only_rules_.end(), *rule) != only_rules_.end())
      k.rule_hit = true;
  }

  // Whether an explanation (of a close code, a rule, an end cause) is
  // printed here: --explain once prints each the first time it appears.
  bool first_time(const std::string& key) {
    switch (opts_.explain) {
      case ExplainMode::always:
        return true;
      case ExplainMode::never:
        return false;
      case ExplainMode::once:
        break;
    }
    return explained_.insert(key).second;
  }

  std::string explanation(uint16_t code, bool problem_close) {
    const CloseCodeInfo& info = close_code_info(code);
    if (!first_time("close:" + std::to_string(info.first))) {
      return problem_close && opts_.explain == ExplainMode::once ? " (explained above)"
                                                                 : std::string();
    }
    if (opts_.lang == Lang::en)
      return "\n    what it means: " + std::string(info.description) +
             "\n    when you see it: " + std::string(info.when) +
             "\n    how to fix it: " + std::string(info.fix);
    const CloseCodeText t = close_code_text(info, opts_.lang);
    const ExplainText& x = explain_text(opts_.lang);
    return "\n    " + std::string(x.what_it_means) + ": " + std::string(t.description) + "\n    " +
           std::string(x.when_you_see_it) + ": " + std::string(t.when) + "\n    " +
           std::string(x.how_to_fix_it) + ": " + std::string(t.fix);
  }

  bool filtering() const {
    return opts_.only_problems || !only_rules_.empty() || !opts_.only_path.empty() ||
           client_net_.has_value();
  }

  template <class Build>
  void emit(EventLevel level, uint64_t conn, Build build) {
    emit_as(LineClass::budgeted, level, conn, Kind::other, build);
  }
  template <class Build>
  void emit(EventLevel level, uint64_t conn, Kind kind, Build build) {
    emit_as(LineClass::budgeted, level, conn, kind, build);
  }
  // The lines the log budget never drops (see LineClass).
  template <class Build>
  void emit_kept(EventLevel level, uint64_t conn, Build build) {
    emit_as(LineClass::kept, level, conn, Kind::other, build);
  }
  template <class Build>
  void emit_as(LineClass cls, EventLevel level, uint64_t id, Kind kind, Build build) {
    if (id && filtering()) {
      Conn& k = conn(id);
      if (client_net_ && !client_in(*client_net_, k.client)) return;
      if (!opts_.only_path.empty() && k.path.rfind(opts_.only_path, 0) != 0) return;
      const bool wanted = !only_rules_.empty() ? k.rule_hit : k.problem;
      if ((opts_.only_problems || !only_rules_.empty()) && !wanted) {
        if (kind == Kind::handshake || kind == Kind::http) {
          k.held_level = level;
          k.held = stamped(level, id, build());
        }
        return;
      }
      if (!k.held.empty()) {
        if (out_.admit(k.held_level, LineClass::kept)) out_.write(k.held_level, k.held);
        k.held.clear();
      }
    }
    if (!out_.admit(level, cls)) return;
    out_.write(level, stamped(level, id, build()));
  }

  std::string stamped(EventLevel level, uint64_t conn, const std::string& text) const {
    if (opts_.color) return colored(level, plain_stamped(conn, text));
    return plain_stamped(conn, text);
  }
  std::string plain_stamped(uint64_t conn, const std::string& text) const {
    if (!opts_.stamped) return text;
    const std::string ts = timestamp_now();
    char prefix[64];
    if (conn)
      std::snprintf(prefix, sizeof prefix, "%s #%llu ", ts.c_str() + 11,
                    static_cast<unsigned long long>(conn));
    else
      std::snprintf(prefix, sizeof prefix, "%s ", ts.c_str() + 11);
    return prefix + text;
  }

  // The line in colour: problems in the colour of their level, the
  // directions in two others. Every "c->s" and "s->c" is coloured, one in a
  // peer's text too; the escapes are all ours, since a peer's bytes are
  // escaped before they reach a line.
  static std::string colored(EventLevel level, const std::string& line) {
    const std::string_view base = level == EventLevel::error  ? "\033[1;31m"
                                  : level == EventLevel::warn ? "\033[1;33m"
                                                              : "";
    // The event's own line in colour; the indented explanation under it stays plain.
    const size_t head = std::min(line.find('\n'), line.size());
    std::string out(base);
    for (size_t at = 0;;) {
      const size_t c2s = line.find("c->s", at), s2c = line.find("s->c", at);
      const size_t next = std::min({c2s, s2c, head});
      if (next == head) {
        out.append(line, at, head - at);
        break;
      }
      out.append(line, at, next - at)
          .append(next == c2s ? "\033[36m" : "\033[35m")
          .append(line, next, 4)
          .append("\033[0m")
          .append(base);
      at = next + 4;
    }
    if (!base.empty()) out += "\033[0m";
    out.append(line, head);
    return out;
  }

  // The path, escaped, with credential path parameters redacted; the query
  // string (and fragment) in clear only with --show-secrets: tokens and
  // session ids travel there under any name.
  std::string shown_path(std::string_view path, std::string_view query = {}) const {
    if (opts_.show_secrets) return escape_text(std::string(path) + std::string(query));
    if (query.empty()) return escape_text(redact_url(path));
    return escape_text(redact_url(path)) + (query[0] == '?' ? "?[query hidden]" : "#[hidden]");
  }

  LineOut& out_;
  ReportOptions opts_;
  std::optional<CaptureNet> client_net_;
  std::vector<Rule> only_rules_;
  std::unordered_map<uint64_t, Conn> conns_;
  std::unordered_set<std::string> explained_;
  // For the table at the end of the run.
  std::map<std::string, uint64_t> ends_;
  std::map<std::pair<uint16_t, size_t>, uint64_t> closes_;
  std::map<std::string, uint64_t> rules_;
};

}  // namespace

std::unique_ptr<ReportSink> make_text_sink(LineOut& out, const ReportOptions& opts) {
  return std::make_unique<TextSink>(out, opts);
}

}  // namespace wsi
