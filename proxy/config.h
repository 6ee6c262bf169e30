// The proxy's settings: one struct, filled from defaults, then a TOML file
// (--config), then command-line flags; a flag overrides the file. One table
// in config.cpp, one row per setting, drives all of them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace wsi {

enum class LogFormat : uint8_t { text, json };
enum class LogLevel : uint8_t { debug, info, warn };
enum class ColorMode : uint8_t { auto_, always, never };
// The text log's explanations of close codes, rules and end causes.
enum class ExplainMode : uint8_t { always, once, never };
// The language of the text log's explanations: from the environment
// (LC_ALL, LC_MESSAGES, LANG), English, or Brazilian Portuguese.
enum class LangChoice : uint8_t { auto_, en, pt_br };

struct ProxyConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; [v6]:PORT for IPv6
  std::string upstream;  // HOST:PORT, ws://HOST[:PORT][/], wss://HOST[:PORT][/], or "builtin:echo"
  bool keep_host = false;  // with a URL upstream: forward the client's Host header unchanged

  // [log]
  std::optional<LogFormat> log_format;  // unset: text on a terminal, json otherwise
  std::string log_file;                 // empty: standard output
  LogLevel log_level = LogLevel::info;  // debug adds one event per frame
  ColorMode color = ColorMode::auto_;
  uint32_t preview = 0;  // bytes of each data message shown (unmasked, inflated, escaped)
  static constexpr uint32_t kMaxPreview = 65536;  // for --preview of proxy and decode
  bool log_secrets = false;  // show Authorization, Cookie and Sec-WebSocket-Key values
  std::vector<std::string> redact_headers;  // more header names logged as [redacted]
  // The text log: explanations the first time only, every time, or never;
  // filters by problem, path prefix, client network and rule.
  ExplainMode explain = ExplainMode::once;
  LangChoice lang = LangChoice::auto_;
  bool only_problems = false;
  std::string only_path;
  std::string only_client;
  std::vector<std::string> only_rules;
  // The proxy's log budget: event lines a second (and a burst as large);
  // lines beyond are dropped and counted. 0: no budget.
  uint32_t log_max_lines_per_second = 1000;
  // frame_digest/message_digest lines and the handshake's key_digest, keyed
  // with the secret in digest_key_file (or $WSINSPECT_DIGEST_KEY), for `compare`.
  bool log_digests = false;
  std::string digest_key_file;

  // [inspect]
  bool inspect = true;                 // false: a pure relay (no frame decoding)
  uint64_t max_message_size = 0;       // 0: no limit; above it: message-too-big (1009)
  uint32_t max_reports_per_rule = 10;  // per direction and connection

  // [timeouts], in milliseconds; 0 disables each
  uint64_t connect_timeout_ms = 10000;          // upstream TCP connect (and name resolution)
  uint64_t handshake_timeout_ms = 30000;        // each request head, and each response's first byte
  uint64_t http_inactivity_timeout_ms = 30000;  // an HTTP message in progress with no bytes
  uint64_t idle_timeout_ms = 0;                 // no bytes either way
  uint64_t drain_timeout_ms = 5000;             // on SIGINT/SIGTERM: how long open sessions may run

  // [limits]
  uint64_t high_watermark = 1 << 20;   // bytes queued towards one side before reading stops
  uint64_t low_watermark = 256 << 10;  // reading resumes when the queue falls to this
  uint32_t max_connections = 10000;    // concurrent client connections; more are refused

  // [tls]: the listener
  std::string tls_cert;  // PEM certificate chain; with tls_key, clients connect with wss://
  std::string tls_key;
  bool tls_self_signed = false;  // a certificate made at start for the listen name
  std::string tls_keylog;        // NSS key log of both legs, for Wireshark
  uint64_t tls_handshake_timeout_ms = 10000;

  // [capture]: both legs of every connection as a pcap file
  std::string capture_file;                  // empty: no capture
  uint64_t capture_max_size = 100ull << 20;  // per file; then it rotates
  uint32_t capture_max_files = 4;            // FILE and FILE.1 .. FILE.(N-1)
  std::string capture_path;                  // only requests whose path starts with it
  std::string capture_client;                // only clients in ADDR[/BITS]

  // [upstream_tls]: towards a wss:// upstream
  std::string upstream_sni;  // empty: the upstream's host name (none for an IP address)
  std::string upstream_ca;   // empty: the system's trusted certificates
  bool upstream_insecure = false;
  std::string upstream_cert;  // client certificate, optional
  std::string upstream_key;

  // [forward]: the forward proxy (clients configure wsinspect as their HTTP proxy)
  bool forward = false;
  std::string ca_dir;  // the CA intercepted TLS is signed with (wsinspect ca init DIR)
  std::vector<std::string> passthrough;    // hosts tunnelled without interception
  std::vector<std::string> allow_targets;  // HOST or HOST:PORT patterns ("*.example.com:443")

  // [bracket]: a second listener on the far side of an intermediary; its
  // connections are matched with the first listener's and compared live
  std::string bracket_listen;          // empty: no bracket mode
  std::string bracket_upstream;        // where the second listener's connections go
  uint32_t bracket_window = 64;        // units (messages, control frames) a side may run ahead
  uint64_t bracket_window_ms = 10000;  // or this long, before a unit is judged missing

  // [shutdown]
  bool shutdown_close_frames = false;  // after the drain time, send close 1001 to both sides

  // [admin]: /metrics, /healthz and /connections over HTTP, on the proxy's loop
  std::string admin_listen;  // [HOST:]PORT, a bare port on 127.0.0.1; empty: off
};

