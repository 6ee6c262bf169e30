#include "proxy/event_format.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "parser/close_codes.h"
#include "parser/handshake.h"
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

namespace {

constexpr std::string_view kSecretHeaders[] = {"authorization", "proxy-authorization", "cookie",
                                               "set-cookie",    "sec-websocket-key",   "x-api-key",
                                               "x-auth-token",  "x-access-token",      "api-key"};

// Set once at start (--redact-header), before any event is logged.
std::vector<std::string>& extra_secret_headers() {
  static std::vector<std::string> names;
  return names;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals_trimmed(std::string_view name, std::string_view want) {
  return iequals(trim_ows(name), want);
}

constexpr std::string_view kRedacted = "[redacted]";

// Query and fragment parameters whose values are credentials.
bool is_secret_param(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "token",      "access_token", "refresh_token", "id_token", "auth_token", "api_key",
      "apikey",     "api-key",      "key",           "password", "passwd",     "pwd",
      "auth",       "secret",       "client_secret", "jwt",      "session",    "sessionid",
      "jsessionid", "phpsessid",    "sig",           "signature"};
  for (std::string_view n : kNames)
    if (iequals(name, n)) return true;
  return false;
}

// "a=1&token=x" -> "a=1&token=[redacted]" (also ';'-separated).
void append_redacted_params(std::string& out, std::string_view params) {
  while (true) {
    const size_t end = params.find_first_of("&;");
    const std::string_view param = params.substr(0, end);
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && is_secret_param(param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1));
      out.append(kRedacted);
    } else {
      out.append(param);
    }
    if (end == std::string_view::npos) break;
    out += params[end];
    params.remove_prefix(end + 1);
  }
}

}  // namespace

bool is_secret_header(std::string_view name) {
  name = trim_ows(name);
  for (std::string_view s : kSecretHeaders)
    if (iequals(name, s)) return true;
  for (const std::string& s : extra_secret_headers())
    if (iequals(name, s)) return true;
  return false;
}

void add_secret_headers(const std::vector<std::string>& names) {
  for (const std::string& n : names) extra_secret_headers().emplace_back(trim_ows(n));
}

std::string redact_url(std::string_view url) {
  std::string out;
  out.reserve(url.size() + 16);
  // userinfo: "scheme://user:password@host" keeps the user.
  const size_t scheme = url.find("://");
  if (scheme != std::string_view::npos && url.find_first_of("/?#") >= scheme) {
    const size_t authority = scheme + 3;
    const size_t end = std::min(url.find_first_of("/?#", authority), url.size());
    const size_t at = url.substr(authority, end - authority).rfind('@');
    if (at != std::string_view::npos) {
      const std::string_view userinfo = url.substr(authority, at);
      const size_t colon = userinfo.find(':');
      out.append(url.substr(0, authority));
      out.append(userinfo.substr(0, colon));
      if (colon != std::string_view::npos) out.append(":").append(kRedacted);
      url.remove_prefix(authority + at);  // from the '@'
    }
  }
  const size_t query = url.find_first_of("?#");
  std::string_view path = url.substr(0, query);
  // ;jsessionid=... (and any ;name=value path parameter with a secret name).
  for (size_t semi; (semi = path.find(';')) != std::string_view::npos;) {
    out.append(path.substr(0, semi + 1));
    path.remove_prefix(semi + 1);
    const size_t end = std::min(path.find_first_of("/;"), path.size());
    const std::string_view param = path.substr(0, end);
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && is_secret_param(param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1)).append(kRedacted);
    } else {
      out.append(param);
    }
    path.remove_prefix(end);
  }
  out.append(path);
  if (query == std::string_view::npos) return out;
  url.remove_prefix(query);
  const size_t hash = url.find('#', 1);
  out += url[0];
  append_redacted_params(out, url.substr(1, hash == std::string_view::npos ? hash : hash - 1));
  if (hash != std::string_view::npos) {
    out += '#';
    append_redacted_params(out, url.substr(hash + 1));
  }
  return out;
}

