#include "proxy/event_format.h"

#include <cinttypes>
#include <cstdio>

#include "parser/close_codes.h"
#include "parser/http_parser.h"
#include "parser/utf8.h"

namespace wsi {
namespace {

size_t utf8_sequence_length(uint8_t lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

void append_hex_escape(std::string& out, uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[b >> 4];
  out += kDigits[b & 15];
}

std::string u64(uint64_t v) {
  return std::to_string(v);
}

}  // namespace

std::string escape_bytes(std::span<const uint8_t> bytes, size_t limit) {
  std::string out;
  const size_t n = bytes.size() < limit ? bytes.size() : limit;
  out.reserve(n + 8);
  for (size_t i = 0; i < n;) {
    const uint8_t b = bytes[i];
    if (b >= 0x20 && b < 0x7F) {
      if (b == '\\') out += '\\';
      out += static_cast<char>(b);
      ++i;
      continue;
    }
    switch (b) {
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      default:
        break;
    }
    const size_t len = utf8_sequence_length(b);
    // C1 controls (U+0080..U+009F) are escaped like C0 ones.
    const bool c1 = len == 2 && b == 0xC2 && i + 1 < n && bytes[i + 1] < 0xA0;
    if (len && i + len <= n && !c1 && Utf8Validator::valid(&bytes[i], len)) {
      out.append(reinterpret_cast<const char*>(&bytes[i]), len);
      i += len;
    } else {
      append_hex_escape(out, b);
      ++i;
    }
  }
  if (n < bytes.size()) out += "...";
  return out;
}

bool is_secret_header(std::string_view name) {
  static constexpr std::string_view kSecrets[] = {"authorization", "proxy-authorization", "cookie",
                                                  "set-cookie", "sec-websocket-key"};
  for (std::string_view s : kSecrets)
    if (iequals(name, s)) return true;
  return false;
}

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  char buf[4];
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", bytes[i]);
    out += buf;
  }
  return out;
}

std::string_view direction_arrow(Direction d) {
  return d == Direction::client_to_server ? "c->s" : "s->c";
}

nlohmann::ordered_json frame_json(Direction dir, const FrameHeader& h) {
  return {{"event", "frame"},
          {"dir", direction_name(dir)},
          {"frame_index", h.index},
          {"offset", h.offset},
          {"fin", h.fin},
          {"rsv", h.rsv},
          {"opcode", h.opcode},
          {"opcode_name", opcode::name(h.opcode)},
          {"masked", h.masked},
          {"length", h.length},
          {"header_hex", hex_bytes({h.raw, h.raw_len})}};
}

nlohmann::ordered_json violation_json(const Violation& v) {
  const RuleInfo& r = rule_info(v.rule);
  nlohmann::ordered_json j = {
      {"event", "violation"},
      {"dir", direction_name(v.dir)},
      {"rule", r.id},
      {"close_code", r.close_code},
      {"severity", severity_name(r.severity)},
      {"rfc", r.rfc},
      {"offset", v.offset},
      {"frame_index", v.frame_index},
      {"detail", escape_text(v.detail)},
      {"header_hex", v.header ? hex_bytes({v.header->raw, v.header->raw_len}) : ""},
      {"summary", r.summary},
      {"fix", r.fix}};
  return j;
}

nlohmann::ordered_json explanation_json(uint32_t code) {
  const CloseCodeInfo& info = close_code_info(code);
  return {{"description", info.description}, {"when", info.when}, {"fix", info.fix}};
}

nlohmann::ordered_json close_json(const CloseFrame& c) {
  return {{"event", "close"},
          {"dir", direction_name(c.dir)},
          {"frame_index", c.frame_index},
          {"offset", c.offset},
          {"code", c.code},
          {"on_wire", c.has_code},
          {"name", close_code_info(c.code).name},
          {"reason", escape_bytes(c.reason)},
          {"valid", c.valid()},
          {"explanation", explanation_json(c.code)}};
}

nlohmann::ordered_json message_json(const MessageInfo& m) {
  return {{"event", "message"},
          {"dir", direction_name(m.dir)},
          {"first_frame_index", m.first_frame_index},
          {"opcode_name", opcode::name(m.opcode)},
          {"size", m.size},
          {"inflated_size", m.inflated_size},
          {"frames", m.frames},
          {"compressed", m.compressed}};
}

