#include "proxy/taps/metrics.h"

#include <string>
#include <vector>

#include "parser/frame.h"

namespace wsi {
namespace {

constexpr EndCause kEndCauseList[] = {
    EndCause::none,
    EndCause::close_handshake,
    EndCause::client_fin,
    EndCause::server_fin,
    EndCause::client_reset,
    EndCause::server_reset,
    EndCause::idle_timeout,
    EndCause::handshake_timeout,
    EndCause::proxy_shutdown,
    EndCause::upstream_unreachable,
    EndCause::tls_handshake_failed,
    EndCause::http_inactivity,
    EndCause::capture_ended,
    EndCause::forward_refused,
};
// forward_refused is the last enumerator: a new one must be added here too.
static_assert(std::size(kEndCauseList) == static_cast<size_t>(EndCause::forward_refused) + 1,
              "every end cause, in enum order");

// What Session::upstream_failed is called with.
constexpr std::string_view kStageList[] = {"resolve", "connect", "tls", "response", "timeout"};

// One representative opcode per label: the six defined, then any reserved one.
constexpr uint8_t kOpcodeOf[kOpcodeLabels] = {
    opcode::continuation, opcode::text, opcode::binary, opcode::close, opcode::ping,
    opcode::pong,         0x3};

size_t cause_index(EndCause c) {
  const size_t i = static_cast<size_t>(c);
  return i < std::size(kEndCauseList) ? i : 0;
}

// The labels of close codes, and for each catalogue entry its label.
struct CodeLabels {
  std::vector<std::string> text;
  std::vector<std::string_view> views;
  std::vector<size_t> of_entry;  // per all_close_codes() entry
  size_t invalid = 0;
  size_t no_code = 0;  // "1005"

  CodeLabels() {
    const auto entries = all_close_codes();
    text.reserve(entries.size() + 1);
    for (const CloseCodeInfo& e : entries) {
      if (e.registered)
        text.push_back(std::to_string(e.first));
      else if (e.allowed_on_wire)
        text.push_back(std::to_string(e.first) + "-" + std::to_string(e.last));
    }
    text.push_back("invalid");
    invalid = text.size() - 1;
    for (const std::string& t : text) views.push_back(t);
    size_t next = 0;
    for (const CloseCodeInfo& e : entries) {
      if (e.registered || e.allowed_on_wire) {
        if (e.registered && e.first == 1005) no_code = next;
        of_entry.push_back(next++);
      } else {
        of_entry.push_back(invalid);
      }
    }
  }

  size_t index(bool has_code, uint16_t code, bool length_valid) const {
    if (!has_code) return length_valid ? no_code : invalid;
    const CloseCodeInfo& info = close_code_info(code);
    const auto entries = all_close_codes();
    const size_t at = static_cast<size_t>(&info - entries.data());
    return at < of_entry.size() ? of_entry[at] : invalid;
  }
};

const CodeLabels& code_labels() {
  static const CodeLabels labels;
  return labels;
}

// Writes families and samples of the text exposition format 0.0.4.
class Exposition {
 public:
  explicit Exposition(std::string& out) : out_(out) {}

