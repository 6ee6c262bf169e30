// Session: what it reports. Handshakes, frames, violations, closes (with the
// violation that caused them, or a note that the proxy saw none), synthesized
// 1006 closes and the connection summary.
#include <cinttypes>

#include "parser/close_codes.h"
#include "proxy/event_format.h"
#include "proxy/proxy_server.h"
#include "proxy/session.h"

namespace wsi {
namespace {

size_t index_of(Direction d) {
  return d == Direction::client_to_server ? 0 : 1;
}

// Slot of Evidence::flagged for a close code: 1 for 1002, 2 for 1007, 3 for 1009.
size_t code_slot(uint16_t code) {
  switch (code) {
    case 1002:
      return 1;
    case 1007:
      return 2;
    case 1009:
      return 3;
    default:
      return 0;
  }
}

std::string_view endpoint_receiving(Direction d) {
  return d == Direction::client_to_server ? "server" : "client";
}
std::string_view endpoint_sending(Direction d) {
  return d == Direction::client_to_server ? "client" : "server";
}

nlohmann::ordered_json finding_json(const Finding& f) {
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

nlohmann::ordered_json string_array(const std::vector<std::string>& v) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const std::string& s : v) a.push_back(escape_text(s));
  return a;
}

}  // namespace

std::string_view end_cause_id(EndCause c) {
  switch (c) {
    case EndCause::none:
      return "none";
    case EndCause::close_handshake:
      return "close_handshake";
    case EndCause::client_fin:
      return "client_fin";
    case EndCause::server_fin:
      return "server_fin";
    case EndCause::client_reset:
      return "client_reset";
    case EndCause::server_reset:
      return "server_reset";
    case EndCause::idle_timeout:
      return "idle_timeout";
    case EndCause::handshake_timeout:
      return "handshake_timeout";
    case EndCause::proxy_shutdown:
      return "proxy_shutdown";
    case EndCause::upstream_unreachable:
      return "upstream_unreachable";
  }
  return "none";
}

std::string Session::describe_cause(EndCause cause) const {
  const ProxyConfig& cfg = server_.config();
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
      return "wsinspect closed the connection after " + std::to_string(cfg.idle_timeout_ms) +
             " ms without traffic (--idle-timeout).";
    case EndCause::handshake_timeout:
      return "wsinspect closed the connection: no response within " +
             std::to_string(cfg.handshake_timeout_ms) + " ms (--handshake-timeout).";
    case EndCause::proxy_shutdown:
      return "wsinspect was shutting down and ended the connection after its drain time.";
    case EndCause::upstream_unreachable:
      return "wsinspect could not reach the upstream " + server_.upstream_label() + ".";
    case EndCause::close_handshake:
      return "Both close frames were exchanged.";
    case EndCause::none:
      break;
  }
  return "The connection ended.";
}

void Session::log_conn_open() {
  nlohmann::ordered_json j = {{"event", "conn_open"}, {"client", client_addr_}};
  server_.log().emit(EventLevel::info, id_, j, "connection from " + client_addr_);
}

