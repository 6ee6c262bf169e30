#include "proxy/echo_server.h"

#include <memory>
#include <string>
#include <vector>

#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/mask.h"
#include "parser/stream_inspector.h"
#include "proxy/frame_writer.h"

namespace wsi {

class EchoConnection final : public InspectorSink {
 public:
  EchoConnection(EchoServer& server) : server_(server) {
    uv_tcp_init(server.loop(), &tcp_);
    tcp_.data = this;
  }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void start() {
    uv_tcp_nodelay(&tcp_, 1);
    uv_read_start(stream(), on_alloc, on_read);
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
      auto* c = static_cast<EchoConnection*>(h->data);
      c->server_.connection_done(c);
    });
  }

  // InspectorSink: echo as frames arrive.
  void on_frame(Direction, const FrameHeader& h) override {
    flush_pending();
    if (failed_) return;
    if (h.opcode == opcode::close || h.opcode == opcode::pong) return;  // answered elsewhere
    const uint8_t op = h.opcode == opcode::ping ? opcode::pong : h.opcode;
    pending_ = frame_header(op, h.length, h.fin);
    have_pending_ = true;
  }
  void on_payload(Direction, const FrameHeader& h, const uint8_t* data, size_t n,
                  uint64_t at) override {
    if (failed_ || h.opcode == opcode::close || h.opcode == opcode::pong) return;
    flush_pending();
    std::string out(n, '\0');
    if (h.masked)
      unmask_copy(reinterpret_cast<uint8_t*>(out.data()), data, n, h.mask, at);
    else
      out.assign(reinterpret_cast<const char*>(data), n);
    write(std::move(out));
  }
  void on_violation(const Violation& v) override {
    const RuleInfo& info = rule_info(v.rule);
    if (failed_ || info.severity != Severity::error) return;
    failed_ = true;
    have_pending_ = false;
    const uint16_t code =
        info.close_code >= 1000 && info.close_code != 1006 ? info.close_code : 1002;
    send_close(code, std::string(info.id));
  }
  void on_close(const CloseFrame& c) override {
    if (failed_) return;
    flush_pending();
    failed_ = true;  // nothing more is echoed
    if (!c.valid())
      send_close(1002, "invalid close frame");
    else if (c.has_code)
      send_close(c.code, std::string(c.reason.begin(), c.reason.end()));
    else
      send_close(0, "");
  }

 private:
  static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    static thread_local char storage[64 * 1024];
    buf->base = storage;
    buf->len = sizeof storage;
  }
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<EchoConnection*>(s->data);
    if (nread < 0) {
      c->close();
      return;
    }
    c->handle({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
  }

  void handle(std::span<const uint8_t> bytes) {
    if (inspector_) {
      inspector_->feed(bytes);
      flush_pending();
      return;
    }
    for (;;) {
      const HttpFeedResult r = parser_.feed(bytes);
      bytes = bytes.subspan(r.consumed);
      if (r.event == HttpEvent::need_more) return;
      if (r.event == HttpEvent::error) {
        write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        shutdown();
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
        if (!bytes.empty()) {
          inspector_->feed(bytes);
          flush_pending();
        }
        return;
      }
    }
  }

  void answer_plain() {
    static const std::string body =
        "wsinspect echo server: open a WebSocket connection to this address and every message "
        "comes back.\n";
    write("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  bool upgrade() {
    for (const Finding& f : findings_) {
      const RuleInfo& info = rule_info(f.rule);
      if (info.severity != Severity::error) continue;
      const std::string body = "wsinspect echo server: " + std::string(info.id) + "\n";
      std::string status = info.http_status == 426 ? "426 Upgrade Required" : "400 Bad Request";
      std::string extra = info.http_status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "";
      write("HTTP/1.1 " + status + "\r\n" + extra + "Content-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
      shutdown();
      return false;
    }
    if (!request_.is_websocket_upgrade) {
      write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      shutdown();
      return false;
    }
    write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        websocket_accept(request_.key) + "\r\n\r\n");
    InspectorConfig cfg;
    cfg.sender = Sender::client;
    cfg.want_payload = true;
    inspector_ = std::make_unique<StreamInspector>(cfg, *this);
    return true;
  }

  void send_close(uint16_t code, const std::string& reason) {
    write(frame(opcode::close, code ? close_payload(code, reason) : std::string()));
    shutdown();
  }

  void flush_pending() {
    if (!have_pending_) return;
    have_pending_ = false;
    write(std::move(pending_));
    pending_.clear();
  }

  struct Write {
    uv_write_t req;
    std::string data;
  };
  void write(std::string data) {
    if (closing_ || shut_) return;
    auto* w = new Write;
    w->data = std::move(data);
    uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    w->req.data = this;
    if (uv_write(&w->req, stream(), &b, 1,
                 [](uv_write_t* r, int) { delete reinterpret_cast<Write*>(r); }) < 0)
      delete w;
  }
  void shutdown() {
    if (shut_ || closing_) return;
    shut_ = true;
    auto* req = new uv_shutdown_t;
    req->data = this;
    if (uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) { delete r; }) < 0) delete req;
  }

  EchoServer& server_;
  uv_tcp_t tcp_;
  bool closing_ = false;
  bool shut_ = false;
  HttpParser parser_{HttpMode::request};
  HandshakeRequest request_;
  std::vector<Finding> findings_;
  std::unique_ptr<StreamInspector> inspector_;
  std::string pending_;
  bool have_pending_ = false;
  bool failed_ = false;
};

EchoServer::EchoServer(uv_loop_t* loop) : loop_(loop) {}

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
