#include "proxy/echo_server.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/mask.h"
#include "parser/stream_inspector.h"
#include "proxy/frame_writer.h"

namespace wsi {

class EchoConnection final : public TransportHandler, public InspectorSink {
 public:
  explicit EchoConnection(EchoServer& server)
      : server_(server), t_(server.loop(), server.read_buffer(), *this) {
    t_.init();
  }
  uv_stream_t* stream() { return t_.stream(); }

  void start() {
    t_.set_nodelay();
    t_.start_reading();
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    t_.close(false);
  }

  // TransportHandler.
  void on_read(Transport&, std::span<const uint8_t> bytes) override {
    if (shut_) return;  // answered and ended: read on only to see the client's end
    handle(bytes);
    flush();
  }
  void on_end(Transport&, StreamEnd, int) override { close(); }
  void on_write_error(Transport&, int) override { close(); }
  void on_written(Transport&, uint32_t) override {
    if (!closing_ && t_.queued() <= kLowWatermark) t_.start_reading();
  }
  void on_closed(Transport&) override { server_.connection_done(this); }

  // InspectorSink: echo as frames arrive.
  void on_frame(Direction, const FrameHeader& h) override {
    if (failed_) return;
    if (h.opcode == opcode::close || h.opcode == opcode::pong) return;  // answered elsewhere
    const uint8_t op = h.opcode == opcode::ping ? opcode::pong : h.opcode;
    out_ += frame_header(op, h.length, h.fin);
    out_remaining_ = h.length;
  }
  void on_payload(Direction, const FrameHeader& h, const uint8_t* data, size_t n,
                  uint64_t at) override {
    if (out_remaining_ == 0 || h.opcode == opcode::close || h.opcode == opcode::pong) return;
    const size_t old = out_.size();
    out_.resize(old + n);
    if (h.masked)
      unmask_copy(reinterpret_cast<uint8_t*>(out_.data() + old), data, n, h.mask, at);
    else
      std::memcpy(out_.data() + old, data, n);
    out_remaining_ -= n;
    // A violation inside this frame: its close goes after the frame's last byte.
    if (out_remaining_ == 0 && close_pending_) send_close(close_code_, close_reason_);
  }
  void on_violation(const Violation& v) override {
    const RuleInfo& info = rule_info(v.rule);
    if (failed_ || info.severity != Severity::error) return;
    failed_ = true;
    const uint16_t code =
        info.close_code >= 1000 && info.close_code != 1006 ? info.close_code : 1002;
    close_code_ = code;
    close_reason_ = info.id;
    // Never inside a frame already begun on the wire: finish echoing it first.
    if (out_remaining_ == 0)
      send_close(code, close_reason_);
    else
      close_pending_ = true;
  }
  void on_close(const CloseFrame& c) override {
    if (failed_) return;
    failed_ = true;  // nothing more is echoed
    if (!c.valid())
      send_close(1002, "invalid close frame");
    else if (c.has_code)
      send_close(c.code, std::string(c.reason.begin(), c.reason.end()));
    else
      send_close(0, "");
  }

 private:
  static constexpr uint64_t kHighWatermark = 1 << 20;
  static constexpr uint64_t kLowWatermark = 256 << 10;

  void handle(std::span<const uint8_t> bytes) {
    if (inspector_) {
      inspector_->feed(bytes);
      return;
    }
    for (;;) {
      const HttpFeedResult r = parser_.feed(bytes);
      bytes = bytes.subspan(r.consumed);
      if (r.event == HttpEvent::need_more) return;
      if (r.event == HttpEvent::error) {
        out_ += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        shut_after_flush_ = true;
        return;
      }
      if (r.event == HttpEvent::head_complete) {
        std::vector<Finding> findings;
        request_ = analyze_request(parser_.head(), findings);
        findings_ = std::move(findings);
      }
      if (r.event == HttpEvent::message_complete) answer_plain();
      if (r.event == HttpEvent::upgrade) {
        if (!upgrade()) return;
        if (!bytes.empty()) inspector_->feed(bytes);
        return;
      }
    }
  }

  void answer_plain() {
    static const std::string body =
        "wsinspect echo server: open a WebSocket connection to this address and every message "
        "comes back.\n";
    out_ += "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  bool upgrade() {
    for (const Finding& f : findings_) {
      const RuleInfo& info = rule_info(f.rule);
      if (info.severity != Severity::error) continue;
      const std::string body = "wsinspect echo server: " + std::string(info.id) + "\n";
      std::string status = info.http_status == 426 ? "426 Upgrade Required" : "400 Bad Request";
      std::string extra = info.http_status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "";
      out_ += "HTTP/1.1 " + status + "\r\n" + extra +
              "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
              body;
      shut_after_flush_ = true;
      return false;
    }
    if (!request_.is_websocket_upgrade) {
      out_ += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      shut_after_flush_ = true;
      return false;
    }
    out_ +=
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        websocket_accept(request_.key) + "\r\n\r\n";
    InspectorConfig cfg;
    cfg.sender = Sender::client;
    cfg.want_payload = true;
    inspector_ = std::make_unique<StreamInspector>(cfg, *this);
    return true;
  }

  void send_close(uint16_t code, const std::string& reason) {
    close_pending_ = false;
    out_ += frame(opcode::close, code ? close_payload(code, reason) : std::string());
    shut_after_flush_ = true;
  }

  // One write per read: everything this read produced, through the queue.
  void flush() {
    if (closing_) return;
    if (!out_.empty() && !shut_) {
      if (!t_.write({reinterpret_cast<const uint8_t*>(out_.data()), out_.size()})) {
        close();
        return;
      }
    }
    out_.clear();
    if (shut_after_flush_ && !shut_) {
      shut_ = true;
      t_.shutdown();
    }
    // A client that sends faster than it reads waits for its echoes to drain.
    if (t_.queued() > kHighWatermark) t_.stop_reading();
  }

  EchoServer& server_;
  TcpTransport t_;
  bool closing_ = false;
  bool shut_ = false;
  bool shut_after_flush_ = false;
  HttpParser parser_{HttpMode::request};
  HandshakeRequest request_;
  std::vector<Finding> findings_;
  std::unique_ptr<StreamInspector> inspector_;
  std::string out_;             // produced by the current read, written by flush()
  uint64_t out_remaining_ = 0;  // payload bytes of the frame being echoed still to come
  bool failed_ = false;
  bool close_pending_ = false;
  uint16_t close_code_ = 0;
  std::string close_reason_;
};

EchoServer::EchoServer(uv_loop_t* loop) : loop_(loop), read_buf_(new char[kReadBufferSize]) {}

EchoServer::~EchoServer() = default;

bool EchoServer::listen(std::string& error) {
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  open_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection);
  if (rc != 0) {
    error = std::string("built-in echo server: ") + uv_strerror(rc);
    return false;
  }
  sockaddr_in bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.sin_port);
  return true;
}

void EchoServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<EchoServer*>(listener->data);
  if (status < 0) return;
  auto* c = new EchoConnection(*self);
  self->conns_.insert(c);
  if (uv_accept(listener, c->stream()) != 0) {
    c->close();
    return;
  }
  c->start();
}

void EchoServer::connection_done(EchoConnection* c) {
  conns_.erase(c);
  delete c;
}

void EchoServer::close() {
  if (open_) {
    open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  std::vector<EchoConnection*> all(conns_.begin(), conns_.end());
  for (EchoConnection* c : all) c->close();
}

}  // namespace wsi
