// Session: one client connection and its upstream connection. It relays the
// bytes of both directions unchanged and in order, with bounded queues, while
// following the HTTP exchange and, after a 101, inspecting WebSocket frames.
//
// Ownership (libuv): the session owns its handles and is deleted by itself
// once every handle has been closed and every request has called back.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/stream_inspector.h"

namespace wsi {

class Server;

// How a connection (or one direction of it) ended, as the proxy observed it.
enum class EndCause : uint8_t {
  none,
  close_handshake,
  client_fin,
  server_fin,
  client_reset,
  server_reset,
  idle_timeout,
  handshake_timeout,
  proxy_shutdown,
  upstream_unreachable,
};
std::string_view end_cause_id(EndCause c);

class Session final : public InspectorSink {
 public:
  Session(Server& server, uint64_t id);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The client handle, initialised, for uv_accept.
  uv_stream_t* client_stream() { return reinterpret_cast<uv_stream_t*>(&client_.tcp); }
  // After a successful accept: log, resolve and connect the upstream.
  void start();
  // After a failed accept: close and free.
  void abort_before_start();
  // Proxy shutdown after the drain time: optionally send close 1001 to both
  // sides, then end the connection.
  void shut_down(bool close_frames);

  uint64_t id() const { return id_; }

  // InspectorSink (both directions).
  void on_frame(Direction dir, const FrameHeader& h) override;
  void on_violation(const Violation& v) override;
  void on_close(const CloseFrame& c) override;
  void on_message(const MessageInfo& m) override;
  void on_payload(Direction dir, const FrameHeader& h, const uint8_t* data, size_t n,
                  uint64_t at) override;

 private:
  struct Side {
    uv_tcp_t tcp;
    Session* session = nullptr;
    bool is_client = false;
    bool open = false;  // uv_tcp_init done, uv_close not yet called
    bool reading = false;
    bool paused = false;         // reading stopped because the other side is backed up
    bool eof = false;            // the peer sent FIN
    bool shutdown_sent = false;  // we sent FIN towards the peer
    uint64_t queued = 0;         // bytes waiting in uv_write towards this side
    uint64_t bytes_from = 0;     // bytes read from this side
  };
  struct WriteReq;

  // One request awaiting its response, in order.
  struct PendingRequest {
    std::string method;
    std::string path;
    bool websocket = false;  // attempts a WebSocket upgrade
    HandshakeRequest request;
    std::vector<Finding> findings;
    std::vector<std::pair<std::string, std::string>> headers;  // escaped, secrets redacted
  };

  // Last violation per direction, for linking a close to its cause.
  struct Flagged {
    Rule rule;
    uint64_t offset;
    uint64_t frame_index;
    uint64_t at_ms;
  };

  // Relay.
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_close_handle(uv_handle_t* h);
  void handle_read(Side& from, ssize_t nread, const uv_buf_t* buf);
  void forward(Side& from, Side& to, const char* data, size_t len);
  void start_reading(Side& s);
  void stop_reading(Side& s);
  void send_fin(Side& to);
  Side& other(Side& s) { return &s == &client_ ? upstream_ : client_; }
  // The inspector of the bytes a side sends (null before the upgrade).
  StreamInspector* inspector_of(const Side& s) const {
    return s.is_client ? client_insp_.get() : server_insp_.get();
  }
  void write_failed(Side& to);
  void end(EndCause cause, bool reset_client, bool reset_upstream);
  void close_side(Side& s, bool reset);
  void maybe_finish_after_eof();
  void release_ref();

  // Upstream connection.
  static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  static void on_connect(uv_connect_t* req, int status);
  void connect_next();
  void init_upstream_and_connect();
  void upstream_failed(const char* stage, int status, int http_status);
  void reply_and_close(int status, const std::string& body);

