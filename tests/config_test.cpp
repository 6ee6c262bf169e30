// Proxy settings: the TOML file, the flags over it, the checks between
// settings, address splitting and the example files in configs/.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "proxy/config.h"

namespace wsi {
namespace {

// Loads `doc` as "t.toml" over the defaults; the error, or "" on success.
std::string load_error(const std::string& doc) {
  ProxyConfig cfg;
  std::string error;
  if (load_config_string(doc, "t.toml", cfg, error)) return "";
  return error;
}

ProxyConfig load_ok(const std::string& doc) {
  ProxyConfig cfg;
  std::string error;
  EXPECT_TRUE(load_config_string(doc, "t.toml", cfg, error)) << doc << "\n" << error;
  return cfg;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

void expect_same(const ProxyConfig& a, const ProxyConfig& b) {
  EXPECT_EQ(a.listen, b.listen);
  EXPECT_EQ(a.upstream, b.upstream);
  EXPECT_EQ(a.log_format, b.log_format);
  EXPECT_EQ(a.log_file, b.log_file);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.color, b.color);
  EXPECT_EQ(a.preview, b.preview);
  EXPECT_EQ(a.log_secrets, b.log_secrets);
  EXPECT_EQ(a.log_max_lines_per_second, b.log_max_lines_per_second);
  EXPECT_EQ(a.inspect, b.inspect);
  EXPECT_EQ(a.max_message_size, b.max_message_size);
  EXPECT_EQ(a.max_reports_per_rule, b.max_reports_per_rule);
  EXPECT_EQ(a.connect_timeout_ms, b.connect_timeout_ms);
  EXPECT_EQ(a.handshake_timeout_ms, b.handshake_timeout_ms);
  EXPECT_EQ(a.idle_timeout_ms, b.idle_timeout_ms);
  EXPECT_EQ(a.drain_timeout_ms, b.drain_timeout_ms);
  EXPECT_EQ(a.high_watermark, b.high_watermark);
  EXPECT_EQ(a.low_watermark, b.low_watermark);
  EXPECT_EQ(a.max_connections, b.max_connections);
  EXPECT_EQ(a.capture_file, b.capture_file);
  EXPECT_EQ(a.capture_max_size, b.capture_max_size);
  EXPECT_EQ(a.capture_max_files, b.capture_max_files);
  EXPECT_EQ(a.capture_path, b.capture_path);
  EXPECT_EQ(a.capture_client, b.capture_client);
  EXPECT_EQ(a.log_digests, b.log_digests);
  EXPECT_EQ(a.explain, b.explain);
  EXPECT_EQ(a.lang, b.lang);
  EXPECT_EQ(a.only_problems, b.only_problems);
  EXPECT_EQ(a.only_path, b.only_path);
  EXPECT_EQ(a.only_client, b.only_client);
  EXPECT_EQ(a.only_rules, b.only_rules);
  EXPECT_EQ(a.digest_key_file, b.digest_key_file);
  EXPECT_EQ(a.bracket_listen, b.bracket_listen);
  EXPECT_EQ(a.bracket_upstream, b.bracket_upstream);
  EXPECT_EQ(a.bracket_window, b.bracket_window);
  EXPECT_EQ(a.bracket_window_ms, b.bracket_window_ms);
  EXPECT_EQ(a.shutdown_close_frames, b.shutdown_close_frames);
  EXPECT_EQ(a.admin_listen, b.admin_listen);
}

// A file under the test temp directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = testing::TempDir() + "wsi_config_" + info->name() + ".toml";
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `wsinspect proxy ARGS...` parsed by CLI11, then resolved.
struct ProxyCli {
  CLI::App app{"test", "wsinspect"};
  CLI::App* proxy = app.add_subcommand("proxy");
  ProxyOptions options{*proxy};
  std::string error;

