// libFuzzer target: the wsinspect command line (parse_command_line, which
// main() runs before any command): every subcommand, CLI11 and the proxy's
// table-driven flags. The input is the argument words after the program
// name, separated by NUL bytes (an argument cannot hold one).
//
// Nothing is started: parse_command_line only builds a Command, and the one
// file it would read, --config, goes through a loader that opens nothing.
// Here the path is the document: its text is loaded as TOML, so the fuzzer
// can put a config and flags over it in one input.
//
// Oracle: no exception escapes; a parse that runs nothing exits 0 after
// printing help or the version, or 2 after saying why. A proxy command has a
// valid config (resolve() validated it), and written back as one
// --flag=VALUE per setting not at its default it parses again to the same settings.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/command_line.h"

namespace {

using wsi::Command;
using wsi::ProxyConfig;

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b = {}) {
  std::fprintf(stderr, "fuzz_cli: %s\n--- first\n%s\n--- second\n%s\n", what, a.c_str(), b.c_str());
  std::abort();
}

bool load_path_as_toml(const std::string& path, ProxyConfig& cfg, std::string& error) {
  return wsi::load_config_string(path, "config", cfg, error);
}

struct Parse {
  wsi::ParsedCommandLine result;
  std::string out;
  std::string err;
};

Parse parse(const std::vector<std::string>& words) {
  std::vector<const char*> argv{"wsinspect"};
  for (const std::string& w : words) argv.push_back(w.c_str());
  std::ostringstream out;
  std::ostringstream err;
  Parse p{wsi::parse_command_line(argv, out, err, load_path_as_toml), {}, {}};
  p.out = out.str();
  p.err = err.str();
  return p;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += "[" + w + "] ";
  return out;
}

const std::vector<wsi::SettingInfo>& table() {
  static const std::vector<wsi::SettingInfo> t = wsi::setting_table();
  return t;
}

std::string settings_of(const ProxyConfig& cfg) {
  std::string out;
  for (const wsi::SettingInfo& s : table())
    out += std::string(s.key) + "=" + wsi::setting_text(cfg, s.key).value_or("<none>") + "\n";
  return out;
}

// A list item that a flag cannot carry as it is: the flag's value is split
// at commas and trimmed (a file's array can hold such items).
bool flag_can_carry(const std::vector<std::string>& items) {
  for (const std::string& item : items) {
    if (item.empty() || item.find(',') != std::string::npos || item.front() == ' ' ||
        item.back() == ' ')
      return false;
  }
  return true;
}

// `wsinspect proxy` with every setting that is not at its default given as a flag.
std::vector<std::string> as_flags(const ProxyConfig& cfg) {
  std::vector<std::string> words{"proxy"};
  for (const wsi::SettingInfo& s : table()) {
    const std::string text = wsi::setting_text(cfg, s.key).value_or("");
    if (text == s.default_value) continue;  // "--upstream=" is refused, rightly
    if (s.kind != wsi::SettingKind::list) {
      words.push_back(std::string(s.flag) + "=" + text);
      continue;
    }
    for (size_t at = 0; at < text.size();) {
      size_t comma = text.find(',', at);
      if (comma == std::string::npos) comma = text.size();
      words.push_back(std::string(s.flag) + "=" + text.substr(at, comma - at));
      at = comma + 1;
    }
  }
  return words;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> words;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (size_t at = 0; at <= input.size();) {
    size_t end = input.find('\0', at);
    if (end == std::string_view::npos) end = input.size();
    words.emplace_back(input.substr(at, end - at));
    at = end + 1;
  }
  if (words.size() > 1 && words.back().empty()) words.pop_back();  // a trailing NUL

  const Parse p = parse(words);
  const wsi::ParsedCommandLine& r = p.result;
  if (!r.command) {
    if (r.exit_status == 0 && p.out.empty()) fail("exit 0 without help or version", joined(words));
    if (r.exit_status == 2 && p.err.empty()) fail("exit 2 without a reason", joined(words));
    if (r.exit_status != 0 && r.exit_status != 2)
      fail("unexpected exit status", joined(words), std::to_string(r.exit_status));
    return 0;
  }
  const Command& c = *r.command;
  switch (c.kind) {
    case Command::Kind::proxy: {
      std::string why;
      if (!wsi::validate_config(c.proxy, why)) fail("resolved an invalid config", why);
      why.clear();
      if (!wsi::check_setting_relations(c.proxy, why) && why.empty())
        fail("relations refused without a reason", joined(words));
      if (!flag_can_carry(c.proxy.redact_headers) || !flag_can_carry(c.proxy.passthrough) ||
          !flag_can_carry(c.proxy.allow_targets))
        break;
      const std::vector<std::string> flags = as_flags(c.proxy);
      const Parse again = parse(flags);
      if (!again.result.command)
        fail("the settings written as flags do not parse", joined(flags), again.err);
      if (settings_of(again.result.command->proxy) != settings_of(c.proxy))
        fail("the settings written as flags parse differently",
             joined(words) + "\n" + settings_of(c.proxy),
             joined(flags) + "\n" + settings_of(again.result.command->proxy));
      break;
    }
    case Command::Kind::decode:
      if (!c.decode.permessage_deflate && !c.decode.permessage_deflate_params.empty())
        fail("deflate parameters without --permessage-deflate", joined(words));
      if (c.decode.connection && !c.decode.sender.empty())
        fail("--connection with --sender", joined(words));
      break;
    case Command::Kind::explain:
      if (c.codes.empty() || c.codes.size() > 2) fail("explain takes one or two codes", "");
      break;
    case Command::Kind::ca_init:
      if (c.ca_dir.empty() && std::find(words.begin(), words.end(), "") == words.end())
        fail("ca init without a directory", joined(words));
      break;
    case Command::Kind::demo:
    case Command::Kind::rules:
      break;
  }
  return 0;
}
