// `wsinspect explain`: one code, two codes compared, and input validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proxy/command_line.h"
#include "proxy/commands.h"

namespace wsi {
namespace {

struct Result {
  int status;
  std::string out;
  std::string err;
};

Result explain(std::vector<std::string> args) {
  std::ostringstream out, err;
  int status = run_explain(args, out, err);
  return {status, out.str(), err.str()};
}

Result explain(ExplainOptions opts) {
  std::ostringstream out, err;
  int status = run_explain(opts, out, err);
  return {status, out.str(), err.str()};
}

Result explain_lang(std::vector<std::string> codes, std::string lang) {
  return explain(ExplainOptions{std::move(codes), false, std::move(lang)});
}

// Columns as a terminal counts them: one per code point.
size_t columns(const std::string& line) {
  size_t n = 0;
  for (char c : line) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) {
    ++n;
  }
  return n;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void expect_wrapped_plain_text(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(columns(line), 78u) << line;
    EXPECT_FALSE(line.ends_with(" ")) << line;
  }
  EXPECT_FALSE(has(text, "\x1b")) << "no colour codes";
}

TEST(Explain, OneCodeHasNameFactsAndThreeSections) {
  Result r = explain({"1006"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.err.empty());
  EXPECT_TRUE(has(r.out, "1006"));
  EXPECT_TRUE(has(r.out, "Abnormal Closure"));
  EXPECT_TRUE(has(r.out, "May appear in a close frame: no"));
  EXPECT_TRUE(has(r.out, "Sent by:"));
  EXPECT_TRUE(has(r.out, "What it means"));
  EXPECT_TRUE(has(r.out, "When you see it"));
  EXPECT_TRUE(has(r.out, "How to fix it"));
  expect_wrapped_plain_text(r.out);

  Result ok = explain({"1000"});
  EXPECT_TRUE(has(ok.out, "May appear in a close frame: yes"));
}

// The line of the table that starts with `label`, or "".
std::string row(const std::string& text, const std::string& label) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(label + "  ")) return line;
  }
  return "";
}

TEST(Explain, TwoCodesAreComparedInATableThenTheirDifferences) {
  Result r = explain({"1002", "1008"});
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(r.err.empty());
  // The table: a header with both codes, then one row per aspect with a
  // column for each code, 1002 on the left.
  const std::string header = row(r.out, std::string(16, ' '));
  ASSERT_FALSE(header.empty()) << r.out;
  EXPECT_LT(header.find("1002"), header.find("1008")) << header;
  const std::string name = row(r.out, "Name");
  EXPECT_LT(name.find("Protocol Error"), name.find("Policy Violation")) << name;
  EXPECT_NE(name.find("Protocol Error"), std::string::npos) << name;
  EXPECT_EQ(name.find("Protocol Error"), header.find("1002")) << "columns line up";
  EXPECT_EQ(name.find("Policy Violation"), header.find("1008")) << "columns line up";
  const std::string wire = row(r.out, "On the wire");
  EXPECT_EQ(count(wire, "yes"), 2u) << wire;
  EXPECT_EQ(count(row(r.out, "Sent by"), "either endpoint"), 2u);
  EXPECT_EQ(count(row(r.out, "Registry"), "IANA-registered"), 2u);
  EXPECT_EQ(count(row(r.out, "Defined in"), "RFC 6455 §7.4.1"), 2u);
  EXPECT_FALSE(row(r.out, "Category").empty());
  EXPECT_FALSE(row(r.out, "Typical cause").empty());
  // Then the differences, aspect by aspect, and which one applies; not the
  // two explanations one after the other.
  EXPECT_EQ(count(r.out, "What it means"), 0u);
  EXPECT_EQ(count(r.out, "How to fix it"), 0u);
  ASSERT_TRUE(has(r.out, "\nKey differences\n"));
  EXPECT_LT(r.out.find("Typical cause"), r.out.find("Key differences"));
  EXPECT_TRUE(has(r.out, "  1. Meaning. 1002: The endpoint received data that breaks"));
  EXPECT_TRUE(has(r.out, "     1008: The endpoint received a message that violates its policy"));
  EXPECT_TRUE(has(r.out, "  2. When it shows up. 1002: "));
  EXPECT_TRUE(has(r.out, "  3. On the wire. Both may appear"));
  EXPECT_TRUE(has(r.out, "  4. Sender. Both are sent by either endpoint."));
  EXPECT_TRUE(has(r.out, "  5. Registry. Both are IANA-registered"));
  ASSERT_TRUE(has(r.out, "\nWhich one applies\n"));
  EXPECT_LT(r.out.find("Key differences"), r.out.find("Which one applies"));
  EXPECT_TRUE(has(r.out, "If you see 1002 (Protocol Error): "));
  EXPECT_TRUE(has(r.out, "If you see 1008 (Policy Violation): "));
  expect_wrapped_plain_text(r.out);
}

