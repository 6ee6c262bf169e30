#include "bench/wsload_report.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace wsload {

namespace {

std::string target_text(const HostPort& hp) {
  const bool v6 = hp.host.find(':') != std::string::npos;
  return (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

double us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

nlohmann::json percentiles(const LatencyHistogram& h) {
  return {{"samples", h.count()},
          {"min", us(h.min())},
          {"mean", h.mean() / 1000.0},
          {"p50", us(h.percentile(50))},
          {"p90", us(h.percentile(90))},
          {"p99", us(h.percentile(99))},
          {"p99_9", us(h.percentile(99.9))},
          {"max", us(h.max())}};
}

std::string latency_kind(const ClientOptions& o) {
  if (o.idle) return "none";
  switch (o.direction) {
    case Direction::both:
      return o.closed_loop ? "round trip: send to echo received"
                           : "round trip: intended send time to echo received";
    case Direction::s2c:
      return "one way: server send to client receive (same host clock)";
    case Direction::c2s:
      return "none";
  }
  return "none";
}

void print_line(const char* name, const LatencyHistogram& h) {
  if (h.count() == 0) return;
  std::printf("%-10s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us  (%llu samples)\n", name,
              us(h.percentile(50)), us(h.percentile(90)), us(h.percentile(99)),
              us(h.percentile(99.9)), us(h.max()), static_cast<unsigned long long>(h.count()));
}

}  // namespace

std::string scenario_name(const ClientOptions& o) {
  if (o.idle) return "idle";
  switch (o.direction) {
    case Direction::both:
      return o.closed_loop ? "closed-loop" : "open-loop";
    case Direction::c2s:
      return o.rate > 0 ? "c2s-paced" : "c2s-flood";
    case Direction::s2c:
      return "s2c-stream";
  }
  return "?";
}

void print_report(const ClientOptions& o, const ClientStats& s, bool precise_pacer) {
  const double window = s.window_s > 0 ? s.window_s : 1;
  const uint64_t completed = o.direction == Direction::c2s ? s.messages_sent : s.messages_received;
  const double msgs_per_sec = static_cast<double>(completed) / window;
  const double mb_per_sec = static_cast<double>(s.bytes_sent + s.bytes_received) / window / 1e6;
  const double handshakes_per_sec =
      s.connect_phase_s > 0 ? static_cast<double>(s.established) / s.connect_phase_s : 0;
  const char* direction = o.direction == Direction::both  ? "both"
                          : o.direction == Direction::c2s ? "c2s"
                                                          : "s2c";
  if (o.json) {
    nlohmann::json j = {
        {"tool", "wsload"},
        {"target", target_text(o.target)},
        {"scenario", scenario_name(o)},
        {"direction", direction},
        {"kind", kind_name(o.kind)},
        {"size", o.size},
        {"connections", o.connections},
        {"established", s.established},
        {"rate_per_connection", o.rate},
        {"inflight", o.inflight},
        {"warmup_s", o.warmup_s},
        {"duration_s", o.duration_s},
        {"window_s", s.window_s},
        {"connect_phase_s", s.connect_phase_s},
        {"handshakes_per_sec", handshakes_per_sec},
        {"handshake_us", percentiles(s.handshake)},
        {"tls", s.tls},
        {"messages_sent", s.messages_sent},
        {"messages_received", s.messages_received},
        {"messages_per_sec", msgs_per_sec},
        {"bytes_sent", s.bytes_sent},
        {"bytes_received", s.bytes_received},
        {"mb_per_sec", mb_per_sec},
        {"latency_kind", latency_kind(o)},
        {"latency_us", percentiles(s.latency)},
        {"send_lag_us", percentiles(s.send_lag)},
        {"precise_pacer", precise_pacer},
        {"backlog_at_end", s.backlog_at_end},
        {"pings_sent", s.pings_sent},
        {"pongs_received", s.pongs_received},
        {"ping_rtt_us", percentiles(s.ping_rtt)},
        {"errors",
         {{"total", s.errors()},
          {"connect_failures", s.connect_failures},
          {"handshake_failures", s.handshake_failures},
          {"unexpected_closes", s.unexpected_closes},
          {"mismatched", s.mismatched},
          {"protocol_errors", s.protocol_errors},
          {"lost", s.lost},
          {"close_timeouts", s.close_timeouts}}},
        {"first_error", s.first_error},
    };
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  if (o.idle) {
    std::printf("wsload idle -> %s: %u connections (%llu established)\n",
                target_text(o.target).c_str(), o.connections,
                static_cast<unsigned long long>(s.established));
  } else {
    std::printf("wsload %s -> %s: %s, %llu B %s, %u connections (%llu established)\n",
                scenario_name(o).c_str(), target_text(o.target).c_str(), direction,
                static_cast<unsigned long long>(o.size), std::string(kind_name(o.kind)).c_str(),
                o.connections, static_cast<unsigned long long>(s.established));
  }
  std::printf("handshakes %.0f/s (%.3f s for all)\n", handshakes_per_sec, s.connect_phase_s);
  if (!s.tls.empty()) std::printf("tls %s\n", s.tls.c_str());
  print_line("handshake", s.handshake);
  std::printf(
      "window %.2f s: %.0f messages/s, %.2f MB/s (payload both ways), %llu sent, %llu "
      "received\n",
      s.window_s, msgs_per_sec, mb_per_sec, static_cast<unsigned long long>(s.messages_sent),
      static_cast<unsigned long long>(s.messages_received));
  if (s.latency.count()) std::printf("latency: %s\n", latency_kind(o).c_str());
  print_line("latency", s.latency);
  print_line("send lag", s.send_lag);
  if (s.pings_sent)
    std::printf("pings %llu sent, %llu pongs\n", static_cast<unsigned long long>(s.pings_sent),
                static_cast<unsigned long long>(s.pongs_received));
  print_line("ping rtt", s.ping_rtt);
  if (s.backlog_at_end)
    std::printf("backlog: %llu messages were due but not sent (the connection pushed back)\n",
                static_cast<unsigned long long>(s.backlog_at_end));
  std::printf(
      "errors %llu: connect %llu, handshake %llu, unexpected close %llu, mismatched %llu, "
      "protocol %llu, lost %llu, close timeout %llu\n",
      static_cast<unsigned long long>(s.errors()),
      static_cast<unsigned long long>(s.connect_failures),
      static_cast<unsigned long long>(s.handshake_failures),
      static_cast<unsigned long long>(s.unexpected_closes),
      static_cast<unsigned long long>(s.mismatched),
      static_cast<unsigned long long>(s.protocol_errors), static_cast<unsigned long long>(s.lost),
      static_cast<unsigned long long>(s.close_timeouts));
  if (!s.first_error.empty()) std::printf("first error: %s\n", s.first_error.c_str());
}

}  // namespace wsload
