// `wsinspect demo`: the proxy in front of the built-in echo server, and a
// scripted client that talks through it. The first connection exchanges a few
// messages, then sends a frame damaged the way a broken middlebox would
// damage it (RSV2 set): the server fails the connection with 1002 and the log
// shows the violation and the close it caused. The second connection just
// drops TCP, and the log explains the 1006 both applications report.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "parser/frame_decoder.h"
#include "proxy/commands.h"
#include "proxy/config.h"
#include "proxy/frame_writer.h"
#include "proxy/net/tcp_transport.h"
#include "proxy/proxy_server.h"

namespace wsi {
namespace {

constexpr uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};
constexpr uint64_t kStepMs = 150;

// A scripted WebSocket client, writing through the same transport and write
// queue as the proxy.
class DemoClient final : public TransportHandler {
 public:
  // `script`: byte strings sent one per step; `abrupt`: end by closing TCP
  // instead of answering the server's close frame.
  DemoClient(uv_loop_t* loop, const sockaddr* proxy, std::vector<std::string> script, bool abrupt,
             std::function<void()> done)
      : t_(loop, {read_buf_, sizeof read_buf_}, *this),
        script_(std::move(script)),
        abrupt_(abrupt),
        done_(std::move(done)) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
    t_.init();
    int error = 0;
    if (!t_.connect(proxy, error)) finish();
  }

  // TransportHandler.
  void on_connected(Transport&, int status) override {
    if (status < 0) return finish();
    t_.start_reading();
    send(
        "GET /demo HTTP/1.1\r\nHost: wsinspect-demo\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n");
    schedule();
  }
  void on_read(Transport&, std::span<const uint8_t> bytes) override {
    const uint8_t* p = bytes.data();
    size_t n = bytes.size();
    if (!upgraded_) {
      // Skip the 101 response head; frames follow it.
      head_.append(reinterpret_cast<const char*>(p), n);
      const size_t end = head_.find("\r\n\r\n");
      if (end == std::string::npos) return;
      upgraded_ = true;
      const size_t used = n - (head_.size() - (end + 4));
      p += used;
      n -= used;
    }
    decoder_.feed(p, n, *this);
  }
  void on_end(Transport&, StreamEnd, int) override { finish(); }
  void on_write_error(Transport&, int) override { finish(); }
  void on_closed(Transport&) override { done_(); }

  // FrameDecoder handler: answer the server's close frame.
  void on_frame_header(const FrameHeader&) {}
  void on_frame_payload(const FrameHeader& h, const uint8_t* p, size_t n, uint64_t at) {
    if (h.opcode == opcode::close)
      for (size_t i = 0; i < n && at + i < 2; ++i) close_code_ = (close_code_ << 8) | p[i];
  }
  void on_frame_end(const FrameHeader& h) {
    if (h.opcode != opcode::close) return;
    if (!abrupt_)
      send(frame(opcode::close, close_payload(static_cast<uint16_t>(close_code_), ""), true, 0,
                 kKey));
    finish();
  }

 private:
  void send(const std::string& bytes) {
    if (finished_) return;
    if (!t_.write({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()})) finish();
  }

  void schedule() {
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<DemoClient*>(t->data);
          if (self->next_ < self->script_.size()) {
            self->send(self->script_[self->next_++]);
            self->schedule();
          } else if (self->abrupt_) {
            self->finish();  // drop TCP without a close frame
          }
        },
        kStepMs, 0);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    t_.close(false);
  }

  char read_buf_[16 * 1024];
  TcpTransport t_;
  uv_timer_t timer_;
  std::vector<std::string> script_;
  size_t next_ = 0;
  bool abrupt_;
  bool upgraded_ = false;
  bool finished_ = false;
  uint32_t close_code_ = 0;
  std::string head_;
  FrameDecoder decoder_;
  std::function<void()> done_;
};

std::vector<std::string> corrupted_session() {
  return {
      frame(opcode::text, "Hello from the wsinspect demo", true, 0, kKey),
      frame(opcode::ping, "are you there?", true, 0, kKey),
      frame(opcode::text, "caf\xc3", false, 0, kKey) +
          frame(opcode::continuation, "\xa9 au lait", true, 0, kKey),
      // The damaged frame: RSV2 set, as if a middlebox flipped a header bit.
      frame(opcode::text, "this frame was damaged on the way", true, 2, kKey),
  };
}

std::vector<std::string> dropped_session() {
  return {frame(opcode::text, "a second connection that just drops TCP", true, 0, kKey)};
}

}  // namespace

int run_demo(const ProxyConfig& base, std::ostream& out, std::ostream& err) {
  ProxyConfig cfg = base;
  cfg.listen = "127.0.0.1:0";
  cfg.upstream = "builtin:echo";
  cfg.drain_timeout_ms = 1000;
  // The introduction is for people: with a JSON log, standard output
  // carries JSON lines only, and the introduction goes to standard error.
  const bool json = cfg.log_format && *cfg.log_format == LogFormat::json;
  (json ? err : out)
      << "wsinspect demo: a proxy in front of the built-in echo server, and a scripted client.\n"
         "Connection 1 sends a few messages, then one frame with RSV2 set (a damaged header);\n"
         "connection 2 drops TCP without a close frame. Watch the violation and the closes.\n\n"
      << std::flush;
  std::unique_ptr<DemoClient> first, second;
  sockaddr_storage proxy_addr{};
  ProxyHooks hooks;
  hooks.on_ready = [&](uv_loop_t* loop, Server& server) {
    std::string host;
    uint16_t port = 0;
    split_host_port(server.bound_address(), host, port);
    uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&proxy_addr));
    const sockaddr* addr = reinterpret_cast<const sockaddr*>(&proxy_addr);
    first = std::make_unique<DemoClient>(loop, addr, corrupted_session(), false, [&, loop, addr] {
      second = std::make_unique<DemoClient>(loop, addr, dropped_session(), true, [&] {
        // Let the proxy log the end of connection 2, then stop.
        static uv_timer_t stop;
        uv_timer_init(loop, &stop);
        stop.data = &server;
        uv_timer_start(
            &stop,
            [](uv_timer_t* t) {
              static_cast<Server*>(t->data)->begin_shutdown("demo finished");
              uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
            },
            200, 0);
      });
    });
  };
  return run_proxy(cfg, err, hooks);
}

}  // namespace wsi
