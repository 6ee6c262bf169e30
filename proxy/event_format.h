// One schema for every event wsinspect reports, shared by `decode` and the
// proxy log: JSON objects (one per line) for machines, aligned text for people.
// The schema is documented in docs/events.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parser/catalog_pt_br.h"
#include "parser/conn/digest.h"
#include "parser/http_parser.h"
#include "parser/stream_inspector.h"
#include "proxy/report/json_writer.h"

namespace wsi {

struct Finding;  // parser/handshake.h

// The language LC_ALL, LC_MESSAGES or LANG asks for (en unless pt_BR).
Lang lang_from_environment();

// Makes peer-supplied bytes safe to print: control characters, backslashes and
// bytes that are not valid UTF-8 become \n, \t, \\ or \xNN escapes, so the
// result is valid UTF-8 with no raw control characters. At most `limit` input
// bytes are shown; "..." marks a cut.
std::string escape_bytes(std::span<const uint8_t> bytes, size_t limit = SIZE_MAX);
inline std::string escape_text(std::string_view s, size_t limit = SIZE_MAX) {
  return escape_bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, limit);
}

// Headers whose values are secrets: Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, Sec-WebSocket-Key, X-Api-Key, X-Auth-Token, Api-Key,
// X-Access-Token, and those given to add_secret_headers(). Names are
// compared without case and without the whitespace a client may put around
// them ("Authorization " before the colon is Authorization). Logs show the
// values as "[redacted]".
bool is_secret_header(std::string_view name);
// --redact-header: more names for is_secret_header(), set once at start.
void add_secret_headers(const std::vector<std::string>& names);

// A header value as logged, escaped: "[redacted]" for a secret header, the
// credential-carrying tokens of Sec-WebSocket-Protocol redacted
// (redact_subprotocol), and credential parameters of a URL-bearing header
// (Referer, Origin, Location, Content-Location) redacted (redact_url).
std::string logged_header_value(std::string_view name, std::string_view value);
// For comparing two vantage points without showing secrets: each secret
// header's value becomes "[redacted " + 8 hex digits of its keyed digest +
// "]", so a changed secret is still seen as changed.
void redact_for_compare(std::vector<HttpHeader>& headers, const DigestKey& key);
// The secret digests are keyed with: the whole of `key_file` when given,
// else $WSINSPECT_DIGEST_KEY, else empty. False (with `error`) only when the
// file cannot be read.
bool read_digest_secret(const std::string& key_file, std::string& secret, std::string& error);

// A URL or path with the values of credential query (and fragment)
// parameters (token, access_token, api_key, key, password, auth, ...), of
// ;jsessionid= path parameters and of a userinfo password replaced by
// "[redacted]".
std::string redact_url(std::string_view url);

// "82 85 37 fa 21 3d": the bytes as lower-case hex separated by spaces.
std::string hex_bytes(std::span<const uint8_t> bytes);

// The JSON form of each event: these write its fields, in the order of
// docs/events.md, into the open object of `w`. The proxy's sink writes ts,
// level and conn in front and may add fields after; decode writes nothing
// else (json_object() makes the whole line).
void frame_json(JsonWriter& w, Direction dir, const FrameHeader& h);
void violation_json(JsonWriter& w, const Violation& v);
void close_json(JsonWriter& w, const CloseFrame& c);
void message_json(JsonWriter& w, const MessageInfo& m);
// A preview of a message: `kept`, the first bytes of its content as the
// application gets it (unmasked, inflated), escaped; truncated when fewer
// bytes were kept than the content's length, or the content was cut short by
// a failed or stopped inflation (MessageInfo::incomplete).
void preview_json(JsonWriter& w, const MessageInfo& m, std::string_view kept);
void summary_json(JsonWriter& w, Direction dir, const InspectorStats& s, bool truncated);

// The explanation object of a close code ({"description","when","fix"}),
// serialised once per run.
std::string_view explanation_json(uint32_t code);
// A rule's "summary" and "fix" fields, serialised once per run.
void rule_text_json(JsonWriter& w, Rule rule);
// A handshake finding as an object of the `findings` arrays (handshake,
// stream_handshake); the direction follows from the rule (request-*: c->s).
void finding_json(JsonWriter& w, const Finding& f);

// "812 B", "3.4 kB", "1.2 MB" (powers of 1000, as a person reads them).
std::string size_text(uint64_t bytes);
// size_text, and from 1000 bytes on the exact count too, "1.2 kB (1234)":
// offsets are counted in bytes.
std::string size_and_count(uint64_t bytes);
// "1 frame", "2 frames".
std::string count_text(uint64_t n, const char* one, const char* many);
std::string frame_text(Direction dir, const FrameHeader& h);
std::string violation_text(const Violation& v);
// A close frame in one line, followed by its explanation, indented.
std::string close_text(const CloseFrame& c);
std::string message_text(const MessageInfo& m);
std::string preview_text(const MessageInfo& m, std::string_view kept);
std::string summary_text(Direction dir, const InspectorStats& s, bool truncated);

// "c->s" or "s->c".
std::string_view direction_arrow(Direction d);

}  // namespace wsi