std::string logged_header_value(std::string_view name, std::string_view value) {
  if (is_secret_header(name)) return std::string(kRedacted);
  if (iequals_trimmed(name, "sec-websocket-protocol")) {
    std::vector<std::string> tokens;
    size_t at = 0;
    while (at <= value.size()) {
      const size_t comma = std::min(value.find(',', at), value.size());
      tokens.emplace_back(trim_ows(value.substr(at, comma - at)));
      at = comma + 1;
    }
    std::string out;
    for (const std::string& t : redact_subprotocols(tokens)) {
      if (!out.empty()) out += ", ";
      out += t;
    }
    return escape_text(out);
  }
  for (std::string_view h : {"referer", "origin", "location", "content-location"})
    if (iequals_trimmed(name, h)) return escape_text(redact_url(value));
  return escape_text(value);
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

void frame_json(JsonWriter& w, Direction dir, const FrameHeader& h) {
  w.field("event", "frame")
      .field("dir", direction_name(dir))
      .field("frame_index", h.index)
      .field("offset", h.offset)
      .field("fin", h.fin)
      .field("rsv", h.rsv)
      .field("opcode", h.opcode)
      .field("opcode_name", opcode::name(h.opcode))
      .field("masked", h.masked)
      .field("length", h.length)
      .field("header_hex", hex_bytes({h.raw, h.raw_len}));
}

void rule_text_json(JsonWriter& w, Rule rule) {
  struct Text {
    std::string summary, fix;  // as JSON strings
  };
  static const std::vector<Text> kTexts = [] {
    std::vector<Text> texts;
    for (const RuleInfo& r : all_rules()) {
      Text& t = texts.emplace_back();
      JsonWriter::append_string(t.summary, r.summary);
      JsonWriter::append_string(t.fix, r.fix);
    }
    return texts;
  }();
  const Text& t = kTexts[static_cast<size_t>(rule)];
  w.key("summary").raw(t.summary).key("fix").raw(t.fix);
}

void finding_json(JsonWriter& w, const Finding& f) {
  const RuleInfo& r = rule_info(f.rule);
  const bool request = std::string_view(r.id).rfind("request-", 0) == 0;
  w.begin_object()
      .field("dir", request ? "client_to_server" : "server_to_client")
      .field("rule", r.id)
      .field("severity", severity_name(r.severity))
      .field("close_code", r.close_code)
      .field("http_status", r.http_status)
      .field("rfc", r.rfc)
      .field("offset", f.offset)
      .field("detail", escape_text(f.detail));
  rule_text_json(w, f.rule);
  w.end_object();
}

void violation_json(JsonWriter& w, const Violation& v) {
  const RuleInfo& r = rule_info(v.rule);
  w.field("event", "violation")
      .field("dir", direction_name(v.dir))
      .field("rule", r.id)
      .field("close_code", r.close_code)
      .field("severity", severity_name(r.severity))
      .field("rfc", r.rfc)
      .field("offset", v.offset)
      .field("frame_index", v.frame_index)
      .field("detail", escape_text(v.detail))
      .field("header_hex", v.header ? hex_bytes({v.header->raw, v.header->raw_len}) : "");
  rule_text_json(w, v.rule);
}

std::string_view explanation_json(uint32_t code) {
  static const std::vector<std::string> kExplanations = [] {
    std::vector<std::string> all;
    for (const CloseCodeInfo& info : all_close_codes()) {
      all.push_back(json_object([&](JsonWriter& w) {
        w.field("description", info.description).field("when", info.when).field("fix", info.fix);
      }));
    }
    return all;
  }();
  // close_code_info() returns an entry of all_close_codes().
  return kExplanations[&close_code_info(code) - all_close_codes().data()];
}

void close_json(JsonWriter& w, const CloseFrame& c) {
  w.field("event", "close")
      .field("dir", direction_name(c.dir))
      .field("frame_index", c.frame_index)
      .field("offset", c.offset)
      .field("code", c.code)
      .field("on_wire", c.has_code)
      .field("name", close_code_info(c.code).name)
      .field("reason", escape_bytes(c.reason))
      .field("valid", c.valid())
      .key("explanation")
      .raw(explanation_json(c.code));
}

void message_json(JsonWriter& w, const MessageInfo& m) {
  w.field("event", "message")
      .field("dir", direction_name(m.dir))
      .field("first_frame_index", m.first_frame_index)
      .field("opcode_name", opcode::name(m.opcode))
      .field("size", m.size)
      .field("inflated_size", m.inflated_size)
      .field("frames", m.frames)
      .field("compressed", m.compressed);
}

// The length of a message's content as the application gets it.
static uint64_t content_length(const MessageInfo& m) {
  return m.compressed ? m.inflated_size : m.size;
}

// A preview shows less than the whole content.
static bool preview_truncated(const MessageInfo& m, std::string_view kept) {
  return kept.size() < content_length(m) || m.incomplete;
}

void preview_json(JsonWriter& w, const MessageInfo& m, std::string_view kept) {
  w.field("event", "preview")
      .field("dir", direction_name(m.dir))
      .field("first_frame_index", m.first_frame_index)
      .field("opcode_name", opcode::name(m.opcode))
      .field("frames", m.frames)
      .field("compressed", m.compressed)
      .field("length", content_length(m))
      .field("payload", escape_text(kept))
      .field("truncated", preview_truncated(m, kept))
      .field("incomplete", m.incomplete);
}

void summary_json(JsonWriter& w, Direction dir, const InspectorStats& s, bool truncated) {
  w.field("event", "summary")
      .field("dir", direction_name(dir))
      .field("bytes", s.bytes)
      .field("frames", s.frames)
      .field("messages", s.messages)
      .field("control_frames", s.control_frames)
      .field("errors", s.errors)
      .field("warnings", s.warnings)
      .field("suppressed", s.suppressed)
      .field("closes", s.closes)
      .key("by_rule")
      .begin_object();
  for (size_t i = 0; i < kRuleCount; ++i)
    if (const uint32_t n = s.count(all_rules()[i].rule)) w.field(all_rules()[i].id, n);
  w.end_object().field("truncated", truncated);
}

// "812 B", "3.4 kB", "1.2 MB" (powers of 1000, as a person reads them).
std::string size_text(uint64_t b) {
  char buf[32];
  if (b < 1000)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < 1000 * 1000)
    std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(b) / 1e3);
  else if (b < 1000ull * 1000 * 1000)
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(b) / 1e9);
  return buf;
}