nlohmann::ordered_json summary_json(Direction dir, const InspectorStats& s, bool truncated) {
  nlohmann::ordered_json by_rule = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kRuleCount; ++i)
    if (const uint32_t n = s.count(all_rules()[i].rule))
      by_rule[std::string(all_rules()[i].id)] = n;
  return {{"event", "summary"}, {"dir", direction_name(dir)}, {"bytes", s.bytes},
          {"frames", s.frames}, {"messages", s.messages},     {"control_frames", s.control_frames},
          {"errors", s.errors}, {"warnings", s.warnings},     {"suppressed", s.suppressed},
          {"closes", s.closes}, {"by_rule", by_rule},         {"truncated", truncated}};
}

std::string frame_text(Direction dir, const FrameHeader& h) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "%s frame #%-4" PRIu64 " @%-8" PRIu64 " %s%s%s%s %-12s %s len=%" PRIu64,
                direction_arrow(dir).data(), h.index, h.offset, h.fin ? "FIN" : "fin",
                (h.rsv & rsv::rsv1) ? " RSV1" : "", (h.rsv & rsv::rsv2) ? " RSV2" : "",
                (h.rsv & rsv::rsv3) ? " RSV3" : "", opcode::name(h.opcode).data(),
                h.masked ? "masked" : "unmasked", h.length);
  return buf;
}

std::string violation_text(const Violation& v) {
  const RuleInfo& r = rule_info(v.rule);
  std::string out = std::string(direction_arrow(v.dir)) + " " +
                    std::string(severity_name(r.severity)) + " " + std::string(r.id) +
                    " at offset " + u64(v.offset) + ", frame #" + u64(v.frame_index) + ": " +
                    escape_text(v.detail);
  out += "\n    rule: " + std::string(r.summary) + " (" + std::string(r.rfc);
  if (r.close_code) out += "; an endpoint closes with " + std::to_string(r.close_code);
  out += ")";
  if (v.header) out += "\n    header: " + hex_bytes({v.header->raw, v.header->raw_len});
  out += "\n    fix: " + std::string(r.fix);
  return out;
}

std::string close_text(const CloseFrame& c) {
  const CloseCodeInfo& info = close_code_info(c.code);
  std::string out = std::string(direction_arrow(c.dir)) + " close frame #" + u64(c.frame_index) +
                    " at offset " + u64(c.offset) + ": " + std::to_string(c.code) + " " +
                    std::string(info.name);
  if (!c.has_code) out += " (no status code in the frame)";
  if (!c.reason.empty()) out += " reason=\"" + escape_bytes(c.reason) + "\"";
  out += c.valid() ? " (valid)" : " (INVALID)";
  out += "\n    what it means: " + std::string(info.description);
  out += "\n    when you see it: " + std::string(info.when);
  out += "\n    how to fix it: " + std::string(info.fix);
  return out;
}

std::string message_text(const MessageInfo& m) {
  return std::string(direction_arrow(m.dir)) + " message from frame #" + u64(m.first_frame_index) +
         ": " + std::string(opcode::name(m.opcode)) + ", " + u64(m.size) + " bytes in " +
         u64(m.frames) + (m.frames == 1 ? " frame" : " frames") +
         (m.compressed ? ", compressed (" + u64(m.inflated_size) + " bytes inflated)" : "");
}

std::string summary_text(Direction dir, const InspectorStats& s, bool truncated) {
  std::string out = std::string(direction_arrow(dir)) + " summary: " + u64(s.bytes) + " bytes, " +
                    u64(s.frames) + " frames, " + u64(s.messages) + " messages, " + u64(s.closes) +
                    " close frames, " + u64(s.errors) + " errors, " + u64(s.warnings) + " warnings";
  if (s.suppressed) out += " (" + u64(s.suppressed) + " reports suppressed)";
  if (truncated) out += ", stream ended mid-frame";
  for (size_t i = 0; i < kRuleCount; ++i)
    if (const uint32_t n = s.count(all_rules()[i].rule))
      out += "\n    " + std::string(all_rules()[i].id) + ": " + std::to_string(n);
  return out;
}

}  // namespace wsi