TEST(Explain, TableShowsWhereTwoCodesDiffer) {
  Result r = explain({"1000", "1006"});
  ASSERT_EQ(r.status, 0);
  const std::string wire = row(r.out, "On the wire");
  EXPECT_TRUE(has(wire, "yes")) << wire;
  EXPECT_TRUE(has(wire, "no: a WebSocket")) << wire;
  EXPECT_LT(wire.find("yes"), wire.find("no:"));
  Result later = explain({"1002", "1012"});
  EXPECT_TRUE(has(row(later.out, "Defined in"), "the IANA registry")) << later.out;
  Result range = explain({"1002", "4321"});
  EXPECT_TRUE(has(range.out, "RFC 6455 §7.4.2")) << range.out;
  EXPECT_TRUE(has(row(range.out, "Name"), "Private Use")) << range.out;
}

TEST(Explain, ComparisonContrastsValidityOnTheWire) {
  Result r = explain({"1000", "1006"});
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(has(r.out, "Only 1000 may appear in a close frame"));
  expect_wrapped_plain_text(r.out);
}

TEST(Explain, UnregisteredCodesAreExplainedByTheirRange) {
  Result priv = explain({"4321"});
  EXPECT_EQ(priv.status, 0);
  EXPECT_TRUE(has(priv.out, "Private Use"));
  EXPECT_TRUE(has(priv.out, "private use"));
  EXPECT_TRUE(has(priv.out, "4000-4999"));

  EXPECT_TRUE(has(explain({"1016"}).out, "1016-2999"));
  EXPECT_TRUE(has(explain({"2500"}).out, "1016-2999"));
  EXPECT_TRUE(has(explain({"0"}).out, "0-999"));
  EXPECT_TRUE(has(explain({"65535"}).out, "5000-65535"));
  EXPECT_TRUE(has(explain({"3500"}).out, "3000-3999"));

  Result same_range = explain({"2500", "2600"});
  EXPECT_EQ(same_range.status, 0);
  EXPECT_TRUE(has(same_range.out, "same range"));
  expect_wrapped_plain_text(same_range.out);
}

TEST(Explain, EveryCodeAndPairOfKindsFitsTheWidth) {
  for (const char* code : {"0",    "1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007",
                           "1008", "1009", "1010", "1011", "1012", "1013", "1014", "1015", "1016",
                           "3000", "3003", "3008", "3500", "4000", "4999", "5000"}) {
    Result r = explain({code});
    EXPECT_EQ(r.status, 0) << code;
    expect_wrapped_plain_text(r.out);
  }
  for (auto [a, b] :
       {std::pair{"1005", "1006"}, std::pair{"1002", "4321"}, std::pair{"1010", "1011"},
        std::pair{"0", "5000"}, std::pair{"3000", "3003"}}) {
    Result r = explain({a, b});
    EXPECT_EQ(r.status, 0) << a << " " << b;
    EXPECT_TRUE(has(r.out, "Key differences")) << a << " " << b;
    expect_wrapped_plain_text(r.out);
  }
}

