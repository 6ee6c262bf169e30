// The rule catalogue: one value per protocol rule wsinspect checks, each with a
// stable id, the close code a conforming endpoint sends when it sees the
// violation, the RFC section, a severity and how to fix it. The text lives in
// one table (rules.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace wsi {

enum class Severity : uint8_t { error, warning };

enum class Rule : uint8_t {
  // Frame and stream rules (RFC 6455 §5, RFC 7692 §6).
  reserved_bits_set,
  rsv1_without_extension,
  rsv1_on_continuation,
  rsv1_on_control,
  reserved_opcode,
  continuation_without_start,
  data_frame_during_fragmented_message,
  fragmented_control_frame,
  control_frame_too_long,
  close_payload_length_1,
  invalid_close_code,
  invalid_utf8_close_reason,
  invalid_utf8_text,
  unmasked_client_frame,
  masked_server_frame,
  length_msb_set,
  non_minimal_length,
  message_too_big,
  inflate_error,
  frame_after_close,
  stream_ended_mid_frame,

  // Handshake: the client's upgrade request (RFC 6455 §4.1, §4.2.1).
  request_malformed,
  request_not_get,
  request_http_version,
  request_missing_host,
  request_missing_upgrade,
  request_missing_connection_upgrade,
  request_missing_key,
  request_invalid_key,
  request_missing_version,
  request_unsupported_version,
  request_duplicate_header,
  request_header_name_whitespace,
  request_deflate_offer_malformed,

  // Handshake: the server's response (RFC 6455 §4.1, §4.2.2, RFC 7692 §5-7).
  response_malformed,
  response_not_101,
  response_missing_upgrade,
  response_missing_connection_upgrade,
  response_missing_accept,
  response_accept_mismatch,
  response_duplicate_header,
  response_extension_not_offered,
  response_deflate_params_malformed,
  response_subprotocol_not_offered,
  response_multiple_subprotocols,
  response_no_subprotocol_selected,
  response_data_before_upgrade,

  count_  // keep last
};

inline constexpr size_t kRuleCount = static_cast<size_t>(Rule::count_);

struct RuleInfo {
  Rule rule;
  std::string_view id;   // stable kebab-case id, e.g. "reserved-opcode"
  uint16_t close_code;   // close code a conforming endpoint sends (1006 = drops TCP)
  uint16_t http_status;  // for request findings: the status a server answers, else 0
  Severity severity;
  std::string_view rfc;      // e.g. "RFC 6455 §5.2"
  std::string_view summary;  // one line: what the rule says
  std::string_view fix;      // one line: how to fix it
};

// Every rule, in enum order.
std::span<const RuleInfo> all_rules();
const RuleInfo& rule_info(Rule rule);
std::optional<Rule> rule_from_id(std::string_view id);

inline std::string_view severity_name(Severity s) {
  return s == Severity::error ? "error" : "warning";
}

}  // namespace wsi
