// The proxy's settings: value syntax, the settings table (one row per setting)
// and, driven by it, the TOML reader, the command-line flags, their --help
// text and the checks. Errors are values here, never exceptions:
// toml++ throws toml::parse_error, which is caught in load_config_string only.
#include "proxy/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include "parser/rules.h"
#include "proxy/taps/capture.h"

namespace wsi {
namespace {

constexpr uint32_t kMaxLogRate = 10'000'000;
constexpr uint64_t kMinHighWatermark = 1024;
constexpr std::string_view kBuiltinEcho = "builtin:echo";
constexpr const char* kNoUpstream =
    "no upstream: give --upstream HOST:PORT or set upstream in the config file";

// ---- value syntax, shared by the file and the flags ----

struct Unit {
  std::string_view name;
  uint64_t factor;
};

// Durations are kept in milliseconds.
constexpr Unit kDurationUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
// Sizes use binary units only: "MB" could mean 10^6 or 2^20, so it is refused.
constexpr Unit kSizeUnits[] = {
    {"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};

constexpr const char* kDurationSyntax =
    "a whole number with a unit, ms, s, m or h (e.g. \"250ms\", \"5s\"), or 0 to disable";
constexpr const char* kSizeSyntax =
    "a byte count, or a whole number with a unit, B, KiB, MiB or GiB (e.g. \"64KiB\")";

// Text from the file or a flag as an error shows it: control characters
// escaped (\n, \xNN), so an error stays one line whatever it quotes.
std::string printable(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string quote(std::string_view s) {
  return "'" + printable(s) + "'";
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Parses a non-negative decimal integer made of digits only, at most `max`.
bool parse_uint(std::string_view text, uint64_t max, uint64_t& out, std::string& why) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) {
    why = quote(text) + " is not a whole number";
    if (!text.empty() && text.front() == '-') why = quote(text) + " is negative";
    return false;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || n > max) {
    why = quote(text) + " is too large (at most " + std::to_string(max) + ")";
    return false;
  }
  out = n;
  return true;
}

// "<digits><unit>" scaled by the unit's factor. A bare number is bytes for a
// size; for a duration only 0 may go without a unit.
bool parse_scaled(std::string_view text, std::span<const Unit> units, const char* syntax,
                  bool durations, uint64_t& out, std::string& why) {
  size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  const std::string_view unit = text.substr(digits);
  if (!text.empty() && text.front() == '-') {
    why = quote(text) + " is negative";
    return false;
  }
  if (digits == 0) {
    why = quote(text) + " is not " + syntax;
    return false;
  }
  if (!unit.empty() && (unit.front() == '.' || unit.front() == ',')) {
    why = quote(text) + ": fractions are not accepted, use a smaller unit";
    return false;
  }
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc{} || end != text.data() + digits) {
    why = quote(text) + " is too large";
    return false;
  }
  if (unit.empty()) {
    if (durations && n != 0) {
      why = quote(text) + " needs a unit: ms, s, m or h (only 0 may go without one)";
      return false;
    }
    out = n;
    return true;
  }
  auto it = std::find_if(units.begin(), units.end(), [&](const Unit& u) { return u.name == unit; });
  if (it == units.end()) {
    why = quote(text) + ": unknown unit " + quote(unit) + "; expected " + syntax;
    const bool decimal_size = !durations && unit.size() <= 2 && std::strchr("kKmMgG", unit[0]) &&
                              (unit.size() == 1 || unit[1] == 'B' || unit[1] == 'b');
    if (decimal_size) {
      why = quote(text) + ": unit " + quote(unit) + " is ambiguous (1000- or 1024-based); write " +
            static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0]))) +
            "iB (1024-based) or a byte count";
    }
    return false;
  }
  if (n > std::numeric_limits<uint64_t>::max() / it->factor) {
    why = quote(text) + " is too large";
    return false;
  }
  out = n * it->factor;
  return true;
}

bool parse_duration(std::string_view text, uint64_t& ms, std::string& why) {
  return parse_scaled(text, kDurationUnits, kDurationSyntax, true, ms, why);
}

bool parse_size(std::string_view text, uint64_t& bytes, std::string& why) {
  return parse_scaled(text, kSizeUnits, kSizeSyntax, false, bytes, why);
}

// The largest unit that divides the value exactly: 10000 ms -> "10s".
std::string format_scaled(uint64_t n, std::span<const Unit> units, std::string_view bare) {
  if (n == 0) return "0";
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    if (n % it->factor == 0) return std::to_string(n / it->factor) + std::string(it->name);
  }
  return std::to_string(n) + std::string(bare);
}

std::string format_duration(uint64_t ms) {
  return format_scaled(ms, kDurationUnits, "ms");
}
std::string format_size(uint64_t bytes) {
  return format_scaled(bytes, kSizeUnits, "B");
}

template <class T>
struct Choice {
  std::string_view name;
  T value;
};

constexpr Choice<std::optional<LogFormat>> kLogFormats[] = {
    {"text", LogFormat::text}, {"json", LogFormat::json}, {"auto", std::nullopt}};
constexpr Choice<LogLevel> kLogLevels[] = {
    {"debug", LogLevel::debug}, {"info", LogLevel::info}, {"warn", LogLevel::warn}};
constexpr Choice<ColorMode> kColorModes[] = {
    {"auto", ColorMode::auto_}, {"always", ColorMode::always}, {"never", ColorMode::never}};
constexpr Choice<LangChoice> kLangChoices[] = {
    {"auto", LangChoice::auto_}, {"en", LangChoice::en}, {"pt-BR", LangChoice::pt_br}};
constexpr Choice<ExplainMode> kExplainModes[] = {
    {"once", ExplainMode::once}, {"always", ExplainMode::always}, {"never", ExplainMode::never}};

template <class T>
bool parse_choice(std::string_view text, std::span<const Choice<T>> choices, T& out,
                  std::string& why) {
  std::string names;
  for (const Choice<T>& c : choices) {
    if (c.name == text) {
      out = c.value;
      return true;
    }
    names += (names.empty() ? "" : ", ") + std::string(c.name);
  }
  why = quote(text) + " is not one of " + names;
  return false;
}

// A boolean flag's value: --x=true or --x=false (a bare --x is "true").
bool parse_bool(std::string_view text, bool& out, std::string& why) {
  if (text == "true" || text == "false") {
    out = text == "true";
    return true;
  }
  why = quote(text) + " is not true or false";
  return false;
}

bool is_host_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// A DNS name or a dotted IPv4 address (all digits and dots must be a valid one).
bool valid_plain_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (!std::all_of(host.begin(), host.end(), is_host_name_char)) return false;
  if (std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; })) {
    in_addr v4{};
    return inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1;
  }
  return true;
}

// An IPv6 address, optionally with a zone ("fe80::1%eth0").
bool valid_ipv6(std::string_view host) {
  const std::string_view addr = host.substr(0, host.find('%'));
  if (addr.size() < host.size()) {
    const std::string_view zone = host.substr(addr.size() + 1);
    if (zone.empty() || !std::all_of(zone.begin(), zone.end(), is_host_name_char)) return false;
  }
  in6_addr v6{};
  return inet_pton(AF_INET6, std::string(addr).c_str(), &v6) == 1;
}

