// Server: the listening socket and the set of live sessions on one libuv loop.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "parser/conn/connection_inspector.h"
#include "proxy/config.h"
#include "proxy/event_log.h"
#include "proxy/net/cert_authority.h"
#include "proxy/net/tcp_transport.h"
#include "proxy/net/tls_context.h"
#include "proxy/report/report_sink.h"
#include "proxy/taps/capture.h"

namespace wsi {

class Session;

class Server {
 public:
  // Events go to `log` in its format, and to the counters of `stopped`.
  Server(uv_loop_t* loop, const ProxyConfig& cfg, EventLog& log);
  ~Server();

  // Where sessions connect: host (name or address) and port.
  void set_upstream(std::string host, uint16_t port, bool tls = false);
  // TLS on the listener (clients connect with wss://) and towards the
  // upstream; either may be null. `sni` is sent to the upstream (empty: none),
  // `verify_host` is what its certificate must name.
  struct UpstreamTls {
    std::unique_ptr<TlsContext> ctx;
    std::string sni;
    std::string verify_host;
  };
  void set_tls(std::unique_ptr<TlsContext> listener, UpstreamTls upstream);
  // Forward mode: the CA intercepted TLS is signed with (null: TLS after
  // CONNECT is tunnelled), its listener-side context, and the context
  // towards the targets.
  struct ForwardTls {
    std::unique_ptr<CertAuthority> ca;
    std::unique_ptr<TlsContext> intercept;
    std::unique_ptr<TlsContext> upstream;
  };
  void set_forward_tls(ForwardTls f) { forward_tls_ = std::move(f); }
  const ForwardTls& forward_tls() const { return forward_tls_; }
  // With a URL upstream: the Host value the first request of each connection gets.
  void set_host_rewrite(std::string authority) {
    host_rewrite_ = authority;
    conn_config_.forwarded_host = std::move(authority);
  }
  // Keyed digests of frames, messages and keys (--log-digests, bracket mode).
  void set_digests(const DigestKey* key) { conn_config_.digests = key; }
  // Another sink every event also goes to (bracket mode's matcher).
  void add_tap(ReportSink& tap) {
    taps_.push_back(&tap);
    report_.add(tap);
  }
  // Connection ids drawn from a counter shared with another server (bracket
  // mode: one log, one numbering).
  void share_ids(uint64_t* next) { next_id_ptr_ = next; }
  // The listening event's role ("bracket" for bracket mode's far side).
  void set_role(std::string role) { role_ = std::move(role); }
  // The `listening` event, once listen() succeeded.
  void report_listening(std::string_view upstream_name, const std::vector<std::string>& notes = {});
  // Binds and listens on cfg.listen; logs the `listening` event. False with
  // `error` set when the address cannot be used.
  bool listen(std::string& error);
  // Stops accepting; sessions get drain_timeout_ms to finish, then are ended.
  void begin_shutdown(const char* signal_name);
  // Ends every session now.
  void force_shutdown();
  bool shutting_down() const { return shutting_down_; }
  size_t open_sessions() const { return sessions_.size(); }
  // Every session, refused ones included (read-only: the admin endpoint).
  const std::unordered_set<Session*>& sessions() const { return sessions_; }
  std::string bound_address() const { return bound_; }