// How resolve() reads the --config file over the defaults; empty:
// load_config_file. A caller that must not touch the filesystem (the command
// line fuzzer) passes its own.
using ConfigLoader =
    std::function<bool(const std::string& path, ProxyConfig& cfg, std::string& error)>;

// Registers --config and one flag per setting on `cmd` (the proxy subcommand).
// Keeps what the flags parse into until resolve().
class ProxyOptions {
 public:
  explicit ProxyOptions(CLI::App& cmd);
  ~ProxyOptions();
  ProxyOptions(const ProxyOptions&) = delete;
  ProxyOptions& operator=(const ProxyOptions&) = delete;

  // After CLI parsing: defaults, then the --config file, then the flags given
  // on the command line. On failure returns nullopt and sets `error` to one
  // line such as "configs/x.toml:7:1: unknown key 'timeouts.idel'".
  std::optional<ProxyConfig> resolve(std::string& error, const ConfigLoader& load = {}) const;

 private:
  struct Impl;
  Impl* impl_;
};

// Reads a TOML config over `cfg`. Unknown keys, wrong types and bad values are
// errors naming file, line and column. A file over kMaxConfigBytes is refused
// before it is read.
inline constexpr size_t kMaxConfigBytes = 1 << 20;
bool load_config_file(const std::string& path, ProxyConfig& cfg, std::string& error);
bool load_config_string(std::string_view toml, const std::string& source_name, ProxyConfig& cfg,
                        std::string& error);

// Checks every setting against its row (ranges, address syntax, upstream
// present) and the relation between the watermarks, in table order.
// Returns false with `error` set.
bool validate_config(const ProxyConfig& cfg, std::string& error);

// The settings that only make sense together (TLS certificate and key, the
// upstream_tls settings and a wss:// upstream), checked at start.
bool check_setting_relations(const ProxyConfig& cfg, std::string& error);

// What the settings table says about one setting, for tests and documentation.
enum class SettingKind : uint8_t { text, address, choice, count, size, duration, boolean, list };

struct SettingInfo {
  std::string_view key;   // the TOML key, dotted: "log.level"
  std::string_view flag;  // "--log-level"
  std::string negation;   // a boolean's "--no-..." flag; empty otherwise
  SettingKind kind;
  std::string type;           // the value syntax --help shows: "DUR", "debug|info|warn"
  std::string help;           // the --help text, with the default
  std::string default_value;  // as setting_text() writes it
};

// Every setting, in table (and --help) order.
std::vector<SettingInfo> setting_table();

// The value of the setting with TOML key `key` in `cfg`, written as its flag
// accepts it ("10s", "json", "true"); nullopt for a key that is not a setting.
std::optional<std::string> setting_text(const ProxyConfig& cfg, std::string_view key);

// The upstream as given: HOST:PORT, or a ws:// or wss:// URL.
struct UpstreamTarget {
  std::string host;  // no brackets for IPv6
  uint16_t port = 0;
  bool tls = false;          // wss://
  bool url = false;          // given as a URL: the Host header is rewritten to `authority`
  std::string authority;     // "example.com", "example.com:8443", "[::1]:8443"
  std::string ignored_path;  // a path (or query) in the URL, which is not used
};
// False with `why` when `s` is none of the accepted forms (builtin:echo is not parsed here).
bool parse_upstream(std::string_view s, UpstreamTarget& out, std::string& why);

// "HOST:PORT" or "[V6]:PORT" split into host and port; false when malformed.
bool split_host_port(std::string_view s, std::string& host, uint16_t& port);

}  // namespace wsi