bool check_listen(std::string_view s, std::string& why) {
  std::string host;
  uint16_t port = 0;
  if (split_host_port(s, host, port)) return true;
  why = "listen address " + quote(s) + " is not HOST:PORT or [IPv6]:PORT (port 0-65535)";
  return false;
}

// The admin endpoint: empty (off), a bare port (on 127.0.0.1) or HOST:PORT.
bool check_admin_listen(std::string_view s, std::string& why) {
  if (s.empty()) return true;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() <= 5 && std::stoul(std::string(s)) <= 65535) return true;
  } else {
    std::string host;
    uint16_t port = 0;
    if (split_host_port(s, host, port)) return true;
  }
  why = "admin address " + quote(s) +
        " is not PORT, HOST:PORT or [IPv6]:PORT (port 0-65535; a bare port listens on 127.0.0.1)";
  return false;
}

// "example.com", "*.example.com", an IP address; with ":PORT" for targets.
bool check_host_pattern(std::string_view s, std::string& why) {
  std::string_view host = s.starts_with("*.") ? s.substr(2) : s;
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (!host.empty() && (valid_plain_host(host) || valid_ipv6(host))) return true;
  why = quote(s) + " is not a host name, *.domain or IP address";
  return false;
}

// An HTTP field name: one or more token characters (RFC 9110 §5.1).
bool check_header_name(std::string_view s, std::string& why) {
  const auto tchar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  if (!s.empty() && std::all_of(s.begin(), s.end(), tchar)) return true;
  why = quote(s) + " is not a header name";
  return false;
}

bool check_target_pattern(std::string_view s, std::string& why) {
  std::string host;
  uint16_t port = 0;
  if (split_host_port(s, host, port) && port != 0) return check_host_pattern(host, why);
  if (s.starts_with("*.") && s.find(':') != std::string_view::npos) {
    const size_t colon = s.rfind(':');
    std::string_view p = s.substr(colon + 1);
    if (!p.empty() && std::all_of(p.begin(), p.end(), is_digit))
      return check_host_pattern(s.substr(0, colon), why);
  }
  return check_host_pattern(s, why);
}

bool check_upstream(std::string_view s, std::string& why) {
  if (s == kBuiltinEcho) return true;
  if (s.starts_with("builtin:")) {
    why = "unknown built-in upstream " + quote(s) + " (the only one is builtin:echo)";
    return false;
  }
  UpstreamTarget t;
  return parse_upstream(s, t, why);
}

}  // namespace

bool check_optional_net(std::string_view s, std::string& why) {
  return s.empty() || check_capture_net(s, why);
}

bool check_rule_id(std::string_view s, std::string& why) {
  if (rule_from_id(s)) return true;
  why = "no rule '" + std::string(s) + "' (wsinspect rules lists them)";
  return false;
}

bool check_optional_listen(std::string_view s, std::string& why) {
  return s.empty() || check_listen(s, why);
}

bool check_optional_upstream(std::string_view s, std::string& why) {
  if (s == "builtin:echo") {
    why = "the far side of a bracket is a real server: builtin:echo is not one";
    return false;
  }
  return s.empty() || check_upstream(s, why);
}

bool check_setting_relations(const ProxyConfig& cfg, std::string& why) {
  if (cfg.bracket_listen.empty() != cfg.bracket_upstream.empty()) {
    why = cfg.bracket_listen.empty() ? "--bracket-upstream needs --bracket-listen"
                                     : "--bracket-listen needs --bracket-upstream";
    return false;
  }
  if (!cfg.bracket_listen.empty() && cfg.forward) {
    why = "--bracket-listen works with a reverse proxy (--upstream), not with --forward";
    return false;
  }
  if (!cfg.digest_key_file.empty() && !cfg.log_digests) {
    why = "--digest-key-file needs --log-digests";
    return false;
  }
  if (cfg.tls_self_signed && !cfg.tls_cert.empty()) {
    why = "--tls-self-signed and --tls-cert exclude each other";
    return false;
  }
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    why = cfg.tls_cert.empty() ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key";
    return false;
  }
  if (!cfg.upstream_key.empty() && cfg.upstream_cert.empty()) {
    why = "--upstream-key needs --upstream-cert";
    return false;
  }
  if (cfg.capture_file.empty()) {
    const std::pair<bool, const char*> needs_capture[] = {
        {!cfg.capture_path.empty(), "--capture-path"},
        {!cfg.capture_client.empty(), "--capture-client"}};
    for (const auto& [given, flag] : needs_capture) {
      if (given) {
        why = std::string(flag) + " needs --capture FILE";
        return false;
      }
    }
  } else if (cfg.forward) {
    why = "--capture does not work with --forward yet: capture a reverse proxy (--upstream)";
    return false;
  }
  if (!cfg.forward) {
    const std::pair<bool, const char*> needs_forward[] = {
        {!cfg.ca_dir.empty(), "--ca"},
        {!cfg.passthrough.empty(), "--passthrough"},
        {!cfg.allow_targets.empty(), "--allow-target"}};
    for (const auto& [given, flag] : needs_forward) {
      if (given) {
        why = std::string(flag) + " needs --forward";
        return false;
      }
    }
  } else {
    if (!cfg.upstream.empty()) {
      why = "--forward takes its targets from the clients: leave out --upstream";
      return false;
    }
    if (!cfg.tls_cert.empty() || cfg.tls_self_signed) {
      why = "--forward serves plain HTTP proxy requests: leave out --tls-cert/--tls-self-signed";
      return false;
    }
    std::string host;
    uint16_t port = 0;
    split_host_port(cfg.listen, host, port);
    const bool loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    if (!loopback && cfg.allow_targets.empty()) {
      why = "--forward on " + cfg.listen +
            " would let anyone who reaches it use it to reach any host, internal networks "
            "included: listen on a loopback address, or name the targets with --allow-target";
      return false;
    }
  }
  UpstreamTarget t;
  std::string ignored;
  // A forward proxy's intercepted targets are reached over TLS too.
  const bool tls_upstream = cfg.forward || (parse_upstream(cfg.upstream, t, ignored) && t.tls);
  const std::pair<bool, const char*> needs_wss[] = {
      {!cfg.upstream_sni.empty(), "--upstream-sni"},
      {!cfg.upstream_ca.empty(), "--upstream-ca"},
      {cfg.upstream_insecure, "--upstream-insecure"},
      {!cfg.upstream_cert.empty(), "--upstream-cert"}};
  for (const auto& [given, flag] : needs_wss) {
    if (given && !tls_upstream) {
      why = std::string(flag) + " needs a wss:// upstream (--upstream wss://HOST[:PORT])";
      return false;
    }
  }
  if (cfg.upstream_insecure && !cfg.upstream_ca.empty()) {
    why = "--upstream-insecure and --upstream-ca exclude each other";
    return false;
  }
  return true;
}

