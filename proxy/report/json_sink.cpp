// The JSON form of every event: one object per line, the schema of
// docs/events.md (fields are added, never renamed).
#include "parser/close_codes.h"
#include "proxy/event_format.h"
#include "proxy/event_log.h"
#include "proxy/report/report_sink.h"

namespace wsi {
namespace {

using Json = nlohmann::ordered_json;

Json finding_json(const Finding& f) {
  const RuleInfo& r = rule_info(f.rule);
  const bool request = std::string_view(r.id).rfind("request-", 0) == 0;
  return {{"dir", request ? "client_to_server" : "server_to_client"},
          {"rule", r.id},
          {"severity", severity_name(r.severity)},
          {"close_code", r.close_code},
          {"http_status", r.http_status},
          {"rfc", r.rfc},
          {"offset", f.offset},
          {"detail", escape_text(f.detail)},
          {"summary", r.summary},
          {"fix", r.fix}};
}

Json string_array(const std::vector<std::string>& v) {
  Json a = Json::array();
  for (const std::string& s : v) a.push_back(escape_text(s));
  return a;
}

class JsonSink final : public ReportSink {
 public:
  JsonSink(LineOut& out, const ReportOptions& opts) : out_(out), opts_(opts) {}

  void on_http_error(const EventContext& c, const HttpErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      return Json{{"event", "http_error"},
                  {"dir", direction_name(e.dir)},
                  {"error", e.error.name},
                  {"reason", escape_text(e.error.reason)},
                  {"offset", e.error.offset}};
    });
  }

  void on_handshake(const EventContext& c, const HandshakeEvent& e) override {
    emit(level_of(e), c.conn, [&] {
      const HandshakeRequest& r = e.request;
      Json headers = Json::object();
      for (const HttpHeader& h : e.headers) {
        const std::string name = escape_text(h.name);
        const std::string value =
            !opts_.show_secrets && is_secret_header(h.name) ? "[redacted]" : escape_text(h.value);
        // A header sent on several lines keeps every value, joined as HTTP would.
        if (headers.contains(name))
          headers[name] = headers[name].get<std::string>() + ", " + value;
        else
          headers[name] = value;
      }
      Json findings = Json::array();
      for (const auto* list : {&e.request_findings, &e.response_findings})
        for (const Finding& f : *list) findings.push_back(finding_json(f));
      const Negotiated* n = e.negotiated;
      return Json{{"event", "handshake"},
                  {"path", escape_text(r.path)},
                  {"host", escape_text(r.host)},
                  {"subprotocols_offered", string_array(r.offered_subprotocols)},
                  {"extensions_offered", escape_text(r.extensions_header)},
                  {"status", e.response ? e.response->status : 0},
                  {"subprotocol", n ? escape_text(n->subprotocol) : ""},
                  {"extensions", n ? escape_text(n->extensions) : ""},
                  {"upgraded", n && n->websocket},
                  {"headers", headers},
                  {"findings", findings}};
    });
  }

  void on_http(const EventContext& c, const HttpExchangeEvent& e) override {
    emit(e.status ? EventLevel::info : EventLevel::warn, c.conn, [&] {
      return Json{{"event", "http"},
                  {"method", escape_text(e.method)},
                  {"path", escape_text(e.path)},
                  {"status", e.status}};
    });
  }

  void on_frame(const EventContext& c, Direction d, const FrameHeader& h) override {
    emit(EventLevel::debug, c.conn, [&] { return frame_json(d, h); });
  }

  void on_message(const EventContext& c, const MessageInfo& m) override {
    emit(EventLevel::debug, c.conn, [&] { return message_json(m); });
  }

  void on_preview(const EventContext& c, const PreviewEvent& e) override {
    emit(EventLevel::info, c.conn, [&] {
      const FrameHeader& h = e.header;
      return Json{{"event", "preview"},      {"dir", direction_name(e.dir)},
                  {"frame_index", h.index},  {"opcode_name", opcode::name(h.opcode)},
                  {"length", h.length},      {"payload", escape_text(e.payload)},
                  {"truncated", e.truncated}};
    });
  }

  void on_violation(const EventContext& c, const Violation& v) override {
    emit(level_of(v), c.conn, [&] { return violation_json(v); });
  }

  void on_close(const EventContext& c, const CloseEvent& e) override {
    emit(level_of(e), c.conn, [&] {
      Json j = close_json(e.frame);
      j["in_reply"] = e.in_reply;
      if (const CloseCause* k = e.caused_by) {
        j["caused_by"] = {{"rule", rule_info(k->rule).id},
                          {"dir", direction_name(k->dir)},
                          {"offset", k->offset},
                          {"frame_index", k->frame_index},
                          {"ms_before", k->ms_before}};
      } else if (e.unseen_corruption) {
        j["note"] = unseen_corruption_note(e.frame);
      }
      return j;
    });
  }

