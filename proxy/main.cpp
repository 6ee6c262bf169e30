// wsinspect: a WebSocket intercepting proxy and frame inspector.
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proxy/commands.h"

namespace {

constexpr const char* kDescription =
    "wsinspect: WebSocket frame inspector. Flags every frame or handshake corruption that makes an\n"
    "endpoint close with 1002, 1007 or 1009, says where it happened, and explains close codes.";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{kDescription, "wsinspect"};
  app.set_version_flag("--version", std::string("wsinspect ") + WSI_VERSION);
  app.require_subcommand(1);

  wsi::DecodeOptions dec;
  CLI::App* decode = app.add_subcommand(
      "decode",
      "Decode one direction's raw WebSocket byte stream (after the handshake) and report every\n"
      "frame, violation and close. Exit status: 0 clean, 1 an error-severity violation, 2 usage\n"
      "or input error.");
  decode->add_option("--sender", dec.sender, "Who sent the bytes: client (frames must be masked) "
                                             "or server (frames must not be)")
      ->required()
      ->check(CLI::IsMember({"client", "server"}));
  decode->add_flag("--hex", dec.hex,
                   "Input is hex text (whitespace ignored, '#' starts a comment) instead of binary");
  decode->add_flag("--json", dec.json, "One JSON object per line (schema: docs/events.md)");
  decode->add_flag("--permessage-deflate{}", dec.permessage_deflate_params,
                   "Treat permessage-deflate as negotiated (RSV1 marks a compressed message); "
                   "--permessage-deflate=PARAMS gives the accepted parameters");
  decode->add_option("--max-message-size", dec.max_message_size,
                     "Flag messages larger than this many bytes (1009); 0 disables")
      ->check(CLI::NonNegativeNumber);
  decode->add_option("FILE", dec.input, "Input file, or - for standard input (the default)");

  std::vector<std::string> codes;
  CLI::App* explain = app.add_subcommand(
      "explain",
      "Explain a WebSocket close code: what it means, when you see it, how to fix it. With two\n"
      "codes, compare them side by side.");
  explain->add_option("CODE", codes, "One or two close codes (0-65535)")->required()->expected(1, 2);

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

  if (*decode) {
    dec.permessage_deflate = decode->count("--permessage-deflate") > 0;
    return wsi::run_decode(dec, std::cout, std::cerr);
  }
  if (*explain) return wsi::run_explain(codes, std::cout, std::cerr);
  return 2;
}
