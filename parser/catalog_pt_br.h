// The catalogues in Brazilian Portuguese (pt-BR): every close-code entry
// (name, description, when, fix), every rule (summary, fix) and the fixed words
// the explanations are built from (headings, labels, sentence templates). The
// English text stays where it is (close_codes.cpp, rules.cpp); for Lang::en
// these functions return it unchanged, so a caller can always go through them.
//
// Terminology, as on the page wsinspect grew from: quadro (frame), quadro de
// fechamento, código de fechamento, handshake de abertura, extensão,
// intermediário, salto (hop), a outra ponta (the peer), abortar a conexão (fail
// the connection, RFC 6455 §7.1.7). Identifiers, header names, RFC sections,
// code numbers and `code spans` are kept as they are in English.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "parser/close_codes.h"
#include "parser/rules.h"

namespace wsi {

enum class Lang : uint8_t { en, pt_br };

// "en" or "pt-BR" (the canonical spelling, as --lang accepts it).
std::string_view lang_name(Lang lang);

// A language as a user names it: "en", "pt-BR", "pt_BR" or "pt", in any case;
// "en-US", "en_GB" and other English regions are English. nullopt otherwise
// (pt-PT too: the text is Brazilian Portuguese).
std::optional<Lang> lang_from_name(std::string_view name);

// The language of messages from the environment, with POSIX precedence: the
// first of LC_ALL, LC_MESSAGES and LANG that is set and non-empty decides, even
// when it names no language we have. A locale is language[_territory][.codeset]
// [@modifier]: "pt_BR.UTF-8", "pt_BR", "pt" and "pt.UTF-8" give pt_br;
// anything else ("C", "POSIX", "C.UTF-8", "en_US.UTF-8", "pt_PT.UTF-8", "de")
// gives en, as gettext would with no catalogue for it. Null pointers are unset.
Lang lang_from_env(const char* lc_all, const char* lc_messages, const char* lang);

// ---------------------------------------------------------------------------
// Catalogue text.

struct CloseCodeText {
  std::string_view name;         // "Protocol Error" / "Erro de protocolo"
  std::string_view description;  // what it means; its first sentence stands alone
  std::string_view when;         // when you see it; first sentence stands alone
  std::string_view fix;          // how to fix it; first sentence stands alone
};

// The text of one entry of all_close_codes() (matched by first and last code,
// since the range 3000-3999 and the code 3000 share a first code).
CloseCodeText close_code_text(const CloseCodeInfo& info, Lang lang);
// The same for the entry close_code_info(code) returns.
CloseCodeText close_code_text(uint32_t code, Lang lang);

struct RuleText {
  std::string_view summary;  // one line: what the rule says
  std::string_view fix;      // one line: how to fix it
};

// The text of a rule (matched by its stable id).
RuleText rule_text(Rule rule, Lang lang);
RuleText rule_text(const RuleInfo& info, Lang lang);

// "error"/"erro", "warning"/"aviso". The JSON log keeps severity_name().
std::string_view severity_text(Severity s, Lang lang);

// Who sends a code, in the three forms a sentence needs (Portuguese contracts
// the preposition with the article: "pelo servidor", "do servidor").
struct SenderText {
  std::string_view bare;  // "the server"      / "o servidor"; en == code_sender_name()
  std::string_view by;    // "by the server"   / "pelo servidor"
  std::string_view from;  // "from the server" / "do servidor"
};
SenderText code_sender_text(CodeSender s, Lang lang);

// The broad family of a code, as a noun phrase in the singular and the plural:
// below 1000, 1000-2999, 3000-3999, 4000-4999, 5000 and above.
struct CategoryText {
  std::string_view one;   // "a protocol close code (1000-2999, ...)"
  std::string_view many;  // "protocol close codes (1000-2999, ...)"
};
CategoryText code_category_text(uint32_t code, Lang lang);

// ---------------------------------------------------------------------------
// The fixed words of `wsinspect explain` and `wsinspect rules`.
//
// Templates have positional placeholders {0}..{9}, filled by fill_template(); each
// field's comment lists what goes where. The English values reproduce what
// proxy/explain_cmd.cpp prints today. Labels (*_label) end with ": " and are
// followed by their value; nothing else starts or ends with a space, so the
// caller joins sentences with " " (and "\n" before each advice_if_you_see).
struct ExplainText {
  // Section headings of one explanation.
  std::string_view what_it_means;      // "What it means"   / "Descrição"
  std::string_view when_you_see_it;    // "When you see it" / "Quando você o vê"
  std::string_view how_to_fix_it;      // "How to fix it"   / "Como corrigir"
  std::string_view key_differences;    // "Key differences" / "Diferenças principais"
  std::string_view which_one_applies;  // "Which one applies" / "Quando usar qual"