  struct Label {
    std::string_view name;
    std::string_view value;
  };

  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
      if (c == '\\')
        out_ += "\\\\";
      else if (c == '\n')
        out_ += "\\n";
      else
        out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::initializer_list<Label> labels, uint64_t value) {
    out_ += name_;
    if (labels.size() != 0) {
      char sep = '{';
      for (const Label& l : labels) {
        out_ += sep;
        sep = ',';
        out_ += l.name;
        out_ += "=\"";
        for (char c : l.value) {
          if (c == '\\')
            out_ += "\\\\";
          else if (c == '"')
            out_ += "\\\"";
          else if (c == '\n')
            out_ += "\\n";
          else
            out_ += c;
        }
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  void sample(uint64_t value) { sample({}, value); }

 private:
  std::string& out_;
  std::string_view name_;
};

constexpr Direction kDirections[] = {Direction::client_to_server, Direction::server_to_client};

}  // namespace

std::string_view close_code_label(bool has_code, uint16_t code, bool length_valid) {
  const CodeLabels& l = code_labels();
  return l.views[l.index(has_code, code, length_valid)];
}

std::span<const std::string_view> close_code_labels() {
  return code_labels().views;
}

size_t opcode_label_index(uint8_t op) {
  switch (op) {
    case opcode::continuation:
      return 0;
    case opcode::text:
      return 1;
    case opcode::binary:
      return 2;
    case opcode::close:
      return 3;
    case opcode::ping:
      return 4;
    case opcode::pong:
      return 5;
    default:
      return 6;
  }
}

std::string_view opcode_label(size_t index) {
  return opcode::name(kOpcodeOf[index < kOpcodeLabels ? index : kOpcodeLabels - 1]);
}

std::span<const EndCause> all_end_causes() {
  return kEndCauseList;
}

std::span<const std::string_view> upstream_stages() {
  return kStageList;
}

MetricsTap::MetricsTap(uint32_t max_reports_per_rule) : report_cap_(max_reports_per_rule) {
  static_assert(std::size(kEndCauseList) == kEndCauses);
  static_assert(std::size(kStageList) + 1 == kStages);
  code_labels();  // built now, not during the first close
}

void MetricsTap::on_conn_close(const EventContext&, const ConnCloseEvent& e) {
  closed_++;
  ended_[cause_index(e.ended_by)]++;
  handshakes_[unreported] += e.handshakes_unreported;
  http_unanswered_ += e.unanswered_unreported;
  for (size_t d = 0; d < 2; ++d) {
    const DirectionSummary& s = e.dir[d];
    closed_bytes_[d] += s.bytes;
    closes_unreported_[d] += s.closes_unreported;
    // Violations beyond the report cap were counted by the inspector only.
    if (s.stats && s.stats->suppressed) {
      for (size_t r = 0; r < kRuleCount; ++r) {
        const uint32_t n = s.stats->count(static_cast<Rule>(r));
        if (n > report_cap_) violations_[d][r] += n - report_cap_;
      }
    }
  }
}

void MetricsTap::on_handshake(const EventContext&, const HandshakeEvent& e) {
  if (!e.response)
    handshakes_[no_response]++;
  else if (e.negotiated && e.negotiated->websocket)
    handshakes_[upgraded]++;
  else
    handshakes_[refused]++;
  for (const auto* list : {&e.request_findings, &e.response_findings})
    for (const Finding& f : *list) findings_[static_cast<size_t>(f.rule)]++;
}

void MetricsTap::on_http(const EventContext&, const HttpExchangeEvent& e) {
  (e.status ? http_answered_ : http_unanswered_)++;
}

void MetricsTap::on_http_error(const EventContext&, const HttpErrorEvent& e) {
  http_errors_[dir_index(e.dir)]++;
}

void MetricsTap::on_frame(const EventContext&, Direction d, const FrameHeader& h) {
  const size_t op = opcode_label_index(h.opcode);
  frames_[dir_index(d)][op]++;
  frame_bytes_[dir_index(d)][op] += h.length;
}

void MetricsTap::on_message(const EventContext&, const MessageInfo& m) {
  const size_t op = opcode_label_index(m.opcode);
  messages_[dir_index(m.dir)][op]++;
  message_bytes_[dir_index(m.dir)][op] += m.size;
}

void MetricsTap::on_violation(const EventContext&, const Violation& v) {
  violations_[dir_index(v.dir)][static_cast<size_t>(v.rule)]++;
}

void MetricsTap::on_close(const EventContext&, const CloseEvent& e) {
  const CodeLabels& l = code_labels();
  const size_t i = l.index(e.frame.has_code, e.frame.code, e.frame.length_valid);
  if (i < kCodeLabels) closes_[dir_index(e.frame.dir)][i]++;
}

void MetricsTap::on_synthesized_close(const EventContext&, const SynthesizedCloseEvent& e) {
  if (e.code == 1001)
    going_away_[dir_index(e.dir)]++;
  else
    abnormal_[dir_index(e.dir)][cause_index(e.cause)]++;
}

void MetricsTap::on_upstream_error(const EventContext&, const UpstreamErrorEvent& e) {
  size_t i = 0;
  while (i < std::size(kStageList) && kStageList[i] != e.stage) ++i;
  upstream_errors_[i]++;
}

void MetricsTap::on_tls_error(const EventContext&, const TlsErrorEvent& e) {
  tls_errors_[e.leg == "client" ? 0 : 1]++;
}

std::string MetricsTap::render(const MetricsLive& live) const {
  std::string out;
  out.reserve(48 * 1024);
  Exposition x(out);
  const auto dir = [](size_t d) { return direction_name(kDirections[d]); };

  x.family("wsinspect_build_info", "gauge", "Always 1; the version of wsinspect in its label.");
  x.sample({{"version", WSI_VERSION}}, 1);
  x.family("wsinspect_draining", "gauge",
           "1 while the proxy drains its connections after SIGTERM or SIGINT, else 0.");
  x.sample(live.draining ? 1 : 0);
  x.family("wsinspect_connections_open", "gauge", "Client connections open now.");
  x.sample(open_connections());
  x.family("wsinspect_connection_limit", "gauge",
           "Concurrent client connections accepted before more are refused.");
  x.sample(live.connection_limit);
  x.family("wsinspect_connections_total", "counter", "Client connections accepted.");
  x.sample(opened_);
  x.family("wsinspect_connections_refused_total", "counter",
           "Client connections refused over the connection limit (answered 503 or closed).");
  x.sample(live.refused);
  x.family("wsinspect_connections_ended_total", "counter",
           "Client connections ended, by end cause (the conn_close event's ended_by).");
  for (EndCause c : kEndCauseList) x.sample({{"cause", end_cause_id(c)}}, ended_[cause_index(c)]);

  x.family("wsinspect_handshakes_total", "counter",
           "WebSocket opening handshakes, by outcome: upgraded (101), refused (another status), "
           "no_response (the connection ended first), unreported (beyond --max-reports on one "
           "connection; not upgraded).");
  static constexpr std::string_view kOutcomeNames[] = {"upgraded", "refused", "no_response",
                                                       "unreported"};
  for (size_t o = 0; o < kOutcomes; ++o) x.sample({{"outcome", kOutcomeNames[o]}}, handshakes_[o]);
  x.family("wsinspect_handshake_findings_total", "counter",
           "Findings in opening handshakes (request and response), by rule.");
  for (const RuleInfo& r : all_rules()) {
    x.sample({{"rule", r.id}}, findings_[static_cast<size_t>(r.rule)]);
  }
  x.family("wsinspect_http_requests_total", "counter",
           "Plain HTTP requests (not WebSocket upgrades), by whether a response came.");
  x.sample({{"outcome", "answered"}}, http_answered_);
  x.sample({{"outcome", "unanswered"}}, http_unanswered_);
  x.family("wsinspect_http_errors_total", "counter",
           "Streams that stopped parsing as HTTP/1.x, by direction.");
  for (size_t d = 0; d < 2; ++d) x.sample({{"direction", dir(d)}}, http_errors_[d]);

  x.family("wsinspect_bytes_total", "counter",
           "Bytes relayed on client connections (HTTP and WebSocket), by direction.");
  for (size_t d = 0; d < 2; ++d)
    x.sample({{"direction", dir(d)}}, closed_bytes_[d] + live.open_bytes[d]);
  x.family("wsinspect_frames_total", "counter", "WebSocket frames, by direction and opcode.");
  for (size_t d = 0; d < 2; ++d)
    for (size_t op = 0; op < kOpcodeLabels; ++op)
      x.sample({{"direction", dir(d)}, {"opcode", opcode_label(op)}}, frames_[d][op]);
  x.family("wsinspect_frame_payload_bytes_total", "counter",
           "Payload bytes of WebSocket frames as their headers declare them, by direction and "
           "opcode.");
  for (size_t d = 0; d < 2; ++d)
    for (size_t op = 0; op < kOpcodeLabels; ++op)
      x.sample({{"direction", dir(d)}, {"opcode", opcode_label(op)}}, frame_bytes_[d][op]);
  x.family("wsinspect_messages_total", "counter",
           "Complete WebSocket data messages, by direction and opcode.");
  for (size_t d = 0; d < 2; ++d)
    for (size_t op = 0; op < kOpcodeLabels; ++op)
      if (opcode::is_data(kOpcodeOf[op]))
        x.sample({{"direction", dir(d)}, {"opcode", opcode_label(op)}}, messages_[d][op]);
  x.family("wsinspect_message_payload_bytes_total", "counter",
           "Payload bytes of complete WebSocket data messages on the wire (compressed, if so), "
           "by direction and opcode.");
  for (size_t d = 0; d < 2; ++d)
    for (size_t op = 0; op < kOpcodeLabels; ++op)
      if (opcode::is_data(kOpcodeOf[op]))
        x.sample({{"direction", dir(d)}, {"opcode", opcode_label(op)}}, message_bytes_[d][op]);

  x.family("wsinspect_violations_total", "counter",
           "Protocol violations in WebSocket frames, by rule and by the direction they were sent "
           "in; all of them, also those beyond --max-reports (added when the connection ends).");
  for (const RuleInfo& r : all_rules()) {
    const size_t i = static_cast<size_t>(r.rule);
    for (size_t d = 0; d < 2; ++d)
      x.sample({{"rule", r.id}, {"direction", dir(d)}}, violations_[d][i]);
  }
  x.family("wsinspect_closes_total", "counter",
           "Close frames, by code and by the direction they were sent in. The code is its own "
           "label when registered (an empty close frame is 1005), else its range (3000-3999, "
           "4000-4999) or invalid.");
  const auto codes = close_code_labels();
  for (size_t i = 0; i < codes.size() && i < kCodeLabels; ++i)
    for (size_t d = 0; d < 2; ++d)
      x.sample({{"code", codes[i]}, {"direction", dir(d)}}, closes_[d][i]);
  x.family("wsinspect_closes_unreported_total", "counter",
           "Close frames beyond --max-reports on one connection, whose codes were not recorded.");
  for (size_t d = 0; d < 2; ++d) x.sample({{"direction", dir(d)}}, closes_unreported_[d]);
  x.family("wsinspect_synthesized_closes_total", "counter",
           "Closes no frame carried: the 1006 an endpoint reports when the connection ends "
           "without a close frame towards it, by end cause, and the 1001 the proxy sent while "
           "shutting down; direction: towards the endpoint that reports it.");
  for (size_t d = 0; d < 2; ++d) {
    for (EndCause c : kEndCauseList)
      x.sample({{"code", "1006"}, {"cause", end_cause_id(c)}, {"direction", dir(d)}},
               abnormal_[d][cause_index(c)]);
    x.sample({{"code", "1001"}, {"cause", "proxy_shutdown"}, {"direction", dir(d)}},
             going_away_[d]);
  }

  x.family("wsinspect_upstream_errors_total", "counter",
           "Upstream connections that failed, by stage (the client is answered 502 or 504).");
  for (size_t i = 0; i < kStages; ++i)
    x.sample({{"stage", i < std::size(kStageList) ? kStageList[i] : "other"}}, upstream_errors_[i]);
  x.family("wsinspect_tls_errors_total", "counter", "TLS handshakes that failed, by leg.");
  x.sample({{"leg", "client"}}, tls_errors_[0]);
  x.sample({{"leg", "upstream"}}, tls_errors_[1]);
  x.family("wsinspect_log_lines_dropped_total", "counter",
           "Log lines the log budget (--log-rate) dropped.");
  x.sample(live.log_dropped);
  if (live.capture) {
    x.family("wsinspect_capture_packets_total", "counter", "Packets written to the capture file.");
    x.sample(live.capture_packets);
    x.family("wsinspect_capture_dropped_total", "counter",
             "Packets the capture dropped (its writer's queue was full).");
    x.sample(live.capture_dropped);
  }
  return out;
}

}  // namespace wsi
