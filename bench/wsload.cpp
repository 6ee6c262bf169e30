// wsload: WebSocket load for a side-by-side benchmark of a direct connection,
// a TCP tunnel and wsinspect.
//
//   wsload server --listen 127.0.0.1:PORT [--mode echo|sink]
//                 [--tls --tls-cert FILE --tls-key FILE]
//   wsload client --target HOST:PORT --connections N --size BYTES
//                 --kind text-ascii|text-utf8|binary --duration SEC
//                 [--rate MSGS_PER_SEC_PER_CONN | --closed-loop [--inflight K]]
//                 [--warmup SEC] [--direction both|c2s|s2c]
//                 [--idle] [--ping-interval SEC] [--connect-concurrency N]
//                 [--max-errors N] [--json]
//                 [--tls [--tls-ca FILE] [--tls-name NAME]]
//
// Scenarios of the client:
//   open loop (--rate R): each connection has a fixed schedule of R messages
//     per second, the connections' schedules interleaved evenly; a message
//     carries its intended send time and latency runs from that time to its
//     echo, so a stalled path shows as latency rather than fewer samples.
//   closed loop (the default without --rate): K messages in flight per
//     connection, the next sent when an echo arrives: maximum throughput.
//   --direction c2s: the client tells the server to discard ("wsload sink")
//     and sends as fast as the connection takes (or at --rate).
//   --direction s2c: the client asks for a stream ("wsload stream SIZE KIND");
//     the server sends unmasked messages as fast as the connection takes them.
//   --idle: connections only open, hold, and ping every --ping-interval.
// Client frames are masked with a fresh key per frame from a fast PRNG
// (xorshift64*, seeded from std::random_device): masking copies from one
// payload template shared by all connections, so per-frame keys cost nothing.
// Every received message is checked: opcode, length, stamp (echoes in order)
// and every payload byte against the template.
//
// --tls: both ends speak TLS 1.3 only, TLS_AES_128_GCM_SHA256 with X25519
// (wsload_tls.h), so a proxy between them negotiates exactly that on both
// legs; the server sends no session tickets (no resumption). The client
// checks the certificate against --tls-ca for --tls-name (default: the
// target's host; a name is also sent as SNI, an IP address is not).
//
// Exit status: 0 on success; 1 when no connection could be established, a
// server cannot listen or the errors exceed --max-errors; 2 for bad arguments.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>

#include "bench/wsload.h"