  // Timers.
  enum class TimerKind : uint8_t { none, failed_reply, connect, handshake, idle };
  struct Deadline {
    uint64_t at;
    TimerKind kind;
  };
  static constexpr uint64_t kFailedReplyLingerMs = 2000;  // after a 502/504, wait for EOF
  Deadline next_deadline() const;
  static void on_timer(uv_timer_t* t);
  void arm_timer();

  // HTTP and WebSocket tracking (session_http.cpp).
  void inspect_client(const uint8_t* data, size_t len);
  void inspect_server(const uint8_t* data, size_t len);
  void feed_request_bytes(std::span<const uint8_t> bytes);
  void on_request_head(const HttpHead& head);
  void on_response_head(const HttpHead& head);
  void switch_to_websocket(std::span<const uint8_t> first_server_bytes);
  void log_handshake(const PendingRequest& req, const HttpHead* response,
                     const Negotiated* negotiated, const std::vector<Finding>& response_findings);
  void log_http_error(Direction dir, const HttpError& e);

  // Reports (session_report.cpp).
  void log_conn_open();
  void log_conn_close();
  void log_synthesized_closes();
  void log_unanswered_requests();
  void log_http(const PendingRequest& req, uint16_t status);
  std::string describe_cause(EndCause cause) const;
  uint64_t now_ms() const;

  Server& server_;
  uint64_t id_;
  Side client_;
  Side upstream_;
  // The session's timer, allocated while a deadline applies: an upgraded
  // session with no idle timeout holds none.
  uv_timer_t* timer_ = nullptr;
  int refs_ = 0;  // open handles + requests in flight; the session is freed at 0
  bool ending_ = false;
  uint64_t started_ms_ = 0;
  uint64_t last_activity_ms_ = 0;
  std::string client_addr_;

  // Upstream connect: held only until the upstream is connected (or given up).
  struct Connecting {
    uv_getaddrinfo_t resolve_req;
    uv_connect_t connect_req;
    std::vector<sockaddr_storage> addrs;  // candidates, tried in order
    size_t next_addr = 0;
    int last_error = 0;
  };
  std::unique_ptr<Connecting> connecting_state_;
  bool resolving_ = false;
  bool connecting_ = false;
  bool reconnect_on_close_ = false;  // the upstream handle closes to try the next address
  bool upstream_ready_ = false;
  bool failed_reply_ = false;  // answering the client with 502/504
  uint64_t failed_at_ms_ = 0;

  // HTTP phase.
  enum class Phase : uint8_t { http, websocket, tunnel };
  Phase phase_ = Phase::http;
  std::unique_ptr<HttpParser> request_parser_;
  std::unique_ptr<HttpParser> response_parser_;
  bool request_opaque_ = false;   // the client's stream stopped parsing as HTTP
  bool response_opaque_ = false;  // the server's stream stopped parsing as HTTP
  bool first_response_seen_ = false;
  bool awaiting_upgrade_ = false;           // request parser stopped at an upgrade request
  std::vector<uint8_t> held_client_bytes_;  // client bytes after it, until the response
  std::vector<PendingRequest> requests_;    // in order; few at a time
  bool upgraded_ = false;

  // WebSocket phase.
  std::unique_ptr<StreamInspector> client_insp_;  // client-to-server
  std::unique_ptr<StreamInspector> server_insp_;  // server-to-client
  bool close_seen_[2] = {false, false};
  uint16_t close_code_[2] = {0, 0};   // the code each direction's close frame carried
  uint64_t close_frame_[2] = {0, 0};  // and its frame index
  bool proxy_sent_close_ = false;     // shutdown sent close 1001 to both sides
  // Evidence for linking closes to violations, allocated at the first one.
  // flagged[dir][0]: the last error; [1], [2], [3]: the first with close
  // code 1002, 1007, 1009.
  struct Evidence {
    std::optional<Flagged> flagged[2][4];
  };
  std::unique_ptr<Evidence> evidence_;
  std::unique_ptr<std::string[]> preview_;  // two buffers, with --preview

  EndCause end_cause_ = EndCause::none;
};

}  // namespace wsi
