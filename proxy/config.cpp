// The proxy's settings: value syntax, the TOML reader, the command-line flags
// and the checks between settings. Errors are values here, never exceptions:
// toml++ throws toml::parse_error, which is caught in load_config_string only.
#include "proxy/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <span>
#include <utility>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>

namespace wsi {
namespace {

constexpr uint32_t kMaxPreview = 65536;
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

std::string quote(std::string_view s) {
  return "'" + std::string(s) + "'";
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

// "(default 10s)", or "(default 0: disabled)" for a timeout that is off.
std::string default_duration(uint64_t ms) {
  return ms == 0 ? "(default 0: disabled)" : "(default " + format_duration(ms) + ")";
}

template <class T>
struct Choice {
  std::string_view name;
  T value;
};

const Choice<std::optional<LogFormat>> kLogFormats[] = {
    {"text", LogFormat::text}, {"json", LogFormat::json}, {"auto", std::nullopt}};
constexpr Choice<LogLevel> kLogLevels[] = {
    {"debug", LogLevel::debug}, {"info", LogLevel::info}, {"warn", LogLevel::warn}};
constexpr Choice<ColorMode> kColorModes[] = {
    {"auto", ColorMode::auto_}, {"always", ColorMode::always}, {"never", ColorMode::never}};

template <class T, size_t N>
bool parse_choice(std::string_view text, const Choice<T> (&choices)[N], T& out, std::string& why) {
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

bool check_upstream(std::string_view s, std::string& why) {
  if (s == kBuiltinEcho) return true;
  if (s.starts_with("builtin:")) {
    why = "unknown built-in upstream " + quote(s) + " (the only one is builtin:echo)";
    return false;
  }
  std::string host;
  uint16_t port = 0;
  if (split_host_port(s, host, port) && port != 0) return true;
  why = "upstream " + quote(s) + " is not HOST:PORT, [IPv6]:PORT (port 1-65535) or builtin:echo";
  return false;
}

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

// Walks a parsed document against the known keys. Keeps going after an error
// and reports the one that comes first in the file, so the answer does not
// depend on the (alphabetical) order of toml++ tables.
class TomlReader {
 public:
  using Read = std::function<void(const toml::node&, const std::string& key)>;
  struct Key {
    std::string_view name;
    Read read;
  };

  explicit TomlReader(std::string_view source) : source_(source) {}

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

  void walk(const toml::table& table, const std::string& prefix, std::span<const Key> keys) {
    for (auto&& [k, node] : table) {
      const std::string key =
          prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      const std::string_view name = k.str();  // clang 14 cannot capture a structured binding
      auto it =
          std::find_if(keys.begin(), keys.end(), [name](const Key& c) { return c.name == name; });
      if (it == keys.end()) {
        std::string known;
        for (const Key& c : keys) known += (known.empty() ? "" : ", ") + std::string(c.name);
        fail(k.source().begin, "unknown key " + quote(key) + " (known here: " + known + ")");
        continue;
      }
      it->read(node, key);
    }
  }

  void table(const toml::node& node, const std::string& key, std::span<const Key> keys) {
    if (const toml::table* t = node.as_table()) {
      walk(*t, key, keys);
    } else {
      wrong_type(node, key, "a table");
    }
  }

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

  template <class T, size_t N>
  void read_choice(const toml::node& node, const std::string& key, const Choice<T> (&choices)[N],
                   T& out) {
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

 private:
  void wrong_type(const toml::node& node, const std::string& key, const char* expected) {
    fail(node.source().begin, key + ": expected " + expected + ", got " + type_name(node.type()));
  }

  void fail(const toml::source_position& at, const std::string& message) {
    if (failed_ && std::pair(first_.line, first_.column) <= std::pair(at.line, at.column)) return;
    failed_ = true;
    first_ = at;
    error_ = where(source_, at) + ": " + message;
  }

  std::string_view source_;
  bool failed_ = false;
  toml::source_position first_{};
  std::string error_;
};

// Applies every known key of `root` to `cfg`.
bool read_document(const toml::table& root, std::string_view source, ProxyConfig& cfg,
                   std::string& error) {
  TomlReader r(source);
  using Key = TomlReader::Key;
  using Node = const toml::node&;
  using Name = const std::string&;
  const Key log_keys[] = {
      {"format", [&](Node n, Name k) { r.read_choice(n, k, kLogFormats, cfg.log_format); }},
      {"file", [&](Node n, Name k) { r.read_string(n, k, cfg.log_file); }},
      {"level", [&](Node n, Name k) { r.read_choice(n, k, kLogLevels, cfg.log_level); }},
      {"color", [&](Node n, Name k) { r.read_choice(n, k, kColorModes, cfg.color); }},
      {"preview", [&](Node n, Name k) { r.read_uint(n, k, kMaxPreview, cfg.preview); }},
      {"show_secrets", [&](Node n, Name k) { r.read_bool(n, k, cfg.log_secrets); }},
  };
  const Key inspect_keys[] = {
      {"enabled", [&](Node n, Name k) { r.read_bool(n, k, cfg.inspect); }},
      {"max_message_size", [&](Node n, Name k) { r.read_size(n, k, cfg.max_message_size); }},
      {"max_reports_per_rule",
       [&](Node n, Name k) {
         r.read_uint(n, k, std::numeric_limits<uint32_t>::max(), cfg.max_reports_per_rule);
       }},
  };
  const Key timeouts_keys[] = {
      {"connect", [&](Node n, Name k) { r.read_duration(n, k, cfg.connect_timeout_ms); }},
      {"handshake", [&](Node n, Name k) { r.read_duration(n, k, cfg.handshake_timeout_ms); }},
      {"idle", [&](Node n, Name k) { r.read_duration(n, k, cfg.idle_timeout_ms); }},
      {"drain", [&](Node n, Name k) { r.read_duration(n, k, cfg.drain_timeout_ms); }},
  };
  const Key limits_keys[] = {
      {"high_watermark", [&](Node n, Name k) { r.read_size(n, k, cfg.high_watermark); }},
      {"low_watermark", [&](Node n, Name k) { r.read_size(n, k, cfg.low_watermark); }},
      {"max_connections",
       [&](Node n, Name k) {
         r.read_uint(n, k, std::numeric_limits<uint32_t>::max(), cfg.max_connections);
       }},
  };
  const Key shutdown_keys[] = {
      {"close_frames", [&](Node n, Name k) { r.read_bool(n, k, cfg.shutdown_close_frames); }},
  };
  const Key top_keys[] = {
      {"listen", [&](Node n, Name k) { r.read_checked(n, k, cfg.listen, check_listen); }},
      {"upstream", [&](Node n, Name k) { r.read_checked(n, k, cfg.upstream, check_upstream); }},
      {"log", [&](Node n, Name k) { r.table(n, k, log_keys); }},
      {"inspect", [&](Node n, Name k) { r.table(n, k, inspect_keys); }},
      {"timeouts", [&](Node n, Name k) { r.table(n, k, timeouts_keys); }},
      {"limits", [&](Node n, Name k) { r.table(n, k, limits_keys); }},
      {"shutdown", [&](Node n, Name k) { r.table(n, k, shutdown_keys); }},
  };
  r.walk(root, "", top_keys);
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
    error = where(source_name, e.source().begin) + ": " + std::string(e.description());
  } catch (const std::exception& e) {
    error = source_name + ": " + e.what();
  }
  return false;
}

bool load_config_file(const std::string& path, ProxyConfig& cfg, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) {
    error = path + ": cannot read: " + std::strerror(errno);
    return false;
  }
  return load_config_string(text, path, cfg, error);
}

bool validate_config(const ProxyConfig& cfg, std::string& error) {
  if (!check_listen(cfg.listen, error)) return false;
  if (cfg.upstream.empty()) {
    error = kNoUpstream;
    return false;
  }
  if (!check_upstream(cfg.upstream, error)) return false;
  if (cfg.preview > kMaxPreview) {
    error = "preview is " + std::to_string(cfg.preview) + " bytes; at most " +
            std::to_string(kMaxPreview);
    return false;
  }
  if (cfg.max_reports_per_rule < 1) {
    error = "max_reports_per_rule must be at least 1 (to stop inspecting, disable inspect)";
    return false;
  }
  if (cfg.high_watermark < kMinHighWatermark) {
    error = "high_watermark is " + format_size(cfg.high_watermark) + "; it must be at least 1KiB";
    return false;
  }
  if (cfg.low_watermark >= cfg.high_watermark) {
    error = "low_watermark (" + format_size(cfg.low_watermark) +
            ") must be below high_watermark (" + format_size(cfg.high_watermark) + ")";
    return false;
  }
  if (cfg.max_connections < 1) {
    error = "max_connections must be at least 1";
    return false;
  }
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

namespace {

// A flag that takes a value, kept as text until resolve() so a bad value is
// reported like a bad file value, naming the flag.
struct ValueFlag {
  CLI::Option* option = nullptr;
  std::string text;

  bool given() const { return option->count() > 0; }
};

}  // namespace

struct ProxyOptions::Impl {
  ValueFlag config, listen, upstream, log_format, log_file, log_level, color, preview,
      max_message_size, max_reports, connect, handshake, idle, drain, high, low, max_connections;
  CLI::Option* show_secrets = nullptr;
  CLI::Option* no_inspect = nullptr;
  CLI::Option* close_frames = nullptr;
};

ProxyOptions::ProxyOptions(CLI::App& cmd) : impl_(new Impl) {
  const ProxyConfig d;
  Impl& i = *impl_;
  auto value = [&](ValueFlag& f, const char* name, const char* type, const std::string& help) {
    f.option = cmd.add_option(name, f.text, help)->type_name(type);
  };
  value(i.config, "--config", "FILE",
        "TOML settings file (example: configs/wsinspect.toml); flags given here override it");
  value(i.listen, "--listen", "HOST:PORT",
        "Accept clients on this address; [IPv6]:PORT for IPv6, port 0 picks a free port "
        "(default " +
            d.listen + ")");
  value(i.upstream, "--upstream", "HOST:PORT|builtin:echo",
        "Relay to this server, or to an in-process echo server (builtin:echo); required unless "
        "the config file sets upstream");
  value(i.log_format, "--log-format", "text|json|auto",
        "Event format (default auto: text on a terminal, json otherwise)");
  value(i.log_file, "--log-file", "PATH", "Write events to PATH (default: standard output)");
  value(i.log_level, "--log-level", "debug|info|warn",
        "debug adds one event per frame (default info)");
  value(i.color, "--color", "auto|always|never",
        "Colour in text output (default auto: only on a terminal)");
  value(i.preview, "--preview", "N",
        "Show the first N payload bytes of each frame and message, unmasked and escaped; "
        "0-" +
            std::to_string(kMaxPreview) + " (default " + std::to_string(d.preview) + ": none)");
  i.show_secrets = cmd.add_flag("--show-secrets")
                       ->description(
                           "Log the values of Authorization, Cookie and Sec-WebSocket-Key "
                           "(hidden by default)");
  i.no_inspect = cmd.add_flag("--no-inspect")
                     ->description(
                         "Relay bytes without decoding frames: no violations "
                         "are reported");
  // Each DUR and SIZE flag's help carries the syntax (main() owns the footer).
  auto duration = [&](ValueFlag& f, const char* name, const std::string& what, const char* zero,
                      uint64_t def) {
    value(f, name, "DUR",
          what + ", e.g. " + format_duration(def ? def : 60'000) + " (units ms, s, m, h); " + zero +
              " " + default_duration(def));
  };
  auto size = [&](ValueFlag& f, const char* name, const std::string& what, const char* rule,
                  uint64_t def) {
    value(f, name, "SIZE",
          what + ", e.g. " + format_size(def ? def : 1 << 20) +
              " (bytes, or units B, KiB, MiB, GiB: 1024-based); " + rule + " (default " +
              format_size(def) + ")");
  };
  size(i.max_message_size, "--max-message-size",
       "Flag messages larger than SIZE as message-too-big (1009)", "0 means no limit",
       d.max_message_size);
  value(i.max_reports, "--max-reports", "N",
        "Report each rule at most N times per direction and connection, N >= 1 (default " +
            std::to_string(d.max_reports_per_rule) + ")");
  duration(i.connect, "--connect-timeout",
           "Limit on the upstream TCP connect, name resolution included", "0 disables",
           d.connect_timeout_ms);
  duration(i.handshake, "--handshake-timeout",
           "Limit from the client's connect to the upstream's 101 (or first HTTP response)",
           "0 disables", d.handshake_timeout_ms);
  duration(i.idle, "--idle-timeout", "Limit on a connection with no bytes either way", "0 disables",
           d.idle_timeout_ms);
  duration(i.drain, "--drain-timeout",
           "On SIGINT/SIGTERM, how long open connections may keep running", "0 disables the limit",
           d.drain_timeout_ms);
  size(i.high, "--high-watermark",
       "Stop reading from one side once this much is queued towards the other", "at least 1KiB",
       d.high_watermark);
  size(i.low, "--low-watermark", "Resume reading when that queue falls to this",
       "below the high watermark", d.low_watermark);
  value(i.max_connections, "--max-connections", "N",
        "Concurrent client connections; more are refused (default " +
            std::to_string(d.max_connections) + ")");
  i.close_frames = cmd.add_flag("--shutdown-close-frames")
                       ->description(
                           "When the drain time ends, send close 1001 (going away) to both "
                           "sides of each open connection");
}

ProxyOptions::~ProxyOptions() {
  delete impl_;
}

std::optional<ProxyConfig> ProxyOptions::resolve(std::string& error) const {
  const Impl& i = *impl_;
  ProxyConfig cfg;
  if (i.config.given() && !load_config_file(i.config.text, cfg, error)) return std::nullopt;

  std::string why;
  bool ok = true;
  // Runs `parse` on a given flag; the first failure names the flag.
  auto apply = [&](const ValueFlag& f, auto parse) {
    if (!ok || !f.given()) return;
    if (!parse(f.text)) {
      error = f.option->get_name() + ": " + why;
      ok = false;
    }
  };
  auto uint_into = [&](auto& out, uint64_t max) {
    return [&out, max, &why](const std::string& t) {
      uint64_t n = 0;
      if (!parse_uint(t, max, n, why)) return false;
      out = static_cast<std::remove_reference_t<decltype(out)>>(n);
      return true;
    };
  };
  auto duration_into = [&](uint64_t& out) {
    return [&out, &why](const std::string& t) { return parse_duration(t, out, why); };
  };
  auto size_into = [&](uint64_t& out) {
    return [&out, &why](const std::string& t) { return parse_size(t, out, why); };
  };
  auto address_into = [&](std::string& out, bool (*check)(std::string_view, std::string&)) {
    return [&out, check, &why](const std::string& t) {
      if (!check(t, why)) return false;
      out = t;
      return true;
    };
  };
  constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

  apply(i.listen, address_into(cfg.listen, check_listen));
  apply(i.upstream, address_into(cfg.upstream, check_upstream));
  apply(i.log_format,
        [&](const std::string& t) { return parse_choice(t, kLogFormats, cfg.log_format, why); });
  apply(i.log_file, [&](const std::string& t) {
    cfg.log_file = t;
    return true;
  });
  apply(i.log_level,
        [&](const std::string& t) { return parse_choice(t, kLogLevels, cfg.log_level, why); });
  apply(i.color,
        [&](const std::string& t) { return parse_choice(t, kColorModes, cfg.color, why); });
  apply(i.preview, uint_into(cfg.preview, kMaxPreview));
  apply(i.max_message_size, size_into(cfg.max_message_size));
  apply(i.max_reports, uint_into(cfg.max_reports_per_rule, kMaxU32));
  apply(i.connect, duration_into(cfg.connect_timeout_ms));
  apply(i.handshake, duration_into(cfg.handshake_timeout_ms));
  apply(i.idle, duration_into(cfg.idle_timeout_ms));
  apply(i.drain, duration_into(cfg.drain_timeout_ms));
  apply(i.high, size_into(cfg.high_watermark));
  apply(i.low, size_into(cfg.low_watermark));
  apply(i.max_connections, uint_into(cfg.max_connections, kMaxU32));
  if (!ok) return std::nullopt;
  if (i.show_secrets->count() > 0) cfg.log_secrets = true;
  if (i.no_inspect->count() > 0) cfg.inspect = false;
  if (i.close_frames->count() > 0) cfg.shutdown_close_frames = true;

  if (!validate_config(cfg, error)) return std::nullopt;
  return cfg;
}

}  // namespace wsi
