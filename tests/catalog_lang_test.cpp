// The catalogues in both languages: every close-code entry and every rule has
// Brazilian Portuguese text in every field, with the same code numbers, RFC
// references, `code spans`, quoted strings and identifiers as the English; the
// fixed words of `explain` exist in both languages (and the English ones are
// what the command prints); the language is chosen from a name or the locale.
#include "parser/catalog_pt_br.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "parser/close_codes.h"
#include "parser/rules.h"
#include "proxy/commands.h"

namespace wsi {
namespace {

using Set = std::set<std::string>;

Set matches(std::string_view text, const std::regex& re) {
  Set out;
  std::string s(text);
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
    out.insert(it->str());
  return out;
}

// Numbers, as written: codes (1002), ranges (0-999 gives 0 and 999), sizes
// (125, 2^63), versions (1.1), hex opcodes (0xB). Words for numbers ("one
// byte", "two code bytes") are translated; digits never are.
Set numbers(std::string_view t) {
  static const std::regex re("0x[0-9A-Fa-f]+|[0-9]+(\\.[0-9]+)*");
  return matches(t, re);
}

Set rfc_refs(std::string_view t) {
  static const std::regex re("RFC [0-9]+|\xC2\xA7[0-9]+(\\.[0-9]+)*");
  return matches(t, re);
}

Set code_spans(std::string_view t) {
  static const std::regex re("`[^`]*`");
  return matches(t, re);
}

// Quoted strings are literal protocol text: tokens ("websocket"), the GUID,
// header lines, an error message of `ws`.
Set quoted(std::string_view t) {
  static const std::regex re("\"[^\"]*\"");
  return matches(t, re);
}

// Header names, bits, flags, function calls, HTTP versions and rule ids.
Set identifiers(std::string_view t) {
  static const std::regex re(
      "Sec-WebSocket-[A-Za-z]+\\*?|RSV[0-9]|MASK=[0-9]|FIN(=[0-9])?|[A-Za-z_]+\\(\\)|HTTP/"
      "[0-9.]+|permessage-deflate");
  Set out = matches(t, re);
  for (const RuleInfo& r : all_rules())
    if (t.find(r.id) != std::string_view::npos) out.insert(std::string(r.id));
  return out;
}

// Names and terms that stay as they are in a Portuguese text: if the English
// uses one, so does the Portuguese, and the reverse.
constexpr std::string_view kKeptTerms[] = {
    "IANA",
    "Chromium",
    "Node.js",
    "nginx",
    "GraphQL",
    "DEFLATE",
    "UTF-8",
    "TLS",
    "TCP",
    "NAT",
    "JSON",
    "HTML",
    "GET",
    "Host",
    "Upgrade",
    "Connection",
    "Authorization",
    "Accept",
    "keep-alive",
    "maxPayload",
    "max_size",
    "base64",
    "SHA-1",
    "PROXY",
    "wsinspect",
    "WebSocket",
    "Python",
    "opcode",
    "Latin-1",
    "HTTP",
    "close()",
    "MUST",
    "Switching Protocols",
    "Upgrade Required",
};

Set kept_terms(std::string_view t) {
  Set out;
  for (std::string_view term : kKeptTerms)
    if (t.find(term) != std::string_view::npos) out.insert(std::string(term));
  return out;
}

// Words as runs of letters, digits, '-' and '_' (bytes of UTF-8 sequences count
// as letters, so "código" is one word).
std::vector<std::string> words(std::string_view t) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || u >= 0x80) {
      cur += c;
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string without_code_spans(std::string_view t) {
  static const std::regex re("`[^`]*`|\"[^\"]*\"");
  return std::regex_replace(std::string(t), re, " ");
}

// English function words that have no place in the Portuguese prose, and the
// English words the Portuguese terminology replaces: quadro (frame), a outra
// ponta (peer), salto (hop; "hop-by-hop" is the HTTP term and stays). Not
// "for", which is Portuguese too ("se for útil").
const Set kEnglishWords = {"the",  "and",   "is",     "are",  "of",    "to",  "with",
                           "that", "which", "when",   "its",  "an",    "by",  "from",
                           "this", "frame", "frames", "peer", "peers", "hop", "hops"};

// Some of the commonest Portuguese words: every text of a sentence or more
// has one.
const Set kPortugueseWords = {"o",    "os",  "a",  "as",  "de",   "do",   "da",
                              "dos",  "das", "um", "uma", "que",  "não",  "num",
                              "numa", "em",  "no", "na",  "com",  "para", "por",
                              "se",   "é",   "ou", "e",   "pelo", "pela", "só"};

void expect_portuguese(std::string_view pt, const std::string& where) {
  bool has_pt = false;
  for (const std::string& w : words(without_code_spans(pt))) {
    std::string lower;
    for (char c : w) lower += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    EXPECT_EQ(kEnglishWords.count(lower), 0u) << where << ": English word '" << w << "' in: " << pt;
    if (kPortugueseWords.count(lower)) has_pt = true;
  }
  EXPECT_TRUE(has_pt) << where << ": does not read as Portuguese: " << pt;
}

// The two texts of one field carry the same facts: numbers, RFC references,
// code spans, quoted strings, identifiers and kept terms.
void expect_same_facts(std::string_view en, std::string_view pt, const std::string& where) {
  EXPECT_EQ(numbers(en), numbers(pt)) << where << "\n en: " << en << "\n pt: " << pt;
  EXPECT_EQ(rfc_refs(en), rfc_refs(pt)) << where << "\n en: " << en << "\n pt: " << pt;
  EXPECT_EQ(code_spans(en), code_spans(pt)) << where << "\n en: " << en << "\n pt: " << pt;
  EXPECT_EQ(quoted(en), quoted(pt)) << where << "\n en: " << en << "\n pt: " << pt;
  EXPECT_EQ(identifiers(en), identifiers(pt)) << where << "\n en: " << en << "\n pt: " << pt;
  EXPECT_EQ(kept_terms(en), kept_terms(pt)) << where << "\n en: " << en << "\n pt: " << pt;
}

void expect_translated(std::string_view en, std::string_view pt, const std::string& where) {
  EXPECT_FALSE(pt.empty()) << where;
  EXPECT_NE(en, pt) << where << ": no Portuguese text";
  EXPECT_EQ(pt.find('\n'), std::string_view::npos) << where;
  EXPECT_FALSE(pt.starts_with(" ") || pt.ends_with(" ")) << where;
  EXPECT_EQ(pt.find("  "), std::string_view::npos) << where << ": double space";
}

// As explain cuts it: up to the first ". ".
std::string_view first_sentence(std::string_view text) {
  size_t end = text.find(". ");
  return end == std::string_view::npos ? text : text.substr(0, end + 1);
}

size_t count_char(std::string_view t, char c) {
  size_t n = 0;
  for (char x : t) n += x == c;
  return n;
}

// explain quotes the first sentence of a description, a "when" or a fix on its
// own, so it must be a whole sentence: no abbreviation cut at its dot, no
// parenthesis or code span left open.
void expect_first_sentence_stands_alone(std::string_view pt, const std::string& where) {
  const std::string_view s = first_sentence(pt);
  EXPECT_TRUE(s.ends_with(".")) << where << ": " << s;
  EXPECT_GE(words(s).size(), 3u) << where << ": " << s;
  EXPECT_EQ(count_char(s, '('), count_char(s, ')')) << where << ": " << s;
  EXPECT_EQ(count_char(s, '`') % 2, 0u) << where << ": " << s;
  EXPECT_EQ(count_char(s, '"') % 2, 0u) << where << ": " << s;
  for (std::string_view abbrev : {" ex.", " p.", " etc.", " vs.", " aprox.", " obs.", " Sr."})
    EXPECT_EQ(std::string(" ").append(pt).find(std::string(abbrev) + " "), std::string::npos)
        << where << ": '" << abbrev << "' would cut the first sentence: " << pt;
}

std::string entry_name(const CloseCodeInfo& info) {
  return info.first == info.last ? std::to_string(info.first)
                                 : std::to_string(info.first) + "-" + std::to_string(info.last);
}

// Names identical in both languages: none. Even "TLS Handshake" reads
// "Handshake TLS" in Portuguese, and the IANA names are descriptions, not
// proper nouns. An entry whose Portuguese name is rightly the English one
// would be listed here with the reason.
const Set kNamesKeptInEnglish = {};

TEST(CatalogLang, EveryCloseCodeEntryHasPortugueseTextInEveryField) {
  ASSERT_GE(all_close_codes().size(), 20u);
  for (const CloseCodeInfo& info : all_close_codes()) {
    const std::string where = "close code " + entry_name(info);
    const CloseCodeText en = close_code_text(info, Lang::en);
    const CloseCodeText pt = close_code_text(info, Lang::pt_br);
    EXPECT_EQ(en.name, info.name) << where;
    EXPECT_EQ(en.description, info.description) << where;
    EXPECT_EQ(en.when, info.when) << where;
    EXPECT_EQ(en.fix, info.fix) << where;

    if (kNamesKeptInEnglish.count(std::string(info.name))) {
      EXPECT_EQ(pt.name, en.name) << where;
    } else {
      expect_translated(en.name, pt.name, where + " name");
    }
    expect_same_facts(en.name, pt.name, where + " name");
    for (auto [field, e, p] :
         {std::tuple{"description", en.description, pt.description},
          std::tuple{"when", en.when, pt.when}, std::tuple{"fix", en.fix, pt.fix}}) {
      const std::string w = where + " " + field;
      expect_translated(e, p, w);
      expect_same_facts(e, p, w);
      expect_portuguese(p, w);
      expect_first_sentence_stands_alone(p, w);
    }
  }
}

TEST(CatalogLang, CloseCodeTextByCodeFollowsTheEntryLookup) {
  // A registered code inside a range has its own text; other codes their range's.
  EXPECT_EQ(close_code_text(3000, Lang::pt_br).name, "Não autorizado");
  EXPECT_EQ(close_code_text(3001, Lang::pt_br).name, "Códigos de bibliotecas e frameworks");
  EXPECT_EQ(close_code_text(1002, Lang::pt_br).name, "Erro de protocolo");
  EXPECT_EQ(close_code_text(4321, Lang::pt_br).name, "Uso privado");
  EXPECT_EQ(close_code_text(70000, Lang::pt_br).name, "Fora de faixa");
  EXPECT_EQ(close_code_text(1002, Lang::en).name, "Protocol Error");
  // Every 16-bit code has a Portuguese name.
  for (uint32_t code = 0; code <= 65535; ++code) {
    ASSERT_NE(close_code_text(code, Lang::pt_br).name, close_code_info(code).name) << code;
  }
}

TEST(CatalogLang, EveryRuleHasPortugueseSummaryAndFix) {
  ASSERT_EQ(all_rules().size(), kRuleCount);
  for (const RuleInfo& info : all_rules()) {
    const std::string where = "rule " + std::string(info.id);
    const RuleText en = rule_text(info.rule, Lang::en);
    const RuleText pt = rule_text(info.rule, Lang::pt_br);
    EXPECT_EQ(en.summary, info.summary) << where;
    EXPECT_EQ(en.fix, info.fix) << where;
    EXPECT_EQ(rule_text(info, Lang::pt_br).summary, pt.summary) << where;
    for (auto [field, e, p] :
         {std::tuple{"summary", en.summary, pt.summary}, std::tuple{"fix", en.fix, pt.fix}}) {
      const std::string w = where + " " + field;
      expect_translated(e, p, w);
      expect_same_facts(e, p, w);
      expect_portuguese(p, w);
      EXPECT_TRUE(p.ends_with(".")) << w << ": " << p;
    }
  }
}

TEST(CatalogLang, SeveritySendersAndCategoriesInBothLanguages) {
  EXPECT_EQ(severity_text(Severity::error, Lang::en), "error");
  EXPECT_EQ(severity_text(Severity::warning, Lang::en), "warning");
  EXPECT_EQ(severity_text(Severity::error, Lang::pt_br), "erro");
  EXPECT_EQ(severity_text(Severity::warning, Lang::pt_br), "aviso");

  for (CodeSender s : {CodeSender::either, CodeSender::server, CodeSender::client,
                       CodeSender::application, CodeSender::nobody}) {
    const SenderText en = code_sender_text(s, Lang::en);
    const SenderText pt = code_sender_text(s, Lang::pt_br);
    const std::string where = "sender " + std::string(en.bare);
    EXPECT_EQ(en.bare, code_sender_name(s)) << where;
    EXPECT_EQ(en.by, "by " + std::string(en.bare)) << where;
    EXPECT_EQ(en.from, "from " + std::string(en.bare)) << where;
    for (auto [e, p] :
         {std::pair{en.bare, pt.bare}, std::pair{en.by, pt.by}, std::pair{en.from, pt.from}}) {
      expect_translated(e, p, where);
      expect_same_facts(e, p, where);
    }
    // "por"/"de" with the article contracted: pelo, pela, do, da.
    EXPECT_TRUE(pt.by.starts_with("por ") || pt.by.starts_with("pelo ") ||
                pt.by.starts_with("pela "))
        << pt.by;
    EXPECT_TRUE(pt.from.starts_with("de ") || pt.from.starts_with("do ") ||
                pt.from.starts_with("da "))
        << pt.from;
  }

  // The English phrases are explain's (category() in proxy/explain_cmd.cpp).
  EXPECT_EQ(code_category_text(1002, Lang::en).one,
            "a protocol close code (1000-2999, reserved for RFC 6455 and its extensions)");
  EXPECT_EQ(code_category_text(4321, Lang::en).many, "private-use application codes (4000-4999)");
  for (uint32_t code : {0u, 999u, 1000u, 2999u, 3000u, 3999u, 4000u, 4999u, 5000u, 65535u}) {
    const CategoryText en = code_category_text(code, Lang::en);
    const CategoryText pt = code_category_text(code, Lang::pt_br);
    const std::string where = "category of " + std::to_string(code);
    for (auto [e, p] : {std::pair{en.one, pt.one}, std::pair{en.many, pt.many}}) {
      expect_translated(e, p, where);
      expect_same_facts(e, p, where);
      expect_portuguese(p, where);
    }
    EXPECT_TRUE(pt.one.starts_with("um ")) << pt.one;
  }
}

// Every field of ExplainText, for the checks that apply to all of them.
struct ExplainField {
  const char* name;
  std::string_view ExplainText::*member;
};

#define WSI_FIELD(f)    \
  ExplainField {        \
#f, &ExplainText::f \
  }
constexpr ExplainField kExplainFields[] = {
    WSI_FIELD(what_it_means),
    WSI_FIELD(when_you_see_it),
    WSI_FIELD(how_to_fix_it),
    WSI_FIELD(key_differences),
    WSI_FIELD(which_one_applies),
    WSI_FIELD(title_one),
    WSI_FIELD(title_range),
    WSI_FIELD(title_two),
    WSI_FIELD(may_appear_label),
    WSI_FIELD(sent_by_label),
    WSI_FIELD(registry_label),
    WSI_FIELD(yes),
    WSI_FIELD(no_because),
    WSI_FIELD(reason_local),
    WSI_FIELD(reason_receiver_fails),
    WSI_FIELD(registered),
    WSI_FIELD(explained_by_range),
    WSI_FIELD(same_range),
    WSI_FIELD(intro_same_category),
    WSI_FIELD(intro_categories),
    WSI_FIELD(row_name),
    WSI_FIELD(row_on_wire),
    WSI_FIELD(row_sent_by),
    WSI_FIELD(row_category),
    WSI_FIELD(row_registry),
    WSI_FIELD(row_rfc),
    WSI_FIELD(row_cause),
    WSI_FIELD(rfc_code),
    WSI_FIELD(rfc_iana),
    WSI_FIELD(rfc_range),
    WSI_FIELD(diff_meaning),
    WSI_FIELD(diff_when),
    WSI_FIELD(wire_both),
    WSI_FIELD(wire_neither_same),
    WSI_FIELD(wire_neither),
    WSI_FIELD(wire_only),
    WSI_FIELD(sender_same),
    WSI_FIELD(sender_same_nobody),
    WSI_FIELD(sender_differ),
    WSI_FIELD(registry_both),
    WSI_FIELD(registry_differ),
    WSI_FIELD(advice_both_local),
    WSI_FIELD(advice_chosen),
    WSI_FIELD(advice_one_local),
    WSI_FIELD(advice_direction),
    WSI_FIELD(advice_if_you_see),
    WSI_FIELD(err_empty),
    WSI_FIELD(err_not_code),
    WSI_FIELD(err_out_of_range),
    WSI_FIELD(usage_summary),
};
#undef WSI_FIELD
static_assert(sizeof(kExplainFields) / sizeof(kExplainFields[0]) ==
                  sizeof(ExplainText) / sizeof(std::string_view),
              "kExplainFields lists every field of ExplainText");

Set placeholders(std::string_view t) {
  static const std::regex re("\\{[0-9]\\}");
  return matches(t, re);
}

TEST(CatalogLang, ExplainWordsExistInBothLanguagesWithTheSamePlaceholders) {
  const ExplainText& en = explain_text(Lang::en);
  const ExplainText& pt = explain_text(Lang::pt_br);
  for (const ExplainField& f : kExplainFields) {
    const std::string_view e = en.*f.member;
    const std::string_view p = pt.*f.member;
    const std::string where = std::string("explain ") + f.name;
    EXPECT_FALSE(e.empty()) << where;
    EXPECT_FALSE(p.empty()) << where;
    EXPECT_NE(e, p) << where << ": no Portuguese text";
    EXPECT_EQ(placeholders(e), placeholders(p)) << where << "\n en: " << e << "\n pt: " << p;
    EXPECT_EQ(numbers(e), numbers(p)) << where << "\n en: " << e << "\n pt: " << p;
    expect_same_facts(e, p, where);
    // Labels end with ": "; nothing else has a space at either end.
    const bool label = std::string_view(f.name).ends_with("_label");
    for (std::string_view t : {e, p}) {
      EXPECT_FALSE(t.starts_with(" ")) << where;
      EXPECT_EQ(t.ends_with(" "), label) << where << ": '" << t << "'";
      if (label) {
        EXPECT_TRUE(t.ends_with(": ")) << where;
      }
    }
    // Long enough to read as a language: five words that are not placeholders.
    size_t prose = 0;
    for (const std::string& w : words(p)) prose += w.find_first_not_of("0123456789") != w.npos;
    if (prose >= 5) expect_portuguese(p, where);
  }
  // The headings of the page wsinspect grew from.
  EXPECT_EQ(pt.what_it_means, "Descrição");
  EXPECT_EQ(pt.when_you_see_it, "Quando você o vê");
  EXPECT_EQ(pt.how_to_fix_it, "Como corrigir");
  EXPECT_EQ(pt.key_differences, "Diferenças principais");
  EXPECT_EQ(pt.which_one_applies, "Quando usar qual");

  EXPECT_EQ(rules_text(Lang::en).fix_label, "fix: ");
  EXPECT_EQ(rules_text(Lang::en).close_label, "close ");
  EXPECT_NE(rules_text(Lang::pt_br).fix_label, rules_text(Lang::en).fix_label);
  EXPECT_NE(rules_text(Lang::pt_br).close_label, rules_text(Lang::en).close_label);
}

TEST(CatalogLang, FillReplacesPositionalPlaceholders) {
  EXPECT_EQ(fill_template("{0} and {1}", {"a", "b"}), "a and b");
  EXPECT_EQ(fill_template("{1}{0}{1}", {"x", "y"}), "yxy");
  EXPECT_EQ(fill_template("no placeholder", {"a"}), "no placeholder");
  EXPECT_EQ(fill_template("{2} stays, {x} and {} too", {"a"}), "{2} stays, {x} and {} too");
  EXPECT_EQ(fill_template("{0}", {""}), "");
  EXPECT_EQ(fill_template("tail {", {"a"}), "tail {");
  EXPECT_EQ(fill_template("{0}", {"{1}", "no"}), "{1}") << "arguments are not expanded again";
}

// ---------------------------------------------------------------------------
// The English templates are what `wsinspect explain` prints, so that the
// command can be built from them with no change to its English output.

std::string squeeze(std::string_view t) {
  std::string out;
  for (char c : t) {
    if (c == ' ' || c == '\n') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

struct ExplainRun {
  int status;
  std::string out;  // squeezed
  std::string err;
};

ExplainRun explain(std::vector<std::string> args) {
  std::ostringstream out, err;
  int status = run_explain(args, out, err);
  return {status, squeeze(out.str()), squeeze(err.str())};
}

std::string label(uint32_t code) {
  const CloseCodeInfo& info = close_code_info(code);
  std::string s = std::to_string(code) + " (" + std::string(info.name);
  if (info.first != info.last)
    s += ", " + std::to_string(info.first) + "-" + std::to_string(info.last);
  return s + ")";
}

#define EXPECT_SHOWS(run, text)                               \
  EXPECT_NE((run).out.find(squeeze(text)), std::string::npos) \
      << squeeze(text) << "\nin: " << (run).out

TEST(CatalogLang, EnglishExplainTemplatesMatchTheExplainCommand) {
  const ExplainText& t = explain_text(Lang::en);
  auto by = [](uint32_t code) { return code_sender_text(close_code_info(code).sender, Lang::en); };

  const ExplainRun one = explain({"4321"});
  ASSERT_EQ(one.status, 0);
  EXPECT_SHOWS(one, fill_template(t.title_one, {"4321", "Private Use"}) + " " +
                        fill_template(t.title_range, {"4000-4999"}));
  EXPECT_SHOWS(one, std::string(t.may_appear_label) + std::string(t.yes));
  EXPECT_SHOWS(one, std::string(t.sent_by_label) + std::string(by(4321).bare));
  EXPECT_SHOWS(one, std::string(t.registry_label) +
                        fill_template(t.explained_by_range, {"4000-4999", "Private Use"}));
  EXPECT_SHOWS(one, t.what_it_means);
  EXPECT_SHOWS(one, t.when_you_see_it);
  EXPECT_SHOWS(one, t.how_to_fix_it);

  const ExplainRun same = explain({"1002", "1008"});
  ASSERT_EQ(same.status, 0);
  EXPECT_SHOWS(same, fill_template(t.title_two, {label(1002), label(1008)}));
  EXPECT_SHOWS(same,
               fill_template(t.intro_same_category,
                             {label(1002), label(1008), code_category_text(1002, Lang::en).many}));
  EXPECT_SHOWS(same, std::string(t.diff_meaning) +
                         " 1002: " + std::string(close_code_info(1002).description) +
                         " 1008: " + std::string(close_code_info(1008).description));
  for (std::string_view row : {t.row_name, t.row_on_wire, t.row_sent_by, t.row_category,
                               t.row_registry, t.row_rfc, t.row_cause}) {
    EXPECT_SHOWS(same, row);
  }
  EXPECT_SHOWS(
      same, std::string(t.row_rfc) + " " + std::string(t.rfc_code) + " " + std::string(t.rfc_code));
  EXPECT_SHOWS(same,
               std::string(t.row_on_wire) + " " + std::string(t.yes) + " " + std::string(t.yes));
  EXPECT_SHOWS(same, std::string(t.diff_when) +
                         " 1002: " + std::string(first_sentence(close_code_info(1002).when)));
  EXPECT_SHOWS(same, t.wire_both);
  EXPECT_SHOWS(same, fill_template(t.sender_same, {by(1002).by}));
  EXPECT_SHOWS(same, t.registry_both);
  EXPECT_SHOWS(same, t.key_differences);
  EXPECT_SHOWS(same, t.which_one_applies);
  EXPECT_SHOWS(same, t.advice_chosen);
  EXPECT_SHOWS(same, fill_template(t.advice_if_you_see,
                                   {label(1008), first_sentence(close_code_info(1008).fix)}));
  EXPECT_SHOWS(same, std::string(t.row_registry) + " " + std::string(t.registered) + " " +
                         std::string(t.registered));
  EXPECT_EQ(same.out.find(t.what_it_means), std::string::npos) << "a table, not two texts";

  const ExplainRun local = explain({"1005", "1006"});
  ASSERT_EQ(local.status, 0);
  EXPECT_SHOWS(explain({"1006"}),
               std::string(t.may_appear_label) + fill_template(t.no_because, {t.reason_local}));
  EXPECT_SHOWS(local, fill_template(t.wire_neither_same, {t.reason_local}));
  EXPECT_SHOWS(local, t.sender_same_nobody);
  EXPECT_SHOWS(local, t.advice_both_local);

  const ExplainRun mixed = explain({"1000", "1006"});
  ASSERT_EQ(mixed.status, 0);
  EXPECT_SHOWS(mixed, fill_template(t.wire_only, {"1000", "1006", t.reason_local}));
  EXPECT_SHOWS(mixed, fill_template(t.sender_differ, {"1000", by(1000).by, "1006", by(1006).by}));
  EXPECT_SHOWS(mixed, fill_template(t.advice_one_local, {"1006"}));

  const ExplainRun reasons = explain({"1004", "1005"});
  ASSERT_EQ(reasons.status, 0);
  EXPECT_SHOWS(reasons, fill_template(t.wire_neither,
                                      {"1004", t.reason_receiver_fails, "1005", t.reason_local}));

  const ExplainRun direction = explain({"1002", "1012"});
  ASSERT_EQ(direction.status, 0);
  EXPECT_SHOWS(direction,
               fill_template(t.advice_direction, {"1002", by(1002).from, "1012", by(1012).from}));
  EXPECT_SHOWS(direction, t.rfc_iana);

  const ExplainRun kinds = explain({"1002", "4321"});
  ASSERT_EQ(kinds.status, 0);
  EXPECT_SHOWS(kinds, fill_template(t.intro_categories,
                                    {label(1002), code_category_text(1002, Lang::en).one,
                                     label(4321), code_category_text(4321, Lang::en).one}));
  EXPECT_SHOWS(kinds,
               fill_template(t.registry_differ,
                             {"1002", t.registered, "4321",
                              fill_template(t.explained_by_range, {"4000-4999", "Private Use"})}));

  EXPECT_SHOWS(kinds, t.rfc_range);

  const ExplainRun range = explain({"4321", "4322"});
  ASSERT_EQ(range.status, 0);
  EXPECT_SHOWS(range,
               fill_template(t.same_range, {"4321", "4322", code_category_text(4321, Lang::en).many,
                                            "4000-4999", "Private Use"}));

  EXPECT_NE(explain({""}).err.find(fill_template(t.err_empty, {"65535"})), std::string::npos);
  EXPECT_NE(explain({"abc"}).err.find(fill_template(t.err_not_code, {"abc", "65535"})),
            std::string::npos);
  EXPECT_NE(explain({"70000"}).err.find(fill_template(t.err_out_of_range, {"70000", "65535"})),
            std::string::npos);
  EXPECT_NE(explain({}).err.find(t.usage_summary), std::string::npos);

  std::ostringstream out, err;
  ASSERT_EQ(run_rules(false, {"reserved-opcode"}, out, err), 0);
  EXPECT_NE(out.str().find(std::string(rules_text(Lang::en).close_label) + "1002"),
            std::string::npos);
  EXPECT_NE(out.str().find(rules_text(Lang::en).fix_label), std::string::npos);
}

// ---------------------------------------------------------------------------
// Choosing the language.

TEST(CatalogLang, LanguageFromName) {
  for (const char* en : {"en", "EN", "En", "en-US", "en_GB", "en-us"})
    EXPECT_EQ(lang_from_name(en), Lang::en) << en;
  for (const char* pt : {"pt-BR", "pt_BR", "pt", "PT", "pt-br", "PT_br", "Pt-Br"})
    EXPECT_EQ(lang_from_name(pt), Lang::pt_br) << pt;
  for (const char* bad : {"", "pt-PT", "pt_PT", "de", "fr-FR", "english", "portuguese", "pt-",
                          "-BR", "pt BR", "pt_BR.UTF-8", "ptBR", "pt-BRA1", "C", "POSIX"})
    EXPECT_FALSE(lang_from_name(bad).has_value()) << "'" << bad << "'";
  EXPECT_EQ(lang_name(Lang::en), "en");
  EXPECT_EQ(lang_name(Lang::pt_br), "pt-BR");
  EXPECT_EQ(lang_from_name(lang_name(Lang::pt_br)), Lang::pt_br);
  EXPECT_EQ(lang_from_name(lang_name(Lang::en)), Lang::en);
}

TEST(CatalogLang, LanguageFromLocaleValues) {
  for (const char* pt : {"pt_BR.UTF-8", "pt_BR.utf8", "pt_BR", "pt_BR@latin", "pt_BR.UTF-8@x", "pt",
                         "pt.UTF-8", "PT_br.UTF-8"})
    EXPECT_EQ(lang_from_env(nullptr, nullptr, pt), Lang::pt_br) << pt;
  for (const char* en : {"C", "POSIX", "C.UTF-8", "en_US.UTF-8", "en", "pt_PT.UTF-8", "pt_AO",
                         "de_DE.UTF-8", "fr", "garbage value", ".UTF-8", "_BR", "/usr/lib/locale"})
    EXPECT_EQ(lang_from_env(nullptr, nullptr, en), Lang::en) << en;
}

TEST(CatalogLang, LanguageFromEnvironmentFollowsPosixPrecedence) {
  // Nothing set, or only empty values.
  EXPECT_EQ(lang_from_env(nullptr, nullptr, nullptr), Lang::en);
  EXPECT_EQ(lang_from_env("", "", ""), Lang::en);
  // Each variable alone.
  EXPECT_EQ(lang_from_env("pt_BR.UTF-8", nullptr, nullptr), Lang::pt_br);
  EXPECT_EQ(lang_from_env(nullptr, "pt_BR.UTF-8", nullptr), Lang::pt_br);
  EXPECT_EQ(lang_from_env(nullptr, nullptr, "pt_BR.UTF-8"), Lang::pt_br);
  // LC_ALL overrides LC_MESSAGES and LANG, in both directions.
  EXPECT_EQ(lang_from_env("pt_BR.UTF-8", "en_US.UTF-8", "en_US.UTF-8"), Lang::pt_br);
  EXPECT_EQ(lang_from_env("C", "pt_BR.UTF-8", "pt_BR.UTF-8"), Lang::en);
  EXPECT_EQ(lang_from_env("en_US.UTF-8", nullptr, "pt_BR.UTF-8"), Lang::en);
  // LC_MESSAGES overrides LANG.
  EXPECT_EQ(lang_from_env(nullptr, "pt_BR.UTF-8", "en_US.UTF-8"), Lang::pt_br);
  EXPECT_EQ(lang_from_env(nullptr, "POSIX", "pt_BR.UTF-8"), Lang::en);
  EXPECT_EQ(lang_from_env("", "C.UTF-8", "pt_BR.UTF-8"), Lang::en);
  // An empty variable counts as unset and passes the decision on.
  EXPECT_EQ(lang_from_env("", "pt_BR.UTF-8", "en_US.UTF-8"), Lang::pt_br);
  EXPECT_EQ(lang_from_env("", "", "pt_BR.UTF-8"), Lang::pt_br);
  EXPECT_EQ(lang_from_env(nullptr, "", "pt"), Lang::pt_br);
}

}  // namespace
}  // namespace wsi
