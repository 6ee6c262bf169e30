#include "proxy/command_line.h"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string_view>

#include <CLI/CLI.hpp>

#include "parser/catalog_pt_br.h"

namespace wsi {
namespace {

constexpr const char* kDescription =
    "wsinspect: WebSocket frame inspector. Flags every frame or handshake corruption that makes "
    "an\n"
    "endpoint close with 1002, 1007 or 1009, says where it happened, and explains close codes.";

// Whether `--NAME` is an option of `app` or of one of its subcommands that
// takes a value (not a flag).
bool takes_value(const CLI::App& app, const std::string& name) {
  if (const CLI::Option* o = app.get_option_no_throw(name)) return o->get_items_expected_max() > 0;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (takes_value(*sub, name)) return true;
  return false;
}

// CLI11 reads "--NAME=" as a bare "--NAME" and takes the next word as the
// value, whatever it is: "--log-file= --show-secrets" logged to a file named
// "--show-secrets" and showed no secrets. An empty value after '=' becomes
// the word after the option instead, which CLI11 takes as the empty value
// (before "--", where options end).
std::vector<std::string> split_empty_values(const CLI::App& app,
                                            std::span<const char* const> args) {
  std::vector<std::string> out(args.begin(), args.end());
  for (size_t i = 1; i < out.size(); ++i) {
    const std::string_view w = out[i];
    if (w == "--") break;
    if (w.size() < 4 || !w.starts_with("--") || !w.ends_with('=') || w.find('=') != w.size() - 1)
      continue;
    std::string name(w.substr(0, w.size() - 1));
    if (!takes_value(app, name)) continue;
    out[i] = std::move(name);
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::string());
    ++i;
  }
  return out;
}

// A word of the command line, shown without its control characters.
std::string escape_arg(std::string_view w) {
  std::string out;
  for (const char c : w) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

ParsedCommandLine parse_command_line(std::span<const char* const> args, std::ostream& out,
                                     std::ostream& err, const ConfigLoader& load_config) {
  CLI::App app{kDescription, "wsinspect"};
  app.set_version_flag("--version", std::string("wsinspect ") + WSI_VERSION);
  app.require_subcommand(1);
  Command c;

  CLI::App* proxy = app.add_subcommand(
      "proxy", "Relay WebSocket (and plain HTTP) traffic byte-exact and inspect both directions");
  ProxyOptions proxy_opts(*proxy);
  proxy->footer(
      "Every setting can also come from a TOML file (--config; see configs/wsinspect.toml); a\n"
      "flag overrides the file. --upstream builtin:echo runs a built-in echo WebSocket server.\n"
      "Exit status: 0 after SIGINT/SIGTERM and a clean drain, 1 when the proxy cannot start,\n"
      "2 for a bad setting, 3 when a second signal cut the drain short.");

  CLI::App* demo = app.add_subcommand(
      "demo", "Run the proxy, the echo server and a scripted client with one damaged frame");
  std::string demo_format = "text";
  demo->add_option("--log-format", demo_format, "text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));

  DecodeOptions& dec = c.decode;
  CLI::App* decode = app.add_subcommand(
      "decode",
      "Decode one direction's WebSocket byte stream, or a whole connection, and report "
      "frames, violations and closes");
  decode->footer(
      "Input is the raw byte stream of one direction (--sender), or with --connection a\n"
      "connection vector (both directions in wire order, stream ends and time steps:\n"
      "tests/vectors/connections/README.md), reported with the events the proxy logs, or a\n"
      "pcap/pcapng capture (every connection in it, told apart by its magic number).\n"
      "One direction may start with its HTTP handshake: a request (GET ... HTTP/1.1) makes\n"
      "the bytes after it the client's, a 101 response the server's; it is parsed, not\n"
      "decoded as frames, and frame offsets count from its end. A 101 says whether\n"
      "permessage-deflate was negotiated; a request only offers it, so its first valid\n"
      "permessage-deflate offer is assumed accepted as offered, and that is said (a line, or\n"
      "an \"assumed\" event). A request is checked as the proxy checks it, its findings\n"
      "shown under the handshake line (\"findings\" in JSON); a 101's headers are checked\n"
      "only for its status and Upgrade, since the request it answers is not in the input.\n"
      "A response other than 101, a request that is not a WebSocket upgrade, a handshake\n"
      "cut short or a --sender it contradicts is a usage error.\n"
      "Sizes are shown as 812 B or 3.4 kB, with the exact count in parentheses from 1000 B.\n"
      "Exit status: 0 when no error-severity violation or handshake finding was found, 1 when\n"
      "one was, 2 for a usage or input error.");
  CLI::Option* sender = decode
                            ->add_option("--sender", dec.sender,
                                         "Who sent the bytes: client (frames must be masked) "
                                         "or server (frames must not be); a leading handshake "
                                         "says it, and must agree")
                            ->check(CLI::IsMember({"client", "server"}));
  decode
      ->add_flag("--connection", dec.connection,
                 "Input is a whole connection (a connection vector), not one direction")
      ->excludes(sender);
  decode->add_flag(
      "--hex", dec.hex,
      "Input is hex text instead of binary, each line in any of these forms: plain hex "
      "(whitespace ignored, '#' starts a comment), xxd (also -g1), hexdump -C (-v when lines "
      "repeat), xxd -i or a C/JavaScript array (0x81, 0x05, ...; text up to '{' ignored) and "
      "\\x81\\x05 escapes; a line longer than 64 KiB must be plain hex");
  decode->add_flag("--json", dec.json, "One JSON object per line (schema: docs/events.md)");
  std::string decode_format = "text";
  decode->add_option("--log-format", decode_format, "text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
  // A flag that may carry a value (--permessage-deflate=PARAMS) without taking
  // the next argument; given bare, CLI11 stores "true".
  decode
      ->add_flag("--permessage-deflate", dec.permessage_deflate_params,
                 "Treat permessage-deflate as negotiated: RSV1 marks a compressed message, which "
                 "is inflated and checked; --permessage-deflate=PARAMS gives the accepted "
                 "parameters, e.g. 'server_no_context_takeover;server_max_window_bits=10'; it "
                 "overrides a leading handshake, and that is said")
      ->type_name("[=PARAMS]");
  decode
      ->add_option("--max-message-size", dec.max_message_size,
                   "Flag messages larger than this many bytes (1009); 0 disables")
      ->check(CLI::NonNegativeNumber);
  decode
      ->add_option("--preview", dec.preview,
                   "Show the first N bytes of each data message's content, as the application "
                   "gets it (unmasked, inflated, fragments joined), escaped: one line per message, "
                   "for one direction, --connection and captures alike; at most 65536, as the "
                   "proxy's")
      ->check(CLI::Range(0u, ProxyConfig::kMaxPreview));
  decode->add_option("FILE", dec.input, "Input file, or - for standard input (the default)");

  CompareOptions& cmp = c.compare;
  CLI::App* compare = app.add_subcommand(
      "compare", "Compare what two vantage points saw of the same WebSocket connections");
  compare
      ->add_option("A", cmp.a,
                   "The vantage point nearer the client: a capture (pcap, pcapng) or a JSON "
                   "log written with --log-digests")
      ->required();
  compare->add_option("B", cmp.b, "The vantage point nearer the server (the same kinds)")
      ->required();
  std::string compare_format = "text";
  compare->add_flag("--json", cmp.json, "One JSON object per line (schema: docs/events.md)");
  compare->add_option("--log-format", compare_format, "text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
  compare->add_option("--digest-key-file", cmp.digest_key_file,
                      "The secret a --log-digests log was keyed with, to compare it with a "
                      "capture (default: $WSINSPECT_DIGEST_KEY)");
  compare
      ->add_option("--window", cmp.window,
                   "Messages one side may run ahead of the other while aligning (default "
                   "4096)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  compare->footer(
      "Connections are matched by Sec-WebSocket-Key. For each, the handshake's headers, every\n"
      "message and control frame of both directions (aligned by content), the closes and the\n"
      "TCP ends are compared, and a verdict names what changed between A and B.\n"
      "Exit status: 0 identical or benign differences only, 1 a difference an endpoint sees\n"
      "(or a connection seen at one side only), 2 usage or input error.");

  CLI::App* explain = app.add_subcommand(
      "explain", "Explain a close code (what, when, how to fix), or compare two side by side");
  explain->add_option("CODE", c.codes, "One or two close codes (0-65535)")
      ->required()
      ->expected(1, 2);
  explain->add_flag(
      "--json", c.explain_json,
      "One JSON object, always in English: for one code {code, name, range "
      "(null, or {first, last} for a range), allowed_on_wire, registered, sender, "
      "reported_locally, category, defined_in, description, when, fix}; for two "
      "{compare, same_entry, differ (the aspects that differ), codes (both objects)}");
  // --lang of explain and rules.
  const auto known_lang = [](const std::string& v) -> std::string {
    if (lang_from_name(v)) return {};
    return "unknown language '" + v + "': expected en or pt-BR (also pt_BR, pt)";
  };
  std::string explain_format = "text";
  explain->add_option("--log-format", explain_format, "text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
  explain
      ->add_option("--lang", c.explain_lang,
                   "Language of the text: en or pt-BR (also pt_BR, pt). Default: from LC_ALL, "
                   "LC_MESSAGES or LANG, else en")
      ->check(known_lang);

  CLI::App* rules = app.add_subcommand(
      "rules", "List every rule checked: id, severity, RFC section, close code, fix");
  rules->add_flag("--json", c.rules_json, "One JSON object per rule");
  std::string rules_format = "text";
  rules->add_option("--log-format", rules_format, "text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));
  rules->add_option("RULE", c.rule_ids, "Only these rules (ids, as listed)");
  rules
      ->add_option("--lang", c.rules_lang,
                   "Language of the summaries and fixes: en or pt-BR (also pt_BR, pt). Default "
                   "for the text: from LC_ALL, LC_MESSAGES or LANG, else en; --json is in English "
                   "unless --lang is given")
      ->check(known_lang);

  CLI::App* ca = app.add_subcommand(
      "ca", "The certificate authority the forward proxy signs intercepted TLS with");
  ca->require_subcommand(1);
  CLI::App* ca_init = ca->add_subcommand(
      "init",
      "Make a CA in DIR (ca.pem, and ca.key readable by you only) and print how to trust it");
  ca_init->add_option("DIR", c.ca_dir, "Directory for the CA (created if missing)")->required();
  ca_init->add_flag("--json", c.ca_json, "One JSON object: the files made and the proxy command");
  std::string ca_format = "text";
  ca_init->add_option("--log-format", ca_format, "text or json (default text)")
      ->check(CLI::IsMember({"text", "json"}));

  // `wsinspect help [SUBCOMMAND]`, and a word that names no subcommand.
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  auto known = [&](std::string_view w) {
    return std::find(names.begin(), names.end(), w) != names.end();
  };
  const std::string list = [&] {
    std::string l;
    for (const std::string& n : names) l += (l.empty() ? "" : ", ") + n;
    return l + ", help";
  }();
  ParsedCommandLine parsed;
  if (args.size() >= 2 && std::string_view(args[1]) == "help") {
    if (args.size() >= 3 && known(args[2])) {
      out << app.get_subcommand(args[2])->help();
    } else if (args.size() >= 3) {
      err << "wsinspect help: no subcommand '" << escape_arg(args[2]) << "' (" << list << ")\n";
      parsed.exit_status = 2;
    } else {
      out << app.help();
    }
    return parsed;
  }
  if (args.size() < 2) {
    err << app.help() << "\nwsinspect: a subcommand is needed (" << list << ")\n";
    parsed.exit_status = 2;
    return parsed;
  }
  if (args[1][0] != '-' && !known(args[1])) {
    err << "wsinspect: unknown subcommand '" << escape_arg(args[1]) << "' (" << list
        << "; wsinspect help SUBCOMMAND explains one)\n";
    parsed.exit_status = 2;
    return parsed;
  }
  const std::vector<std::string> words = split_empty_values(app, args);
  std::vector<const char*> argv;
  for (const std::string& w : words) argv.push_back(w.c_str());

  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp& e) {
    parsed.exit_status = app.exit(e, out, err);
    return parsed;
  } catch (const CLI::CallForAllHelp& e) {
    parsed.exit_status = app.exit(e, out, err);
    return parsed;
  } catch (const CLI::CallForVersion& e) {
    parsed.exit_status = app.exit(e, out, err);
    return parsed;
  } catch (const CLI::ParseError& e) {
    app.exit(e, out, err);
    parsed.exit_status = 2;
    return parsed;
  }

  if (*proxy) {
    std::string error;
    std::optional<ProxyConfig> cfg = proxy_opts.resolve(error, load_config);
    if (!cfg) {
      err << "wsinspect proxy: " << error << '\n';
      parsed.exit_status = 2;
      return parsed;
    }
    c.kind = Command::Kind::proxy;
    c.proxy = std::move(*cfg);
  } else if (*demo) {
    c.kind = Command::Kind::demo;
    c.proxy.log_format = demo_format == "json" ? LogFormat::json : LogFormat::text;
  } else if (*decode) {
    c.kind = Command::Kind::decode;
    if (decode_format == "json") dec.json = true;
    dec.permessage_deflate = decode->count("--permessage-deflate") > 0;
    if (dec.permessage_deflate_params == "true") dec.permessage_deflate_params.clear();
  } else if (*compare) {
    c.kind = Command::Kind::compare;
    if (compare_format == "json") cmp.json = true;
  } else if (*explain) {
    c.kind = Command::Kind::explain;
    if (explain_format == "json") c.explain_json = true;
  } else if (*rules) {
    c.kind = Command::Kind::rules;
    if (rules_format == "json") c.rules_json = true;
  } else if (*ca_init) {
    c.kind = Command::Kind::ca_init;
    if (ca_format == "json") c.ca_json = true;
  } else {
    parsed.exit_status = 2;  // require_subcommand makes this unreachable
    return parsed;
  }
  parsed.command = std::move(c);
  return parsed;
}

int run_command(const Command& c, std::ostream& out, std::ostream& err) {
  switch (c.kind) {
    case Command::Kind::proxy:
      return run_proxy(c.proxy, err);
    case Command::Kind::demo:
      return run_demo(c.proxy, out, err);
    case Command::Kind::decode:
      return run_decode(c.decode, out, err);
    case Command::Kind::compare:
      return run_compare(c.compare, out, err);
    case Command::Kind::explain:
      return run_explain(ExplainOptions{c.codes, c.explain_json, c.explain_lang}, out, err);
    case Command::Kind::rules:
      return run_rules(RulesOptions{c.rules_json, c.rule_ids, c.rules_lang}, out, err);
    case Command::Kind::ca_init:
      return run_ca_init(c.ca_dir, c.ca_json, out, err);
  }
  return 2;
}

}  // namespace wsi