void Session::log_handshake(const PendingRequest& req, const HttpHead* response,
                            const Negotiated* n, const std::vector<Finding>& response_findings) {
  const HandshakeRequest& r = req.request;
  nlohmann::ordered_json headers = nlohmann::ordered_json::object();
  for (const auto& [name, value] : req.headers) {
    // A header sent on several lines keeps every value, joined as HTTP would.
    if (headers.contains(name))
      headers[name] = headers[name].get<std::string>() + ", " + value;
    else
      headers[name] = value;
  }
  nlohmann::ordered_json findings = nlohmann::ordered_json::array();
  size_t errors = 0;
  std::string text_findings;
  for (const auto* list : {&req.findings, &response_findings}) {
    for (const Finding& f : *list) {
      findings.push_back(finding_json(f));
      const RuleInfo& info = rule_info(f.rule);
      if (info.severity == Severity::error) ++errors;
      text_findings += "\n    " + std::string(severity_name(info.severity)) + " " +
                       std::string(info.id) + " (" + std::string(info.rfc) +
                       "): " + escape_text(f.detail) + "\n      fix: " + std::string(info.fix);
    }
  }
  server_.stats().handshake_findings += findings.size();
  const uint16_t status = response ? response->status : 0;
  const bool upgraded = n && n->websocket;
  nlohmann::ordered_json j = {{"event", "handshake"},
                              {"path", escape_text(r.path)},
                              {"host", escape_text(r.host)},
                              {"subprotocols_offered", string_array(r.offered_subprotocols)},
                              {"extensions_offered", escape_text(r.extensions_header)},
                              {"status", status},
                              {"subprotocol", n ? escape_text(n->subprotocol) : ""},
                              {"extensions", n ? escape_text(n->extensions) : ""},
                              {"upgraded", upgraded},
                              {"headers", headers},
                              {"findings", findings}};
  std::string text = "handshake " + escape_text(r.method) + " " + escape_text(r.path) +
                     " host=" + escape_text(r.host) + " -> " +
                     (status ? std::to_string(status) : std::string("no response"));
  if (n && !n->subprotocol.empty()) text += " subprotocol=" + escape_text(n->subprotocol);
  if (n && !n->extensions.empty()) text += " extensions=\"" + escape_text(n->extensions) + "\"";
  text += upgraded ? " (upgraded)" : " (not upgraded)";
  text += text_findings;
  server_.log().emit(errors             ? EventLevel::error
                     : findings.empty() ? EventLevel::info
                                        : EventLevel::warn,
                     id_, j, text);
}

void Session::on_frame(Direction dir, const FrameHeader& h) {
  if (!server_.log().enabled(EventLevel::debug)) return;
  server_.log().emit(EventLevel::debug, id_, frame_json(dir, h), frame_text(dir, h));
}

void Session::on_message(const MessageInfo& m) {
  if (!server_.log().enabled(EventLevel::debug)) return;
  server_.log().emit(EventLevel::debug, id_, message_json(m), message_text(m));
}

void Session::on_payload(Direction dir, const FrameHeader& h, const uint8_t* data, size_t n,
                         uint64_t at) {
  const uint64_t limit = server_.config().preview;
  std::string& buf = preview_[index_of(dir)];
  if (at == 0) buf.clear();
  if (at >= limit) return;  // shown when the limit was reached
  const size_t take = static_cast<size_t>(std::min<uint64_t>(n, limit - at));
  const size_t old = buf.size();
  buf.resize(old + take);
  for (size_t i = 0; i < take; ++i)
    buf[old + i] = static_cast<char>(data[i] ^ (h.masked ? h.mask[(at + i) & 3] : 0));
  if (at + n < h.length && buf.size() < limit) return;  // more to collect
  const std::string shown =
      escape_bytes({reinterpret_cast<const uint8_t*>(buf.data()), buf.size()});
  nlohmann::ordered_json j = {
      {"event", "preview"},           {"dir", direction_name(dir)},
      {"frame_index", h.index},       {"opcode_name", opcode::name(h.opcode)},
      {"length", h.length},           {"payload", shown},
      {"truncated", h.length > limit}};
  server_.log().emit(EventLevel::info, id_, j,
                     std::string(direction_arrow(dir)) + " frame #" + std::to_string(h.index) +
                         " " + std::string(opcode::name(h.opcode)) + " \"" + shown + "\"" +
                         (h.length > limit ? "..." : ""));
  buf.clear();
}

void Session::on_violation(const Violation& v) {
  server_.stats().violations++;
  const RuleInfo& info = rule_info(v.rule);
  if (info.severity == Severity::error) {
    const Flagged f{v.rule, v.offset, v.frame_index, now_ms()};
    if (!evidence_) evidence_ = std::make_unique<Evidence>();
    auto& slots = evidence_->flagged[index_of(v.dir)];
    slots[0] = f;
    if (const size_t slot = code_slot(info.close_code)) {
      // The first violation for a code is what an endpoint fails on.
      if (!slots[slot]) slots[slot] = f;
    }
  }
  server_.log().emit(info.severity == Severity::error ? EventLevel::error : EventLevel::warn, id_,
                     violation_json(v), violation_text(v));
}