std::string size_and_count(uint64_t b) {
  return size_text(b) + (b >= 1000 ? " (" + u64(b) + ")" : "");
}

std::string count_text(uint64_t n, const char* one, const char* many) {
  return u64(n) + " " + (n == 1 ? one : many);
}

std::string frame_text(Direction dir, const FrameHeader& h) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s frame #%-4" PRIu64 " @%-8" PRIu64 " %s%s%s%s %-12s %s len=",
                direction_arrow(dir).data(), h.index, h.offset, h.fin ? "FIN" : "no-FIN",
                (h.rsv & rsv::rsv1) ? " RSV1" : "", (h.rsv & rsv::rsv2) ? " RSV2" : "",
                (h.rsv & rsv::rsv3) ? " RSV3" : "", opcode::name(h.opcode).data(),
                h.masked ? "masked" : "unmasked");
  return buf + size_and_count(h.length);
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
         ": " + std::string(opcode::name(m.opcode)) + ", " + size_and_count(m.size) + " in " +
         count_text(m.frames, "frame", "frames") +
         (m.compressed ? ", compressed (" + size_text(m.inflated_size) + " inflated)" : "");
}

std::string preview_text(const MessageInfo& m, std::string_view kept) {
  std::string out = std::string(direction_arrow(m.dir)) + " message from frame #" +
                    u64(m.first_frame_index) + ": " + std::string(opcode::name(m.opcode)) + ", " +
                    size_text(content_length(m));
  if (m.compressed) out += " inflated from " + size_text(m.size);
  if (m.incomplete) out += " (inflation stopped: the content is cut short)";
  out += ": \"" + escape_text(kept) + "\"";
  if (preview_truncated(m, kept)) out += "...";
  return out;
}

std::string summary_text(Direction dir, const InspectorStats& s, bool truncated) {
  std::string out = std::string(direction_arrow(dir)) + " summary: " + size_and_count(s.bytes) +
                    ", " + count_text(s.frames, "frame", "frames") + ", " +
                    count_text(s.messages, "message", "messages") + ", " +
                    count_text(s.closes, "close frame", "close frames") + ", " +
                    count_text(s.errors, "error", "errors") + ", " +
                    count_text(s.warnings, "warning", "warnings");
  if (s.suppressed) out += " (" + u64(s.suppressed) + " reports suppressed)";
  if (truncated) out += ", stream ended mid-frame";
  for (size_t i = 0; i < kRuleCount; ++i)
    if (const uint32_t n = s.count(all_rules()[i].rule))
      out += "\n    " + std::string(all_rules()[i].id) + ": " + std::to_string(n);
  return out;
}

void redact_for_compare(std::vector<HttpHeader>& headers, const DigestKey& key) {
  for (HttpHeader& h : headers)
    if (is_secret_header(h.name) && h.value != "[redacted]")
      h.value = "[redacted " + digest_of(key, h.value).hex().substr(0, 8) + "]";
}

Lang lang_from_environment() {
  return lang_from_env(std::getenv("LC_ALL"), std::getenv("LC_MESSAGES"), std::getenv("LANG"));
}

bool read_digest_secret(const std::string& key_file, std::string& secret, std::string& error) {
  secret.clear();
  if (key_file.empty()) {
    if (const char* env = std::getenv("WSINSPECT_DIGEST_KEY")) secret = env;
    return true;
  }
  std::ifstream in(key_file, std::ios::binary);
  if (!in) {
    error = "cannot read the digest key file " + escape_text(key_file);
    return false;
  }
  std::ostringstream all;
  all << in.rdbuf();
  secret = all.str();
  return true;
}

}  // namespace wsi