TEST(Explain, BadInputIsAUsageError) {
  for (const char* bad : {"abc", "-1", "1e3", "", "99999999999", "70000", "65536", "+5", " 12",
                          "12 ", "0x3e8", "1002.0"}) {
    Result r = explain({bad});
    EXPECT_EQ(r.status, 2) << "'" << bad << "'";
    EXPECT_FALSE(r.err.empty()) << "'" << bad << "'";
    EXPECT_TRUE(r.out.empty()) << "'" << bad << "'";
  }
  Result second_bad = explain({"1000", "abc"});
  EXPECT_EQ(second_bad.status, 2);
  EXPECT_TRUE(has(second_bad.err, "abc"));
  EXPECT_TRUE(second_bad.out.empty());
}

TEST(Explain, WrongArgumentCountIsAUsageError) {
  Result none = explain(std::vector<std::string>{});
  EXPECT_EQ(none.status, 2);
  EXPECT_TRUE(has(none.err, "usage"));
  Result three = explain({"1000", "1001", "1002"});
  EXPECT_EQ(three.status, 2);
  EXPECT_TRUE(has(three.err, "usage"));
  EXPECT_TRUE(three.out.empty());
}

// ---------------------------------------------------------------------------
// --json

TEST(Explain, JsonForOneCodeCarriesEveryField) {
  Result r = explain(ExplainOptions{{"1002"}, true, ""});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.out, "\n"), 1u) << "one line";
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["code"], 1002);
  EXPECT_EQ(j["name"], "Protocol Error");
  EXPECT_TRUE(j["range"].is_null());
  EXPECT_EQ(j["allowed_on_wire"], true);
  EXPECT_EQ(j["registered"], true);
  EXPECT_EQ(j["sender"], "either");
  EXPECT_EQ(j["defined_in"], "RFC 6455 §7.4.1");
  for (const char* text : {"category", "description", "when", "fix"}) {
    ASSERT_TRUE(j[text].is_string()) << text;
    EXPECT_FALSE(j[text].get<std::string>().empty()) << text;
  }
  EXPECT_TRUE(j["description"].get<std::string>().starts_with("The endpoint received data"));

  const nlohmann::json priv =
      nlohmann::json::parse(explain(ExplainOptions{{"4321"}, true, ""}).out);
  EXPECT_EQ(priv["code"], 4321);
  EXPECT_EQ(priv["range"]["first"], 4000);
  EXPECT_EQ(priv["range"]["last"], 4999);
  EXPECT_EQ(priv["registered"], false);
  const nlohmann::json local =
      nlohmann::json::parse(explain(ExplainOptions{{"1006"}, true, ""}).out);
  EXPECT_EQ(local["allowed_on_wire"], false);
  EXPECT_EQ(local["reported_locally"], true);
  EXPECT_EQ(local["sender"], "nobody");
}

TEST(Explain, JsonForTwoCodesIsOneComparisonObject) {
  Result r = explain(ExplainOptions{{"1000", "1006"}, true, ""});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(r.out, "\n"), 1u) << "one line";
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["compare"], nlohmann::json::array({1000, 1006}));
  EXPECT_EQ(j["same_entry"], false);
  ASSERT_EQ(j["codes"].size(), 2u);
  EXPECT_EQ(j["codes"][0]["code"], 1000);
  EXPECT_EQ(j["codes"][1]["code"], 1006);
  EXPECT_EQ(j["codes"][1]["name"], "Abnormal Closure");
  const std::vector<std::string> differ = j["differ"];
  EXPECT_NE(std::find(differ.begin(), differ.end(), "allowed_on_wire"), differ.end());
  EXPECT_NE(std::find(differ.begin(), differ.end(), "sender"), differ.end());
  EXPECT_EQ(std::find(differ.begin(), differ.end(), "registered"), differ.end());

  const nlohmann::json same =
      nlohmann::json::parse(explain(ExplainOptions{{"4321", "4322"}, true, ""}).out);
  EXPECT_EQ(same["same_entry"], true);
}

