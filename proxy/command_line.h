// The wsinspect command line: every subcommand with its options, parsed into
// a Command before anything runs. The parse has one effect on the world,
// reading the --config file, and that goes through a ConfigLoader the caller
// may replace (the fuzzer does), so a parse opens no socket and creates no file.
#pragma once

#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "proxy/commands.h"
#include "proxy/config.h"

namespace wsi {

// What a command line asks to run, with its settings resolved.
struct Command {
  enum class Kind : uint8_t { proxy, demo, decode, compare, explain, rules, ca_init };
  Kind kind = Kind::proxy;
  ProxyConfig proxy;                  // proxy and demo
  DecodeOptions decode;               // decode
  CompareOptions compare;             // compare
  std::vector<std::string> codes;     // explain
  bool explain_json = false;          // explain --json
  std::string explain_lang;           // explain --lang; "" from the environment
  bool rules_json = false;            // rules
  std::vector<std::string> rule_ids;  // rules: only these
  std::string rules_lang;             // rules --lang; "" from the environment
  std::string ca_dir;                 // ca init
  bool ca_json = false;               // ca init
};

// Either a command to run, or the exit status the parse already ended with:
// 0 after --help or --version (printed to `out`), 2 after a usage error or a
// bad setting (said on `err`).
struct ParsedCommandLine {
  std::optional<Command> command;
  int exit_status = 0;
};

// `args` is argv: the program name first.
ParsedCommandLine parse_command_line(std::span<const char* const> args, std::ostream& out,
                                     std::ostream& err, const ConfigLoader& load_config = {});

// Runs a parsed command; returns the process exit status.
int run_command(const Command& c, std::ostream& out, std::ostream& err);

}  // namespace wsi