namespace {

int usage_error(const std::string& what) {
  std::fprintf(stderr, "wsload: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using wsload::Direction;
  CLI::App app{"wsload: WebSocket load generator and echo/sink/stream server"};
  app.require_subcommand(1);

  std::string listen, mode = "echo";
  CLI::App* server = app.add_subcommand("server", "Answer WebSocket upgrades; echo or sink");
  server->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->required();
  server->add_option("--mode", mode, "echo (default): every message comes back; sink: discarded")
      ->check(CLI::IsMember({"echo", "sink"}));
  wsload::ServerOptions so;
  server->add_flag("--tls", so.tls, "Speak TLS 1.3 (with --tls-cert and --tls-key)");
  server->add_option("--tls-cert", so.tls_cert, "PEM certificate chain, leaf first");
  server->add_option("--tls-key", so.tls_key, "PEM private key of --tls-cert");

  wsload::ClientOptions co;
  std::string target, kind = "binary", direction = "both";
  CLI::App* client = app.add_subcommand("client", "Open connections and measure");
  client->add_option("--target", target, "HOST:PORT of the server, tunnel or proxy")->required();
  client->add_option("--connections", co.connections, "Connections (default 1)")
      ->check(CLI::Range(1u, 1000000u));
  client->add_option("--size", co.size, "Payload bytes per message (default 64)");
  client->add_option("--kind", kind, "text-ascii, text-utf8 or binary (default binary)")
      ->check(CLI::IsMember({"text-ascii", "text-utf8", "binary"}));
  client->add_option("--duration", co.duration_s, "Seconds measured, after the warmup (default 5)")
      ->check(CLI::PositiveNumber);
  client->add_option("--warmup", co.warmup_s, "Seconds of load before measuring (default 0)")
      ->check(CLI::NonNegativeNumber);
  client
      ->add_option("--rate", co.rate,
                   "Open loop: messages per second per connection, on a fixed schedule; "
                   "latency counts from the intended send time")
      ->check(CLI::PositiveNumber);
  client->add_flag("--closed-loop", co.closed_loop,
                   "Keep --inflight messages outstanding per connection (the default without "
                   "--rate)");
  client->add_option("--inflight", co.inflight, "Closed loop: messages in flight (default 1)")
      ->check(CLI::Range(1u, 65536u));
  client
      ->add_option("--direction", direction,
                   "both (default: echoed), c2s (the server discards) or s2c (the server "
                   "streams)")
      ->check(CLI::IsMember({"both", "c2s", "s2c"}));
  client->add_flag("--idle", co.idle, "Hold the connections open without messages");
  client
      ->add_option("--ping-interval", co.ping_interval_s,
                   "Send a ping on each connection every SEC seconds")
      ->check(CLI::PositiveNumber);
  client
      ->add_option("--connect-concurrency", co.connect_concurrency,
                   "Connects and handshakes in progress at once (default 256)")
      ->check(CLI::Range(1u, 100000u));
  client->add_option("--max-errors", co.max_errors,
                     "Exit 1 when more errors than this were counted (default 0)");
  client->add_flag("--json", co.json, "Print the report as one JSON object");
  client->add_flag("--tls", co.tls, "Speak TLS 1.3 to the target (wss://)");
  client->add_option("--tls-ca", co.tls_ca,
                     "PEM CA certificates the target's certificate must chain to (default: the "
                     "system store)");
  client->add_option("--tls-name", co.tls_name,
                     "Name sent as SNI and checked in the certificate (default: the target's "
                     "host; an IP address is checked, not sent)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (server->parsed()) {
    if (so.tls && (so.tls_cert.empty() || so.tls_key.empty()))
      return usage_error("--tls needs --tls-cert and --tls-key");
    if (!so.tls && !(so.tls_cert.empty() && so.tls_key.empty()))
      return usage_error("--tls-cert and --tls-key need --tls");
    const auto hp = wsload::parse_host_port(listen);
    if (!hp) return usage_error("--listen wants HOST:PORT, not '" + listen + "'");
    so.listen = *hp;
    so.sink = mode == "sink";
    return wsload::run_server(so);
  }

  const auto hp = wsload::parse_host_port(target);
  if (!hp || hp->port == 0) return usage_error("--target wants HOST:PORT, not '" + target + "'");
  co.target = *hp;
  co.kind = *wsload::parse_kind(kind);
  co.direction = direction == "c2s"   ? Direction::c2s
                 : direction == "s2c" ? Direction::s2c
                                      : Direction::both;
  if (co.rate > 0 && co.closed_loop)
    return usage_error("--rate and --closed-loop exclude each other");
  if (co.direction == Direction::both && co.rate <= 0) co.closed_loop = true;
  if (co.direction != Direction::both && co.closed_loop)
    return usage_error("--closed-loop needs echoes: --direction both");
  if (co.direction == Direction::s2c && co.rate > 0)
    return usage_error("--direction s2c streams as fast as the connection takes it: no --rate");
  if (!co.idle && co.size < wsload::stamp_size(co.kind))
    return usage_error("--size must be at least " + std::to_string(wsload::stamp_size(co.kind)) +
                       " for " + kind + " (the send-time stamp)");
  if (co.size > (uint64_t{1} << 31)) return usage_error("--size is at most 2 GiB");
  if (!co.tls && !(co.tls_ca.empty() && co.tls_name.empty()))
    return usage_error("--tls-ca and --tls-name need --tls");
  return wsload::run_client(co);
}