  std::optional<ProxyConfig> run(const std::vector<std::string>& args) {
    std::vector<const char*> argv = {"wsinspect", "proxy"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
    return options.resolve(error);
  }
};

TEST(ConfigDefaults, MatchTheDocumentedValues) {
  const ProxyConfig d;
  EXPECT_EQ(d.listen, "127.0.0.1:8080");
  EXPECT_EQ(d.upstream, "");
  EXPECT_FALSE(d.log_format.has_value());
  EXPECT_EQ(d.log_file, "");
  EXPECT_EQ(d.log_level, LogLevel::info);
  EXPECT_EQ(d.color, ColorMode::auto_);
  EXPECT_EQ(d.preview, 0u);
  EXPECT_FALSE(d.log_secrets);
  EXPECT_TRUE(d.inspect);
  EXPECT_EQ(d.max_message_size, 0u);
  EXPECT_EQ(d.max_reports_per_rule, 10u);
  EXPECT_EQ(d.connect_timeout_ms, 10000u);
  EXPECT_EQ(d.handshake_timeout_ms, 30000u);
  EXPECT_EQ(d.idle_timeout_ms, 0u);
  EXPECT_EQ(d.drain_timeout_ms, 5000u);
  EXPECT_EQ(d.high_watermark, 1u << 20);
  EXPECT_EQ(d.low_watermark, 256u << 10);
  EXPECT_EQ(d.max_connections, 10000u);
  EXPECT_FALSE(d.shutdown_close_frames);
}

TEST(ConfigDefaults, EmptyFileChangesNothing) {
  ProxyConfig expected;
  expected.upstream = "example.com:80";
  ProxyConfig cfg = expected;
  std::string error;
  ASSERT_TRUE(load_config_string("# nothing\n", "t.toml", cfg, error)) << error;
  expect_same(cfg, expected);
}

TEST(ConfigFile, ParsesEveryKey) {
  const ProxyConfig cfg = load_ok(R"(
listen = "[::1]:0"
upstream = "backend.example:9000"
[log]
format = "json"
file = "/tmp/events.jsonl"
level = "debug"
color = "always"
preview = 64
show_secrets = true
[inspect]
enabled = false
max_message_size = "1MiB"
max_reports_per_rule = 3
[timeouts]
connect = "250ms"
handshake = "2m"
idle = "1h"
drain = 0
[limits]
high_watermark = "64KiB"
low_watermark = 4096
max_connections = 12
[shutdown]
close_frames = true
)");
  EXPECT_EQ(cfg.listen, "[::1]:0");
  EXPECT_EQ(cfg.upstream, "backend.example:9000");
  EXPECT_EQ(cfg.log_format, LogFormat::json);
  EXPECT_EQ(cfg.log_file, "/tmp/events.jsonl");
  EXPECT_EQ(cfg.log_level, LogLevel::debug);
  EXPECT_EQ(cfg.color, ColorMode::always);
  EXPECT_EQ(cfg.preview, 64u);
  EXPECT_TRUE(cfg.log_secrets);
  EXPECT_FALSE(cfg.inspect);
  EXPECT_EQ(cfg.max_message_size, 1u << 20);
  EXPECT_EQ(cfg.max_reports_per_rule, 3u);
  EXPECT_EQ(cfg.connect_timeout_ms, 250u);
  EXPECT_EQ(cfg.handshake_timeout_ms, 120000u);
  EXPECT_EQ(cfg.idle_timeout_ms, 3600000u);
  EXPECT_EQ(cfg.drain_timeout_ms, 0u);
  EXPECT_EQ(cfg.high_watermark, 65536u);
  EXPECT_EQ(cfg.low_watermark, 4096u);
  EXPECT_EQ(cfg.max_connections, 12u);
  EXPECT_TRUE(cfg.shutdown_close_frames);
}

TEST(ConfigFile, ChoicesAndDottedKeys) {
  EXPECT_EQ(load_ok("log.format = \"text\"").log_format, LogFormat::text);
  EXPECT_EQ(load_ok("log.format = \"auto\"").log_format, std::nullopt);
  EXPECT_EQ(load_ok("log.level = \"warn\"").log_level, LogLevel::warn);
  EXPECT_EQ(load_ok("log.color = \"never\"").color, ColorMode::never);
  EXPECT_EQ(load_ok("log = { level = \"info\" }").log_level, LogLevel::info);
  EXPECT_EQ(load_ok("upstream = \"builtin:echo\"").upstream, "builtin:echo");
}

TEST(ConfigFile, UnknownTopLevelKeyNamesKeyLineAndColumn) {
  EXPECT_EQ(load_error("listen = \"127.0.0.1:1\"\n\nlistne = \"x\"\n"),
            "t.toml:3:1: unknown key 'listne' (known here: listen, upstream, keep_host, log, "
            "inspect, bracket, timeouts, limits, tls, upstream_tls, forward, capture, shutdown, "
            "admin)");
}

TEST(ConfigFile, UnknownKeyInsideTableNamesKeyLineAndColumn) {
  EXPECT_TRUE(starts_with(load_error("[timeouts]\nconnect = \"1s\"\n  idel = \"5s\"\n"),
                          "t.toml:3:3: unknown key 'timeouts.idel' (known here: connect, "
                          "handshake, http_inactivity, idle, drain, tls_handshake)"));
  EXPECT_TRUE(
      starts_with(load_error("[logs]\nformat = \"json\"\n"), "t.toml:1:2: unknown key 'logs'"));
  EXPECT_TRUE(
      starts_with(load_error("x = 1\nlog.formt = \"json\"\n"), "t.toml:1:1: unknown key 'x'"));
  EXPECT_TRUE(
      starts_with(load_error("log.formt = \"json\"\n"), "t.toml:1:5: unknown key 'log.formt'"));
  EXPECT_TRUE(starts_with(load_error("[limits]\nhigh_watermark = 2048\n[limits.extra]\n"),
                          "t.toml:3:9: unknown key 'limits.extra'"));
}

TEST(ConfigFile, FirstErrorInFileOrderWins) {
  // toml++ keeps keys sorted; the report must follow the file instead.
  EXPECT_EQ(load_error("zz = 1\naa = 2\n").substr(0, 30), "t.toml:1:1: unknown key 'zz' (");
  EXPECT_TRUE(starts_with(load_error("[timeouts]\nidle = 5\nconnect = \"x\"\n"), "t.toml:2:8: "));
}

TEST(ConfigFile, WrongTypeNamesKeyAndTypes) {
  struct Case {
    const char* doc;
    const char* error;
  };
  const Case cases[] = {
      {"listen = 8080", "t.toml:1:10: listen: expected a string, got an integer"},
      {"log = 1", "t.toml:1:7: log: expected a table, got an integer"},
      {"[[log]]", "t.toml:1:1: log: expected a table, got an array"},
      {"[log]\npreview = \"64\"", "t.toml:2:11: log.preview: expected an integer, got a string"},
      {"[log]\nshow_secrets = \"yes\"",
       "t.toml:2:16: log.show_secrets: expected true or false, got a string"},
      {"[log]\nlevel = 1", "t.toml:2:9: log.level: expected a string, got an integer"},
      {"[inspect]\nenabled = 1",
       "t.toml:2:11: inspect.enabled: expected true or false, got an integer"},
      {"[inspect]\nmax_message_size = 1.5",
       "t.toml:2:20: inspect.max_message_size: expected a byte count or a size string such as "
       "\"64KiB\", got a floating-point number"},
      {"[timeouts]\nidle = true",
       "t.toml:2:8: timeouts.idle: expected a duration string such as \"5s\", got a boolean"},
      {"[timeouts]\nidle = 1979-05-27",
       "t.toml:2:8: timeouts.idle: expected a duration string such as \"5s\", got a date"},
      {"[limits]\nmax_connections = [1]",
       "t.toml:2:19: limits.max_connections: expected an integer, got an array"},
  };
  for (const Case& c : cases) EXPECT_EQ(load_error(c.doc), c.error) << c.doc;
}

TEST(ConfigFile, BadValuesNameKeyAndPosition) {
  struct Case {
    const char* doc;
    const char* error;
  };
  const Case cases[] = {
      {"[log]\nformat = \"xml\"", "t.toml:2:10: log.format: 'xml' is not one of text, json, auto"},
      {"[log]\nlevel = \"trace\"",
       "t.toml:2:9: log.level: 'trace' is not one of debug, info, warn"},
      {"[log]\ncolor = \"yes\"", "t.toml:2:9: log.color: 'yes' is not one of auto, always, never"},
      {"[log]\npreview = -1", "t.toml:2:11: log.preview: must not be negative"},
      {"[log]\npreview = 65537", "t.toml:2:11: log.preview: at most 65536"},
      {"[inspect]\nmax_reports_per_rule = 4294967296",
       "t.toml:2:24: inspect.max_reports_per_rule: at most 4294967295"},
      {"listen = \"localhost\"",
       "t.toml:1:10: listen: listen address 'localhost' is not HOST:PORT or [IPv6]:PORT (port "
       "0-65535)"},
      {"upstream = \"host:0\"",
       "t.toml:1:12: upstream: upstream 'host:0' is not HOST:PORT, [IPv6]:PORT (port 1-65535), "
       "ws://HOST[:PORT], wss://HOST[:PORT] or builtin:echo"},
      {"upstream = \"https://example.com/\"",
       "t.toml:1:12: upstream: upstream 'https://example.com/': a WebSocket URL starts with ws:// "
       "or wss://"},
      {"upstream = \"wss://user:pw@example.com/\"",
       "t.toml:1:12: upstream: upstream 'wss://user:pw@example.com/': user names and passwords in "
       "the URL are not supported"},
      {"upstream = \"ws://exa mple.com:80/\"",
       "t.toml:1:12: upstream: upstream 'ws://exa mple.com:80/': the host or port of the URL is "
       "not "
       "valid"},
      {"upstream = \"builtin:chargen\"",
       "t.toml:1:12: upstream: unknown built-in upstream 'builtin:chargen' (the only one is "
       "builtin:echo)"},
  };
  for (const Case& c : cases) EXPECT_EQ(load_error(c.doc), c.error) << c.doc;
}

TEST(ConfigAdmin, ABarePortOrAnAddress) {
  EXPECT_EQ(load_ok("[admin]\nlisten = \"9100\"").admin_listen, "9100");
  EXPECT_EQ(load_ok("[admin]\nlisten = \"0\"").admin_listen, "0");
  EXPECT_EQ(load_ok("[admin]\nlisten = \"0.0.0.0:9100\"").admin_listen, "0.0.0.0:9100");
  EXPECT_EQ(load_ok("[admin]\nlisten = \"[::1]:9100\"").admin_listen, "[::1]:9100");
  EXPECT_EQ(load_ok("[admin]\nlisten = \"\"").admin_listen, "");
  const std::string why =
      "is not PORT, HOST:PORT or [IPv6]:PORT (port 0-65535; a bare port listens on 127.0.0.1)";
  EXPECT_EQ(load_error("[admin]\nlisten = \"65536\""),
            "t.toml:2:10: admin.listen: admin address '65536' " + why);
  EXPECT_EQ(load_error("[admin]\nlisten = \"metrics\""),
            "t.toml:2:10: admin.listen: admin address 'metrics' " + why);
  EXPECT_EQ(load_error("[admin]\nlisten = \"host:\""),
            "t.toml:2:10: admin.listen: admin address 'host:' " + why);
  ProxyCli ok;
  auto cfg = ok.run({"--upstream", "a:1", "--admin-listen", "9100"});
  ASSERT_TRUE(cfg) << ok.error;
  EXPECT_EQ(cfg->admin_listen, "9100");
  ProxyCli bad;
  EXPECT_FALSE(bad.run({"--upstream", "a:1", "--admin-listen", "123456"}));
  EXPECT_EQ(bad.error, "--admin-listen: admin address '123456' " + why);
}

TEST(ConfigFile, Durations) {
  struct Case {
    const char* value;
    uint64_t ms;
  };
  const Case good[] = {
      {"\"250ms\"", 250}, {"\"5s\"", 5000}, {"\"2m\"", 120000},   {"\"1h\"", 3600000}, {"0", 0},
      {"\"0\"", 0},       {"\"0s\"", 0},    {"\"1500ms\"", 1500}, {"\"0090s\"", 90000}};
  for (const Case& c : good) {
    EXPECT_EQ(load_ok(std::string("[timeouts]\nconnect = ") + c.value).connect_timeout_ms, c.ms)
        << c.value;
  }
  struct Bad {
    const char* value;
    const char* error;
  };
  const Bad bad[] = {
      {"\"\"", "'' is not a whole number with a unit"},
      {"\"5\"", "'5' needs a unit: ms, s, m or h (only 0 may go without one)"},
      {"5000", "5000 has no unit; write a string such as \"5s\""},
      {"-1", "must not be negative"},
      {"\"-5s\"", "'-5s' is negative"},
      {"\"1.5s\"", "'1.5s': fractions are not accepted, use a smaller unit"},
      {"\"5 s\"", "'5 s': unknown unit ' s'"},
      {"\"5sec\"", "'5sec': unknown unit 'sec'"},
      {"\"5S\"", "'5S': unknown unit 'S'"},
      {"\"1d\"", "'1d': unknown unit 'd'"},
      {"\"s\"", "'s' is not a whole number with a unit"},
      {"\"+5s\"", "'+5s' is not a whole number"},
      {"\"1m30s\"", "'1m30s': unknown unit 'm30s'"},
      {"\"99999999999999999999ms\"", "'99999999999999999999ms' is too large"},
      {"\"18446744073709552h\"", "'18446744073709552h' is too large"},
  };
  for (const Bad& c : bad) {
    const std::string error = load_error(std::string("[timeouts]\ndrain = ") + c.value);
    EXPECT_TRUE(starts_with(error, std::string("t.toml:2:9: timeouts.drain: ") + c.error))
        << c.value << " -> " << error;
  }
}

TEST(ConfigFile, Sizes) {
  struct Case {
    const char* value;
    uint64_t bytes;
  };
  const Case good[] = {{"0", 0},
                       {"4096", 4096},
                       {"\"4096\"", 4096},
                       {"\"512B\"", 512},
                       {"\"64KiB\"", 65536},
                       {"\"1MiB\"", 1048576},
                       {"\"1GiB\"", 1073741824},
                       {"\"16GiB\"", 17179869184ull},
                       {"9223372036854775807", 9223372036854775807ull}};
  for (const Case& c : good) {
    EXPECT_EQ(load_ok(std::string("[inspect]\nmax_message_size = ") + c.value).max_message_size,
              c.bytes)
        << c.value;
  }
  struct Bad {
    const char* value;
    const char* error;
  };
  const Bad bad[] = {
      {"-1", "must not be negative"},
      {"\"-1KiB\"", "'-1KiB' is negative"},
      {"\"1.5MiB\"", "'1.5MiB': fractions are not accepted"},
      {"\"1MB\"", "'1MB': unit 'MB' is ambiguous (1000- or 1024-based); write MiB"},
      {"\"64kb\"", "'64kb': unit 'kb' is ambiguous (1000- or 1024-based); write KiB"},
      {"\"1G\"", "'1G': unit 'G' is ambiguous (1000- or 1024-based); write GiB"},
      {"\"1kib\"", "'1kib': unknown unit 'kib'"},
      {"\"1TiB\"", "'1TiB': unknown unit 'TiB'"},
      {"\"KiB\"", "'KiB' is not a byte count"},
      {"\"99999999999GiB\"", "'99999999999GiB' is too large"},
      {"\"99999999999999999999\"", "'99999999999999999999' is too large"},
  };
  for (const Bad& c : bad) {
    const std::string error = load_error(std::string("[inspect]\nmax_message_size = ") + c.value);
    EXPECT_TRUE(
        starts_with(error, std::string("t.toml:2:20: inspect.max_message_size: ") + c.error))
        << c.value << " -> " << error;
  }
}

TEST(ConfigFile, SyntaxErrorNamesLineAndColumn) {
  const std::string error = load_error("listen = \"127.0.0.1:1\"\n[log]\nlevel = \n");
  EXPECT_TRUE(starts_with(error, "t.toml:3:9: ")) << error;
  EXPECT_TRUE(starts_with(load_error("a = 1\na = 2\n"), "t.toml:2:"))
      << load_error("a = 1\na = 2\n");
  EXPECT_TRUE(starts_with(load_error("[log\n"), "t.toml:1:")) << load_error("[log\n");
  EXPECT_TRUE(starts_with(load_error("listen = \"unterminated\n"), "t.toml:1:"));
}

TEST(ConfigFile, FailureLeavesTheConfigUntouched) {
  ProxyConfig cfg;
  std::string error;
  EXPECT_FALSE(load_config_string("listen = \"0.0.0.0:1\"\nbogus = 1\n", "t.toml", cfg, error));
  expect_same(cfg, ProxyConfig{});
}

TEST(ConfigFile, FileErrorsNameThePath) {
  TempFile file("upstream = \"a:1\"\n[log]\nformat = \"json\"\nfromat = \"text\"\n");
  ProxyConfig cfg;
  std::string error;
  EXPECT_FALSE(load_config_file(file.path(), cfg, error));
  EXPECT_TRUE(starts_with(error, file.path() + ":4:1: unknown key 'log.fromat'")) << error;

  const std::string missing = testing::TempDir() + "wsi_config_does_not_exist.toml";
  EXPECT_FALSE(load_config_file(missing, cfg, error));
  EXPECT_EQ(error, missing + ": cannot open: No such file or directory");

  EXPECT_FALSE(load_config_file(testing::TempDir(), cfg, error));
  EXPECT_TRUE(starts_with(error, testing::TempDir() + ": cannot read")) << error;
}

TEST(ConfigFlags, FlagOverridesFileWhichOverridesDefaults) {
  TempFile file(
      "upstream = \"file-host:9000\"\nlisten = \"127.0.0.1:7000\"\n"
      "[timeouts]\nidle = \"1m\"\nconnect = \"3s\"\n[log]\nlevel = \"debug\"\n");
  ProxyCli cli;
  auto cfg = cli.run({"--config", file.path(), "--idle-timeout", "90s", "--listen", "[::1]:0"});
  ASSERT_TRUE(cfg) << cli.error;
  EXPECT_EQ(cfg->idle_timeout_ms, 90000u);            // flag over file
  EXPECT_EQ(cfg->listen, "[::1]:0");                  // flag over file
  EXPECT_EQ(cfg->connect_timeout_ms, 3000u);          // file over default
  EXPECT_EQ(cfg->log_level, LogLevel::debug);         // file over default
  EXPECT_EQ(cfg->upstream, "file-host:9000");         // file; no --upstream needed
  EXPECT_EQ(cfg->handshake_timeout_ms, 30000u);       // default
  EXPECT_EQ(cfg->high_watermark, uint64_t{1} << 20);  // default
}

TEST(ConfigFlags, EveryFlag) {
  ProxyCli cli;
  auto cfg = cli.run({"--listen",
                      "0.0.0.0:9",
                      "--upstream",
                      "builtin:echo",
                      "--log-format",
                      "json",
                      "--log-file",
                      "out.jsonl",
                      "--log-level",
                      "warn",
                      "--color",
                      "never",
                      "--preview",
                      "65536",
                      "--show-secrets",
                      "--no-inspect",
                      "--max-message-size",
                      "2MiB",
                      "--max-reports",
                      "1",
                      "--connect-timeout",
                      "1s",
                      "--handshake-timeout",
                      "2s",
                      "--idle-timeout",
                      "3m",
                      "--drain-timeout",
                      "0",
                      "--high-watermark",
                      "8KiB",
                      "--low-watermark",
                      "1024",
                      "--max-connections",
                      "7",
                      "--shutdown-close-frames"});
  ASSERT_TRUE(cfg) << cli.error;
  EXPECT_EQ(cfg->listen, "0.0.0.0:9");
  EXPECT_EQ(cfg->upstream, "builtin:echo");
  EXPECT_EQ(cfg->log_format, LogFormat::json);
  EXPECT_EQ(cfg->log_file, "out.jsonl");
  EXPECT_EQ(cfg->log_level, LogLevel::warn);
  EXPECT_EQ(cfg->color, ColorMode::never);
  EXPECT_EQ(cfg->preview, 65536u);
  EXPECT_TRUE(cfg->log_secrets);
  EXPECT_FALSE(cfg->inspect);
  EXPECT_EQ(cfg->max_message_size, 2u << 20);
  EXPECT_EQ(cfg->max_reports_per_rule, 1u);
  EXPECT_EQ(cfg->connect_timeout_ms, 1000u);
  EXPECT_EQ(cfg->handshake_timeout_ms, 2000u);
  EXPECT_EQ(cfg->idle_timeout_ms, 180000u);
  EXPECT_EQ(cfg->drain_timeout_ms, 0u);
  EXPECT_EQ(cfg->high_watermark, 8192u);
  EXPECT_EQ(cfg->low_watermark, 1024u);
  EXPECT_EQ(cfg->max_connections, 7u);
  EXPECT_TRUE(cfg->shutdown_close_frames);
}

TEST(ConfigFlags, OnlyUpstreamGivesTheDefaults) {
  ProxyCli cli;
  auto cfg = cli.run({"--upstream", "127.0.0.1:9000"});
  ASSERT_TRUE(cfg) << cli.error;
  ProxyConfig expected;
  expected.upstream = "127.0.0.1:9000";
  expect_same(*cfg, expected);
}

TEST(ConfigFlags, MissingUpstream) {
  ProxyCli cli;
  EXPECT_FALSE(cli.run({"--listen", "127.0.0.1:0"}));
  EXPECT_EQ(cli.error, "no upstream: give --upstream HOST:PORT or set upstream in the config file");

  TempFile file("listen = \"127.0.0.1:0\"\n");
  ProxyCli with_file;
  EXPECT_FALSE(with_file.run({"--config", file.path()}));
  EXPECT_EQ(with_file.error,
            "no upstream: give --upstream HOST:PORT or set upstream in the config file");
}

TEST(ConfigFlags, BadValueNamesTheFlag) {
  struct Case {
    std::vector<std::string> args;
    const char* error;
  };
  const Case cases[] = {
      {{"--idle-timeout", "5"}, "--idle-timeout: '5' needs a unit"},
      {{"--connect-timeout", "1.5s"}, "--connect-timeout: '1.5s': fractions"},
      {{"--high-watermark", "1MB"}, "--high-watermark: '1MB': unit 'MB' is ambiguous"},
      {{"--preview", "65537"}, "--preview: '65537' is too large (at most 65536)"},
      {{"--preview", "-1"}, "--preview: '-1' is negative"},
      {{"--max-connections", "many"}, "--max-connections: 'many' is not a whole number"},
      {{"--log-format", "xml"}, "--log-format: 'xml' is not one of text, json, auto"},
      {{"--log-level", "trace"}, "--log-level: 'trace' is not one of debug, info, warn"},
      {{"--color", "sometimes"}, "--color: 'sometimes' is not one of auto, always, never"},
      {{"--listen", "8080"}, "--listen: listen address '8080' is not HOST:PORT"},
      {{"--upstream", "::1:80"}, "--upstream: upstream '::1:80' is not HOST:PORT"},
  };
  for (const Case& c : cases) {
    ProxyCli cli;
    std::vector<std::string> args = c.args;
    if (c.args[0] != "--upstream") args.insert(args.end(), {"--upstream", "a:1"});
    EXPECT_FALSE(cli.run(args)) << c.args[0];
    EXPECT_TRUE(starts_with(cli.error, c.error)) << cli.error;
  }
}

TEST(ConfigFlags, BadConfigFileIsAResolveError) {
  ProxyCli cli;
  TempFile file("[timeouts]\nidel = \"5s\"\n");
  EXPECT_FALSE(cli.run({"--config", file.path(), "--upstream", "a:1"}));
  EXPECT_TRUE(starts_with(cli.error, file.path() + ":2:1: unknown key 'timeouts.idel'"))
      << cli.error;
}

TEST(ConfigFlags, RelationsAreCheckedAfterTheFlags) {
  // The file's low watermark is only valid with the flag's high watermark.
  TempFile file("upstream = \"a:1\"\n[limits]\nlow_watermark = \"2MiB\"\n");
  ProxyCli ok;
  auto cfg = ok.run({"--config", file.path(), "--high-watermark", "4MiB"});
  ASSERT_TRUE(cfg) << ok.error;
  EXPECT_EQ(cfg->low_watermark, 2u << 20);

  ProxyCli bad;
  EXPECT_FALSE(bad.run({"--config", file.path()}));
  EXPECT_EQ(bad.error, "low_watermark (2MiB) must be below high_watermark (1MiB)");
}

TEST(ConfigFlags, HelpStatesDefaultsAndSyntax) {
  ProxyCli cli;
  const std::string help = cli.proxy->help();
  for (const char* part : {"--config FILE",
                           "--listen HOST:PORT",
                           "--upstream HOST:PORT|builtin:echo",
                           "--log-format text|json|auto",
                           "--log-file PATH",
                           "--log-level debug|info|warn",
                           "--color auto|always|never",
                           "--preview N",
                           "--show-secrets",
                           "--no-inspect",
                           "--max-message-size SIZE",
                           "--max-reports N",
                           "--connect-timeout DUR",
                           "--handshake-timeout DUR",
                           "--idle-timeout DUR",
                           "--drain-timeout DUR",
                           "--high-watermark SIZE",
                           "--low-watermark SIZE",
                           "--max-connections N",
                           "--shutdown-close-frames",
                           "default 127.0.0.1:8080",
                           "default 10s",
                           "default 30s",
                           "default 0",
                           "default 5s",
                           "default 1MiB",
                           "default 256KiB",
                           "default 10000",
                           "default 10)",
                           "0 disables",
                           "(units ms, s, m, h)",
                           "1024-based"}) {
    EXPECT_NE(help.find(part), std::string::npos) << part << "\n" << help;
  }
}

TEST(ConfigFlags, NoFormsTurnOffWhatTheFileTurnedOn) {
  TempFile file(
      "upstream = \"a:1\"\n[log]\nshow_secrets = true\n[inspect]\nenabled = false\n"
      "[shutdown]\nclose_frames = true\n");
  ProxyCli cli;
  auto cfg = cli.run(
      {"--config", file.path(), "--no-show-secrets", "--inspect", "--shutdown-close-frames=false"});
  ASSERT_TRUE(cfg) << cli.error;
  EXPECT_FALSE(cfg->log_secrets);
  EXPECT_TRUE(cfg->inspect);
  EXPECT_FALSE(cfg->shutdown_close_frames);

  ProxyCli again;
  cfg = again.run({"--config", file.path(), "--show-secrets=false", "--no-inspect=false",
                   "--no-shutdown-close-frames"});
  ASSERT_TRUE(cfg) << again.error;
  EXPECT_FALSE(cfg->log_secrets);
  EXPECT_TRUE(cfg->inspect);
  EXPECT_FALSE(cfg->shutdown_close_frames);
}

TEST(ConfigFlags, BooleanFormsAndTheLastOneWins) {
  struct Case {
    std::vector<std::string> args;
    bool inspect;
  };
  const Case cases[] = {
      {{}, true},
      {{"--inspect"}, true},
      {{"--no-inspect"}, false},
      {{"--inspect=true"}, true},
      {{"--inspect=false"}, false},
      {{"--no-inspect=true"}, false},
      {{"--no-inspect=false"}, true},
      {{"--no-inspect", "--inspect"}, true},
      {{"--inspect", "--no-inspect"}, false},
      {{"--inspect=false", "--inspect"}, true},
      {{"--no-inspect", "--max-reports", "3", "--inspect=true", "--no-inspect"}, false},
  };
  for (const Case& c : cases) {
    ProxyCli cli;
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--upstream", "a:1"});
    auto cfg = cli.run(args);
    ASSERT_TRUE(cfg) << cli.error;
    EXPECT_EQ(cfg->inspect, c.inspect) << testing::PrintToString(c.args);
  }
}

TEST(ConfigFlags, BadBooleanValueNamesTheFlagAsGiven) {
  ProxyCli yes;
  EXPECT_FALSE(yes.run({"--upstream", "a:1", "--show-secrets=yes"}));
  EXPECT_EQ(yes.error, "--show-secrets: 'yes' is not true or false");
  ProxyCli no;
  EXPECT_FALSE(no.run({"--upstream", "a:1", "--no-inspect=maybe"}));
  EXPECT_EQ(no.error, "--no-inspect: 'maybe' is not true or false");
}

// ---- every row of the settings table ----

// A valid value for `s` other than its default, as its flag takes it;
// `which` 0 and 1 give two different ones (for a boolean: not the default,
// then the default).
std::string sample(const SettingInfo& s, int which) {
  switch (s.kind) {
    case SettingKind::text:
      return which == 0 ? "events-0.log" : "events-1.log";
    case SettingKind::address:
      if (s.type.find("/BITS") != std::string::npos) return which == 0 ? "10.0.0.0/8" : "::1";
      return which == 0 ? "127.0.0.2:7" : "127.0.0.3:8";
    case SettingKind::choice: {
      std::vector<std::string> others;
      std::string rest = s.type + "|";
      for (size_t bar; (bar = rest.find('|')) != std::string::npos; rest.erase(0, bar + 1)) {
        if (rest.substr(0, bar) != s.default_value) others.push_back(rest.substr(0, bar));
      }
      EXPECT_GE(others.size(), 2u) << s.key;
      return others.size() > static_cast<size_t>(which) ? others[which] : "?";
    }
    case SettingKind::count:
      return s.default_value == "0" ? std::to_string(7 + which)
                                    : std::to_string(std::stoul(s.default_value) * 2 + which);
    case SettingKind::size:
      return which == 0 ? "512KiB" : "768KiB";  // between the watermarks' defaults
    case SettingKind::duration:
      return which == 0 ? "7s" : "9m";
    case SettingKind::boolean:
      return (s.default_value == "true") == (which == 0) ? "false" : "true";
    case SettingKind::list:
      if (s.key == "log.only_rules")
        return which == 0 ? "reserved-bits-set,invalid-utf8-text" : "rsv1-without-extension";
      return which == 0 ? "a.example,*.b.example" : "c.example";
  }
  return "?";
}

// `key = VALUE` in TOML for a value written as the flag takes it.
std::string toml_line(const SettingInfo& s, const std::string& value) {
  if (s.kind == SettingKind::list) {
    std::string items;
    for (size_t at = 0; at <= value.size();) {
      size_t comma = value.find(',', at);
      if (comma == std::string::npos) comma = value.size();
      items += (items.empty() ? "\"" : ", \"") + value.substr(at, comma - at) + "\"";
      at = comma + 1;
    }
    return std::string(s.key) + " = [" + items + "]\n";
  }
  const bool bare = s.kind == SettingKind::boolean || s.kind == SettingKind::count;
  return std::string(s.key) + " = " + (bare ? value : "\"" + value + "\"") + "\n";
}

// Every setting of `cfg` is its default except `key`, which is `value` (and
// upstream, which the tests set to a:1 unless it is the setting under test).
void expect_only(const ProxyConfig& cfg, const SettingInfo& changed, const std::string& value) {
  for (const SettingInfo& s : setting_table()) {
    std::string expected = s.default_value;
    if (s.key == "upstream") expected = "a:1";
    if (s.key == changed.key) expected = value;
    EXPECT_EQ(setting_text(cfg, s.key), expected) << "after setting " << changed.key;
  }
}

// Flags that give upstream, unless the setting under test is upstream.
std::vector<std::string> with_upstream(const SettingInfo& s, std::vector<std::string> args) {
  if (s.key != "upstream") args.insert(args.end(), {"--upstream", "a:1"});
  return args;
}

TEST(ConfigTable, EveryRowIsDescribed) {
  const std::vector<SettingInfo> table = setting_table();
  ASSERT_FALSE(table.empty());
  for (const SettingInfo& s : table) {
    EXPECT_FALSE(s.key.empty());
    EXPECT_TRUE(s.flag.starts_with("--")) << s.key;
    EXPECT_FALSE(s.type.empty()) << s.key;
    EXPECT_GT(s.help.size(), 20u) << s.key;
    EXPECT_EQ(setting_text(ProxyConfig{}, s.key), s.default_value) << s.key;
    if (!s.default_value.empty()) {
      EXPECT_NE(s.help.find("(default " + s.default_value), std::string::npos) << s.help;
    }
    if (s.kind == SettingKind::boolean) {
      EXPECT_EQ(s.negation, "--no-" + std::string(s.flag.substr(2)));
      EXPECT_NE(s.help.find(s.negation), std::string::npos) << s.help;
    } else {
      EXPECT_EQ(s.negation, "");
    }
  }
  EXPECT_EQ(setting_text(ProxyConfig{}, "log.nothing"), std::nullopt);
  EXPECT_EQ(setting_text(ProxyConfig{}, "log"), std::nullopt);
}

TEST(ConfigTable, EveryFlagIsInTheHelpWithItsText) {
  ProxyCli cli;
  const std::string help = cli.proxy->help();
  for (const SettingInfo& s : setting_table()) {
    EXPECT_NE(help.find(std::string(s.flag) + " " + s.type), std::string::npos) << s.flag << "\n"
                                                                                << help;
    EXPECT_NE(help.find(s.help), std::string::npos) << s.help << "\n" << help;
  }
}

TEST(ConfigTable, EveryMemberHasARow) {
  std::string doc;
  for (const SettingInfo& s : setting_table()) doc += toml_line(s, sample(s, 0));
  const ProxyConfig cfg = load_ok(doc);
  const ProxyConfig d;
  EXPECT_NE(cfg.listen, d.listen);
  EXPECT_NE(cfg.upstream, d.upstream);
  EXPECT_NE(cfg.log_format, d.log_format);
  EXPECT_NE(cfg.log_file, d.log_file);
  EXPECT_NE(cfg.log_level, d.log_level);
  EXPECT_NE(cfg.color, d.color);
  EXPECT_NE(cfg.preview, d.preview);
  EXPECT_NE(cfg.log_secrets, d.log_secrets);
  EXPECT_NE(cfg.log_max_lines_per_second, d.log_max_lines_per_second);
  EXPECT_NE(cfg.inspect, d.inspect);
  EXPECT_NE(cfg.max_message_size, d.max_message_size);
  EXPECT_NE(cfg.max_reports_per_rule, d.max_reports_per_rule);
  EXPECT_NE(cfg.connect_timeout_ms, d.connect_timeout_ms);
  EXPECT_NE(cfg.handshake_timeout_ms, d.handshake_timeout_ms);
  EXPECT_NE(cfg.idle_timeout_ms, d.idle_timeout_ms);
  EXPECT_NE(cfg.drain_timeout_ms, d.drain_timeout_ms);
  EXPECT_NE(cfg.high_watermark, d.high_watermark);
  EXPECT_NE(cfg.low_watermark, d.low_watermark);
  EXPECT_NE(cfg.max_connections, d.max_connections);
  EXPECT_NE(cfg.capture_file, d.capture_file);
  EXPECT_NE(cfg.capture_max_size, d.capture_max_size);
  EXPECT_NE(cfg.capture_max_files, d.capture_max_files);
  EXPECT_NE(cfg.capture_path, d.capture_path);
  EXPECT_NE(cfg.capture_client, d.capture_client);
  EXPECT_NE(cfg.log_digests, d.log_digests);
  EXPECT_NE(cfg.explain, d.explain);
  EXPECT_NE(cfg.lang, d.lang);
  EXPECT_NE(cfg.only_problems, d.only_problems);
  EXPECT_NE(cfg.only_path, d.only_path);
  EXPECT_NE(cfg.only_client, d.only_client);
  EXPECT_NE(cfg.only_rules, d.only_rules);
  EXPECT_NE(cfg.digest_key_file, d.digest_key_file);
  EXPECT_NE(cfg.bracket_listen, d.bracket_listen);
  EXPECT_NE(cfg.bracket_upstream, d.bracket_upstream);
  EXPECT_NE(cfg.bracket_window, d.bracket_window);
  EXPECT_NE(cfg.bracket_window_ms, d.bracket_window_ms);
  EXPECT_NE(cfg.shutdown_close_frames, d.shutdown_close_frames);
  EXPECT_NE(cfg.admin_listen, d.admin_listen);
}

TEST(ConfigTable, TheReaderAcceptsEveryKeyAndSetsOnlyItsSetting) {
  for (const SettingInfo& s : setting_table()) {
    for (int which : {0, 1}) {
      const std::string value = sample(s, which);
      const std::string upstream = s.key == "upstream" ? "" : "upstream = \"a:1\"\n";
      expect_only(load_ok(upstream + toml_line(s, value)), s, value);
    }
  }
}

TEST(ConfigTable, EveryFlagSetsOnlyItsSetting) {
  for (const SettingInfo& s : setting_table()) {
    const std::string value = sample(s, 0);
    for (const auto& args : {std::vector<std::string>{std::string(s.flag), value},
                             std::vector<std::string>{std::string(s.flag) + "=" + value}}) {
      if (s.kind == SettingKind::boolean && args.size() == 2) continue;  // no separate value
      ProxyCli cli;
      auto cfg = cli.run(with_upstream(s, args));
      ASSERT_TRUE(cfg) << s.flag << ": " << cli.error;
      expect_only(*cfg, s, value);
    }
  }
}

TEST(ConfigTable, EveryBooleanCanBeSetBothWays) {
  int booleans = 0;
  for (const SettingInfo& s : setting_table()) {
    if (s.kind != SettingKind::boolean) continue;
    ++booleans;
    const std::string flag(s.flag);
    const std::pair<std::vector<std::string>, std::string> cases[] = {
        {{flag}, "true"},
        {{s.negation}, "false"},
        {{flag + "=true"}, "true"},
        {{flag + "=false"}, "false"},
        {{s.negation + "=true"}, "false"},
        {{s.negation + "=false"}, "true"},
        {{flag, s.negation}, "false"},
        {{s.negation, flag}, "true"},
    };
    for (const auto& [args, value] : cases) {
      ProxyCli cli;
      auto cfg = cli.run(with_upstream(s, args));
      ASSERT_TRUE(cfg) << testing::PrintToString(args) << ": " << cli.error;
      EXPECT_EQ(setting_text(*cfg, s.key), value) << testing::PrintToString(args);
    }
  }
  EXPECT_GE(booleans, 3);
}

TEST(ConfigTable, AFlagOverridesTheFile) {
  for (const SettingInfo& s : setting_table()) {
    const std::string in_file = sample(s, 0);
    const std::string upstream = s.key == "upstream" ? "" : "upstream = \"a:1\"\n";
    TempFile file(upstream + toml_line(s, in_file));
    std::vector<std::vector<std::string>> overrides = {{std::string(s.flag) + "=" + sample(s, 1)}};
    if (s.kind == SettingKind::boolean) {
      // in_file is the opposite of the default; both forms set it back
      overrides.push_back({in_file == "true" ? s.negation : std::string(s.flag)});
    }
    for (const auto& flag : overrides) {
      ProxyCli cli;
      std::vector<std::string> args = {"--config", file.path()};
      args.insert(args.end(), flag.begin(), flag.end());
      auto cfg = cli.run(args);
      ASSERT_TRUE(cfg) << s.key << ": " << cli.error;
      expect_only(*cfg, s, sample(s, 1));
    }
    ProxyCli file_only;
    auto cfg = file_only.run({"--config", file.path()});
    ASSERT_TRUE(cfg) << s.key << ": " << file_only.error;
    expect_only(*cfg, s, in_file);
  }
}

TEST(ConfigTable, WrongTypeAndBadValuesNameTheKeyOrFlag) {
  for (const SettingInfo& s : setting_table()) {
    // A list takes an array, so it is given a number instead.
    const bool list = s.kind == SettingKind::list;
    const std::string error = load_error(std::string(s.key) + (list ? " = 1\n" : " = [1]\n"));
    EXPECT_TRUE(starts_with(error, "t.toml:1:")) << error;
    EXPECT_NE(error.find(std::string(s.key) + ": expected "), std::string::npos) << error;
    EXPECT_NE(error.find(list ? ", got an integer" : ", got an array"), std::string::npos) << error;
    if (s.kind == SettingKind::text) continue;  // any text is a path
    ProxyCli cli;
    EXPECT_FALSE(cli.run(with_upstream(s, {std::string(s.flag) + "=@bad"}))) << s.flag;
    EXPECT_TRUE(starts_with(cli.error, std::string(s.flag) + ": ")) << cli.error;
    EXPECT_NE(cli.error.find("'@bad'"), std::string::npos) << cli.error;
  }
}

TEST(ConfigTable, UnknownKeysListTheKnownOnesAtThatLevel) {
  std::vector<std::string> top;
  for (const SettingInfo& s : setting_table()) {
    const std::string first(s.key.substr(0, s.key.find('.')));
    if (std::find(top.begin(), top.end(), first) == top.end()) top.push_back(first);
    const size_t dot = s.key.rfind('.');
    if (dot == std::string_view::npos) continue;
    const std::string table(s.key.substr(0, dot));
    const std::string error = load_error(table + ".no_such_key = 1\n");
    EXPECT_TRUE(starts_with(error, "t.toml:1:" + std::to_string(table.size() + 2) +
                                       ": unknown key '" + table + ".no_such_key' (known here: "))
        << error;
    EXPECT_NE(error.find(std::string(s.key.substr(dot + 1))), std::string::npos) << error;
  }
  std::string known;
  for (const std::string& name : top) known += (known.empty() ? "" : ", ") + name;
  EXPECT_EQ(load_error("no_such_key = 1\n"),
            "t.toml:1:1: unknown key 'no_such_key' (known here: " + known + ")");
}

TEST(ConfigValidate, Watermarks) {
  ProxyConfig cfg;
  cfg.upstream = "a:1";
  std::string error;
  EXPECT_TRUE(validate_config(cfg, error)) << error;

  cfg.low_watermark = cfg.high_watermark;
  EXPECT_FALSE(validate_config(cfg, error));
  EXPECT_EQ(error, "low_watermark (1MiB) must be below high_watermark (1MiB)");

  cfg.low_watermark = cfg.high_watermark + 1;
  EXPECT_FALSE(validate_config(cfg, error));
  EXPECT_EQ(error, "low_watermark (1048577B) must be below high_watermark (1MiB)");

  cfg.high_watermark = 1023;
  cfg.low_watermark = 0;
  EXPECT_FALSE(validate_config(cfg, error));
  EXPECT_EQ(error, "high_watermark is 1023B; it must be at least 1KiB");

  cfg.high_watermark = 1024;
  cfg.low_watermark = 1023;
  EXPECT_TRUE(validate_config(cfg, error)) << error;
}

TEST(ConfigValidate, AddressesAndLimits) {
  auto check = [](auto change) {
    ProxyConfig cfg;
    cfg.upstream = "a:1";
    change(cfg);
    std::string error;
    return validate_config(cfg, error) ? std::string() : error;
  };
  EXPECT_EQ(check([](ProxyConfig& c) { c.listen = "0.0.0.0:0"; }), "");
  EXPECT_EQ(check([](ProxyConfig& c) { c.listen = "[::]:8080"; }), "");
  EXPECT_EQ(check([](ProxyConfig& c) { c.upstream = "builtin:echo"; }), "");
  EXPECT_EQ(check([](ProxyConfig& c) { c.upstream = "[2001:db8::1]:443"; }), "");
  EXPECT_EQ(check([](ProxyConfig& c) { c.upstream = ""; }),
            "no upstream: give --upstream HOST:PORT or set upstream in the config file");
  EXPECT_NE(check([](ProxyConfig& c) { c.upstream = "a:0"; }), "");
  EXPECT_NE(check([](ProxyConfig& c) { c.upstream = "builtin:echo2"; }), "");
  EXPECT_NE(check([](ProxyConfig& c) { c.listen = "0.0.0.0"; }), "");
  EXPECT_EQ(check([](ProxyConfig& c) { c.preview = 65536; }), "");
  EXPECT_EQ(check([](ProxyConfig& c) { c.preview = 65537; }),
            "preview is 65537 bytes; at most 65536");
  EXPECT_EQ(check([](ProxyConfig& c) { c.max_connections = 0; }),
            "max_connections must be at least 1");
  EXPECT_NE(check([](ProxyConfig& c) { c.max_reports_per_rule = 0; }), "");
}

TEST(ConfigSplit, HostsAndPorts) {
  struct Case {
    const char* in;
    const char* host;
    uint16_t port;
  };
  const Case good[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"localhost:1", "localhost", 1},
      {"a.example.com:65535", "a.example.com", 65535},
      {"0.0.0.0:0", "0.0.0.0", 0},
      {"[::1]:9000", "::1", 9000},
      {"[::]:80", "::", 80},
      {"[2001:db8::17]:443", "2001:db8::17", 443},
      {"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
      {"[::ffff:10.0.0.1]:5", "::ffff:10.0.0.1", 5},
      {"my_host-1:08080", "my_host-1", 8080},
  };
  for (const Case& c : good) {
    std::string host;
    uint16_t port = 1;
    EXPECT_TRUE(split_host_port(c.in, host, port)) << c.in;
    EXPECT_EQ(host, c.host) << c.in;
    EXPECT_EQ(port, c.port) << c.in;
  }
  const char* bad[] = {"",
                       ":80",
                       "host",
                       "host:",
                       "host:65536",
                       "host:123456",
                       "host:+80",
                       "host: 80",
                       "ho st:80",
                       "host:8o",
                       "::1:9000",
                       "::1",
                       "[::1]9000",
                       "[::1]:",
                       "[]:80",
                       "[::1:80",
                       "[1.2.3.4]:80",
                       "[::g]:80",
                       "[fe80::1%]:80",
                       "256.1.1.1:80",
                       "1.2.3:80",
                       "[::1]:80:80",
                       "a:b:80"};
  for (const char* in : bad) {
    std::string host = "unchanged";
    uint16_t port = 7;
    EXPECT_FALSE(split_host_port(in, host, port)) << in;
    EXPECT_EQ(host, "unchanged") << in;
    EXPECT_EQ(port, 7) << in;
  }
}

std::vector<std::filesystem::path> example_configs() {
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(WSI_CONFIG_DIR)) {
    if (entry.path().extension() == ".toml") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

TEST(ConfigExamples, EveryFileLoadsAndValidates) {
  const auto paths = example_configs();
  EXPECT_GE(paths.size(), 3u);
  for (const auto& path : paths) {
    ProxyConfig cfg;
    std::string error;
    EXPECT_TRUE(load_config_file(path.string(), cfg, error)) << error;
    EXPECT_TRUE(validate_config(cfg, error)) << path << ": " << error;
  }
}

TEST(ConfigExamples, ReferenceFileStatesTheDefaults) {
  ProxyConfig cfg;
  std::string error;
  ASSERT_TRUE(load_config_file(std::string(WSI_CONFIG_DIR) + "/wsinspect.toml", cfg, error))
      << error;
  ProxyConfig expected;
  expected.upstream = cfg.upstream;  // the one setting without a default
  expect_same(cfg, expected);
}

TEST(ConfigExamples, DockerAndDebugExamplesSayWhatTheyPromise) {
  ProxyConfig docker;
  ProxyConfig debug;
  std::string error;
  ASSERT_TRUE(load_config_file(std::string(WSI_CONFIG_DIR) + "/docker.toml", docker, error));
  EXPECT_EQ(docker.listen, "0.0.0.0:8080");
  EXPECT_EQ(docker.log_format, LogFormat::json);
  EXPECT_EQ(docker.log_file, "");
  ASSERT_TRUE(
      load_config_file(std::string(WSI_CONFIG_DIR) + "/debug-intermediary.toml", debug, error));
  EXPECT_EQ(debug.log_format, LogFormat::json);
  EXPECT_NE(debug.log_file, "");
  EXPECT_EQ(debug.log_level, LogLevel::debug);
  EXPECT_EQ(debug.preview, 64u);
  EXPECT_NE(debug.max_message_size, 0u);
}

TEST(Upstream, UrlsAndHostPort) {
  struct Case {
    const char* given;
    const char* host;
    uint16_t port;
    bool tls;
    bool url;
    const char* authority;
    const char* ignored_path;
  };
  const Case cases[] = {
      {"example.com:9000", "example.com", 9000, false, false, "", ""},
      {"[::1]:9000", "::1", 9000, false, false, "", ""},
      {"ws://example.com", "example.com", 80, false, true, "example.com", ""},
      {"ws://example.com/", "example.com", 80, false, true, "example.com", ""},
      {"WSS://Example.com:443/", "Example.com", 443, true, true, "Example.com", ""},
      {"wss://example.com:8443/chat?x=1", "example.com", 8443, true, true, "example.com:8443",
       "/chat?x=1"},
      {"wss://[::1]/", "::1", 443, true, true, "[::1]", ""},
      {"wss://[::1]:9443", "::1", 9443, true, true, "[::1]:9443", ""},
      {"ws://127.0.0.1:80/x", "127.0.0.1", 80, false, true, "127.0.0.1", "/x"},
  };
  for (const Case& c : cases) {
    UpstreamTarget t;
    std::string why;
    ASSERT_TRUE(parse_upstream(c.given, t, why)) << c.given << ": " << why;
    EXPECT_EQ(t.host, c.host) << c.given;
    EXPECT_EQ(t.port, c.port) << c.given;
    EXPECT_EQ(t.tls, c.tls) << c.given;
    EXPECT_EQ(t.url, c.url) << c.given;
    EXPECT_EQ(t.authority, c.authority) << c.given;
    EXPECT_EQ(t.ignored_path, c.ignored_path) << c.given;
  }
  for (const char* bad : {"example.com", "ws://", "wss://:443/", "ws://[::1", "ws://a:0/",
                          "ws://a:99999/", "http://a/", "wss://u@a/"}) {
    UpstreamTarget t;
    std::string why;
    EXPECT_FALSE(parse_upstream(bad, t, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(Upstream, SettingsThatNeedEachOther) {
  auto error_of = [](auto set) {
    ProxyConfig cfg;
    cfg.upstream = "a:1";
    set(cfg);
    std::string why;
    return check_setting_relations(cfg, why) ? std::string() : why;
  };
  EXPECT_EQ(error_of([](ProxyConfig&) {}), "");
  EXPECT_EQ(error_of([](ProxyConfig& c) { c.upstream_ca = "ca.pem"; }),
            "--upstream-ca needs a wss:// upstream (--upstream wss://HOST[:PORT])");
  EXPECT_EQ(error_of([](ProxyConfig& c) {
              c.upstream = "wss://a:1";
              c.upstream_ca = "ca.pem";
            }),
            "");
  EXPECT_EQ(error_of([](ProxyConfig& c) {
              c.upstream = "wss://a:1";
              c.upstream_ca = "ca.pem";
              c.upstream_insecure = true;
            }),
            "--upstream-insecure and --upstream-ca exclude each other");
  EXPECT_EQ(error_of([](ProxyConfig& c) { c.tls_key = "k.pem"; }), "--tls-key needs --tls-cert");
  EXPECT_EQ(error_of([](ProxyConfig& c) { c.tls_cert = "c.pem"; }), "--tls-cert needs --tls-key");
  EXPECT_EQ(error_of([](ProxyConfig& c) {
              c.tls_cert = "c.pem";
              c.tls_key = "k.pem";
              c.tls_self_signed = true;
            }),
            "--tls-self-signed and --tls-cert exclude each other");
}

TEST(Upstream, ForwardModeRelations) {
  auto error_of = [](auto set) {
    ProxyConfig cfg;
    cfg.forward = true;
    set(cfg);
    std::string why;
    return check_setting_relations(cfg, why) ? std::string() : why;
  };
  EXPECT_EQ(error_of([](ProxyConfig&) {}), "");
  EXPECT_EQ(error_of([](ProxyConfig& c) { c.upstream = "a:1"; }),
            "--forward takes its targets from the clients: leave out --upstream");
  // An open forward proxy on a public address would reach internal networks.
  EXPECT_NE(error_of([](ProxyConfig& c) { c.listen = "0.0.0.0:8080"; }).find("--allow-target"),
            std::string::npos);
  EXPECT_EQ(error_of([](ProxyConfig& c) {
              c.listen = "0.0.0.0:8080";
              c.allow_targets = {"*.example.com:443"};
            }),
            "");
  EXPECT_EQ(error_of([](ProxyConfig& c) { c.listen = "[::1]:8080"; }), "");
  EXPECT_EQ(error_of([](ProxyConfig& c) { c.upstream_ca = "ca.pem"; }), "");
  ProxyConfig reverse;
  reverse.upstream = "a:1";
  reverse.ca_dir = "ca";
  std::string why;
  EXPECT_FALSE(check_setting_relations(reverse, why));
  EXPECT_EQ(why, "--ca needs --forward");
}

}  // namespace
}  // namespace wsi