namespace {

// ---- the TOML file ----

std::string where(std::string_view source, const toml::source_position& at) {
  return std::string(source) + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// Reads values of each type from a parsed document. Keeps going after an
// error and reports the one that comes first in the file, so the answer does
// not depend on the (alphabetical) order of toml++ tables.
class TomlReader {
 public:
  explicit TomlReader(std::string_view source) : source_(source) {}

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

  void read_bool(const toml::node& node, const std::string& key, bool& out) {
    if (const auto* v = node.as_boolean()) {
      out = v->get();
    } else {
      wrong_type(node, key, "true or false");
    }
  }

  void read_string(const toml::node& node, const std::string& key, std::string& out) {
    if (const auto* v = node.as_string()) {
      out = v->get();
    } else {
      wrong_type(node, key, "a string");
    }
  }

  template <class T>
  void read_uint(const toml::node& node, const std::string& key, uint64_t max, T& out) {
    const auto* v = node.as_integer();
    if (!v) return wrong_type(node, key, "an integer");
    if (v->get() < 0) return fail(node.source().begin, key + ": must not be negative");
    if (static_cast<uint64_t>(v->get()) > max) {
      return fail(node.source().begin, key + ": at most " + std::to_string(max));
    }
    out = static_cast<T>(v->get());
  }

  // Durations are strings with a unit; the integer 0 also disables.
  void read_duration(const toml::node& node, const std::string& key, uint64_t& ms) {
    if (const auto* i = node.as_integer()) {
      if (i->get() == 0) {
        ms = 0;
      } else if (i->get() < 0) {
        fail(node.source().begin, key + ": must not be negative");
      } else {
        fail(node.source().begin, key + ": " + std::to_string(i->get()) +
                                      " has no unit; write a string such as \"5s\" or \"250ms\" "
                                      "(only 0 may be a bare integer)");
      }
    } else if (const auto* s = node.as_string()) {
      std::string why;
      if (!parse_duration(s->get(), ms, why)) fail(node.source().begin, key + ": " + why);
    } else {
      wrong_type(node, key, "a duration string such as \"5s\"");
    }
  }

  // Sizes are integer bytes or strings with a binary unit.
  void read_size(const toml::node& node, const std::string& key, uint64_t& bytes) {
    if (node.as_integer()) return read_uint(node, key, std::numeric_limits<int64_t>::max(), bytes);
    if (const auto* s = node.as_string()) {
      std::string why;
      if (!parse_size(s->get(), bytes, why)) fail(node.source().begin, key + ": " + why);
      return;
    }
    wrong_type(node, key, "a byte count or a size string such as \"64KiB\"");
  }

  template <class T>
  void read_choice(const toml::node& node, const std::string& key,
                   std::span<const Choice<T>> choices, T& out) {
    const auto* s = node.as_string();
    if (!s) return wrong_type(node, key, "a string");
    std::string why;
    if (!parse_choice(s->get(), choices, out, why)) fail(node.source().begin, key + ": " + why);
  }

  // A string that `check` accepts (address syntax).
  void read_checked(const toml::node& node, const std::string& key, std::string& out,
                    bool (*check)(std::string_view, std::string&)) {
    const auto* s = node.as_string();
    if (!s) return wrong_type(node, key, "a string");
    std::string why;
    if (!check(s->get(), why)) return fail(node.source().begin, key + ": " + why);
    out = s->get();
  }

  void wrong_type(const toml::node& node, const std::string& key, const char* expected) {
    fail(node.source().begin, key + ": expected " + expected + ", got " + type_name(node.type()));
  }

  void fail(const toml::source_position& at, const std::string& message) {
    if (failed_ && std::pair(first_.line, first_.column) <= std::pair(at.line, at.column)) return;
    failed_ = true;
    first_ = at;
    error_ = where(source_, at) + ": " + message;
  }

 private:
  std::string_view source_;
  bool failed_ = false;
  toml::source_position first_{};
  std::string error_;
};

// ---- the settings: one row each ----

// How one setting's value is read from the file and from its flag, written
// back (for --help and the tests) and checked by validate_config. Each row of
// kSettings holds one of these, naming its ProxyConfig member.

struct TextValue {
  std::string ProxyConfig::*field;
  std::string_view type;  // what --help shows: "PATH"

  static constexpr SettingKind kind = SettingKind::text;
  std::string type_name() const { return std::string(type); }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_string(n, key, cfg.*field);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string&) const {
    cfg.*field = t;
    return true;
  }
  std::string text(const ProxyConfig& cfg) const { return cfg.*field; }
  bool check(const ProxyConfig&, std::string_view, std::string&) const { return true; }
};

// An address, checked by `syntax` wherever it comes from.
struct AddressValue {
  std::string ProxyConfig::*field;
  std::string_view type;
  bool (*syntax)(std::string_view, std::string&);
  const char* missing = nullptr;  // the error when it is required and empty

  static constexpr SettingKind kind = SettingKind::address;
  std::string type_name() const { return std::string(type); }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_checked(n, key, cfg.*field, syntax);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    if (!syntax(t, why)) return false;
    cfg.*field = t;
    return true;
  }
  std::string text(const ProxyConfig& cfg) const { return cfg.*field; }
  bool check(const ProxyConfig& cfg, std::string_view, std::string& why) const {
    if (missing && (cfg.*field).empty()) {
      if (cfg.forward) return true;  // the forward proxy's targets come from its clients
      why = missing;
      return false;
    }
    return syntax(cfg.*field, why);
  }
};

template <class T>
struct ChoiceValue {
  T ProxyConfig::*field;
  std::span<const Choice<T>> choices;

  static constexpr SettingKind kind = SettingKind::choice;
  std::string type_name() const {
    std::string out;
    for (const Choice<T>& c : choices) out += (out.empty() ? "" : "|") + std::string(c.name);
    return out;
  }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_choice(n, key, choices, cfg.*field);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    return parse_choice(t, choices, cfg.*field, why);
  }
  std::string text(const ProxyConfig& cfg) const {
    for (const Choice<T>& c : choices) {
      if (c.value == cfg.*field) return std::string(c.name);
    }
    return "?";
  }
  bool check(const ProxyConfig&, std::string_view, std::string&) const { return true; }
};

// A whole number. Above `max` it is refused where it is read; below `min`
// only by validate_config, so a file's value can still be fixed by a flag.
struct CountValue {
  uint32_t ProxyConfig::*field;
  uint32_t min = 0;
  uint32_t max = std::numeric_limits<uint32_t>::max();
  std::string_view unit{};       // in the message for a value above max: "bytes"
  std::string_view below_min{};  // added to the message for a value below min

  static constexpr SettingKind kind = SettingKind::count;
  std::string type_name() const { return "N"; }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_uint(n, key, max, cfg.*field);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    uint64_t n = 0;
    if (!parse_uint(t, max, n, why)) return false;
    cfg.*field = static_cast<uint32_t>(n);
    return true;
  }
  std::string text(const ProxyConfig& cfg) const { return std::to_string(cfg.*field); }
  bool check(const ProxyConfig& cfg, std::string_view name, std::string& why) const {
    const uint32_t v = cfg.*field;
    if (v < min) {
      why = std::string(name) + " must be at least " + std::to_string(min) + std::string(below_min);
      return false;
    }
    if (v > max) {
      why = std::string(name) + " is " + std::to_string(v) + (unit.empty() ? "" : " ") +
            std::string(unit) + "; at most " + std::to_string(max);
      return false;
    }
    return true;
  }
};

// A byte count, at least `min`, and below the setting `below` when set.
struct SizeValue {
  uint64_t ProxyConfig::*field;
  uint64_t min = 0;
  uint64_t ProxyConfig::*below = nullptr;