  void on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) override {
    const std::string who = e.dir == Direction::client_to_server ? "server" : "client";
    if (e.code == 1001) {
      emit(EventLevel::info, c.conn, [&] {
        return Json{{"event", "close"},
                    {"dir", direction_name(e.dir)},
                    {"synthesized", true},
                    {"sent_by", "wsinspect"},
                    {"endpoint", who},
                    {"code", 1001},
                    {"on_wire", true},
                    {"name", close_code_info(1001).name},
                    {"reason", "wsinspect shutting down"},
                    {"valid", true},
                    {"cause", end_cause_id(e.cause)},
                    {"explanation", explanation_json(1001)}};
      });
      return;
    }
    emit(EventLevel::warn, c.conn, [&] {
      return Json{{"event", "close"},
                  {"dir", direction_name(e.dir)},
                  {"synthesized", true},
                  {"endpoint", who},
                  {"code", e.code},
                  {"on_wire", false},
                  {"name", close_code_info(e.code).name},
                  {"reason", ""},
                  {"valid", false},
                  {"cause", end_cause_id(e.cause)},
                  {"cause_detail", describe_end_cause(e.cause, opts_)},
                  {"explanation", explanation_json(e.code)}};
    });
  }

  void on_gap(const EventContext& c, const GapEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      return Json{
          {"event", "gap"}, {"dir", direction_name(e.dir)}, {"from", e.from}, {"reason", e.reason}};
    });
  }

  void on_conn_close(const EventContext& c, const ConnCloseEvent& e) override {
    emit(EventLevel::info, c.conn, [&] {
      Json j = {{"event", "conn_close"},
                {"duration_ms", e.duration_ms},
                {"ended_by", end_cause_id(e.ended_by)},
                {"upgraded", e.upgraded}};
      for (size_t i = 0; i < 2; ++i) {
        const Direction d = i == 0 ? Direction::client_to_server : Direction::server_to_client;
        Json dj = {{"bytes", e.dir[i].bytes}};
        if (const InspectorStats* st = e.dir[i].stats) {
          dj["frames"] = st->frames;
          dj["messages"] = st->messages;
          dj["errors"] = st->errors;
          dj["warnings"] = st->warnings;
          dj["closes"] = st->closes;
        }
        j[std::string(direction_name(d))] = dj;
      }
      return j;
    });
  }

  void on_listening(const ListeningEvent& e) override {
    emit(EventLevel::info, 0, [&] {
      return Json{{"event", "listening"},
                  {"address", e.address},
                  {"upstream", e.upstream},
                  {"url", e.url},
                  {"inspect", e.inspect}};
    });
  }

  void on_conn_open(const EventContext& c, std::string_view client) override {
    emit(EventLevel::info, c.conn, [&] {
      return Json{{"event", "conn_open"}, {"client", client}};
    });
  }

  void on_conn_refused(const EventContext& c, uint64_t limit) override {
    emit(EventLevel::warn, c.conn, [&] {
      return Json{{"event", "conn_refused"}, {"reason", "max_connections"}, {"limit", limit}};
    });
  }

  void on_upstream_error(const EventContext& c, const UpstreamErrorEvent& e) override {
    emit(EventLevel::warn, c.conn, [&] {
      return Json{{"event", "upstream_error"},
                  {"upstream", e.upstream},
                  {"stage", e.stage},
                  {"error", e.error},
                  {"status", e.status}};
    });
  }

  void on_shutdown(std::string_view signal, size_t open, uint64_t drain_ms) override {
    emit(EventLevel::info, 0, [&] {
      return Json{{"event", "shutdown"},
                  {"signal", signal},
                  {"open_connections", open},
                  {"drain_ms", drain_ms}};
    });
  }

  void on_drain_over(size_t open) override {
    emit(EventLevel::warn, 0, [&] {
      return Json{{"event", "shutdown"}, {"phase", "forced"}, {"open_connections", open}};
    });
  }

  void on_stopped(const ProxyTotals& t) override {
    emit(EventLevel::info, 0, [&] {
      return Json{{"event", "stopped"},         {"connections", t.accepted},
                  {"refused", t.refused},       {"upstream_errors", t.upstream_errors},
                  {"violations", t.violations}, {"handshake_findings", t.handshake_findings}};
    });
  }

 private:
  template <class Build>
  void emit(EventLevel level, uint64_t conn, Build build) {
    if (!out_.enabled(level)) return;
    const std::string event =
        build().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!opts_.stamped) {
      out_.write(level, event);
      return;
    }
    // "ts", "level" and "conn" go in front of the event's own fields. They
    // need no escaping, so they are written as text and the event's object
    // is joined on, instead of copying its tree into a second one.
    std::string line = "{\"ts\":\"" + timestamp_now() + "\",\"level\":\"" + level_name(level) + '"';
    if (conn) line += ",\"conn\":" + std::to_string(conn);
    if (event.size() > 2) line += ',';
    line.append(event, 1, std::string::npos);
    out_.write(level, line);
  }

  LineOut& out_;
  ReportOptions opts_;
};

}  // namespace

std::unique_ptr<ReportSink> make_json_sink(LineOut& out, const ReportOptions& opts) {
  return std::make_unique<JsonSink>(out, opts);
}

}  // namespace wsi