  // Titles. For a range, title_one is followed by " " and title_range.
  std::string_view title_one;    // {0} code, {1} name
  std::string_view title_range;  // {0} range text ("4000-4999")
  std::string_view title_two;    // {0} label a, {1} label b

  // The facts lines: label + value.
  std::string_view may_appear_label;       // "May appear in a close frame: "
  std::string_view sent_by_label;          // "Sent by: " (then SenderText::bare)
  std::string_view registry_label;         // "Registry: "
  std::string_view yes;                    // "yes"
  std::string_view no_because;             // "no: {0}", {0} a wire reason below
  std::string_view reason_local;           // wire reason of 1005, 1006, 1015
  std::string_view reason_receiver_fails;  // wire reason of every other forbidden code
  std::string_view registered;             // "IANA-registered code"
  std::string_view explained_by_range;     // {0} range text, {1} range name

  // Comparison intro.
  std::string_view same_range;  // {0} code a, {1} code b, {2} category.many, {3} range, {4} name
  std::string_view intro_same_category;  // {0} label a, {1} label b, {2} category.many
  std::string_view intro_categories;  // {0} label a, {1} category a .one, {2} label b, {3} b .one

  // The comparison table of two codes: a row label, then a cell per code.
  std::string_view row_name;      // "Name"
  std::string_view row_on_wire;   // "On the wire" (then yes / no_because)
  std::string_view row_sent_by;   // "Sent by" (then SenderText::bare)
  std::string_view row_category;  // "Category" (then CategoryText::one)
  std::string_view row_registry;  // "Registry"
  std::string_view row_rfc;       // "Defined in" (then one of rfc_* below)
  std::string_view row_cause;     // "Typical cause" (then the first sentence of `when`)
  std::string_view rfc_code;      // a code RFC 6455 §7.4.1 defines (1000-1011, 1015)
  std::string_view rfc_iana;      // a code registered with IANA after RFC 6455
  std::string_view rfc_range;     // a range of RFC 6455 §7.4.2

  // Key differences: items start with their label ("Meaning. ").
  std::string_view diff_meaning;        // "Meaning." (then " a: ... b: ...")
  std::string_view diff_when;           // "When it shows up."
  std::string_view wire_both;           // no placeholder
  std::string_view wire_neither_same;   // {0} the shared wire reason
  std::string_view wire_neither;        // {0} code a, {1} reason a, {2} code b, {3} reason b
  std::string_view wire_only;           // {0} code allowed, {1} code not allowed, {2} its reason
  std::string_view sender_same;         // {0} SenderText::by of both
  std::string_view sender_same_nobody;  // both CodeSender::nobody; no placeholder
  std::string_view sender_differ;       // {0} code a, {1} by a, {2} code b, {3} by b
  std::string_view registry_both;       // no placeholder
  std::string_view registry_differ;     // {0} code a, {1} registry a, {2} code b, {3} registry b

  // Which one applies.
  std::string_view advice_both_local;  // both reported locally; no placeholder
  std::string_view advice_chosen;      // otherwise; no placeholder
  std::string_view advice_one_local;   // {0} the code reported locally
  std::string_view advice_direction;   // {0} code a, {1} from a, {2} code b, {3} from b
  std::string_view advice_if_you_see;  // {0} label, {1} first sentence of its fix

  // Errors (after "wsinspect explain: ") and the usage line's second line.
  std::string_view err_empty;         // {0} 65535
  std::string_view err_not_code;      // {0} the argument, {1} 65535
  std::string_view err_out_of_range;  // {0} the argument, {1} 65535
  std::string_view usage_summary;     // no placeholder
};
const ExplainText& explain_text(Lang lang);

// `wsinspect rules` in text form: "ID  [severity, RFC, close N, HTTP N]",
// then the summary, then "fix: ...".
struct RulesText {
  std::string_view close_label;  // "close " / "fechamento "
  std::string_view fix_label;    // "fix: "   / "correção: "
};
const RulesText& rules_text(Lang lang);

// Replaces {0}..{9} in `tmpl` with args[0]..args[9]; any other text, and a
// placeholder with no argument, is copied as it is.
std::string fill_template(std::string_view tmpl, std::initializer_list<std::string_view> args);

}  // namespace wsi