  // For sessions.
  uv_loop_t* loop() const { return loop_; }
  const ProxyConfig& config() const { return cfg_; }
  // Every event goes here: the counters, then the log.
  ReportSink& report() { return report_; }
  const ConnConfig& conn_config() const { return conn_config_; }
  const ProxyTotals& totals() const { return counts_.totals(); }
  const std::string& upstream_host() const { return upstream_host_; }
  uint16_t upstream_port() const { return upstream_port_; }
  const std::string& upstream_label() const { return upstream_label_; }
  const TlsContext* listener_tls() const { return listener_tls_.get(); }
  const UpstreamTls& upstream_tls() const { return upstream_tls_; }
  const std::string& host_rewrite() const { return host_rewrite_; }
  // --capture: the file every session's legs are written to (null: none).
  void set_capture(CaptureFile* capture) { capture_ = capture; }
  CaptureFile* capture() const { return capture_; }
  // The loop's single read buffer: every read lands here and is forwarded or
  // copied before the read callback returns.
  ReadBuffer read_buffer() { return {read_buf_.get(), kReadBufferSize}; }
  static constexpr size_t kReadBufferSize = 1024 * 1024;
  void session_done(Session* s);
  // The effective limit on concurrent connections (at most --max-connections;
  // lower when the descriptor limit is).
  void set_connection_limit(uint64_t n) { max_connections_ = n; }
  uint64_t connection_limit() const { return max_connections_; }
  // Refusals answered with 503 at once; beyond, refused clients are closed
  // without an answer, so refusals hold at most this many descriptors.
  static constexpr size_t kMaxRefusing = 64;
  static constexpr uint32_t kRefusalLinesPerSecond = 10;
  static constexpr uint64_t kRefusalSummaryMs = 10000;
  // Called once when shutting down and the last session has ended.
  std::function<void()> on_stopped;
  // On the log's flush timer: refills the log budget from the loop's clock,
  // reports what it dropped (at most once a second), writes buffered lines.
  void log_tick();

 private:
  void make_format_sink();
  static void on_connection(uv_stream_t* server, int status);
  static void on_drain_timer(uv_timer_t* t);
  // After the drain time (with or without close 1001 frames), or at once.
  enum class Ending : uint8_t { drain, close_frames, now };
  void end_sessions(Ending how);
  void maybe_stop();
  void refuse(Session* s);
  void arm_refusal_summary();
  void report_log_dropped(bool final);

  uv_loop_t* loop_;
  const ProxyConfig& cfg_;
  EventLog& log_;
  uv_tcp_t listener_;
  bool listening_ = false;
  uv_timer_t drain_timer_;
  bool drain_timer_open_ = false;
  bool shutting_down_ = false;
  bool stopped_ = false;
  std::unique_ptr<char[]> read_buf_;
  std::unordered_set<Session*> sessions_;
  uint64_t max_connections_ = 0;
  std::unordered_set<Session*> refused_;  // sessions answering 503
  size_t refusing_ = 0;
  uint64_t refusal_second_ = 0;
  uint32_t refusal_lines_ = 0;
  uint64_t refusals_unlogged_ = 0;
  uv_timer_t refusal_timer_;
  bool refusal_timer_open_ = false;
  uint64_t next_id_ = 1;
  uint64_t* next_id_ptr_ = &next_id_;
  std::vector<ReportSink*> taps_;
  std::string role_;
  std::string upstream_host_;
  uint16_t upstream_port_ = 0;
  std::string upstream_label_;
  std::string bound_;
  std::unique_ptr<TlsContext> listener_tls_;
  UpstreamTls upstream_tls_;
  ForwardTls forward_tls_;
  std::string host_rewrite_;
  CaptureFile* capture_ = nullptr;
  ConnConfig conn_config_;
  CountingSink counts_;
  std::unique_ptr<ReportSink> format_;
  FanOutSink report_;
};

// How many connections the descriptor limit allows: the soft limit is first
// raised to the hard one; each connection costs `per_connection`
// descriptors, and kDescriptorReserve are kept for the loop, the listener,
// the log files and refusals in flight. At most `wanted`. `note` says what
// was done, for the listening event.
inline constexpr uint64_t kDescriptorReserve = 32 + Server::kMaxRefusing;
uint64_t descriptor_connection_limit(uint64_t wanted, unsigned per_connection, std::string& note);

// "127.0.0.1:8080" or "[::1]:8080" from a socket address.
std::string format_address(const struct sockaddr* sa);

}  // namespace wsi
