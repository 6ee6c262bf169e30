// The rule catalogue: one entry per Rule, in enum order, with a stable
// kebab-case id and the close code and HTTP status a conforming peer uses.
#include "parser/rules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "parser/close_codes.h"

namespace wsi {
namespace {

struct Named {
  Rule rule;
  std::string enum_name;
};

// Every enumerator with its spelling, so ids can be checked against the names.
#define WSI_RULE(name) \
  Named {              \
    Rule::name, #name  \
  }
const Named kNamed[] = {
    WSI_RULE(reserved_bits_set),
    WSI_RULE(rsv1_without_extension),
    WSI_RULE(rsv1_on_continuation),
    WSI_RULE(rsv1_on_control),
    WSI_RULE(reserved_opcode),
    WSI_RULE(continuation_without_start),
    WSI_RULE(data_frame_during_fragmented_message),
    WSI_RULE(fragmented_control_frame),
    WSI_RULE(control_frame_too_long),
    WSI_RULE(close_payload_length_1),
    WSI_RULE(invalid_close_code),
    WSI_RULE(invalid_utf8_close_reason),
    WSI_RULE(invalid_utf8_text),
    WSI_RULE(unmasked_client_frame),
    WSI_RULE(masked_server_frame),
    WSI_RULE(length_msb_set),
    WSI_RULE(non_minimal_length),
    WSI_RULE(message_too_big),
    WSI_RULE(inflate_error),
    WSI_RULE(frame_after_close),
    WSI_RULE(stream_ended_mid_frame),
    WSI_RULE(request_malformed),
    WSI_RULE(request_not_get),
    WSI_RULE(request_http_version),
    WSI_RULE(request_missing_host),
    WSI_RULE(request_missing_upgrade),
    WSI_RULE(request_missing_connection_upgrade),
    WSI_RULE(request_missing_key),
    WSI_RULE(request_invalid_key),
    WSI_RULE(request_missing_version),
    WSI_RULE(request_unsupported_version),
    WSI_RULE(request_duplicate_header),
    WSI_RULE(request_header_name_whitespace),
    WSI_RULE(request_deflate_offer_malformed),
    WSI_RULE(response_malformed),
    WSI_RULE(response_not_101),
    WSI_RULE(response_missing_upgrade),
    WSI_RULE(response_missing_connection_upgrade),
    WSI_RULE(response_missing_accept),
    WSI_RULE(response_accept_mismatch),
    WSI_RULE(response_duplicate_header),
    WSI_RULE(response_extension_not_offered),
    WSI_RULE(response_deflate_params_malformed),
    WSI_RULE(response_subprotocol_not_offered),
    WSI_RULE(response_multiple_subprotocols),
    WSI_RULE(response_no_subprotocol_selected),
    WSI_RULE(response_data_before_upgrade),
};
#undef WSI_RULE

std::string kebab(std::string s) {
  for (char& c : s) {
    if (c == '_') c = '-';
  }
  return s;
}

bool is_kebab_case(std::string_view id) {
  if (id.empty() || id.front() == '-' || id.back() == '-') return false;
  if (id.find("--") != std::string_view::npos) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

bool is_request(Rule r) {
  return rule_info(r).id.starts_with("request-");
}
bool is_response(Rule r) {
  return rule_info(r).id.starts_with("response-");
}

TEST(Rules, OneEntryPerRuleInEnumOrder) {
  ASSERT_EQ(all_rules().size(), kRuleCount);
  for (size_t i = 0; i < kRuleCount; ++i) {
    EXPECT_EQ(all_rules()[i].rule, static_cast<Rule>(i)) << "entry " << i;
    EXPECT_EQ(&rule_info(static_cast<Rule>(i)), &all_rules()[i]);
  }
}

TEST(Rules, IdIsTheKebabCaseEnumName) {
  ASSERT_EQ(std::size(kNamed), kRuleCount) << "kNamed must list every enumerator";
  for (const Named& n : kNamed) {
    EXPECT_EQ(rule_info(n.rule).id, kebab(n.enum_name));
  }
  EXPECT_EQ(rule_info(Rule::data_frame_during_fragmented_message).id,
            "data-frame-during-fragmented-message");
  EXPECT_EQ(rule_info(Rule::request_invalid_key).id, "request-invalid-key");
  EXPECT_EQ(rule_info(Rule::response_accept_mismatch).id, "response-accept-mismatch");
}

TEST(Rules, IdsAreUniqueKebabCaseAndRoundTrip) {
  std::set<std::string_view> seen;
  for (const RuleInfo& info : all_rules()) {
    EXPECT_TRUE(is_kebab_case(info.id)) << info.id;
    EXPECT_TRUE(seen.insert(info.id).second) << "duplicate id " << info.id;
    std::optional<Rule> back = rule_from_id(info.id);
    ASSERT_TRUE(back.has_value()) << info.id;
    EXPECT_EQ(*back, info.rule);
  }
}

TEST(Rules, UnknownIdsAreRejected) {
  EXPECT_FALSE(rule_from_id(""));
  EXPECT_FALSE(rule_from_id("no-such-rule"));
  EXPECT_FALSE(rule_from_id("Reserved-Opcode"));
  EXPECT_FALSE(rule_from_id("reserved_opcode"));
  EXPECT_FALSE(rule_from_id("reserved-opcode "));
  EXPECT_FALSE(rule_from_id("reserved-opcod"));
}

TEST(Rules, EveryEntryHasRfcSummaryAndFix) {
  for (const RuleInfo& info : all_rules()) {
    SCOPED_TRACE(std::string(info.id));
    EXPECT_TRUE(info.rfc.starts_with("RFC 6455 §") || info.rfc.starts_with("RFC 7692 §") ||
                info.rfc.starts_with("RFC 9112 §"))
        << info.rfc;
    EXPECT_FALSE(info.summary.empty());
    EXPECT_FALSE(info.fix.empty());
    EXPECT_FALSE(contains(info.summary, "\n")) << "a summary is one line";
    EXPECT_TRUE(info.summary.ends_with("."));
    EXPECT_TRUE(info.fix.ends_with(".") || info.fix.ends_with(")."));
  }
}

TEST(Rules, FrameRulesCloseWithTheCodeAConformingPeerSends) {
  for (const RuleInfo& info : all_rules()) {
    if (is_request(info.rule) || is_response(info.rule)) continue;
    SCOPED_TRACE(std::string(info.id));
    EXPECT_EQ(info.http_status, 0);
    switch (info.rule) {
      case Rule::invalid_utf8_text:
      case Rule::invalid_utf8_close_reason:
      case Rule::inflate_error:
        EXPECT_EQ(info.close_code, 1007);
        EXPECT_EQ(info.severity, Severity::error);
        break;
      case Rule::message_too_big:
        EXPECT_EQ(info.close_code, 1009);
        EXPECT_EQ(info.severity, Severity::error);
        break;
      case Rule::frame_after_close:
        EXPECT_EQ(info.close_code, 0);
        EXPECT_EQ(info.severity, Severity::warning);
        break;
      case Rule::stream_ended_mid_frame:
        EXPECT_EQ(info.close_code, 1006);
        EXPECT_EQ(info.severity, Severity::warning);
        break;
      default:
        EXPECT_EQ(info.close_code, 1002);
        EXPECT_EQ(info.severity, Severity::error);
    }
  }
}

TEST(Rules, RequestFindingsCarryTheServersHttpStatus) {
  size_t count = 0;
  for (const RuleInfo& info : all_rules()) {
    if (!is_request(info.rule)) continue;
    ++count;
    SCOPED_TRACE(std::string(info.id));
    if (info.rule == Rule::request_deflate_offer_malformed) {
      // RFC 7692 §7: the server declines the offer and still upgrades, so the
      // connection works (uncompressed): a warning.
      EXPECT_EQ(info.severity, Severity::warning);
      EXPECT_EQ(info.http_status, 0);
      EXPECT_EQ(info.close_code, 0);
      continue;
    }
    EXPECT_EQ(info.severity, Severity::error);
    EXPECT_EQ(info.close_code, 1006);
    EXPECT_EQ(info.http_status, info.rule == Rule::request_unsupported_version ? 426 : 400);
  }
  EXPECT_EQ(count, 13u);
  EXPECT_TRUE(
      contains(rule_info(Rule::request_unsupported_version).summary, "Sec-WebSocket-Version: 13"));
}

TEST(Rules, ResponseFindingsMakeTheClientReport1006) {
  size_t count = 0;
  for (const RuleInfo& info : all_rules()) {
    if (!is_response(info.rule)) continue;
    ++count;
    SCOPED_TRACE(std::string(info.id));
    EXPECT_EQ(info.close_code, 1006);
    EXPECT_EQ(info.http_status, 0);
    // Allowed by RFC 6455, yet clients fail on them: warnings.
    const bool allowed =
        info.rule == Rule::response_not_101 || info.rule == Rule::response_no_subprotocol_selected;
    EXPECT_EQ(info.severity, allowed ? Severity::warning : Severity::error);
  }
  EXPECT_EQ(count, 13u);
  EXPECT_TRUE(contains(rule_info(Rule::response_not_101).fix, "1006"));
}

TEST(Rules, CloseCodesAreSendableOrLocal) {
  for (const RuleInfo& info : all_rules()) {
    SCOPED_TRACE(std::string(info.id));
    EXPECT_TRUE(info.close_code == 0 || info.close_code == 1006 ||
                close_code_valid_on_wire(info.close_code))
        << info.close_code;
  }
}

TEST(Rules, TextsNameWhatCommonStacksDo) {
  const RuleInfo& inflate = rule_info(Rule::inflate_error);
  std::string both = std::string(inflate.summary) + " " + std::string(inflate.fix);
  EXPECT_TRUE(contains(both, "`ws`"));
  EXPECT_TRUE(contains(both, "`websockets`"));
  EXPECT_TRUE(contains(both, "1002"));
  // non-minimal-length is an error (RFC 6455 §5.2 MUST; Chromium and, for
  // control frames, `ws` fail it with 1002), and says who tolerates it.
  const RuleInfo& length = rule_info(Rule::non_minimal_length);
  EXPECT_EQ(length.severity, Severity::error);
  EXPECT_EQ(length.close_code, 1002);
  const std::string length_text = std::string(length.summary) + " " + std::string(length.fix);
  EXPECT_TRUE(contains(length.fix, "MUST"));
  EXPECT_TRUE(contains(length.summary, "Chromium"));
  EXPECT_TRUE(contains(length.summary, "control frame"));
  EXPECT_TRUE(contains(length_text, "`ws` accepts data frames"));
  EXPECT_TRUE(contains(length_text, "`websockets`"));
  EXPECT_FALSE(contains(length_text, "warning"));
  EXPECT_TRUE(contains(rule_info(Rule::response_extension_not_offered).fix, "intermediary"));
  EXPECT_EQ(rule_info(Rule::close_payload_length_1).rfc, "RFC 6455 §5.5.1");
  EXPECT_EQ(rule_info(Rule::reserved_opcode).rfc, "RFC 6455 §5.2");
}

TEST(Rules, SeverityNames) {
  EXPECT_EQ(severity_name(Severity::error), "error");
  EXPECT_EQ(severity_name(Severity::warning), "warning");
}

}  // namespace
}  // namespace wsi
