// `wsinspect explain CODE [CODE]`: explains one close code, or compares two,
// from the close-code knowledge base. Plain text, wrapped at 78 columns.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "parser/close_codes.h"
#include "proxy/commands.h"

namespace wsi {
namespace {

constexpr size_t kWidth = 78;
constexpr uint32_t kMaxCode = 65535;

// Writes `text` word-wrapped to kWidth columns. The first line starts with
// `first`, later lines with `rest` (a hanging indent for list items). A '\n'
// in the text starts a new line with `rest`.
void write_wrapped(std::ostream& out, std::string_view text, std::string_view first,
                   std::string_view rest) {
  std::string line(first);
  size_t prefix = first.size();
  auto flush = [&] {
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
    line.assign(rest);
    prefix = rest.size();
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
    bool line_has_words = line.size() > prefix;
    if (line_has_words && line.size() + 1 + word.size() > kWidth) flush();
    if (line.size() > prefix) line += ' ';
    line += word;  // a word longer than the width stands alone on its line
    pos = end;
  }
  if (line.size() > prefix) flush();
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
std::optional<uint32_t> parse_code(const std::string& arg, std::ostream& err) {
  if (arg.empty()) {
    err << "wsinspect explain: empty argument: expected a close code, a decimal number from 0 to "
        << kMaxCode << "\n";
    return std::nullopt;
  }
  uint64_t value = 0;
  for (char c : arg) {
    if (c < '0' || c > '9') {
      err << "wsinspect explain: '" << arg
          << "' is not a close code: expected a decimal number from 0 to " << kMaxCode << "\n";
      return std::nullopt;
    }
    if (value <= kMaxCode) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > kMaxCode) {
    err << "wsinspect explain: " << arg
        << " is out of range: a close frame carries a 16-bit code, from 0 to " << kMaxCode << "\n";
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

// "1002 (Protocol Error)" or "4321 (Private Use, 4000-4999)".
std::string label(uint32_t code, const CloseCodeInfo& info) {
  std::string s = std::to_string(code) + " (" + std::string(info.name);
  if (is_range(info)) s += ", " + range_text(info);
  return s + ")";
}

// Why a code may not be sent, as a clause; empty when it may.
std::string_view wire_reason(const CloseCodeInfo& info) {
  if (info.allowed_on_wire) return {};
  if (reported_locally(info)) return "a WebSocket stack reports it locally, never sends it";
  return "a receiver fails the connection with 1002 if a close frame carries it";
}

std::string wire_text(const CloseCodeInfo& info) {
  return info.allowed_on_wire ? "yes" : "no: " + std::string(wire_reason(info));
}

std::string registry_text(const CloseCodeInfo& info) {
  if (info.registered) return "IANA-registered code";
  return "not registered on its own; explained by its range " + range_text(info) + " (" +
         std::string(info.name) + ")";
}

// The broad family a code belongs to, as a noun phrase in singular and plural.
struct Category {
  std::string_view one;
  std::string_view many;
};

Category category(uint32_t code) {
  if (code < 1000) {
    return {"a code below the usable range (0-999)", "codes below the usable range (0-999)"};
  }
  if (code < 3000) {
    return {"a protocol close code (1000-2999, reserved for RFC 6455 and its extensions)",
            "protocol close codes (1000-2999, reserved for RFC 6455 and its extensions)"};
  }
  if (code < 4000) {
    return {"a library and framework code (3000-3999, registered with IANA)",
            "library and framework codes (3000-3999, registered with IANA)"};
  }
  if (code < 5000) {
    return {"a private-use application code (4000-4999)",
            "private-use application codes (4000-4999)"};
  }
  return {"a code outside every defined range (5000 and above)",
          "codes outside every defined range (5000 and above)"};
}

void write_facts(std::ostream& out, const CloseCodeInfo& info, std::string_view indent) {
  std::string in(indent);
  write_wrapped(out, "May appear in a close frame: " + wire_text(info), in, in + "  ");
  write_wrapped(out, "Sent by: " + std::string(code_sender_name(info.sender)), in, in + "  ");
  write_wrapped(out, "Registry: " + registry_text(info), in, in + "  ");
}

void write_sections(std::ostream& out, const CloseCodeInfo& info, std::string_view indent) {
  std::string body = std::string(indent) + "  ";
  out << indent << "What it means\n";
  write_wrapped(out, info.description, body);
  out << '\n' << indent << "When you see it\n";
  write_wrapped(out, info.when, body);
  out << '\n' << indent << "How to fix it\n";
  write_wrapped(out, info.fix, body);
}

void explain_one(std::ostream& out, uint32_t code) {
  const CloseCodeInfo& info = close_code_info(code);
  out << "WebSocket close code " << code << ": " << info.name;
  if (is_range(info)) out << " (range " << range_text(info) << ")";
  out << "\n\n";
  write_facts(out, info, "");
  out << '\n';
  write_sections(out, info, "");
}

void compare_two(std::ostream& out, uint32_t a, uint32_t b) {
  const CloseCodeInfo& ia = close_code_info(a);
  const CloseCodeInfo& ib = close_code_info(b);
  std::string la = label(a, ia);
  std::string lb = label(b, ib);

  write_wrapped(out, "WebSocket close codes " + la + " and " + lb, "", "  ");
  out << '\n';

  if (&ia == &ib) {
    // Two unregistered codes of one range share one explanation.
    write_wrapped(out,
                  std::to_string(a) + " and " + std::to_string(b) + " are both " +
                      std::string(category(a).many) + " and fall in the same range, " +
                      range_text(ia) + " (" + std::string(ia.name) +
                      "), which gives them no separate meanings: the explanation below applies "
                      "to both.",
                  "");
    out << '\n';
    write_facts(out, ia, "");
    out << '\n';
    write_sections(out, ia, "");
    return;
  }

  Category ca = category(a);
  Category cb = category(b);
  std::string intro;
  if (ca.one == cb.one) {
    intro = "Both " + la + " and " + lb + " are " + std::string(ca.many) + ".";
  } else {
    intro =
        la + " is " + std::string(ca.one) + ", while " + lb + " is " + std::string(cb.one) + ".";
  }
  intro += " " + std::to_string(a) + ": " + std::string(first_sentence(ia.description)) + " " +
           std::to_string(b) + ": " + std::string(first_sentence(ib.description));
  write_wrapped(out, intro, "");

  for (auto [code, info] : {std::pair{a, &ia}, std::pair{b, &ib}}) {
    out << '\n' << label(code, *info) << '\n';
    write_facts(out, *info, "  ");
    out << '\n';
    write_sections(out, *info, "  ");
  }

  std::vector<std::string> diffs;
  diffs.push_back("Meaning. " + std::to_string(a) + ": " +
                  std::string(first_sentence(ia.description)) + " " + std::to_string(b) + ": " +
                  std::string(first_sentence(ib.description)));
  diffs.push_back("When it shows up. " + std::to_string(a) + ": " +
                  std::string(first_sentence(ia.when)) + " " + std::to_string(b) + ": " +
                  std::string(first_sentence(ib.when)));
  std::string sa = std::to_string(a);
  std::string sb = std::to_string(b);
  if (ia.allowed_on_wire && ib.allowed_on_wire) {
    diffs.push_back(
        "On the wire. Both may appear in a close frame, so either can be the code "
        "the peer actually sent.");
  } else if (!ia.allowed_on_wire && !ib.allowed_on_wire) {
    if (wire_reason(ia) == wire_reason(ib)) {
      diffs.push_back("On the wire. Neither may appear in a close frame; for each, " +
                      std::string(wire_reason(ia)) + ".");
    } else {
      diffs.push_back("On the wire. Neither may appear in a close frame. " + sa + ": " +
                      std::string(wire_reason(ia)) + ". " + sb + ": " +
                      std::string(wire_reason(ib)) + ".");
    }
  } else {
    const bool a_ok = ia.allowed_on_wire;
    const std::string& ok = a_ok ? sa : sb;
    const std::string& bad = a_ok ? sb : sa;
    const CloseCodeInfo& bad_info = a_ok ? ib : ia;
    diffs.push_back("On the wire. Only " + ok + " may appear in a close frame; " + bad +
                    " may not: " + std::string(wire_reason(bad_info)) + ".");
  }
  if (ia.sender == ib.sender) {
    diffs.push_back("Sender. Both are sent by " + std::string(code_sender_name(ia.sender)) + ".");
  } else {
    diffs.push_back("Sender. " + sa + " is sent by " + std::string(code_sender_name(ia.sender)) +
                    "; " + sb + " by " + std::string(code_sender_name(ib.sender)) + ".");
  }
  if (ia.registered && ib.registered) {
    diffs.push_back("Registry. Both are IANA-registered codes with meanings of their own.");
  } else {
    diffs.push_back("Registry. " + sa + ": " + registry_text(ia) + ". " + sb + ": " +
                    registry_text(ib) + ".");
  }

  out << "\nKey differences\n";
  for (size_t i = 0; i < diffs.size(); ++i) {
    std::string num = "  " + std::to_string(i + 1) + ". ";
    write_wrapped(out, diffs[i], num, std::string(num.size(), ' '));
  }

  std::string advice;
  if (reported_locally(ia) && reported_locally(ib)) {
    advice =
        "Neither is sent by a peer: the local WebSocket stack reports the one that matches what "
        "happened, and wsinspect's log shows what actually crossed the wire.";
  } else {
    advice =
        "The code the closing side actually chose decides; wsinspect's log shows it together "
        "with the direction the close came from.";
  }
  if (reported_locally(ia) != reported_locally(ib)) {
    const std::string& local = reported_locally(ia) ? sa : sb;
    advice += " " + local +
              " is never received from a peer: if your application reports it, the local "
              "WebSocket stack produced it, and the log shows what happened on the wire "
              "instead.";
  }
  if (ia.sender != ib.sender && ia.sender != CodeSender::nobody &&
      ib.sender != CodeSender::nobody) {
    advice += " The direction of the close helps: " + sa + " normally comes from " +
              std::string(code_sender_name(ia.sender)) + ", " + sb + " from " +
              std::string(code_sender_name(ib.sender)) + ".";
  }
  advice += "\nIf you see " + la + ": " + std::string(first_sentence(ia.fix));
  advice += "\nIf you see " + lb + ": " + std::string(first_sentence(ib.fix));
  out << "\nWhich one applies\n";
  write_wrapped(out, advice, "  ");
}

}  // namespace

int run_explain(const std::vector<std::string>& codes, std::ostream& out, std::ostream& err) {
  if (codes.empty() || codes.size() > 2) {
    err << "usage: wsinspect explain CODE [CODE]\n"
        << "  Explains a WebSocket close code, or compares two (e.g. explain 1002 1008).\n";
    return 2;
  }
  std::vector<uint32_t> parsed;
  for (const std::string& arg : codes) {
    std::optional<uint32_t> code = parse_code(arg, err);
    if (!code) return 2;
    parsed.push_back(*code);
  }
  if (parsed.size() == 1 || parsed[0] == parsed[1]) {
    explain_one(out, parsed[0]);
  } else {
    compare_two(out, parsed[0], parsed[1]);
  }
  return 0;
}

}  // namespace wsi
