// libFuzzer target: the test-vector formats as their loaders read them. The
// input is a vector file: a connection vector (parse_conn_script, which
// `wsinspect decode --connection` and the vector tests use), and the same
// text as the hex of a frame vector or `decode --hex` input (HexReader).
//
// Oracle, connection vectors: a text that parses is written back in the
// grammar twice, every bytes step as hex and as escaped text, and both parse
// to the same steps and expected lines; each `time +N` step holds the N its
// line wrote. What parses is replayed as decode --connection does, into the
// JSON and the text sinks: every JSON line parses as one object, no line
// holds a raw control character (a text event's lines are split at newlines). A text that does not
// parse gives a "line N: ..." error. Oracle, hex: the text fed whole and cut in two at a position
// taken from the input gives the same bytes, the same verdict and the same line number.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "parser/conn/conn_script.h"
#include "proxy/hex_reader.h"
#include "proxy/report/report_sink.h"

namespace {

using wsi::ConnScript;
using wsi::ConnStep;

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b = {}) {
  std::fprintf(stderr, "fuzz_vectors: %s\n--- first\n%s\n--- second\n%s\n", what, a.c_str(),
               b.c_str());
  std::abort();
}

const char* sender(const ConnStep& st) {
  return st.dir == wsi::Direction::client_to_server ? "client" : "server";
}

// The script in its grammar; bytes steps as hex, or as escaped text.
std::string write_script(const ConnScript& s, bool as_text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const ConnStep& st : s.steps) {
    switch (st.kind) {
      case ConnStep::Kind::bytes:
        // An empty step has no text form ("client: " is trimmed to "client:").
        if (as_text && !st.bytes.empty()) {
          out += std::string(sender(st)) + ": ";
          for (const uint8_t b : st.bytes) {
            if (b == '\\') {
              out += "\\\\";
            } else if (b == ' ') {
              out += "\\s";
            } else if (b > 0x20 && b < 0x7f) {
              out += static_cast<char>(b);
            } else {
              out += "\\x";
              out += kHex[b >> 4];
              out += kHex[b & 15];
            }
          }
        } else {
          out += std::string(sender(st)) + " hex:";
          for (const uint8_t b : st.bytes) {
            out += ' ';
            out += kHex[b >> 4];
            out += kHex[b & 15];
          }
        }
        break;
      case ConnStep::Kind::fin:
        out += std::string(sender(st)) + " fin";
        break;
      case ConnStep::Kind::reset:
        out += std::string(sender(st)) + " reset";
        break;
      case ConnStep::Kind::time:
        out += "time +" + std::to_string(st.ms);
        break;
    }
    out += "\n";
  }
  if (s.has_expect) {
    out += "expect:\n";
    for (const std::string& line : s.expected) out += line + "\n";
  }
  return out;
}

std::string describe(const ConnScript& s) {
  return write_script(s, false);
}

bool same(const ConnScript& a, const ConnScript& b) {
  if (a.steps.size() != b.steps.size() || a.has_expect != b.has_expect || a.expected != b.expected)
    return false;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    const ConnStep& x = a.steps[i];
    const ConnStep& y = b.steps[i];
    if (x.kind != y.kind || x.bytes != y.bytes || x.ms != y.ms) return false;
    if (x.kind != ConnStep::Kind::time && x.dir != y.dir) return false;
  }
  return true;
}

// The digits of every `time +N` line before `expect:`, leading zeros dropped,
// in order: what the time steps must hold.
std::vector<std::string> time_digits(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    if (line == "expect:") break;
    if (line.rfind("time +", 0) != 0) continue;
    std::string_view n = line.substr(6);
    while (n.size() > 1 && n.front() == '0') n.remove_prefix(1);
    out.emplace_back(n);
  }
  return out;
}

class Lines final : public wsi::LineOut {
 public:
  std::vector<std::string> lines;
  bool enabled(wsi::EventLevel) const override { return true; }
  void write(wsi::EventLevel, const std::string& line) override { lines.push_back(line); }
};

// A text event may take several lines (the connection summary does).
void check_lines(const Lines& out, bool json) {
  for (const std::string& line : out.lines) {
    for (const char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && (json || c != '\n')) || u == 0x7f)
        fail("raw control character in an event line", line);
    }
    if (!json) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("an event line is not a JSON object", line);
  }
}

// As decode_connection does: the steps as they are, into one format sink.
void replay_into(const ConnScript& s, bool json) {
  Lines out;
  wsi::ReportOptions opts;
  opts.stamped = false;
  const std::unique_ptr<wsi::ReportSink> sink =
      json ? wsi::make_json_sink(out, opts) : wsi::make_text_sink(out, opts);
  const wsi::ConnConfig cfg;
  wsi::ConnectionInspector core(cfg, *sink);
  wsi::replay_conn_script(s, core, [](size_t, size_t n) { return n; });
  check_lines(out, json);
}

void check_conn_script(std::string_view text) {
  ConnScript s;
  std::string error;
  if (!wsi::parse_conn_script(text, s, error)) {
    if (error.rfind("line ", 0) != 0) fail("error does not name the line", error);
    return;
  }
  const std::vector<std::string> digits = time_digits(text);
  size_t t = 0;
  for (const ConnStep& st : s.steps) {
    if (st.kind != ConnStep::Kind::time) continue;
    if (t >= digits.size()) fail("more time steps than time lines", describe(s));
    if (std::to_string(st.ms) != digits[t])
      fail("a time step does not hold the N of its line", digits[t], std::to_string(st.ms));
    ++t;
  }
  for (const bool as_text : {false, true}) {
    const std::string written = write_script(s, as_text);
    ConnScript again;
    if (!wsi::parse_conn_script(written, again, error))
      fail("a parsed vector written back does not parse", written, error);
    if (!same(s, again))
      fail("a parsed vector written back parses differently", describe(s), describe(again));
  }
  // Replaying huge scripts says nothing more than fuzz_connection does.
  size_t total = 0;
  for (const ConnStep& st : s.steps) total += st.bytes.size() + 1;
  if (total > 64 * 1024) return;
  replay_into(s, true);
  replay_into(s, false);
}

struct HexResult {
  std::vector<uint8_t> bytes;
  bool ok;
  bool odd;
  unsigned line;
  char bad;
};

HexResult read_hex(std::string_view text, size_t cut) {
  HexResult r{};
  wsi::HexReader hex;
  r.ok = hex.feed(text.data(), cut, r.bytes) &&
         hex.feed(text.data() + cut, text.size() - cut, r.bytes) && hex.finish(r.bytes);
  r.odd = hex.odd();
  r.line = hex.line();
  r.bad = hex.bad();
  return r;
}

void check_hex(std::string_view text) {
  const HexResult whole = read_hex(text, 0);
  size_t h = 0;
  for (const char c : text) h = h * 31 + static_cast<unsigned char>(c);
  const HexResult split = read_hex(text, text.empty() ? 0 : h % (text.size() + 1));
  if (whole.ok != split.ok || whole.line != split.line || whole.bad != split.bad)
    fail("hex cut in two reads differently", std::string(text));
  if (whole.ok && (whole.bytes != split.bytes || whole.odd != split.odd))
    fail("hex cut in two gives other bytes", std::string(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_conn_script(text);
  check_hex(text);
  return 0;
}
