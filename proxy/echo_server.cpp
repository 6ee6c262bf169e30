#include "proxy/echo_server.h"

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parser/deflate.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/mask.h"
#include "parser/stream_inspector.h"
#include "proxy/frame_writer.h"

namespace wsi {
namespace {

// A window-bits value of an offer: exactly "8" to "15".
std::optional<uint8_t> offer_window_bits(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 2 || (*v)[0] == '0') return std::nullopt;
  int n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 8 || n > 15) return std::nullopt;
  return static_cast<uint8_t>(n);
}

// The answer to the client's permessage-deflate offers (RFC 7692 §5, §7.1):
// the first well-formed offer is accepted, always with
// server_no_context_takeover (the echo server resets its compressor at every
// message, so it keeps no window between messages), repeating the client's
// own client_no_context_takeover and its server_max_window_bits limit (the
// compressor then uses that window), and never reducing the client's window:
// client_max_window_bits is not answered, so the client keeps the value it
// offered or 15. Malformed offers are declined; none acceptable: no extension.
bool negotiate_deflate(const std::vector<Extension>& offers, std::string& response,
                       DeflateParams& params) {
  for (const Extension& e : offers) {
    if (e.name != "permessage-deflate" || !e.syntax_error.empty()) continue;
    DeflateParams p;
    p.server_no_context_takeover = true;
    bool ok = true, server_bits = false, client_nct = false;
    std::vector<std::string_view> names;
    for (const ExtensionParam& q : e.params) {
      // A parameter named twice makes the offer invalid (§7).
      for (std::string_view n : names) ok = ok && n != q.name;
      names.push_back(q.name);
      if (q.name == "server_no_context_takeover") {
        ok = ok && !q.value;
      } else if (q.name == "client_no_context_takeover") {
        ok = ok && !q.value;
        client_nct = true;
      } else if (q.name == "server_max_window_bits") {
        const auto bits = offer_window_bits(q.value);
        ok = ok && bits;
        server_bits = true;
        if (bits) p.server_max_window_bits = *bits;
      } else if (q.name == "client_max_window_bits") {
        // Valueless: the client can take a smaller window. A value: the
        // client's own limit, in effect without a reply.
        const auto bits = offer_window_bits(q.value);
        ok = ok && (!q.value || bits);
        if (bits) p.client_max_window_bits = *bits;
      } else {
        ok = false;  // unknown to RFC 7692
      }
    }
    if (!ok) continue;
    p.client_no_context_takeover = client_nct;
    response = "permessage-deflate; server_no_context_takeover";
    if (client_nct) response += "; client_no_context_takeover";
    if (server_bits)
      response += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
    params = p;
    return true;
  }
  return false;
}

}  // namespace

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
    // A compressed message is echoed compressed anew, from its inflated data.
    if (deflater_ && !h.is_control()) {
      if (h.opcode != opcode::continuation) {
        compressed_ = (h.rsv & rsv::rsv1) != 0;
        if (compressed_) {
          comp_opcode_ = h.opcode;
          comp_first_ = true;
          comp_size_ = 0;
        }
      }
      if (compressed_) return;
    }
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
  void on_message_data(Direction, const uint8_t* data, size_t n) override {
    if (failed_ || !compressed_) return;
    comp_size_ += n;
    if (comp_size_ > kMaxInflatedMessage) {
      fail(1009, "message-too-big");
      return;
    }
    std::string payload;
    if (!deflater_->feed(data, n, payload)) {
      fail(1011, "deflate failed");
      return;
    }
    if (!payload.empty()) send_compressed(payload, false);
  }
  void on_message(const MessageInfo& m) override {
    if (failed_ || !compressed_ || !m.compressed) return;
    compressed_ = false;
    std::string payload;
    if (!deflater_->end_message(payload)) {
      fail(1011, "deflate failed");
      return;
    }
    send_compressed(payload, true);
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
  // A compressed message inflating to more than this is closed with 1009
  // (nothing is held whole: this bounds the work a small message can cause).
  static constexpr uint64_t kMaxInflatedMessage = 64ull << 20;

  void send_compressed(const std::string& payload, bool fin) {
    const uint8_t op = comp_first_ ? comp_opcode_ : opcode::continuation;
    out_ += frame(op, payload, fin, comp_first_ ? rsv::rsv1 : 0);
    comp_first_ = false;
  }

  // Fails the connection from the echo server's own side (never inside a
  // frame begun on the wire: compressed replies go out as whole frames).
  void fail(uint16_t code, const std::string& reason) {
    failed_ = true;
    if (out_remaining_ == 0) {
      send_close(code, reason);
    } else {
      close_code_ = code;
      close_reason_ = reason;
      close_pending_ = true;
    }
  }

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
    InspectorConfig cfg;
    cfg.sender = Sender::client;
    cfg.want_payload = true;
    out_ +=
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        websocket_accept(request_.key) + "\r\n";
    // The first subprotocol offered: the client's preferred one (RFC 6455 §4.2.2).
    if (!request_.offered_subprotocols.empty())
      out_ += "Sec-WebSocket-Protocol: " + request_.offered_subprotocols.front() + "\r\n";
    std::string extensions;
    DeflateParams params;
    if (negotiate_deflate(request_.offered_extensions, extensions, params)) {
      out_ += "Sec-WebSocket-Extensions: " + extensions + "\r\n";
      cfg.deflate_negotiated = true;
      cfg.deflate = params;
      cfg.want_message_data = true;
      deflater_ = std::make_unique<MessageDeflater>(params.server_max_window_bits,
                                                    params.server_no_context_takeover);
    }
    out_ += "\r\n";
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
  // permessage-deflate, when negotiated: the client's messages are inflated
  // by the inspector (with the client's context takeover) and re-compressed.
  std::unique_ptr<MessageDeflater> deflater_;
  bool compressed_ = false;  // the open client message is compressed
  bool comp_first_ = false;  // its reply's first frame is still to go (RSV1)
  uint8_t comp_opcode_ = 0;
  uint64_t comp_size_ = 0;  // inflated bytes of the open message
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
