// What both formats share: event levels, the sentences for end causes and
// unseen corruption, and the fan-out sink.
#include "parser/close_codes.h"
#include "proxy/report/report_sink.h"

namespace wsi {

const char* level_name(EventLevel l) {
  switch (l) {
    case EventLevel::debug:
      return "debug";
    case EventLevel::info:
      return "info";
    case EventLevel::warn:
      return "warn";
    case EventLevel::error:
      return "error";
  }
  return "info";
}

EventLevel level_of(const CloseEvent& e) {
  const CloseFrame& c = e.frame;
  const bool normal = c.valid() && (c.code == 1000 || c.code == 1001);
  return normal ? EventLevel::info : EventLevel::warn;
}

EventLevel level_of(const Violation& v) {
  return rule_info(v.rule).severity == Severity::error ? EventLevel::error : EventLevel::warn;
}

EventLevel level_of(const HandshakeEvent& e) {
  size_t errors = 0;
  for (const auto* list : {&e.request_findings, &e.response_findings})
    for (const Finding& f : *list)
      if (rule_info(f.rule).severity == Severity::error) ++errors;
  if (errors) return EventLevel::error;
  return e.request_findings.empty() && e.response_findings.empty() ? EventLevel::info
                                                                   : EventLevel::warn;
}

std::string describe_end_cause(EndCause cause, const ReportOptions& opts) {
  switch (cause) {
    case EndCause::client_fin:
      return "The client closed its TCP connection (FIN) before a close frame was exchanged.";
    case EndCause::server_fin:
      return "The server closed its TCP connection (FIN) before a close frame was exchanged.";
    case EndCause::client_reset:
      return "The client's side of the TCP connection was reset (RST) or failed; wsinspect passed "
             "the reset on to the server.";
    case EndCause::server_reset:
      return "The server's side of the TCP connection was reset (RST) or failed; wsinspect "
             "passed the reset on to the client.";
    case EndCause::idle_timeout:
      return "wsinspect closed the connection after " + std::to_string(opts.idle_timeout_ms) +
             " ms without traffic (--idle-timeout).";
    case EndCause::handshake_timeout:
      return "wsinspect closed the connection: a request or response head did not come within " +
             std::to_string(opts.handshake_timeout_ms) + " ms (--handshake-timeout).";
    case EndCause::http_inactivity:
      return "wsinspect closed the connection: an HTTP message stopped arriving for " +
             std::to_string(opts.http_inactivity_timeout_ms) + " ms (--http-inactivity-timeout).";
    case EndCause::proxy_shutdown:
      return "wsinspect was shutting down and ended the connection after its drain time.";
    case EndCause::upstream_unreachable:
      return "wsinspect could not reach the upstream " + opts.upstream_label + ".";
    case EndCause::close_handshake:
      return "Both close frames were exchanged.";
    case EndCause::tls_handshake_failed:
      return "The TLS handshake with the client failed (see the tls_error event).";
    case EndCause::capture_ended:
      return "The capture ended with the connection still open.";
    case EndCause::forward_refused:
      return "wsinspect refused the client's proxy request (forward mode) and closed the "
             "connection.";
    case EndCause::none:
      break;
  }
  return "The connection ended.";
}

bool tls_end_is_problem(const TlsEndEvent& e) {
  return !e.close_notify && !e.close_handshake_done;
}

std::string tls_end_detail(const TlsEndEvent& e) {
  const std::string who(e.leg);
  if (e.close_notify) return "the " + who + " ended its TLS stream with close_notify";
  if (e.close_handshake_done)
    return "the " + who +
           " closed TCP without TLS close_notify after the WebSocket close handshake (common, "
           "harmless)";
  return "the " + who +
         " closed TCP without TLS close_notify before the WebSocket close handshake: the stream "
         "was truncated (an endpoint or a hop cut the connection; the other side sees 1006)";
}

std::string unseen_corruption_note(const CloseFrame& c) {
  const std::string sender = c.dir == Direction::client_to_server ? "client" : "server";
  const Direction received = opposite(c.dir);
  return "The " + sender + " closed with " + std::to_string(c.code) +
         ", but every frame wsinspect relayed to it (" + std::string(direction_name(received)) +
         ") was valid: the corruption happened between wsinspect and the " + sender +
         " (a hop on that side, or the endpoint's own reading), not on the side wsinspect sees.";
}

#define WSI_FAN_OUT(call) \
  for (ReportSink * s : sinks_) s->call

void FanOutSink::on_http_error(const EventContext& c, const HttpErrorEvent& e) {
  WSI_FAN_OUT(on_http_error(c, e));
}
void FanOutSink::on_handshake(const EventContext& c, const HandshakeEvent& e) {
  WSI_FAN_OUT(on_handshake(c, e));
}
void FanOutSink::on_http(const EventContext& c, const HttpExchangeEvent& e) {
  WSI_FAN_OUT(on_http(c, e));
}
void FanOutSink::on_frame(const EventContext& c, Direction d, const FrameHeader& h) {
  WSI_FAN_OUT(on_frame(c, d, h));
}
void FanOutSink::on_message(const EventContext& c, const MessageInfo& m) {
  WSI_FAN_OUT(on_message(c, m));
}
void FanOutSink::on_frame_digest(const EventContext& c, const FrameDigestEvent& e) {
  WSI_FAN_OUT(on_frame_digest(c, e));
}
void FanOutSink::on_message_digest(const EventContext& c, const MessageDigestEvent& e) {
  WSI_FAN_OUT(on_message_digest(c, e));
}
void FanOutSink::on_hop_diff(const EventContext& c, const HopDiffEvent& e) {
  WSI_FAN_OUT(on_hop_diff(c, e));
}
void FanOutSink::on_hop_verdict(const EventContext& c, const HopVerdictEvent& e) {
  WSI_FAN_OUT(on_hop_verdict(c, e));
}
void FanOutSink::on_hop_unmatched(const EventContext& c, const HopUnmatchedEvent& e) {
  WSI_FAN_OUT(on_hop_unmatched(c, e));
}
void FanOutSink::on_preview(const EventContext& c, const PreviewEvent& e) {
  WSI_FAN_OUT(on_preview(c, e));
}
void FanOutSink::on_violation(const EventContext& c, const Violation& v) {
  WSI_FAN_OUT(on_violation(c, v));
}
void FanOutSink::on_close(const EventContext& c, const CloseEvent& e) {
  WSI_FAN_OUT(on_close(c, e));
}
void FanOutSink::on_synthesized_close(const EventContext& c, const SynthesizedCloseEvent& e) {
  WSI_FAN_OUT(on_synthesized_close(c, e));
}
void FanOutSink::on_gap(const EventContext& c, const GapEvent& e) {
  WSI_FAN_OUT(on_gap(c, e));
}
void FanOutSink::on_conn_close(const EventContext& c, const ConnCloseEvent& e) {
  WSI_FAN_OUT(on_conn_close(c, e));
}
void FanOutSink::on_listening(const ListeningEvent& e) {
  WSI_FAN_OUT(on_listening(e));
}
void FanOutSink::on_conn_open(const EventContext& c, std::string_view client) {
  WSI_FAN_OUT(on_conn_open(c, client));
}
void FanOutSink::on_refusal_summary(uint64_t refused, uint64_t window_ms) {
  WSI_FAN_OUT(on_refusal_summary(refused, window_ms));
}
void FanOutSink::on_conn_refused(const EventContext& c, uint64_t limit) {
  WSI_FAN_OUT(on_conn_refused(c, limit));
}
void FanOutSink::on_upstream_error(const EventContext& c, const UpstreamErrorEvent& e) {
  WSI_FAN_OUT(on_upstream_error(c, e));
}
void FanOutSink::on_tls_error(const EventContext& c, const TlsErrorEvent& e) {
  WSI_FAN_OUT(on_tls_error(c, e));
}
void FanOutSink::on_forward(const EventContext& c, const ForwardEvent& e) {
  WSI_FAN_OUT(on_forward(c, e));
}
void FanOutSink::on_tls_end(const EventContext& c, const TlsEndEvent& e) {
  WSI_FAN_OUT(on_tls_end(c, e));
}
void FanOutSink::on_shutdown(std::string_view signal, size_t open, uint64_t drain_ms) {
  WSI_FAN_OUT(on_shutdown(signal, open, drain_ms));
}
void FanOutSink::on_drain_over(size_t open) {
  WSI_FAN_OUT(on_drain_over(open));
}
void FanOutSink::on_log_dropped(uint64_t dropped, uint64_t total, uint64_t window_ms,
                                uint32_t lines_per_second) {
  WSI_FAN_OUT(on_log_dropped(dropped, total, window_ms, lines_per_second));
}
void FanOutSink::on_stopped(const ProxyTotals& t) {
  WSI_FAN_OUT(on_stopped(t));
}

#undef WSI_FAN_OUT

}  // namespace wsi