  static constexpr SettingKind kind = SettingKind::size;
  std::string type_name() const { return "SIZE"; }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_size(n, key, cfg.*field);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    return parse_size(t, cfg.*field, why);
  }
  std::string text(const ProxyConfig& cfg) const { return format_size(cfg.*field); }
  bool check(const ProxyConfig& cfg, std::string_view name, std::string& why) const;
};

struct DurationValue {
  uint64_t ProxyConfig::*field;  // milliseconds

  static constexpr SettingKind kind = SettingKind::duration;
  std::string type_name() const { return "DUR"; }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_duration(n, key, cfg.*field);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    return parse_duration(t, cfg.*field, why);
  }
  std::string text(const ProxyConfig& cfg) const { return format_duration(cfg.*field); }
  bool check(const ProxyConfig&, std::string_view, std::string&) const { return true; }
};

// On the command line --x, --x=true|false and --no-x; the last one given wins.
struct BoolValue {
  bool ProxyConfig::*field;

  static constexpr SettingKind kind = SettingKind::boolean;
  std::string type_name() const { return "[=true|false]"; }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    r.read_bool(n, key, cfg.*field);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    return parse_bool(t, cfg.*field, why);
  }
  std::string text(const ProxyConfig& cfg) const { return cfg.*field ? "true" : "false"; }
  bool check(const ProxyConfig&, std::string_view, std::string&) const { return true; }
};

// A list of names: a TOML array of strings; on the command line, the flag
// repeated or one comma-separated value.
struct ListValue {
  std::vector<std::string> ProxyConfig::*field;
  std::string_view type;  // "HOST"
  bool (*syntax)(std::string_view, std::string&) = nullptr;

  static constexpr SettingKind kind = SettingKind::list;
  std::string type_name() const { return std::string(type) + ",..."; }
  void read(TomlReader& r, const toml::node& n, const std::string& key, ProxyConfig& cfg) const {
    std::vector<std::string> out;
    if (const auto* one = n.as_string()) {
      out.push_back(one->get());
    } else if (const auto* arr = n.as_array()) {
      for (const toml::node& item : *arr) {
        const auto* s = item.as_string();
        if (!s) return r.wrong_type(item, key, "a string");
        out.push_back(s->get());
      }
    } else {
      return r.wrong_type(n, key, "an array of strings");
    }
    std::string why;
    for (const std::string& item : out) {
      if (syntax && !syntax(item, why)) return r.fail(n.source().begin, key + ": " + why);
    }
    cfg.*field = std::move(out);
  }
  bool parse(const std::string& t, ProxyConfig& cfg, std::string& why) const {
    std::vector<std::string> out;
    size_t at = 0;
    while (at <= t.size()) {
      size_t comma = t.find(',', at);
      if (comma == std::string::npos) comma = t.size();
      std::string item = t.substr(at, comma - at);
      while (!item.empty() && item.back() == ' ') item.pop_back();
      while (!item.empty() && item.front() == ' ') item.erase(0, 1);
      if (!item.empty()) {
        if (syntax && !syntax(item, why)) return false;
        out.push_back(item);
      }
      at = comma + 1;
    }
    cfg.*field = std::move(out);
    return true;
  }
  std::string text(const ProxyConfig& cfg) const {
    std::string out;
    for (const std::string& item : cfg.*field) out += (out.empty() ? "" : ",") + item;
    return out;
  }
  bool check(const ProxyConfig&, std::string_view, std::string&) const { return true; }
};

using Value = std::variant<TextValue, AddressValue, ChoiceValue<std::optional<LogFormat>>,
                           ChoiceValue<LogLevel>, ChoiceValue<ColorMode>, ChoiceValue<ExplainMode>,
                           ChoiceValue<LangChoice>, CountValue, SizeValue, DurationValue, BoolValue,
                           ListValue>;

struct Setting {
  std::string_view key;   // the TOML key; a dot separates a table from its key
  std::string_view flag;  // a boolean also gets "--no-" and the rest
  Value value;            // the member and its type, range and relation
  std::string_view help;  // what it does
  // After the value syntax in --help: what 0 means, a relation; for a
  // boolean, what its --no- flag does.
  std::string_view rule{};
  std::string_view default_note{};  // explains the default: "(default auto: NOTE)"
};

