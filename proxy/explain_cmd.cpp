// `wsinspect explain CODE [CODE]`: explains one close code, or compares two,
// from the close-code knowledge base, in English or Brazilian Portuguese
// (parser/catalog_pt_br.h). Plain text wrapped at 78 columns (counted in code
// points), or one JSON object (always English) with --json.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parser/catalog_pt_br.h"
#include "parser/close_codes.h"
#include "proxy/commands.h"
#include "proxy/event_format.h"

namespace wsi {
namespace {

constexpr size_t kWidth = 78;
constexpr uint32_t kMaxCode = 65535;

// Columns of a UTF-8 text: one per code point (the catalogues hold no wide or
// combining characters).
size_t cols(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Word-wraps `text`: the first line starts with `first`, later lines with
// `rest` (a hanging indent), each at most `width` columns. A '\n' in the text
// starts a new line. A word longer than the room stands alone on its line.
std::vector<std::string> wrap(std::string_view text, size_t width, std::string_view first = {},
                              std::string_view rest = {}) {
  std::vector<std::string> lines;
  std::string line(first);
  size_t prefix = cols(first);
  size_t line_cols = prefix;
  auto flush = [&] {
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
      --line_cols;
    }
    lines.push_back(line);
    line.assign(rest);
    prefix = line_cols = cols(rest);
  };
  size_t pos = 0;
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '\n') {
      flush();
      ++pos;
      continue;
    }
    if (c == ' ') {
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    size_t w = cols(word);
    if (line_cols > prefix && line_cols + 1 + w > width) flush();
    if (line_cols > prefix) {
      line += ' ';
      ++line_cols;
    }
    line += word;
    line_cols += w;
    pos = end;
  }
  if (line_cols > prefix) flush();
  return lines;
}

// Writes `text` word-wrapped to kWidth columns (see wrap()).
void write_wrapped(std::ostream& out, std::string_view text, std::string_view first,
                   std::string_view rest) {
  for (const std::string& line : wrap(text, kWidth, first, rest)) out << line << '\n';
}

void write_wrapped(std::ostream& out, std::string_view text, std::string_view indent) {
  write_wrapped(out, text, indent, indent);
}

// The first sentence of a text: up to the first ". " (or the end). The
// knowledge base keeps abbreviations out of first sentences for this.
std::string_view first_sentence(std::string_view text) {
  size_t end = text.find(". ");
  return end == std::string_view::npos ? text : text.substr(0, end + 1);
}

// Parses a close code argument: decimal digits only, 0..65535.
std::optional<uint32_t> parse_code(const std::string& arg, const ExplainText& t,
                                   std::ostream& err) {
  const std::string max = std::to_string(kMaxCode);
  if (arg.empty()) {
    err << "wsinspect explain: " << fill_template(t.err_empty, {max}) << "\n";
    return std::nullopt;
  }
  uint64_t value = 0;
  for (char c : arg) {
    if (c < '0' || c > '9') {
      err << "wsinspect explain: " << fill_template(t.err_not_code, {arg, max}) << "\n";
      return std::nullopt;
    }
    if (value <= kMaxCode) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > kMaxCode) {
    err << "wsinspect explain: " << fill_template(t.err_out_of_range, {arg, max}) << "\n";
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

bool is_range(const CloseCodeInfo& info) {
  return info.first != info.last;
}

// 1005, 1006 and 1015: registered, never sent, reported by a stack to its
// application. Told apart from 1004, which is registered but merely reserved.
bool reported_locally(const CloseCodeInfo& info) {
  return info.registered && !info.allowed_on_wire && info.first != 1004;
}

std::string range_text(const CloseCodeInfo& info) {
  return std::to_string(info.first) + "-" + std::to_string(info.last);
}

// Where a code is defined: RFC 6455 §7.4.1 names 1000-1011 and 1015, later
// codes are in the IANA registry only, and §7.4.2 defines the ranges.
enum class Spec : uint8_t { rfc_code, iana, rfc_range };

Spec spec(const CloseCodeInfo& info) {
  if (is_range(info) || !info.registered) return Spec::rfc_range;
  if (info.first <= 1011 || info.first == 1015) return Spec::rfc_code;
  return Spec::iana;
}

// Everything one code's explanation is made of, in one language.
struct Entry {
  uint32_t code;
  const CloseCodeInfo* info;
  CloseCodeText text;
  std::string label;  // "1002 (Protocol Error)" or "4321 (Private Use, 4000-4999)"
  std::string num;    // "1002"
};

Entry entry(uint32_t code, Lang lang) {
  const CloseCodeInfo& info = close_code_info(code);
  Entry e{code, &info, close_code_text(info, lang), {}, std::to_string(code)};
  e.label = e.num + " (" + std::string(e.text.name);
  if (is_range(info)) e.label += ", " + range_text(info);
  e.label += ")";
  return e;
}

// The text of the wording that depends on the language.
class Explainer {
 public:
  Explainer(std::ostream& out, Lang lang) : out_(out), lang_(lang), t_(explain_text(lang)) {}

  void one(uint32_t code) {
    Entry e = entry(code, lang_);
    std::string title = fill_template(t_.title_one, {e.num, e.text.name});
    if (is_range(*e.info)) title += " " + fill_template(t_.title_range, {range_text(*e.info)});
    write_wrapped(out_, title, "", "  ");
    out_ << '\n';
    facts(e, "");
    out_ << '\n';
    sections(e, "");
  }

  void compare(uint32_t code_a, uint32_t code_b) {
    Entry a = entry(code_a, lang_);
    Entry b = entry(code_b, lang_);
    write_wrapped(out_, fill_template(t_.title_two, {a.label, b.label}), "", "  ");
    out_ << '\n';
    if (a.info == b.info) {
      same_range(a, b);
      return;
    }
    CategoryText ca = code_category_text(a.code, lang_);
    CategoryText cb = code_category_text(b.code, lang_);
    write_wrapped(out_,
                  ca.one == cb.one
                      ? fill_template(t_.intro_same_category, {a.label, b.label, ca.many})
                      : fill_template(t_.intro_categories, {a.label, ca.one, b.label, cb.one}),
                  "");
    out_ << '\n';
    table(a, b);
    out_ << '\n' << t_.key_differences << '\n';
    std::vector<std::string> diffs = differences(a, b);
    for (size_t i = 0; i < diffs.size(); ++i) {
      std::string num = "  " + std::to_string(i + 1) + ". ";
      write_wrapped(out_, diffs[i], num, std::string(num.size(), ' '));
    }
    out_ << '\n' << t_.which_one_applies << '\n';
    write_wrapped(out_, advice(a, b), "  ");
  }

 private:
  std::string_view wire_reason(const CloseCodeInfo& info) const {
    return reported_locally(info) ? t_.reason_local : t_.reason_receiver_fails;
  }

  std::string wire_text(const CloseCodeInfo& info) const {
    return info.allowed_on_wire ? std::string(t_.yes)
                                : fill_template(t_.no_because, {wire_reason(info)});
  }

  std::string registry_text(const Entry& e) const {
    if (e.info->registered) return std::string(t_.registered);
    return fill_template(t_.explained_by_range, {range_text(*e.info), e.text.name});
  }

  std::string_view spec_text(const CloseCodeInfo& info) const {
    switch (spec(info)) {
      case Spec::rfc_code:
        return t_.rfc_code;
      case Spec::iana:
        return t_.rfc_iana;
      case Spec::rfc_range:
        break;
    }
    return t_.rfc_range;
  }

  void facts(const Entry& e, std::string_view indent) {
    std::string in(indent);
    std::string more = in + "  ";
    write_wrapped(out_, std::string(t_.may_appear_label) + wire_text(*e.info), in, more);
    write_wrapped(
        out_,
        std::string(t_.sent_by_label) + std::string(code_sender_text(e.info->sender, lang_).bare),
        in, more);
    write_wrapped(out_, std::string(t_.registry_label) + registry_text(e), in, more);
  }

  void sections(const Entry& e, std::string_view indent) {
    std::string body = std::string(indent) + "  ";
    out_ << indent << t_.what_it_means << '\n';
    write_wrapped(out_, e.text.description, body);
    out_ << '\n' << indent << t_.when_you_see_it << '\n';
    write_wrapped(out_, e.text.when, body);
    out_ << '\n' << indent << t_.how_to_fix_it << '\n';
    write_wrapped(out_, e.text.fix, body);
  }

  // Two unregistered codes of one range share one explanation.
  void same_range(const Entry& a, const Entry& b) {
    write_wrapped(
        out_,
        fill_template(t_.same_range, {a.num, b.num, code_category_text(a.code, lang_).many,
                                      range_text(*a.info), a.text.name}),
        "");
    out_ << '\n';
    facts(a, "");
    out_ << '\n';
    sections(a, "");
  }

  // The aspects side by side: a label column, then one column per code.
  void table(const Entry& a, const Entry& b) {
    constexpr size_t kLabel = 16;
    constexpr size_t kGap = 2;
    constexpr size_t kCell = (kWidth - kLabel - 2 * kGap) / 2;
    auto row = [&](std::string_view label, std::string_view va, std::string_view vb) {
      std::vector<std::string> cells[3] = {wrap(label, kLabel), wrap(va, kCell), wrap(vb, kCell)};
      size_t n = std::max({cells[0].size(), cells[1].size(), cells[2].size()});
      const size_t widths[3] = {kLabel, kCell, kCell};
      for (size_t i = 0; i < n; ++i) {
        std::string line;
        for (size_t c = 0; c < 3; ++c) {
          if (c > 0) line.append(kGap, ' ');
          std::string_view cell = i < cells[c].size() ? std::string_view(cells[c][i]) : "";
          line += cell;
          line.append(widths[c] - std::min(widths[c], cols(cell)), ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out_ << line << '\n';
      }
    };
    row("", a.num, b.num);
    row("", std::string(kCell, '-'), std::string(kCell, '-'));
    row(t_.row_name, a.text.name, b.text.name);
    row(t_.row_on_wire, wire_text(*a.info), wire_text(*b.info));
    row(t_.row_sent_by, code_sender_text(a.info->sender, lang_).bare,
        code_sender_text(b.info->sender, lang_).bare);
    row(t_.row_category, code_category_text(a.code, lang_).one,
        code_category_text(b.code, lang_).one);
    row(t_.row_registry, registry_text(a), registry_text(b));
    row(t_.row_rfc, spec_text(*a.info), spec_text(*b.info));
    row(t_.row_cause, first_sentence(a.text.when), first_sentence(b.text.when));
  }

  std::vector<std::string> differences(const Entry& a, const Entry& b) const {
    const CloseCodeInfo& ia = *a.info;
    const CloseCodeInfo& ib = *b.info;
    std::vector<std::string> diffs;
    diffs.push_back(std::string(t_.diff_meaning) + " " + a.num + ": " +
                    std::string(a.text.description) + "\n" + b.num + ": " +
                    std::string(b.text.description));
    diffs.push_back(std::string(t_.diff_when) + " " + a.num + ": " + std::string(a.text.when) +
                    "\n" + b.num + ": " + std::string(b.text.when));
    if (ia.allowed_on_wire && ib.allowed_on_wire) {
      diffs.emplace_back(t_.wire_both);
    } else if (!ia.allowed_on_wire && !ib.allowed_on_wire) {
      diffs.push_back(
          wire_reason(ia) == wire_reason(ib)
              ? fill_template(t_.wire_neither_same, {wire_reason(ia)})
              : fill_template(t_.wire_neither, {a.num, wire_reason(ia), b.num, wire_reason(ib)}));
    } else {
      const bool a_ok = ia.allowed_on_wire;
      diffs.push_back(fill_template(
          t_.wire_only, {a_ok ? a.num : b.num, a_ok ? b.num : a.num, wire_reason(a_ok ? ib : ia)}));
    }
    SenderText sa = code_sender_text(ia.sender, lang_);
    SenderText sb = code_sender_text(ib.sender, lang_);
    if (ia.sender == ib.sender) {
      diffs.push_back(ia.sender == CodeSender::nobody ? std::string(t_.sender_same_nobody)
                                                      : fill_template(t_.sender_same, {sa.by}));
    } else {
      diffs.push_back(fill_template(t_.sender_differ, {a.num, sa.by, b.num, sb.by}));
    }
    if (ia.registered && ib.registered) {
      diffs.emplace_back(t_.registry_both);
    } else {
      diffs.push_back(
          fill_template(t_.registry_differ, {a.num, registry_text(a), b.num, registry_text(b)}));
    }
    return diffs;
  }

  std::string advice(const Entry& a, const Entry& b) const {
    const CloseCodeInfo& ia = *a.info;
    const CloseCodeInfo& ib = *b.info;
    std::string advice = reported_locally(ia) && reported_locally(ib)
                             ? std::string(t_.advice_both_local)
                             : std::string(t_.advice_chosen);
    if (reported_locally(ia) != reported_locally(ib)) {
      advice += " " + fill_template(t_.advice_one_local, {reported_locally(ia) ? a.num : b.num});
    }
    if (ia.sender != ib.sender && ia.sender != CodeSender::nobody &&
        ib.sender != CodeSender::nobody) {
      advice += " " + fill_template(t_.advice_direction,
                                    {a.num, code_sender_text(ia.sender, lang_).from, b.num,
                                     code_sender_text(ib.sender, lang_).from});
    }
    advice += "\n" + fill_template(t_.advice_if_you_see, {a.label, first_sentence(a.text.fix)});
    advice += "\n" + fill_template(t_.advice_if_you_see, {b.label, first_sentence(b.text.fix)});
    return advice;
  }

  std::ostream& out_;
  Lang lang_;
  const ExplainText& t_;
};

std::string_view sender_id(CodeSender s) {
  switch (s) {
    case CodeSender::either:
      return "either";
    case CodeSender::server:
      return "server";
    case CodeSender::client:
      return "client";
    case CodeSender::application:
      return "application";
    case CodeSender::nobody:
      break;
  }
  return "nobody";
}

std::string_view spec_id(const CloseCodeInfo& info) {
  switch (spec(info)) {
    case Spec::rfc_code:
      return "RFC 6455 §7.4.1";
    case Spec::iana:
      return "IANA";
    case Spec::rfc_range:
      break;
  }
  return "RFC 6455 §7.4.2";
}

// One code as JSON, in English: the catalogue entry the code falls in.
nlohmann::ordered_json code_json(uint32_t code) {
  const CloseCodeInfo& info = close_code_info(code);
  nlohmann::ordered_json range = nullptr;
  if (is_range(info)) range = {{"first", info.first}, {"last", info.last}};
  return {{"code", code},
          {"name", info.name},
          {"range", range},
          {"allowed_on_wire", info.allowed_on_wire},
          {"registered", info.registered},
          {"sender", sender_id(info.sender)},
          {"reported_locally", reported_locally(info)},
          {"category", code_category_text(code, Lang::en).one},
          {"defined_in", spec_id(info)},
          {"description", info.description},
          {"when", info.when},
          {"fix", info.fix}};
}

// Two codes: both entries, whether they share one, and the aspects that differ.
nlohmann::ordered_json compare_json(uint32_t a, uint32_t b) {
  nlohmann::ordered_json ja = code_json(a);
  nlohmann::ordered_json jb = code_json(b);
  nlohmann::ordered_json differ = nlohmann::ordered_json::array();
  for (const char* aspect : {"name", "range", "allowed_on_wire", "registered", "sender",
                             "reported_locally", "category", "defined_in"}) {
    if (ja[aspect] != jb[aspect]) differ.push_back(aspect);
  }
  return {{"compare", {a, b}},
          {"same_entry", &close_code_info(a) == &close_code_info(b)},
          {"differ", differ},
          {"codes", {ja, jb}}};
}

void usage(std::ostream& err, const ExplainText& t) {
  err << "usage: wsinspect explain CODE [CODE] [--json] [--lang en|pt-BR]\n  " << t.usage_summary
      << "\n";
}

}  // namespace

int run_explain(const ExplainOptions& opts, std::ostream& out, std::ostream& err) {
  Lang lang = Lang::en;
  if (opts.lang.empty()) {
    lang = lang_from_environment();
  } else if (std::optional<Lang> named = lang_from_name(opts.lang)) {
    lang = *named;
  } else {
    err << "wsinspect explain: unknown language '" << opts.lang
        << "' for --lang: expected en or pt-BR (also pt_BR, pt)\n";
    return 2;
  }
  if (opts.json) lang = Lang::en;  // JSON is always English
  const ExplainText& t = explain_text(lang);
  if (opts.codes.empty() || opts.codes.size() > 2) {
    usage(err, t);
    return 2;
  }
  std::vector<uint32_t> parsed;
  for (const std::string& arg : opts.codes) {
    std::optional<uint32_t> code = parse_code(arg, t, err);
    if (!code) return 2;
    parsed.push_back(*code);
  }
  const bool one = parsed.size() == 1 || parsed[0] == parsed[1];
  if (opts.json) {
    out << (one ? code_json(parsed[0]) : compare_json(parsed[0], parsed[1])).dump() << '\n';
    return 0;
  }
  Explainer x(out, lang);
  if (one) {
    x.one(parsed[0]);
  } else {
    x.compare(parsed[0], parsed[1]);
  }
  return 0;
}

int run_explain(const std::vector<std::string>& codes, std::ostream& out, std::ostream& err) {
  ExplainOptions opts;
  opts.codes = codes;
  opts.lang = "en";
  return run_explain(opts, out, err);
}

}  // namespace wsi
