// What a wsload client run measured, and how it is printed: a few lines for
// people, or one JSON object (--json).
#pragma once

#include <cstdint>
#include <string>

#include "bench/histogram.h"
#include "bench/wsload.h"

namespace wsload {

struct ClientStats {
  // Opening: every connection's TCP connect and upgrade, before the load starts.
  uint64_t established = 0;
  double connect_phase_s = 0;  // first connect to the last connection settled
  LatencyHistogram handshake;  // connect start to the 101
  std::string tls;             // --tls: "version cipher group" of the first connection

  // The measurement window (after the warmup): what was sent and received in it.
  double window_s = 0;
  uint64_t messages_sent = 0;
  uint64_t messages_received = 0;
  uint64_t bytes_sent = 0;  // payload bytes of data messages
  uint64_t bytes_received = 0;
  uint64_t pings_sent = 0;
  uint64_t pongs_received = 0;
  LatencyHistogram latency;     // see latency_kind() in the report
  LatencyHistogram send_lag;    // open loop: actual minus intended send time
  LatencyHistogram ping_rtt;    // ping sent (intended time) to pong received
  uint64_t backlog_at_end = 0;  // open loop: messages due but never sent (backpressure)

  // Errors, counted over the whole run.
  uint64_t connect_failures = 0;    // TCP connect refused, reset or timed out
  uint64_t handshake_failures = 0;  // no 101, a wrong Sec-WebSocket-Accept, or a timeout
  uint64_t unexpected_closes = 0;   // EOF, reset or a close frame before we closed
  uint64_t mismatched = 0;          // a message not as sent: length, opcode, stamp or bytes
  uint64_t protocol_errors = 0;     // a masked or malformed frame from the server
  uint64_t lost = 0;                // echoes still missing when the run ended
  uint64_t close_timeouts = 0;      // no close reply and end of stream in time
  std::string first_error;          // the first error's description

  uint64_t errors() const {
    return connect_failures + handshake_failures + unexpected_closes + mismatched +
           protocol_errors + lost + close_timeouts;
  }
  void error(uint64_t ClientStats::*counter, std::string what) {
    ++(this->*counter);
    if (first_error.empty()) first_error = std::move(what);
  }
};

// The scenario's name: open-loop, closed-loop, c2s-flood, c2s-paced, s2c-stream or idle.
std::string scenario_name(const ClientOptions& o);

void print_report(const ClientOptions& o, const ClientStats& s, bool precise_pacer);

}  // namespace wsload