// Table order is --help order, file order of configs/wsinspect.toml, the
// order of "known here" lists and of the checks in validate_config.
constexpr Setting kSettings[] = {
    {.key = "listen",
     .flag = "--listen",
     .value = AddressValue{&ProxyConfig::listen, "HOST:PORT", check_listen},
     .help = "Accept clients on this address; [IPv6]:PORT for IPv6, port 0 picks a free port"},
    {.key = "upstream",
     .flag = "--upstream",
     .value = AddressValue{&ProxyConfig::upstream, "HOST:PORT|builtin:echo", check_upstream,
                           kNoUpstream},
     .help = "Relay to this server, or to an in-process echo server (builtin:echo); a ws:// or "
             "wss:// URL also works (wss:// speaks TLS to it; a path in it is ignored)",
     .rule = "required unless the config file sets upstream"},
    {.key = "keep_host",
     .flag = "--keep-host",
     .value = BoolValue{&ProxyConfig::keep_host},
     .help = "With a URL upstream, forward the client's Host header unchanged",
     .rule = "rewrite Host to the upstream URL's authority in the first request of each "
             "connection",
     .default_note = "rewritten"},
    {.key = "log.format",
     .flag = "--log-format",
     .value = ChoiceValue<std::optional<LogFormat>>{&ProxyConfig::log_format, kLogFormats},
     .help = "Event format",
     .default_note = "text on a terminal, json otherwise"},
    {.key = "log.file",
     .flag = "--log-file",
     .value = TextValue{&ProxyConfig::log_file, "PATH"},
     .help = "Write events to PATH",
     .default_note = "standard output"},
    {.key = "log.level",
     .flag = "--log-level",
     .value = ChoiceValue<LogLevel>{&ProxyConfig::log_level, kLogLevels},
     .help = "debug adds one event per frame, warn leaves out what is not a problem"},
    {.key = "log.color",
     .flag = "--color",
     .value = ChoiceValue<ColorMode>{&ProxyConfig::color, kColorModes},
     .help = "Colour in the text log: errors red, warnings yellow, c->s and s->c each in its own "
             "colour; always wins over NO_COLOR",
     .default_note = "only on a terminal, and not when NO_COLOR is set"},
    {.key = "log.explain",
     .flag = "--explain",
     .value = ChoiceValue<ExplainMode>{&ProxyConfig::explain, kExplainModes},
     .help = "The text log's explanations of close codes, rules and end causes: the first time "
             "each appears (once), every time, or never; the JSON log always has them"},
    {.key = "log.lang",
     .flag = "--lang",
     .value = ChoiceValue<LangChoice>{&ProxyConfig::lang, kLangChoices},
     .help = "The language of the text log's explanations of close codes and rules: en or "
             "pt-BR (Brazilian Portuguese); the JSON log is always in English",
     .default_note = "from LC_ALL, LC_MESSAGES or LANG, else en"},
    {.key = "log.only_problems",
     .flag = "--only-problems",
     .value = BoolValue{&ProxyConfig::only_problems},
     .help = "Text log: only connections with a problem, from their first problem on (with "
             "their handshake line); healthy connections print nothing",
     .rule = "every connection",
     .default_note = "off"},
    {.key = "log.only_path",
     .flag = "--only-path",
     .value = TextValue{&ProxyConfig::only_path, "PREFIX"},
     .help = "Text log: only connections whose first request's path starts with PREFIX",
     .default_note = "every path"},
    {.key = "log.only_client",
     .flag = "--only-client",
     .value = AddressValue{&ProxyConfig::only_client, "ADDR[/BITS]", check_optional_net},
     .help = "Text log: only connections from clients in ADDR[/BITS] (\"10.0.0.0/8\", \"::1\")",
     .default_note = "every client"},
    {.key = "log.only_rules",
     .flag = "--only-rule",
     .value = ListValue{&ProxyConfig::only_rules, "RULE", check_rule_id},
     .help = "Text log: only connections that broke this rule (repeatable; ids as `wsinspect "
             "rules` lists them)",
     .default_note = "every rule"},
    {.key = "log.preview",
     .flag = "--preview",
     .value =
         CountValue{
             .field = &ProxyConfig::preview, .max = ProxyConfig::kMaxPreview, .unit = "bytes"},
     .help = "Show the first N bytes of each data message as the application gets it (unmasked, "
             "inflated when compressed, escaped), one line per message",
     .default_note = "none"},
    {.key = "log.show_secrets",
     .flag = "--show-secrets",
     .value = BoolValue{&ProxyConfig::log_secrets},
     .help = "Log credentials in clear (Authorization, Cookie, Sec-WebSocket-Key, API keys, "
             "bearer subprotocols, the query string and token parameters of URLs)",
     .rule = "hide them",
     .default_note = "hidden"},
    {.key = "log.redact_headers",
     .flag = "--redact-header",
     .value = ListValue{&ProxyConfig::redact_headers, "NAME", check_header_name},
     .help = "Also log these request headers' values as [redacted] (repeatable)",
     .default_note = "none"},
    {.key = "log.max_lines_per_second",
     .flag = "--log-rate",
     .value = CountValue{.field = &ProxyConfig::log_max_lines_per_second,
                         .max = kMaxLogRate,
                         .unit = "lines a second"},
     .help = "Log at most N event lines a second, with bursts of N more; lines beyond are "
             "dropped and counted (log_dropped events, the stopped event). listening, shutdown, "
             "stopped and conn_close are never dropped",
     .rule = "0 means no limit"},
    {.key = "log.digests",
     .flag = "--log-digests",
     .value = BoolValue{&ProxyConfig::log_digests},
     .help = "Log a keyed digest of every frame and message (frame_digest, message_digest; no "
             "payload) and of each handshake's key, for `wsinspect compare`. The key is the "
             "content of --digest-key-file, or $WSINSPECT_DIGEST_KEY; both vantage points need "
             "the same one. Digest lines are never dropped by --log-rate",
     .rule = "no digests",
     .default_note = "off"},
    {.key = "log.digest_key_file",
     .flag = "--digest-key-file",
     .value = TextValue{&ProxyConfig::digest_key_file, "PATH"},
     .help = "The secret --log-digests keys its digests with (the whole file)",
     .default_note = "$WSINSPECT_DIGEST_KEY"},
    {.key = "inspect.enabled",
     .flag = "--inspect",
     .value = BoolValue{&ProxyConfig::inspect},
     .help = "Decode every frame in both directions and check it against RFC 6455",
     .rule = "relay bytes without decoding frames, so no violations are reported"},
    {.key = "inspect.max_message_size",
     .flag = "--max-message-size",
     .value = SizeValue{&ProxyConfig::max_message_size},
     .help = "Flag messages larger than SIZE as message-too-big (1009)",
     .rule = "0 means no limit"},
    {.key = "inspect.max_reports_per_rule",
     .flag = "--max-reports",
     .value = CountValue{.field = &ProxyConfig::max_reports_per_rule,
                         .min = 1,
                         .below_min = " (to stop inspecting, disable inspect)"},
     .help = "Report each rule at most N times per direction and connection"},
    {.key = "bracket.listen",
     .flag = "--bracket-listen",
     .value = AddressValue{&ProxyConfig::bracket_listen, "HOST:PORT", check_optional_listen},
     .help = "Bracket mode: a second listener, for the intermediary under suspicion to connect "
             "to (point it here instead of at the server); its connections are matched with "
             "--listen's by Sec-WebSocket-Key and what changed between them is logged as "
             "hop_diff events",
     .default_note = "off"},
    {.key = "bracket.upstream",
     .flag = "--bracket-upstream",
     .value = AddressValue{&ProxyConfig::bracket_upstream, "HOST:PORT", check_optional_upstream},
     .help = "Bracket mode: the real server, where --bracket-listen's connections go (ws:// or "
             "wss:// URLs work as for --upstream)",
     .default_note = "none"},
    {.key = "bracket.window",
     .flag = "--bracket-window",
     .value =
         CountValue{
             .field = &ProxyConfig::bracket_window, .min = 1, .max = 100000, .unit = "messages"},
     .help = "Bracket mode: how many messages and control frames one side may run ahead of the "
             "other before an unmatched one is reported dropped or inserted"},
    {.key = "bracket.window_time",
     .flag = "--bracket-window-time",
     .value = DurationValue{&ProxyConfig::bracket_window_ms},
     .help = "Bracket mode: or how long a message may wait for its counterpart",
     .rule = "0 means only the count applies"},
    {.key = "timeouts.connect",
     .flag = "--connect-timeout",
     .value = DurationValue{&ProxyConfig::connect_timeout_ms},
     .help = "Limit on the upstream TCP connect, name resolution included",
     .rule = "0 disables"},
    {.key = "timeouts.handshake",
     .flag = "--handshake-timeout",
     .value = DurationValue{&ProxyConfig::handshake_timeout_ms},
     .help = "Limit on the wait for each request head (from the connection's start or the end "
             "of the previous response; then 408, or a silent close if the client sent "
             "nothing) and for a response's first byte (from the end of its request; then 504)",
     .rule = "0 disables"},
    {.key = "timeouts.http_inactivity",
     .flag = "--http-inactivity-timeout",
     .value = DurationValue{&ProxyConfig::http_inactivity_timeout_ms},
     .help = "Limit on an HTTP body (request or response) in progress with no bytes; a stalled "
             "request body gets 408",
     .rule = "0 disables"},
    {.key = "timeouts.idle",
     .flag = "--idle-timeout",
     .value = DurationValue{&ProxyConfig::idle_timeout_ms},
     .help = "Limit on a connection with no bytes either way",
     .rule = "0 disables",
     .default_note = "disabled"},
    {.key = "timeouts.drain",
     .flag = "--drain-timeout",
     .value = DurationValue{&ProxyConfig::drain_timeout_ms},
     .help = "On SIGINT/SIGTERM, how long open connections may keep running",
     .rule = "0 disables the limit"},
    {.key = "timeouts.tls_handshake",
     .flag = "--tls-handshake-timeout",
     .value = DurationValue{&ProxyConfig::tls_handshake_timeout_ms},
     .help = "Limit on each TLS handshake (client and upstream)",
     .rule = "0 disables"},
    {.key = "limits.high_watermark",
     .flag = "--high-watermark",
     .value = SizeValue{.field = &ProxyConfig::high_watermark, .min = kMinHighWatermark},
     .help = "Stop reading from one side once this much is queued towards the other"},
    {.key = "limits.low_watermark",
     .flag = "--low-watermark",
     .value =
         SizeValue{.field = &ProxyConfig::low_watermark, .below = &ProxyConfig::high_watermark},
     .help = "Resume reading when that queue falls to this",
     .rule = "below the high watermark"},
    {.key = "limits.max_connections",
     .flag = "--max-connections",
     .value = CountValue{.field = &ProxyConfig::max_connections, .min = 1},
     .help = "Concurrent client connections; more are refused"},
    {.key = "tls.cert",
     .flag = "--tls-cert",
     .value = TextValue{&ProxyConfig::tls_cert, "FILE"},
     .help = "Accept clients over TLS (wss://) with this PEM certificate chain (with --tls-key)",
     .default_note = "plain TCP"},
    {.key = "tls.key",
     .flag = "--tls-key",
     .value = TextValue{&ProxyConfig::tls_key, "FILE"},
     .help = "The private key of --tls-cert (PEM)",
     .default_note = "none"},
    {.key = "tls.self_signed",
     .flag = "--tls-self-signed",
     .value = BoolValue{&ProxyConfig::tls_self_signed},
     .help = "Accept clients over TLS with a certificate made at start for the listen address "
             "(its SHA-256 fingerprint is printed with the wss:// URL)",
     .rule = "no certificate made"},
    {.key = "tls.keylog",
     .flag = "--tls-keylog",
     .value = TextValue{&ProxyConfig::tls_keylog, "FILE"},
     .help = "Append the TLS secrets of both legs to FILE (NSS key log, for Wireshark)",
     .default_note = "none"},
    {.key = "upstream_tls.sni",
     .flag = "--upstream-sni",
     .value = TextValue{&ProxyConfig::upstream_sni, "NAME"},
     .help = "Server name sent to a wss:// upstream and checked in its certificate",
     .default_note = "the upstream's host name; none for an IP address"},
    {.key = "upstream_tls.ca",
     .flag = "--upstream-ca",
     .value = TextValue{&ProxyConfig::upstream_ca, "FILE"},
     .help = "Trust the wss:// upstream's certificate if these PEM CA certificates sign it",
     .default_note = "the system's trusted certificates"},
    {.key = "upstream_tls.insecure",
     .flag = "--upstream-insecure",
     .value = BoolValue{&ProxyConfig::upstream_insecure},
     .help = "Do not check the wss:// upstream's certificate (for tests only: logged loudly)",
     .rule = "check it"},
    {.key = "upstream_tls.cert",
     .flag = "--upstream-cert",
     .value = TextValue{&ProxyConfig::upstream_cert, "FILE"},
     .help = "Client certificate (PEM) for a wss:// upstream that asks for one",
     .default_note = "none"},
    {.key = "upstream_tls.key",
     .flag = "--upstream-key",
     .value = TextValue{&ProxyConfig::upstream_key, "FILE"},
     .help = "The private key of --upstream-cert",
     .default_note = "in the --upstream-cert file"},
    {.key = "forward.enabled",
     .flag = "--forward",
     .value = BoolValue{&ProxyConfig::forward},
     .help = "Be the clients' HTTP proxy: serve CONNECT host:port and GET ws://host/... and "
             "inspect what goes through (no --upstream)",
     .rule = "relay to --upstream"},
    {.key = "forward.ca",
     .flag = "--ca",
     .value = TextValue{&ProxyConfig::ca_dir, "DIR"},
     .help = "Intercept TLS after CONNECT with leaf certificates signed by the CA in DIR "
             "(make one with: wsinspect ca init DIR)",
     .default_note = "TLS after CONNECT is tunnelled, not inspected"},
    {.key = "forward.passthrough",
     .flag = "--passthrough",
     .value = ListValue{&ProxyConfig::passthrough, "HOST", check_host_pattern},
     .help = "Tunnel TLS to these hosts without intercepting it (*.example.com matches "
             "subdomains)",
     .default_note = "none"},
    {.key = "forward.allow_target",
     .flag = "--allow-target",
     .value = ListValue{&ProxyConfig::allow_targets, "HOST[:PORT]", check_target_pattern},
     .help = "Targets the forward proxy may reach (*.example.com, host:443); required when it "
             "listens on a non-loopback address",
     .default_note = "any target, on a loopback listener only"},
    {.key = "capture.file",
     .flag = "--capture",
     .value = TextValue{&ProxyConfig::capture_file, "FILE"},
     .help = "Write both legs of every connection to FILE as pcap (Wireshark, tshark): real "
             "addresses, synthesized TCP, the plaintext under TLS. The file is created readable "
             "by its owner only: it holds every secret that crossed the proxy",
     .default_note = "none"},
    {.key = "capture.max_size",
     .flag = "--capture-max-size",
     .value = SizeValue{.field = &ProxyConfig::capture_max_size, .min = 64 * 1024},
     .help = "Size at which the capture file rotates (FILE becomes FILE.1, ...)"},
    {.key = "capture.max_files",
     .flag = "--capture-files",
     .value = CountValue{.field = &ProxyConfig::capture_max_files, .min = 1, .max = 1000},
     .help = "Capture files kept: FILE and FILE.1 .. FILE.(N-1); the oldest is replaced (1: FILE "
             "starts over)"},
    {.key = "capture.path",
     .flag = "--capture-path",
     .value = TextValue{&ProxyConfig::capture_path, "PREFIX"},
     .help = "Capture only connections whose first request's path starts with PREFIX",
     .default_note = "every path"},
    {.key = "capture.client",
     .flag = "--capture-client",
     .value = AddressValue{&ProxyConfig::capture_client, "ADDR[/BITS]", check_capture_net},
     .help = "Capture only clients in this address or network (10.0.0.0/8, ::1)",
     .default_note = "every client"},
    {.key = "shutdown.close_frames",
     .flag = "--shutdown-close-frames",
     .value = BoolValue{&ProxyConfig::shutdown_close_frames},
     .help = "When the drain time ends, send close 1001 (going away) to both sides of each open "
             "connection",
     .rule = "only close the sockets"},
    {.key = "admin.listen",
     .flag = "--admin-listen",
     .value = AddressValue{&ProxyConfig::admin_listen, "[HOST:]PORT", check_admin_listen},
     .help = "Serve the admin endpoint here over HTTP: /metrics (Prometheus), /healthz and "
             "/connections; a bare port listens on 127.0.0.1",
     .default_note = "off"},
};

