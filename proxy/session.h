// Session: one client connection and its upstream connection, relayed over
// two transports. It moves the bytes of both directions unchanged and in
// order with bounded queues (backpressure), passes half-closes and resets on,
// keeps the timers, and feeds everything it relays to the connection core
// (parser/conn), which does all the inspecting and reporting.
//
// Ownership (libuv): the session owns its transports and timer and is
// deleted by the server once every one of them has closed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parser/conn/connection_inspector.h"
#include "proxy/forward.h"
#include "proxy/host_rewrite.h"
#include "proxy/net/tcp_transport.h"
#include "proxy/net/tls_transport.h"
#include "proxy/taps/capture.h"

namespace wsi {

class Server;

class Session final : public TransportHandler {
 public:
  Session(Server& server, uint64_t id);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The client handle, initialised, for uv_accept.
  uv_stream_t* client_stream() { return client_tcp_.stream(); }
  // After a successful accept: log, resolve and connect the upstream.
  void start();
  // After a failed accept: close and free.
  void abort_before_start();
  // Over the connection limit: 503 with a one-line body (on a TLS listener,
  // a close without a handshake), then close. No connection events follow.
  void refuse(uint64_t limit);
  // Proxy shutdown after the drain time: optionally send close 1001 to each
  // endpoint whose direction is between frames, then end the connection once
  // what is queued has been written (bounded by kLingerMs).
  void shut_down(bool close_frames);
  // A second signal: end the connection now.
  void force_end();

  uint64_t id() const { return id_; }
  // Read-only views for the admin endpoint's /connections.
  const ConnectionInspector& core() const { return core_; }
  bool refused() const { return refused_; }
  bool upstream_ready() const { return upstream_ready_; }
  bool ending() const { return ending_ || lingering_; }

  // TransportHandler (both legs).
  void on_connected(Transport& t, int status) override;
  void on_read(Transport& t, std::span<const uint8_t> bytes) override;
  void on_end(Transport& t, StreamEnd how, int error) override;
  void on_written(Transport& t, uint32_t mark) override;
  void on_write_error(Transport& t, int error) override;
  void on_closed(Transport& t) override;
  size_t read_limit(const Transport& t) const override;

  // How long queued bytes may take to drain before a reset is passed on or a
  // shutdown ends the connection.
  static constexpr uint64_t kLingerMs = 2000;

 private:
  // Per leg: what the session knows beyond the transport.
  struct Leg {
    bool eof = false;                // the peer ended its stream
    bool paused = false;             // reading stopped: the other leg is backed up
    bool reset_after_drain = false;  // pass a reset on once the queue is written
  };
  static constexpr uint32_t kMarkOwnClose = 1;  // a close frame of the proxy's own

  bool is_client(const Transport& t) const { return &t == client_; }
  Transport& other(const Transport& t) { return is_client(t) ? *upstream_ : *client_; }
  Leg& leg(const Transport& t) { return is_client(t) ? client_leg_ : upstream_leg_; }
  // The direction of the bytes `t`'s peer sends.
  Direction from_dir(const Transport& t) const {
    return is_client(t) ? Direction::client_to_server : Direction::server_to_client;
  }
  void update_reading(Transport& t);
  // --capture: taps over both legs when this client is to be captured.
  // `peer` is the client's address.
  void start_capture(CaptureFile& file, const sockaddr* peer);
  // Who a new TLS layer (or TCP) reports to: the leg's tap, or the session.
  TransportHandler& client_handler() {
    return client_tap_ ? static_cast<TransportHandler&>(*client_tap_) : *this;
  }
  TransportHandler& upstream_handler() {
    return upstream_tap_ ? static_cast<TransportHandler&>(*upstream_tap_) : *this;
  }
  void client_tls_done(int status);
  // Forwards client bytes, through the Host rewrite while it applies.
  bool forward_client(std::span<const uint8_t> bytes);
  void report_tls_end(Transport& t);
  void report_tls_stream_failure(Transport& t);
  void write_failed(Transport& to);
  void end(EndCause cause, bool reset_client, bool reset_upstream);
  void maybe_finish();
  void release_ref();
  uint64_t now_ms() const;