void Session::on_close(const CloseFrame& c) {
  nlohmann::ordered_json j = close_json(c);
  std::string text = close_text(c);
  const Direction received = opposite(c.dir);  // what the closing endpoint had received
  // A close sent after receiving one answers it (RFC 6455 §5.5.1): the code
  // usually repeats the first close's, and the first close carries the cause.
  const size_t r = index_of(received);
  const bool reply = close_seen_[r];
  close_seen_[index_of(c.dir)] = true;
  close_code_[index_of(c.dir)] = c.code;
  close_frame_[index_of(c.dir)] = c.frame_index;
  j["in_reply"] = reply;
  if (reply)
    text += "\n    (in reply to the " + std::string(endpoint_receiving(c.dir)) + "'s close)";
  const bool protocol_code = c.code == 1002 || c.code == 1007 || c.code == 1009;
  // A reply is explained by what it answers only when that close frame was
  // itself flagged (an endpoint answering a broken close with 1002 or 1007).
  static const Evidence kNone;
  const auto& flagged = (evidence_ ? *evidence_ : kNone).flagged[r];
  const bool reply_to_flagged =
      reply && flagged[0] && flagged[0]->frame_index == close_frame_[r] && c.code != close_code_[r];
  // Prefer a violation whose rule makes endpoints close with this very code.
  const std::optional<Flagged>& cause =
      flagged[code_slot(c.code)] ? flagged[code_slot(c.code)] : flagged[0];
  if (protocol_code && (!reply || reply_to_flagged)) {
    if (const auto& f = reply_to_flagged ? flagged[0] : cause) {
      const RuleInfo& info = rule_info(f->rule);
      const uint64_t ms = now_ms() - f->at_ms;
      j["caused_by"] = {{"rule", info.id},
                        {"dir", direction_name(received)},
                        {"offset", f->offset},
                        {"frame_index", f->frame_index},
                        {"ms_before", ms}};
      text += "\n    caused by: " + std::string(info.id) + " flagged " +
              std::string(direction_arrow(received)) + " at offset " + std::to_string(f->offset) +
              ", frame #" + std::to_string(f->frame_index) + ", " + std::to_string(ms) +
              " ms earlier";
    } else if (c.code != 1009) {
      const std::string note =
          "The " + std::string(endpoint_sending(c.dir)) + " closed with " + std::to_string(c.code) +
          ", but every frame wsinspect relayed to it (" + std::string(direction_name(received)) +
          ") was valid: the corruption happened between wsinspect and the " +
          std::string(endpoint_sending(c.dir)) +
          " (a hop on that side, or the endpoint's own reading), not on the side wsinspect sees.";
      j["note"] = note;
      text += "\n    note: " + note;
    }
  }
  const bool normal = c.valid() && (c.code == 1000 || c.code == 1001);
  server_.log().emit(normal ? EventLevel::info : EventLevel::warn, id_, j, text);
}