constexpr bool is_table_of(std::string_view prefix, std::string_view key) {
  return key.size() > prefix.size() && key.starts_with(prefix) && key[prefix.size()] == '.';
}

// Keys and flags are unique, no key is also a table, every row is described.
constexpr bool well_formed(std::span<const Setting> rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const Setting& s = rows[i];
    if (s.key.empty() || s.help.empty() || !s.flag.starts_with("--")) return false;
    if (std::holds_alternative<BoolValue>(s.value) && s.rule.empty()) return false;
    for (size_t j = 0; j < rows.size(); ++j) {
      if (j == i) continue;
      if (rows[j].key == s.key || rows[j].flag == s.flag || is_table_of(s.key, rows[j].key)) {
        return false;
      }
    }
  }
  return true;
}
static_assert(well_formed(kSettings), "each setting needs one unique key, flag and help text");

// "key" for "table.key": how validate_config names a setting.
std::string_view short_name(const Setting& s) {
  return s.key.substr(s.key.rfind('.') + 1);
}

const Setting* find_setting(std::string_view key) {
  for (const Setting& s : kSettings) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

std::string negation_of(const Setting& s) {
  if (!std::holds_alternative<BoolValue>(s.value)) return {};
  return "--no-" + std::string(s.flag.substr(2));
}

bool SizeValue::check(const ProxyConfig& cfg, std::string_view name, std::string& why) const {
  const uint64_t v = cfg.*field;
  if (v < min) {
    why = std::string(name) + " is " + format_size(v) + "; it must be at least " + format_size(min);
    return false;
  }
  if (below && v >= cfg.*below) {
    std::string_view other = "?";
    for (const Setting& s : kSettings) {
      const auto* size = std::get_if<SizeValue>(&s.value);
      if (size && size->field == below) other = short_name(s);
    }
    why = std::string(name) + " (" + format_size(v) + ") must be below " + std::string(other) +
          " (" + format_size(cfg.*below) + ")";
    return false;
  }
  return true;
}

// The --help text: what it does, the value syntax, the rule, the range and
// the default of ProxyConfig's initialiser.
std::string help_text(const Setting& s) {
  const ProxyConfig d;
  std::string out(s.help);
  if (const auto* size = std::get_if<SizeValue>(&s.value)) {
    const uint64_t def = d.*size->field;
    out += ", e.g. " + format_size(def ? def : 1 << 20) +
           " (bytes, or units B, KiB, MiB, GiB: 1024-based)";
  } else if (const auto* dur = std::get_if<DurationValue>(&s.value)) {
    const uint64_t def = d.*dur->field;
    out += ", e.g. " + format_duration(def ? def : 60'000) + " (units ms, s, m, h)";
  }
  if (!s.rule.empty()) {
    const std::string negation = negation_of(s);
    out += "; " + (negation.empty() ? "" : negation + ": ") + std::string(s.rule);
  }
  if (const auto* count = std::get_if<CountValue>(&s.value)) {
    if (count->max < std::numeric_limits<uint32_t>::max()) {
      out += "; " + std::to_string(count->min) + "-" + std::to_string(count->max);
    } else if (count->min > 0) {
      out += "; at least " + std::to_string(count->min);
    }
  } else if (const auto* size = std::get_if<SizeValue>(&s.value); size && size->min > 0) {
    out += "; at least " + format_size(size->min);
  }
  const std::string def = std::visit([&](const auto& v) { return v.text(d); }, s.value);
  const std::string note(s.default_note);
  if (def.empty()) {
    if (!note.empty()) out += " (default: " + note + ")";
  } else {
    out += " (default " + def + (note.empty() ? "" : ": " + note) + ")";
  }
  return out;
}

// ---- the TOML file, walked by the table ----

// The names one level below `prefix` ("" for the top), in table order.
std::string names_under(std::string_view prefix) {
  std::vector<std::string_view> names;
  for (const Setting& s : kSettings) {
    std::string_view rest = s.key;
    if (!prefix.empty()) {
      if (!is_table_of(prefix, rest)) continue;
      rest.remove_prefix(prefix.size() + 1);
    }
    rest = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), rest) == names.end()) names.push_back(rest);
  }
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