  // Upstream connection.
  void connect_upstream(const std::string& host, uint16_t port);
  // Forward mode, before the tunnel or request is set up.
  void on_forward_bytes(std::span<const uint8_t> bytes);
  void forward_connected();
  void start_tunnel(std::span<const uint8_t> first);
  void forward_refuse(int status, std::string_view why, std::string_view method = {},
                      std::string_view target = {});
  static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  void connect_next();
  void upstream_failed(const char* stage, int status, int http_status);
  void upstream_failed(const char* stage, std::string_view error, int http_status,
                       EndCause cause = EndCause::upstream_unreachable);
  void reply_and_close(int status, std::string_view body, EndCause cause);
  void note_http_wait();
  void head_timed_out();

  // Timers.
  enum class TimerKind : uint8_t {
    none,
    failed_reply,
    connect,
    tls_handshake,
    upstream_tls_handshake,
    handshake,
    http_inactivity,
    idle,
    linger
  };
  struct Deadline {
    uint64_t at;
    TimerKind kind;
  };
  static constexpr uint64_t kFailedReplyLingerMs = 2000;  // after a 502/504, wait for EOF
  Deadline next_deadline() const;
  static void on_timer(uv_timer_t* t);
  static void on_timer_closed(uv_handle_t* h);
  void arm_timer();

  Server& server_;
  uint64_t id_;
  TcpTransport client_tcp_;
  TcpTransport upstream_tcp_;
  // With TLS on a leg, its TLS layer over the TCP transport.
  std::unique_ptr<TlsTransport> client_tls_;
  std::unique_ptr<TlsTransport> upstream_tls_;
  // With --capture, a tap over each leg (over its TLS layer, if any).
  std::unique_ptr<CaptureConn> capture_;
  std::unique_ptr<CaptureTap> client_tap_;
  std::unique_ptr<CaptureTap> upstream_tap_;
  // What the relay reads and writes: the tap, the TLS layer, or TCP itself.
  Transport* client_;
  Transport* upstream_;
  std::unique_ptr<FirstHeadRewriter> host_rewrite_;
  Leg client_leg_;
  Leg upstream_leg_;
  ConnectionInspector core_;
  // The session's timer, allocated while a deadline applies.
  uv_timer_t* timer_ = nullptr;
  int refs_ = 0;  // open transports, timer, resolver; the session is freed at 0
  bool ending_ = false;
  uint64_t started_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  HttpWait http_wait_ = HttpWait::request_head;
  uint64_t http_wait_since_ms_ = 0;
  bool client_spoke_ = false;  // the client sent at least one byte
  bool refused_ = false;       // over the limit: no core, no events
  EndCause failed_cause_ = EndCause::upstream_unreachable;

  // Upstream connect: held only until the upstream is connected (or given up).
  struct Connecting {
    uv_getaddrinfo_t resolve_req;
    std::vector<sockaddr_storage> addrs;  // candidates, tried in order
    size_t next_addr = 0;
    int last_error = 0;
  };
  std::unique_ptr<Connecting> connecting_state_;
  // Forward mode: where the session is in the client's proxy request.
  enum class Forward : uint8_t {
    off,         // reverse proxy
    request,     // reading the proxy request head
    connecting,  // connecting to its target
    tunnel,      // 200 sent after CONNECT: the client's first tunnel bytes decide
    done,        // relaying
  };
  Forward forward_ = Forward::off;
  struct ForwardState {
    std::string buf;  // the head, then bytes that followed it
    ProxyRequest request;
  };
  std::unique_ptr<ForwardState> forward_state_;
  bool resolving_ = false;
  bool connecting_ = false;
  bool reconnect_on_close_ = false;  // the upstream handle closes to try the next address
  bool upstream_ready_ = false;
  bool failed_reply_ = false;  // answering the client with 502/504
  uint64_t failed_at_ms_ = 0;
  uint64_t upstream_tls_started_ms_ = 0;  // 0: no upstream TLS handshake under way

  // Ending once queues drain: a reset to pass on, or a shutdown.
  bool lingering_ = false;
  uint64_t linger_at_ms_ = 0;
  EndCause linger_cause_ = EndCause::none;
};

}  // namespace wsi
