// wsinspect: a WebSocket intercepting proxy and frame inspector.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proxy/commands.h"
#include "proxy/config.h"

namespace {

constexpr const char* kDescription =
    "wsinspect: WebSocket frame inspector. Flags every frame or handshake corruption that makes "
    "an\n"
    "endpoint close with 1002, 1007 or 1009, says where it happened, and explains close codes.";

// Started with standard input, output or error closed, the first descriptor
// opened later (libuv's epoll descriptor, a socket) would take 0, 1 or 2:
// log lines would go into it, and libuv asserts at exit that its own
// descriptors are above stderr. Each closed one is opened on /dev/null.
void guard_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    const int null_fd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (null_fd < 0) _exit(1);  // nothing can be reported anywhere
    // open() returns the lowest free descriptor, which is `fd` when lower
    // ones are open; otherwise move it there.
    if (null_fd != fd) {
      if (dup2(null_fd, fd) < 0) _exit(1);
      close(null_fd);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  guard_standard_fds();
  CLI::App app{kDescription, "wsinspect"};
  app.set_version_flag("--version", std::string("wsinspect ") + WSI_VERSION);
  app.require_subcommand(1);

  CLI::App* proxy = app.add_subcommand(
      "proxy", "Relay WebSocket (and plain HTTP) traffic byte-exact and inspect both directions");
  wsi::ProxyOptions proxy_opts(*proxy);
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

  wsi::DecodeOptions dec;
  CLI::App* decode = app.add_subcommand(
      "decode",
      "Decode one direction's WebSocket byte stream, or a whole connection, and report "
      "frames, violations and closes");
  decode->footer(
      "Input is the raw byte stream of one direction after the handshake (--sender), or with\n"
      "--connection a connection vector (both directions in wire order, stream ends and time\n"
      "steps: tests/vectors/connections/README.md), reported with the events the proxy logs.\n"
      "Exit status: 0 when no error-severity violation or handshake finding was found, 1 when\n"
      "one was, 2 for a usage or input error.");
  CLI::Option* sender = decode
                            ->add_option("--sender", dec.sender,
                                         "Who sent the bytes: client (frames must be masked) "
                                         "or server (frames must not be)")
                            ->check(CLI::IsMember({"client", "server"}));
  decode
      ->add_flag("--connection", dec.connection,
                 "Input is a whole connection (a connection vector), not one direction")
      ->excludes(sender);
  decode->add_flag(
      "--hex", dec.hex,
      "Input is hex text (whitespace ignored, '#' starts a comment) instead of binary");
  decode->add_flag("--json", dec.json, "One JSON object per line (schema: docs/events.md)");
  // A flag that may carry a value (--permessage-deflate=PARAMS) without taking
  // the next argument; given bare, CLI11 stores "true".
  decode
      ->add_flag("--permessage-deflate", dec.permessage_deflate_params,
                 "Treat permessage-deflate as negotiated: RSV1 marks a compressed message, which "
                 "is inflated and checked; --permessage-deflate=PARAMS gives the accepted "
                 "parameters, e.g. 'server_no_context_takeover;server_max_window_bits=10'")
      ->type_name("[=PARAMS]");
  decode
      ->add_option("--max-message-size", dec.max_message_size,
                   "Flag messages larger than this many bytes (1009); 0 disables")
      ->check(CLI::NonNegativeNumber);
  decode->add_option("FILE", dec.input, "Input file, or - for standard input (the default)");

  std::vector<std::string> codes;
  CLI::App* explain = app.add_subcommand(
      "explain", "Explain a close code (what, when, how to fix), or compare two side by side");
  explain->add_option("CODE", codes, "One or two close codes (0-65535)")
      ->required()
      ->expected(1, 2);

  bool rules_json = false;
  CLI::App* rules = app.add_subcommand(
      "rules", "List every rule checked: id, severity, RFC section, close code, fix");
  rules->add_flag("--json", rules_json, "One JSON object per rule");

  std::string ca_dir;
  CLI::App* ca = app.add_subcommand(
      "ca", "The certificate authority the forward proxy signs intercepted TLS with");
  ca->require_subcommand(1);
  CLI::App* ca_init = ca->add_subcommand(
      "init",
      "Make a CA in DIR (ca.pem, and ca.key readable by you only) and print how to trust it");
  ca_init->add_option("DIR", ca_dir, "Directory for the CA (created if missing)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (*proxy) {
    std::string error;
    const std::optional<wsi::ProxyConfig> cfg = proxy_opts.resolve(error);
    if (!cfg) {
      std::cerr << "wsinspect proxy: " << error << '\n';
      return 2;
    }
    return wsi::run_proxy(*cfg, std::cerr);
  }
  if (*demo) {
    wsi::ProxyConfig cfg;
    cfg.log_format = demo_format == "json" ? wsi::LogFormat::json : wsi::LogFormat::text;
    return wsi::run_demo(cfg, std::cout, std::cerr);
  }
  if (*decode) {
    dec.permessage_deflate = decode->count("--permessage-deflate") > 0;
    if (dec.permessage_deflate_params == "true") dec.permessage_deflate_params.clear();
    return wsi::run_decode(dec, std::cout, std::cerr);
  }
  if (*explain) return wsi::run_explain(codes, std::cout, std::cerr);
  if (*rules) return wsi::run_rules(rules_json, std::cout);
  if (*ca_init) return wsi::run_ca_init(ca_dir, std::cout, std::cerr);
  return 2;
}