void walk(TomlReader& r, const toml::table& table, const std::string& prefix, ProxyConfig& cfg) {
  for (auto&& [k, node] : table) {
    const std::string key =
        prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const toml::node& n = node;  // clang 14 cannot capture a structured binding
    if (const Setting* s = find_setting(key)) {
      std::visit([&](const auto& v) { v.read(r, n, key, cfg); }, s->value);
    } else if (!names_under(key).empty()) {
      if (const toml::table* t = n.as_table()) {
        walk(r, *t, key, cfg);
      } else {
        r.wrong_type(n, key, "a table");
      }
    } else {
      r.fail(k.source().begin,
             "unknown key " + quote(key) + " (known here: " + names_under(prefix) + ")");
    }
  }
}

bool read_document(const toml::table& root, std::string_view source, ProxyConfig& cfg,
                   std::string& error) {
  TomlReader r(source);
  walk(r, root, "", cfg);
  if (r.failed()) error = r.error();
  return !r.failed();
}

}  // namespace

bool load_config_string(std::string_view toml, const std::string& source_name, ProxyConfig& cfg,
                        std::string& error) {
  try {
    const toml::table root = toml::parse(toml, std::string_view(source_name));
    ProxyConfig updated = cfg;  // `cfg` stays untouched on failure
    if (!read_document(root, source_name, updated, error)) return false;
    cfg = std::move(updated);
    return true;
  } catch (const toml::parse_error& e) {
    // toml++ quotes the character it did not expect, a newline included.
    error = where(source_name, e.source().begin) + ": " + printable(e.description());
  } catch (const std::exception& e) {
    error = source_name + ": " + e.what();
  }
  return false;
}

bool load_config_file(const std::string& path, ProxyConfig& cfg, std::string& error) {
  // A configuration is a few kilobytes: anything over the limit is refused
  // before it is read (stat), and the read itself stops past the limit (a
  // pipe or a file growing while it is read has no size to check first).
  const auto too_big = [&](uintmax_t bytes, const char* is) {
    error = path + ": config file is " + is + std::to_string(bytes) + " bytes; the limit is 1 MiB";
    return false;
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uintmax_t>(st.st_size) > kMaxConfigBytes)
    return too_big(static_cast<uintmax_t>(st.st_size), "");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) return too_big(kMaxConfigBytes, "more than ");
  }
  if (in.bad()) {
    error = path + ": cannot read: " + std::strerror(errno);
    return false;
  }
  return load_config_string(text, path, cfg, error);
}

// Each row's own checks (addresses, ranges, the watermark relation), in table
// order; the first failure is the error.
bool validate_config(const ProxyConfig& cfg, std::string& error) {
  for (const Setting& s : kSettings) {
    const bool ok =
        std::visit([&](const auto& v) { return v.check(cfg, short_name(s), error); }, s.value);
    if (!ok) return false;
  }
  return true;
}

std::vector<SettingInfo> setting_table() {
  const ProxyConfig d;
  std::vector<SettingInfo> out;
  for (const Setting& s : kSettings) {
    std::visit(
        [&](const auto& v) {
          out.push_back({s.key, s.flag, negation_of(s), std::decay_t<decltype(v)>::kind,
                         v.type_name(), help_text(s), v.text(d)});
        },
        s.value);
  }
  return out;
}

std::optional<std::string> setting_text(const ProxyConfig& cfg, std::string_view key) {
  const Setting* s = find_setting(key);
  if (!s) return std::nullopt;
  return std::visit([&](const auto& v) { return v.text(cfg); }, s->value);
}

