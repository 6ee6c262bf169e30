// The close-code knowledge base: every IANA-registered WebSocket close code and
// every range, with where it may appear, who sends it, and an explanation in
// three parts: what it means, when you see it, how to fix it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace wsi {

enum class CodeSender : uint8_t {
  either,       // either endpoint may send it
  server,       // normally the server
  client,       // normally the client
  application,  // chosen by the application on either side
  nobody,       // never on the wire
};

struct CloseCodeInfo {
  uint16_t first;         // the code, or the first code of a range
  uint16_t last;          // equal to first for a single code
  std::string_view name;  // e.g. "Protocol Error", "Private Use"
  bool allowed_on_wire;   // may appear in a close frame (RFC 6455 §7.4)
  bool registered;        // IANA-registered single code
  CodeSender sender;
  std::string_view description;  // what it means
  std::string_view when;         // when you see it
  std::string_view fix;          // how to fix it
};

// The entry for one code: its own when it is registered, else its range's.
// Codes above 65535 cannot be carried by a close frame; callers validate input.
const CloseCodeInfo& close_code_info(uint32_t code);

// Whether a close frame may carry this code (RFC 6455 §7.4.1, §7.4.2).
bool close_code_valid_on_wire(uint32_t code);

// All entries: registered codes and ranges, ordered by first code.
std::span<const CloseCodeInfo> all_close_codes();

std::string_view code_sender_name(CodeSender s);

}  // namespace wsi