void Session::log_synthesized_closes() {
  if (!upgraded_ || phase_ != Phase::websocket) return;
  if (close_seen_[0] && close_seen_[1]) {
    end_cause_ = EndCause::close_handshake;
    return;
  }
  if (proxy_sent_close_) {
    // Shutdown sent close 1001 to both endpoints: that is what they report.
    const CloseCodeInfo& gone = close_code_info(1001);
    for (Direction d : {Direction::server_to_client, Direction::client_to_server}) {
      if (close_seen_[index_of(d)]) continue;
      const std::string who(endpoint_receiving(d));
      nlohmann::ordered_json j = {{"event", "close"},
                                  {"dir", direction_name(d)},
                                  {"synthesized", true},
                                  {"sent_by", "wsinspect"},
                                  {"endpoint", who},
                                  {"code", 1001},
                                  {"on_wire", true},
                                  {"name", gone.name},
                                  {"reason", "wsinspect shutting down"},
                                  {"valid", true},
                                  {"cause", "proxy_shutdown"},
                                  {"explanation", explanation_json(1001)}};
      server_.log().emit(EventLevel::info, id_, j,
                         std::string(direction_arrow(d)) + " wsinspect sent the " + who +
                             " close 1001 " + std::string(gone.name) + " while shutting down");
    }
    return;
  }
  const CloseCodeInfo& info = close_code_info(1006);
  for (Direction d : {Direction::server_to_client, Direction::client_to_server}) {
    if (close_seen_[index_of(d)]) continue;
    const std::string who(endpoint_receiving(d));
    const std::string cause = describe_cause(end_cause_);
    nlohmann::ordered_json j = {{"event", "close"},      {"dir", direction_name(d)},
                                {"synthesized", true},   {"endpoint", who},
                                {"code", 1006},          {"on_wire", false},
                                {"name", info.name},     {"reason", ""},
                                {"valid", false},        {"cause", end_cause_id(end_cause_)},
                                {"cause_detail", cause}, {"explanation", explanation_json(1006)}};
    server_.log().emit(EventLevel::warn, id_, j,
                       std::string(direction_arrow(d)) + " no close frame reached the " + who +
                           ": its application reports 1006 " + std::string(info.name) +
                           "\n    cause: " + cause +
                           "\n    what it means: " + std::string(info.description) +
                           "\n    how to fix it: " + std::string(info.fix));
  }
}

void Session::log_unanswered_requests() {
  for (const PendingRequest& req : requests_) {
    if (req.websocket) {
      log_handshake(req, nullptr, nullptr, {});
      continue;
    }
    log_http(req, 0);
  }
  requests_.clear();
}

// One plain HTTP exchange; status 0: no response came.
void Session::log_http(const PendingRequest& req, uint16_t status) {
  nlohmann::ordered_json j = {{"event", "http"},
                              {"method", escape_text(req.method)},
                              {"path", escape_text(req.path)},
                              {"status", status}};
  server_.log().emit(status ? EventLevel::info : EventLevel::warn, id_, j,
                     "http " + escape_text(req.method) + " " + escape_text(req.path) + " -> " +
                         (status ? std::to_string(status) : std::string("no response")));
}

void Session::log_conn_close() {
  const uint64_t duration = now_ms() - started_ms_;
  nlohmann::ordered_json j = {{"event", "conn_close"},
                              {"duration_ms", duration},
                              {"ended_by", end_cause_id(end_cause_)},
                              {"upgraded", upgraded_}};
  std::string text = "connection closed after " + std::to_string(duration) + " ms (" +
                     std::string(end_cause_id(end_cause_)) + ")";
  const Side* sides[2] = {&client_, &upstream_};
  const StreamInspector* insps[2] = {client_insp_.get(), server_insp_.get()};
  for (size_t i = 0; i < 2; ++i) {
    const Direction d = i == 0 ? Direction::client_to_server : Direction::server_to_client;
    nlohmann::ordered_json dj = {{"bytes", sides[i]->bytes_from}};
    text += "\n    " + std::string(direction_arrow(d)) + ": " +
            std::to_string(sides[i]->bytes_from) + " bytes";
    if (const StreamInspector* in = insps[i]) {
      const InspectorStats& st = in->stats();
      dj["frames"] = st.frames;
      dj["messages"] = st.messages;
      dj["errors"] = st.errors;
      dj["warnings"] = st.warnings;
      dj["closes"] = st.closes;
      text += ", " + std::to_string(st.frames) + " frames, " + std::to_string(st.messages) +
              " messages, " + std::to_string(st.errors) + " errors, " +
              std::to_string(st.warnings) + " warnings, " + std::to_string(st.closes) +
              " close frames";
    }
    j[std::string(direction_name(d))] = dj;
  }
  server_.log().emit(EventLevel::info, id_, j, text);
}

}  // namespace wsi
