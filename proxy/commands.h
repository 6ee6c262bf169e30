// The subcommands of the wsinspect binary, callable from tests with their own
// streams. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <uv.h>

namespace wsi {

struct ExplainOptions {
  std::vector<std::string> codes;  // one or two close codes, as typed
  bool json = false;               // one JSON object, always in English
  std::string lang;  // "en", "pt-BR", "pt_BR" or "pt"; "" detects it from LC_ALL, LC_MESSAGES, LANG
};

// `wsinspect explain CODE [CODE]`: one code explained, or two compared (a
// table of their aspects, then the differences). 0 on success, 2 for a usage
// error (a bad code, or an unknown language).
int run_explain(const ExplainOptions& opts, std::ostream& out, std::ostream& err);
// The same in English, as text.
int run_explain(const std::vector<std::string>& codes, std::ostream& out, std::ostream& err);

struct RulesOptions {
  bool json = false;             // one JSON object per rule
  std::vector<std::string> ids;  // only these rules; empty: all
  // "en", "pt-BR", "pt_BR" or "pt"; "" detects it from LC_ALL, LC_MESSAGES,
  // LANG for the text (JSON stays English unless a language is named).
  std::string lang;
};

// `wsinspect rules [--json] [--lang L] [RULE...]`: the rule catalogue, or the
// rules named, with each summary and fix in the language asked for (2 for an
// unknown id or language, said on `err`).
int run_rules(const RulesOptions& opts, std::ostream& out, std::ostream& err);
// The same in English.
int run_rules(bool json, const std::vector<std::string>& ids, std::ostream& out, std::ostream& err);

struct DecodeOptions {
  std::string sender;       // "client" or "server"; required unless `connection`
  bool connection = false;  // input is a connection vector (both directions)
  bool hex = false;         // input is hex text
  bool json = false;        // one JSON object per line
  bool permessage_deflate = false;
  std::string permessage_deflate_params;  // "" or e.g. "client_no_context_takeover"
  uint64_t max_message_size = 0;          // 0: no limit
  uint32_t preview = 0;                   // first content bytes of each data message shown; 0: none
  std::string input = "-";                // a path, or "-" for stdin
};

// `wsinspect decode`: 0 when no error-severity violation, 1 when one, 2 for
// usage or input errors.
int run_decode(const DecodeOptions& opts, std::ostream& out, std::ostream& err);

struct CompareOptions {
  std::string a;  // the vantage point nearer the client: a capture or a --log-digests JSON log
  std::string b;  // the one nearer the server
  bool json = false;
  std::string digest_key_file;  // the key a log's digests were made with (for a capture vs a log)
  size_t window = 4096;         // messages one side may run ahead in the alignment
};

// `wsinspect compare A B`: 0 when every matched connection is identical or
// differs only in benign ways, 1 when a difference changes what an endpoint
// sees (or a connection is seen at one side only), 2 for usage or input errors.
int run_compare(const CompareOptions& opts, std::ostream& out, std::ostream& err);

// `wsinspect ca init DIR`: 0 when the CA was made, 1 when it could not be.
int run_ca_init(const std::string& dir, bool json, std::ostream& out, std::ostream& err);

struct ProxyConfig;
class Server;

// Hooks for commands that run more on the proxy's loop (`demo`).
struct ProxyHooks {
  std::function<void(uv_loop_t*, Server&)> on_ready;  // listening, before the loop runs
  std::function<void()> on_stopped;                   // the last session ended after shutdown
};

// `wsinspect proxy`: runs until SIGINT/SIGTERM. Exit status: 0 after a clean
// shutdown, 1 when it cannot start (address in use, log file), 2 for a bad
// setting, 3 when a second signal cut the drain short.
int run_proxy(const ProxyConfig& cfg, std::ostream& err, const ProxyHooks& hooks = {});

// `wsinspect demo`: the proxy, the echo server and a scripted client with one
// damaged frame, so a newcomer sees a violation and explained closes.
int run_demo(const ProxyConfig& cfg, std::ostream& out, std::ostream& err);

}  // namespace wsi
