// One schema for every event wsinspect reports, shared by `decode` and the
// proxy log: JSON objects (one per line) for machines, aligned text for people.
// The schema is documented in docs/events.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "parser/stream_inspector.h"

namespace wsi {

// Makes peer-supplied bytes safe to print: control characters, backslashes and
// bytes that are not valid UTF-8 become \n, \t, \\ or \xNN escapes, so the
// result is valid UTF-8 with no raw control characters. At most `limit` input
// bytes are shown; "..." marks a cut.
std::string escape_bytes(std::span<const uint8_t> bytes, size_t limit = SIZE_MAX);
inline std::string escape_text(std::string_view s, size_t limit = SIZE_MAX) {
  return escape_bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, limit);
}

// Headers whose values are secrets: Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, Sec-WebSocket-Key. Logs show them as "[redacted]".
bool is_secret_header(std::string_view name);

// "82 85 37 fa 21 3d": the bytes as lower-case hex separated by spaces.
std::string hex_bytes(std::span<const uint8_t> bytes);

nlohmann::ordered_json frame_json(Direction dir, const FrameHeader& h);
nlohmann::ordered_json violation_json(const Violation& v);
nlohmann::ordered_json close_json(const CloseFrame& c);
nlohmann::ordered_json message_json(const MessageInfo& m);
nlohmann::ordered_json summary_json(Direction dir, const InspectorStats& s, bool truncated);

// The explanation object of a close code: description, when, fix.
nlohmann::ordered_json explanation_json(uint32_t code);

std::string frame_text(Direction dir, const FrameHeader& h);
std::string violation_text(const Violation& v);
// A close frame in one line, followed by its explanation, indented.
std::string close_text(const CloseFrame& c);
std::string message_text(const MessageInfo& m);
std::string summary_text(Direction dir, const InspectorStats& s, bool truncated);

// "c->s" or "s->c".
std::string_view direction_arrow(Direction d);

}  // namespace wsi