TEST(Explain, JsonIsAlwaysEnglish) {
  const Result r = explain(ExplainOptions{{"1002", "1008"}, true, "pt-BR"});
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["codes"][0]["name"], "Protocol Error");
  EXPECT_EQ(j["codes"][1]["name"], "Policy Violation");
}

// ---------------------------------------------------------------------------
// --lang

const char* const kEnglishHeadings[] = {
    "What it means", "When you see it", "How to fix it",     "Key differences", "Which one applies",
    "May appear in", "Sent by",         "Registry",          "On the wire",     "Typical cause",
    "Defined in",    "Meaning.",        "When it shows up.", "If you see"};

TEST(Explain, PortugueseHasTheSeedHeadingsAndNoEnglishOnes) {
  const Result one = explain_lang({"1002"}, "pt-BR");
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_TRUE(has(one.out, "Código de fechamento WebSocket 1002: Erro de protocolo")) << one.out;
  EXPECT_TRUE(has(one.out, "\nDescrição\n"));
  EXPECT_TRUE(has(one.out, "\nQuando você o vê\n"));
  EXPECT_TRUE(has(one.out, "\nComo corrigir\n"));
  for (const char* heading : kEnglishHeadings) EXPECT_FALSE(has(one.out, heading)) << heading;
  expect_wrapped_plain_text(one.out);

  const Result two = explain_lang({"1002", "1008"}, "pt-BR");
  ASSERT_EQ(two.status, 0) << two.err;
  EXPECT_TRUE(has(two.out, "\nDiferenças principais\n")) << two.out;
  EXPECT_TRUE(has(two.out, "\nQuando usar qual\n"));
  EXPECT_FALSE(row(two.out, "Nome").empty()) << two.out;
  EXPECT_FALSE(row(two.out, "Na rede").empty());
  EXPECT_EQ(count(row(two.out, "Na rede"), "sim"), 2u);
  EXPECT_FALSE(row(two.out, "Quem envia").empty());
  EXPECT_FALSE(row(two.out, "Causa típica").empty());
  EXPECT_TRUE(has(two.out, "  1. Significado. 1002: "));
  for (const char* heading : kEnglishHeadings) EXPECT_FALSE(has(two.out, heading)) << heading;
  expect_wrapped_plain_text(two.out);

  for (const char* spelling : {"pt_BR", "pt", "PT-br"}) {
    EXPECT_EQ(explain_lang({"1002", "1008"}, spelling).out, two.out) << spelling;
  }
  EXPECT_EQ(explain_lang({"1002", "1008"}, "en").out, explain({"1002", "1008"}).out);
}

TEST(Explain, PortugueseFitsTheWidthForEveryKindOfCode) {
  for (const char* code : {"0", "1000", "1004", "1005", "1006", "1012", "1015", "1016", "3000",
                           "3500", "4321", "5000"}) {
    const Result r = explain_lang({code}, "pt-BR");
    EXPECT_EQ(r.status, 0) << code;
    expect_wrapped_plain_text(r.out);
  }
  for (auto [a, b] : {std::pair{"1005", "1006"}, std::pair{"1002", "4321"},
                      std::pair{"1000", "1006"}, std::pair{"0", "5000"}, std::pair{"3000", "3003"},
                      std::pair{"2500", "2600"}, std::pair{"1002", "1012"}}) {
    const Result r = explain_lang({a, b}, "pt-BR");
    EXPECT_EQ(r.status, 0) << a << " " << b;
    expect_wrapped_plain_text(r.out);
  }
}

TEST(Explain, PortugueseErrors) {
  const Result bad = explain_lang({"abc"}, "pt-BR");
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(has(bad.err, "não é um código de fechamento")) << bad.err;
  const Result none = explain_lang({}, "pt-BR");
  EXPECT_EQ(none.status, 2);
  EXPECT_TRUE(has(none.err, "Explica um código")) << none.err;
}

