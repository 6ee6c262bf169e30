// libFuzzer target: the TOML config loader (load_config_string, the one that
// load_config_file reads into) and the checks run on what it loaded.
//
// Oracle: every input gives a config or an error, never an exception, and
// an error is one non-empty line naming the source, with no
// control character (what it quotes is escaped), which leaves the config
// it was loading over untouched. A config that loads is written back as
// TOML from the settings table (each setting as setting_text() writes it)
// and must load again to the same settings: what the reader accepts, the
// writer can say. validate_config and check_setting_relations then either
// pass or say why.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/config.h"

namespace {

using wsi::ProxyConfig;
using wsi::SettingInfo;
using wsi::SettingKind;

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b = {}) {
  std::fprintf(stderr, "fuzz_config: %s\n--- first\n%s\n--- second\n%s\n", what, a.c_str(),
               b.c_str());
  std::abort();
}

const std::vector<SettingInfo>& table() {
  static const std::vector<SettingInfo> t = wsi::setting_table();
  return t;
}

// Every setting as "key=text" lines, lists item by item.
std::string settings_of(const ProxyConfig& cfg) {
  std::string out;
  for (const SettingInfo& s : table()) {
    out += std::string(s.key) + "=" + wsi::setting_text(cfg, s.key).value_or("<none>") + "\n";
  }
  for (const std::vector<std::string>* list :
       {&cfg.redact_headers, &cfg.passthrough, &cfg.allow_targets, &cfg.only_rules}) {
    out += "[";
    for (const std::string& item : *list) out += item + "\x1f";
    out += "]\n";
  }
  return out;
}

// A TOML basic string: quotes, backslashes and control characters escaped;
// the rest is UTF-8 that toml++ already validated.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

const std::vector<std::string>* list_of(const ProxyConfig& cfg, std::string_view key) {
  if (key == "log.redact_headers") return &cfg.redact_headers;
  if (key == "forward.passthrough") return &cfg.passthrough;
  if (key == "forward.allow_target") return &cfg.allow_targets;
  if (key == "log.only_rules") return &cfg.only_rules;
  return nullptr;
}

// The config as a TOML document, every setting as a dotted key.
std::string to_toml(const ProxyConfig& cfg) {
  std::string out;
  for (const SettingInfo& s : table()) {
    const std::string text = wsi::setting_text(cfg, s.key).value_or("");
    out += std::string(s.key) + " = ";
    switch (s.kind) {
      case SettingKind::count:
      case SettingKind::boolean:
        out += text;
        break;
      case SettingKind::list: {
        const std::vector<std::string>* items = list_of(cfg, s.key);
        if (!items) fail("a list setting without a member here", std::string(s.key));
        out += "[";
        for (const std::string& item : *items) out += toml_string(item) + ", ";
        out += "]";
        break;
      }
      default:
        out += toml_string(text);
        break;
    }
    out += "\n";
  }
  return out;
}

void check_error(const std::string& error, const char* source) {
  if (error.empty()) fail("failed without an error", "");
  for (const char c : error) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) fail("a control character in an error", error);
  }
  if (error.rfind(source, 0) != 0) fail("error does not name the source", error);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Loaded over a config that is not the default, to see that a failure
  // leaves every setting as it was.
  ProxyConfig base;
  base.upstream = "base.example:9";
  base.redact_headers = {"X-Base"};
  base.idle_timeout_ms = 1234;
  ProxyConfig cfg = base;
  std::string error;
  if (!wsi::load_config_string(text, "fuzz.toml", cfg, error)) {
    check_error(error, "fuzz.toml");
    if (settings_of(cfg) != settings_of(base))
      fail("a failed load changed the config", settings_of(base), settings_of(cfg));
    return 0;
  }
  if (!error.empty()) fail("loaded, yet an error was set", error);

  const std::string written = to_toml(cfg);
  ProxyConfig again;
  std::string again_error;
  if (!wsi::load_config_string(written, "written.toml", again, again_error))
    fail("a loaded config written back does not load", written, again_error);
  if (settings_of(again) != settings_of(cfg))
    fail("a loaded config written back loads differently", settings_of(cfg), settings_of(again));

  std::string why;
  if (!wsi::validate_config(cfg, why) && why.empty()) fail("invalid without a reason", written);
  why.clear();
  if (!wsi::check_setting_relations(cfg, why) && why.empty())
    fail("relations refused without a reason", written);
  return 0;
}
