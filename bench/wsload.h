// wsload: a WebSocket load generator (client) and its peer (server), for
// comparing a direct connection with a TCP tunnel and with wsinspect in
// between. See the usage text in wsload.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "bench/wsload_common.h"

namespace wsload {

struct ServerOptions {
  HostPort listen;
  bool sink = false;  // --mode sink: discard messages instead of echoing them
  // --tls: TLS with this certificate chain and key (wsload_tls.h).
  bool tls = false;
  std::string tls_cert;
  std::string tls_key;
};

// Runs until SIGINT or SIGTERM; returns the exit status.
int run_server(const ServerOptions& opts);

enum class Direction : uint8_t { both, c2s, s2c };

struct ClientOptions {
  HostPort target;
  uint32_t connections = 1;
  uint64_t size = 64;
  PayloadKind kind = PayloadKind::binary;
  double duration_s = 5;
  double warmup_s = 0;
  double rate = 0;  // messages per second per connection; 0: no schedule
  bool closed_loop = false;
  uint32_t inflight = 1;  // closed loop: messages outstanding per connection
  Direction direction = Direction::both;
  bool idle = false;
  double ping_interval_s = 0;          // 0: no pings
  uint32_t connect_concurrency = 256;  // connects and handshakes in progress at once
  uint64_t max_errors = 0;             // more errors than this: exit status 1
  bool json = false;
  // --tls: TLS, the server's certificate checked against --tls-ca (empty: the
  // system store) for --tls-name (empty: the target's host), also sent as SNI.
  bool tls = false;
  std::string tls_ca;
  std::string tls_name;
};

// Runs the whole benchmark and prints the report; returns the exit status.
int run_client(const ClientOptions& opts);

}  // namespace wsload