// Sets the locale variables for one scope, and puts them back after.
class ScopedLocaleEnv {
 public:
  ScopedLocaleEnv(const char* lc_all, const char* lc_messages, const char* lang) {
    set("LC_ALL", lc_all);
    set("LC_MESSAGES", lc_messages);
    set("LANG", lang);
  }
  ~ScopedLocaleEnv() {
    for (auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(Explain, LanguageIsDetectedFromTheEnvironment) {
  const std::string pt = explain_lang({"1002", "1008"}, "pt-BR").out;
  const std::string en = explain_lang({"1002", "1008"}, "en").out;
  {
    ScopedLocaleEnv env(nullptr, nullptr, "pt_BR.UTF-8");
    EXPECT_EQ(explain_lang({"1002", "1008"}, "").out, pt);
    EXPECT_EQ(explain_lang({"1002", "1008"}, "en").out, en) << "--lang wins";
  }
  {
    ScopedLocaleEnv env("C.UTF-8", nullptr, "pt_BR.UTF-8");
    EXPECT_EQ(explain_lang({"1002", "1008"}, "").out, en) << "LC_ALL first";
  }
  {
    ScopedLocaleEnv env(nullptr, "pt_BR", "en_US.UTF-8");
    EXPECT_EQ(explain_lang({"1002", "1008"}, "").out, pt) << "LC_MESSAGES before LANG";
  }
  {
    ScopedLocaleEnv env(nullptr, nullptr, nullptr);
    EXPECT_EQ(explain_lang({"1002", "1008"}, "").out, en) << "English by default";
  }
}

TEST(Explain, UnknownLanguageIsAUsageError) {
  for (const char* bad : {"de", "pt-PT", "portuguese", "pt_BR.UTF-8"}) {
    const Result r = explain_lang({"1002"}, bad);
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_TRUE(r.out.empty()) << bad;
    EXPECT_TRUE(has(r.err, std::string("unknown language '") + bad + "'")) << r.err;
    EXPECT_TRUE(has(r.err, "en or pt-BR")) << r.err;
  }
}

struct Cli {
  ParsedCommandLine result;
  std::string out;
  std::string err;
};

Cli parse(std::vector<const char*> args) {
  args.insert(args.begin(), "wsinspect");
  std::ostringstream out, err;
  ParsedCommandLine r = parse_command_line(args, out, err);
  return {std::move(r), out.str(), err.str()};
}

TEST(Explain, CommandLineOptions) {
  const Cli json = parse({"explain", "1002", "1008", "--json", "--lang", "pt-BR"});
  ASSERT_TRUE(json.result.command) << json.err;
  EXPECT_TRUE(json.result.command->explain_json);
  EXPECT_EQ(json.result.command->explain_lang, "pt-BR");
  const Cli format = parse({"explain", "1002", "--log-format", "json"});
  ASSERT_TRUE(format.result.command) << format.err;
  EXPECT_TRUE(format.result.command->explain_json);
  const Cli plain = parse({"explain", "1002"});
  ASSERT_TRUE(plain.result.command) << plain.err;
  EXPECT_FALSE(plain.result.command->explain_json);
  EXPECT_EQ(plain.result.command->explain_lang, "") << "detected when run";
  for (const char* spelling : {"en", "pt_BR", "pt", "PT-BR"}) {
    EXPECT_TRUE(parse({"explain", "1002", "--lang", spelling}).result.command) << spelling;
  }

  const Cli bad = parse({"explain", "1002", "--lang", "klingon"});
  EXPECT_FALSE(bad.result.command);
  EXPECT_EQ(bad.result.exit_status, 2);
  EXPECT_TRUE(has(bad.err, "unknown language 'klingon'")) << bad.err;
  EXPECT_TRUE(has(bad.err, "en or pt-BR")) << bad.err;

  const Cli help = parse({"explain", "--help"});
  EXPECT_EQ(help.result.exit_status, 0);
  EXPECT_TRUE(has(help.out, "--json")) << help.out;
  EXPECT_TRUE(has(help.out, "allowed_on_wire")) << help.out;
  EXPECT_TRUE(has(help.out, "--lang")) << help.out;
}

}  // namespace
}  // namespace wsi