bool parse_upstream(std::string_view s, UpstreamTarget& out, std::string& why) {
  auto lower_prefix = [&](std::string_view p) {
    if (s.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
    return true;
  };
  out = UpstreamTarget{};
  if (lower_prefix("http://") || lower_prefix("https://")) {
    why = "upstream " + quote(s) + ": a WebSocket URL starts with ws:// or wss://";
    return false;
  }
  if (!lower_prefix("ws://") && !lower_prefix("wss://")) {
    if (split_host_port(s, out.host, out.port) && out.port != 0) return true;
    why = "upstream " + quote(s) +
          " is not HOST:PORT, [IPv6]:PORT (port 1-65535), ws://HOST[:PORT], wss://HOST[:PORT] "
          "or builtin:echo";
    return false;
  }
  out.url = true;
  out.tls = lower_prefix("wss://");
  std::string_view rest = s.substr(out.tls ? 6 : 5);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (end != std::string_view::npos && rest.substr(end) != "/") out.ignored_path = rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    why = "upstream " + quote(s) + ": user names and passwords in the URL are not supported";
    return false;
  }
  const uint16_t default_port = out.tls ? 443 : 80;
  const bool bracketed = authority.starts_with('[');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      bracketed ? authority.find("]:") != std::string_view::npos : colon != std::string_view::npos;
  bool ok = false;
  if (has_port) {
    ok = split_host_port(authority, out.host, out.port) && out.port != 0;
  } else if (bracketed && authority.ends_with(']')) {
    out.host = authority.substr(1, authority.size() - 2);
    ok = valid_ipv6(out.host);
    out.port = default_port;
  } else {
    out.host = authority;
    ok = !authority.empty() && valid_plain_host(authority);
    out.port = default_port;
  }
  if (!ok) {
    why = "upstream " + quote(s) + ": the host or port of the URL is not valid";
    return false;
  }
  out.authority = std::string(authority);
  // The default port is left out of Host, as browsers do.
  if (has_port && out.port == default_port)
    out.authority = std::string(authority.substr(0, authority.rfind(':')));
  return true;
}

bool split_host_port(std::string_view s, std::string& host, uint16_t& port) {
  std::string_view h;
  std::string_view p;
  if (s.starts_with('[')) {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return false;
    }
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
    if (!valid_ipv6(h)) return false;
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
    if (!valid_plain_host(h)) return false;  // also rejects an unbracketed IPv6 address
  }
  if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), is_digit)) return false;
  uint64_t n = 0;
  std::from_chars(p.data(), p.data() + p.size(), n);
  if (n > 65535) return false;
  host = h;
  port = static_cast<uint16_t>(n);
  return true;
}

// ---- the command line ----

// One option per row (two for a boolean), registered from the table. Values
// are kept as text until resolve(), so a bad value is reported like a bad file
// value, naming the flag.
struct ProxyOptions::Impl {
  struct Flag {
    CLI::Option* option = nullptr;
    CLI::Option* negation = nullptr;  // a boolean's --no- flag
    std::string negation_name;
    std::string text;                // a value flag's argument
    std::vector<std::string> texts;  // a list flag's arguments, every time it is given
  };

  const CLI::App* cmd = nullptr;
  CLI::Option* config = nullptr;
  std::string config_path;
  std::array<Flag, std::size(kSettings)> flags;  // in table order
  CLI::Option* quiet = nullptr;
  CLI::Option* verbose = nullptr;
  CLI::Option* json = nullptr;
};

ProxyOptions::ProxyOptions(CLI::App& cmd) : impl_(new Impl) {
  Impl& i = *impl_;
  i.cmd = &cmd;
  i.config = cmd.add_option("--config", i.config_path,
                            "TOML settings file (example: configs/wsinspect.toml); flags given "
                            "here override it")
                 ->type_name("FILE");
  // The settings used most also have a short flag.
  auto names = [](std::string_view flag) {
    if (flag == "--listen") return std::string("-l,--listen");
    if (flag == "--upstream") return std::string("-u,--upstream");
    return std::string(flag);
  };
  i.quiet = cmd.add_flag("-q,--quiet")->description("Problems only: the same as --log-level warn");
  i.verbose =
      cmd.add_flag("-v,--verbose")->description("Every frame and message too: --log-level debug");
  i.json = cmd.add_flag("--json")->description("The same as --log-format json");
  for (size_t n = 0; n < std::size(kSettings); ++n) {
    const Setting& s = kSettings[n];
    Impl::Flag& f = i.flags[n];
    const std::string type = std::visit([](const auto& v) { return v.type_name(); }, s.value);
    if (std::holds_alternative<BoolValue>(s.value)) {
      // --x and --x=VALUE on one option; --no-x on a second one, left out of
      // --help (the first one's text names it).
      f.option = cmd.add_flag(std::string(s.flag))->description(help_text(s))->type_name(type);
      f.negation_name = negation_of(s);
      f.negation = cmd.add_flag(f.negation_name)->group("");
    } else if (std::holds_alternative<ListValue>(s.value)) {
      f.option = cmd.add_option(std::string(s.flag), f.texts, help_text(s))->type_name(type);
    } else {
      f.option = cmd.add_option(names(s.flag), f.text, help_text(s))->type_name(type);
    }
  }
}

ProxyOptions::~ProxyOptions() {
  delete impl_;
}

std::optional<ProxyConfig> ProxyOptions::resolve(std::string& error,
                                                 const ConfigLoader& load) const {
  const Impl& i = *impl_;
  ProxyConfig cfg;
  if (i.config->count() > 0 &&
      !(load ? load(i.config_path, cfg, error) : load_config_file(i.config_path, cfg, error)))
    return std::nullopt;

  const std::vector<CLI::Option*>& order = i.cmd->parse_order();
  for (size_t n = 0; n < std::size(kSettings); ++n) {
    const Setting& s = kSettings[n];
    const Impl::Flag& f = i.flags[n];
    std::string name(s.flag);
    std::string text = f.text;
    for (const std::string& t : f.texts) text += (text.empty() ? "" : ",") + t;
    std::string why;
    if (f.negation) {
      // The last of --x, --x=VALUE and --no-x[=VALUE] wins.
      auto last = std::find_if(order.rbegin(), order.rend(), [&](const CLI::Option* o) {
        return o == f.option || o == f.negation;
      });
      if (last == order.rend()) continue;
      text = (*last)->results().back();  // "true" for a bare flag
      if (*last == f.negation) {
        name = f.negation_name;
        bool off = false;
        if (!parse_bool(text, off, why)) {
          error = name + ": " + why;
          return std::nullopt;
        }
        text = off ? "false" : "true";
      }
    } else if (f.option->count() == 0) {
      continue;
    }
    if (!std::visit([&](const auto& v) { return v.parse(text, cfg, why); }, s.value)) {
      error = name + ": " + why;
      return std::nullopt;
    }
  }

  // -q, -v and --json give way to --log-level and --log-format on the same
  // command line.
  auto given = [&](std::string_view flag) {
    for (size_t n = 0; n < std::size(kSettings); ++n)
      if (kSettings[n].flag == flag) return i.flags[n].option->count() > 0;
    return false;
  };
  if (i.quiet->count() && i.verbose->count()) {
    error = "-q (--quiet) and -v (--verbose) exclude each other";
    return std::nullopt;
  }
  if (!given("--log-level")) {
    if (i.quiet->count()) cfg.log_level = LogLevel::warn;
    if (i.verbose->count()) cfg.log_level = LogLevel::debug;
  }
  if (i.json->count() && !given("--log-format")) cfg.log_format = LogFormat::json;
  if (!validate_config(cfg, error)) return std::nullopt;
  return cfg;
}

}  // namespace wsi
