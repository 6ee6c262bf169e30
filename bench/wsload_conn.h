// ClientConn: one client connection of a run: the upgrade, the scenario's
// messages (masked, stamped), the check of everything the server sends back,
// and the close handshake. Driven by its ClientRun.
#pragma once

#include <uv.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench/wsload_client.h"
#include "bench/wsload_tls.h"
#include "parser/frame.h"
#include "parser/frame_decoder.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/mask.h"

namespace wsload {

class ClientConn {
 public:
  ClientConn(ClientRun& run, uint32_t id) : run_(run), id_(id) {
    uv_tcp_init(run.loop(), &tcp_);
    tcp_.data = this;
    out_.init(stream(), this, on_written);
  }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  bool open() const { return state_ == State::open; }
  bool done() const { return state_ == State::closed; }
  bool connecting() const { return state_ == State::connecting || state_ == State::handshaking; }
  uint64_t started() const { return connect_start_; }
  // Echoes not yet back, and open-loop messages due but not yet sent.
  uint64_t outstanding() const { return sent_ > received_ ? sent_ - received_ : 0; }
  uint64_t backlog() const { return due_ > sent_ ? due_ - sent_ : 0; }

  void connect(const sockaddr* addr) {
    state_ = State::connecting;
    connect_start_ = uv_hrtime();
    connect_.data = this;
    const int rc = uv_tcp_connect(&connect_, &tcp_, addr, on_connect);
    if (rc != 0) fail_opening(&ClientStats::connect_failures, "connect: ", rc);
  }

  void fail_opening(uint64_t ClientStats::*counter, std::string what, int rc = 0) {
    if (rc) what += uv_strerror(rc);
    run_.stats().error(counter, std::move(what));
    close_handle();
    run_.settled(this, false);
  }

  // The load starts: this connection is number `slot` of the established ones.
  void start_load(uint32_t slot) {
    slot_ = slot;
    const ClientOptions& o = run_.opts();
    if (o.idle) return;
    if (o.direction == Direction::s2c) {
      send_text("wsload stream " + std::to_string(o.size) + " " + std::string(kind_name(o.kind)));
    } else if (o.direction == Direction::c2s) {
      send_text("wsload sink");
      flooding_ = o.rate <= 0;
      fill();
    } else if (o.closed_loop) {
      ring_.assign(o.inflight, 0);
      const uint64_t now = uv_hrtime();
      for (uint32_t i = 0; i < o.inflight; ++i) send_message(now, now);
    }
    flush(false);
  }

  // Open loop: one more message is due.
  void due() {
    ++due_;
    send_due();
  }

  void send_ping(uint64_t intended) {
    if (!open() || close_sent_) return;
    uint8_t stamp[8];
    write_stamp(stamp, PayloadKind::binary, intended);
    append_frame(wsi::opcode::ping, stamp, sizeof stamp);
    if (run_.in_window(uv_hrtime())) ++run_.stats().pings_sent;
    flush(true);
  }

  // A close frame (1000); the server answers and ends the stream.
  void begin_close() {
    if (!open() || close_sent_) return;
    close_sent_ = true;
    flooding_ = false;
    const uint8_t payload[] = {0x03, 0xe8, 'd', 'o', 'n', 'e'};
    append_frame(wsi::opcode::close, payload, sizeof payload);
    flush(true);
  }

  // Closes the socket now (the close handshake did not finish in time).
  void abort() { close_handle(); }
  // The connect or the handshake took too long.
  void timeout() {
    fail_opening(state_ == State::connecting ? &ClientStats::connect_failures
                                             : &ClientStats::handshake_failures,
                 state_ == State::connecting ? "connect timed out" : "handshake timed out");
  }

  // FrameDecoder handler: frames from the server.
  void on_frame_header(const wsi::FrameHeader& h) {
    if (state_ != State::open) return;
    if (h.masked || h.rsv != 0 || wsi::opcode::is_reserved(h.opcode)) {
      protocol_error("server frame masked, with RSV bits or a reserved opcode");
      return;
    }
    if (h.is_control()) {
      if (h.length > wsi::kMaxControlPayload || !h.fin) protocol_error("bad control frame");
      return;
    }
    const ClientOptions& o = run_.opts();
    frame_ok_ = h.fin && h.opcode == kind_opcode(o.kind) && h.length == o.size;
    if (!frame_ok_) {
      mismatch("message of " + std::to_string(h.length) + " bytes, opcode " +
               std::to_string(h.opcode) + (h.fin ? "" : ", fragmented"));
    }
  }
  void on_frame_payload(const wsi::FrameHeader& h, const uint8_t* data, size_t n, uint64_t at) {
    if (state_ != State::open) return;
    if (h.is_control()) {
      std::memcpy(control_ + at, data, n);
      return;
    }
    if (!frame_ok_) return;
    const size_t stamp = stamp_size(run_.opts().kind);
    size_t i = 0;
    if (at < stamp) {
      i = std::min(n, static_cast<size_t>(stamp - at));
      std::memcpy(stamp_ + at, data, i);
    }
    if (i < n && std::memcmp(data + i, run_.payload().data() + at + i, n - i) != 0) {
      frame_ok_ = false;
      mismatch("payload bytes differ from what was sent");
    }
  }
  void on_frame_end(const wsi::FrameHeader& h) {
    if (state_ != State::open) return;
    const uint64_t now = uv_hrtime();
    if (h.is_control()) {
      control_frame(h, now);
      return;
    }
    ++received_;
    if (frame_ok_) data_message(now);
    // Closed loop: the next message goes out as soon as an echo is back.
    if (run_.opts().closed_loop && run_.sending() && received_ <= sent_) send_message(now, now);
  }

 private:
  enum class State : uint8_t { idle, connecting, handshaking, open, closed };

  static void on_connect(uv_connect_t* req, int status) {
    auto* c = static_cast<ClientConn*>(req->data);
    if (c->state_ != State::connecting) return;  // timed out meanwhile
    if (status < 0) {
      c->fail_opening(&ClientStats::connect_failures, "connect: ", status);
      return;
    }
    uv_tcp_nodelay(&c->tcp_, 1);
    c->state_ = State::handshaking;
    if (const TlsConfig* tls = c->run_.tls()) {
      c->tls_ = std::make_unique<TlsConn>(*tls, c->out_.wire(), c->run_.tls_name());
      c->out_.set_tls(c->tls_.get());
      c->tls_->handshake();  // the ClientHello
      c->flush(true);
    } else {
      c->send_request();
    }
    uv_read_start(c->stream(), on_alloc, on_read);
  }

  void send_request() {
    uint8_t raw[16];
    for (int i = 0; i < 16; i += 8) {
      const uint64_t r = run_.rng().next();
      std::memcpy(raw + i, &r, 8);
    }
    const std::string key = base64(raw, sizeof raw);
    accept_ = wsi::websocket_accept(key);
    const HostPort& t = run_.opts().target;
    const std::string host = (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) +
                             ":" + std::to_string(t.port);
    const std::string req = "GET / HTTP/1.1\r\nHost: " + host +
                            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            "Sec-WebSocket-Key: " +
                            key + "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsload\r\n\r\n";
    http_ = std::make_unique<wsi::HttpParser>(wsi::HttpMode::response);
    out_.pending().append(req.data(), req.size());
    flush(true);
  }

  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto& b = static_cast<ClientConn*>(h->data)->run_.read_buffer();
    *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
  }
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<ClientConn*>(s->data);
    if (nread < 0) {
      c->ended(static_cast<int>(nread));
      return;
    }
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(buf->base),
                                         static_cast<size_t>(nread));
    if (c->tls_)
      c->tls_input(bytes);
    else
      c->handle(bytes);
  }
  static void on_written(void* owner, int status) {
    auto* c = static_cast<ClientConn*>(owner);
    if (c->closing_handle_) return;
    if (status < 0) {
      c->ended(status);
      return;
    }
    if (c->flooding_) c->fill();
    c->send_due();
    c->flush(false);
  }

  // The stream ended (EOF) or failed.
  void ended(int status) {
    if (closing_handle_) return;
    if (connecting()) {
      fail_opening(&ClientStats::handshake_failures, "handshake: connection ended: ", status);
      return;
    }
    if (!close_received_) {
      run_.stats().error(&ClientStats::unexpected_closes,
                         std::string(close_sent_ ? "no close reply: " : "connection ended: ") +
                             uv_strerror(status));
    }
    close_handle();
  }

  void handle(std::span<const uint8_t> bytes) {
    if (state_ == State::handshaking) {
      for (;;) {
        const wsi::HttpFeedResult r = http_->feed(bytes);
        bytes = bytes.subspan(r.consumed);
        if (r.event == wsi::HttpEvent::need_more) return;
        if (r.event == wsi::HttpEvent::head_complete) {
          const wsi::HttpHead& head = http_->head();
          const wsi::HttpHeader* accept = head.find("Sec-WebSocket-Accept");
          if (head.status != 101 || !accept || accept->value != accept_) {
            fail_opening(&ClientStats::handshake_failures,
                         head.status != 101 ? "handshake: status " + std::to_string(head.status)
                                            : std::string("handshake: wrong Sec-WebSocket-Accept"));
            return;
          }
          continue;
        }
        if (r.event != wsi::HttpEvent::upgrade) {
          fail_opening(&ClientStats::handshake_failures, "handshake: not a 101 response");
          return;
        }
        http_.reset();
        state_ = State::open;
        run_.stats().handshake.record(uv_hrtime() - connect_start_);
        run_.settled(this, true);
        break;
      }
    }
    if (state_ != State::open) return;
    decoder_.feed(bytes.data(), bytes.size(), *this);
    flush(true);
  }

  // TLS records from the server: the handshake, then application bytes,
  // decrypted a buffer at a time and handled as a plain read would be.
  void tls_input(std::span<const uint8_t> records) {
    tls_->feed(records);
    if (!tls_->established()) {
      const TlsConn::Step step = tls_->handshake();
      if (step == TlsConn::Step::failed) {
        flush(true);  // the alert
        fail_opening(&ClientStats::handshake_failures, "TLS handshake: " + tls_->error());
        return;
      }
      if (step == TlsConn::Step::again) {
        flush(true);
        tls_->keep_rest();
        return;
      }
      if (run_.stats().tls.empty()) run_.stats().tls = tls_->summary();
      send_request();  // with the client's Finished
    }
    std::vector<uint8_t>& plain = run_.plain_buffer();
    for (;;) {
      size_t n = 0;
      while (n < plain.size()) {
        const size_t got = tls_->read(plain.data() + n, plain.size() - n);
        if (got == 0) break;
        n += got;
      }
      if (n) handle({plain.data(), n});
      if (closing_handle_) return;
      if (n < plain.size()) break;
    }
    if (tls_->failed()) {
      protocol_error(("TLS: " + tls_->error()).c_str());
      return;
    }
    tls_->keep_rest();
  }

  void control_frame(const wsi::FrameHeader& h, uint64_t now) {
    const size_t n = static_cast<size_t>(h.length);
    if (h.opcode == wsi::opcode::ping) {
      append_frame(wsi::opcode::pong, control_, n);
    } else if (h.opcode == wsi::opcode::pong) {
      uint64_t stamp;
      if (n == 8 && read_stamp(control_, PayloadKind::binary, stamp) && stamp <= now &&
          run_.in_window(now)) {
        ++run_.stats().pongs_received;
        run_.stats().ping_rtt.record(now - stamp);
      }
    } else if (h.opcode == wsi::opcode::close) {
      close_received_ = true;
      if (!close_sent_) {
        run_.stats().error(&ClientStats::unexpected_closes, "the server sent a close frame");
        close_sent_ = true;
        append_frame(wsi::opcode::close, control_, n < 2 ? 0 : 2);
      }
      // The server ends the stream next; reading on until EOF.
    }
  }

  void data_message(uint64_t now) {
    ClientStats& st = run_.stats();
    const ClientOptions& o = run_.opts();
    uint64_t stamp;
    if (!read_stamp(stamp_, o.kind, stamp)) {
      mismatch("no send-time stamp at the start of the message");
      return;
    }
    uint64_t expected = stamp;
    if (o.direction == Direction::s2c) {
      if (stamp < last_stamp_) mismatch("streamed messages out of order");
      last_stamp_ = stamp;
    } else if (o.direction == Direction::c2s || o.idle || received_ > sent_) {
      mismatch("a message nobody sent");
      return;
    } else if (o.closed_loop) {
      expected = ring_[(received_ - 1) % ring_.size()];
    } else {
      expected = run_.message_pacer().due_time((received_ - 1) * run_.slots() + slot_);
    }
    if (stamp != expected) {
      mismatch("echo carries another message's stamp");
      return;
    }
    if (!run_.in_window(now)) return;
    ++st.messages_received;
    st.bytes_received += o.size;
    if (stamp <= now) st.latency.record(now - stamp);
  }

  void send_text(const std::string& text) {
    append_frame(wsi::opcode::text, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }

  // Appends one masked frame. Each frame gets its own masking key from the
  // fast generator; masking copies, so the payload template stays clean.
  void append_frame(uint8_t opcode, const uint8_t* payload, size_t n) {
    uint8_t key[4];
    const uint32_t k = static_cast<uint32_t>(run_.rng().next());
    std::memcpy(key, &k, 4);
    uint8_t h[wsi::kMaxHeaderSize];
    ByteBuffer& b = out_.pending();
    b.append(h, write_frame_header(h, opcode, n, true, key));
    wsi::unmask_copy(b.grow(n), payload, n, key, 0);
  }

  // One data message whose stamp is `stamp` (the intended send time).
  void send_message(uint64_t stamp, uint64_t now) {
    const ClientOptions& o = run_.opts();
    uint8_t key[4];
    const uint32_t k = static_cast<uint32_t>(run_.rng().next());
    std::memcpy(key, &k, 4);
    uint8_t h[wsi::kMaxHeaderSize];
    ByteBuffer& b = out_.pending();
    b.append(h, write_frame_header(h, kind_opcode(o.kind), o.size, true, key));
    uint8_t* body = b.grow(o.size);
    uint8_t stamp_bytes[16];
    write_stamp(stamp_bytes, o.kind, stamp);
    const size_t ss = stamp_size(o.kind);
    wsi::unmask_copy(body, stamp_bytes, ss, key, 0);
    wsi::unmask_copy(body + ss, run_.payload().data() + ss, o.size - ss, key, ss);
    if (!ring_.empty()) ring_[sent_ % ring_.size()] = stamp;
    ++sent_;
    if (run_.in_window(now)) {
      ++run_.stats().messages_sent;
      run_.stats().bytes_sent += o.size;
    }
  }

  // Open loop: sends what is due, each message stamped with its intended time,
  // while the connection takes it.
  void send_due() {
    if (!open() || close_sent_ || sent_ >= due_) return;
    const uint64_t now = uv_hrtime();
    while (sent_ < due_ && out_.queued() < queue_limit()) {
      const uint64_t intended = run_.message_pacer().due_time(sent_ * run_.slots() + slot_);
      if (run_.in_window(now) && now >= intended) run_.stats().send_lag.record(now - intended);
      send_message(intended, now);
    }
    flush(true);
  }

  // c2s without a rate: keeps the queue full while the load runs.
  void fill() {
    if (!flooding_ || !open() || close_sent_ || !run_.sending()) return;
    const uint64_t now = uv_hrtime();
    while (out_.queued() < queue_limit()) send_message(now, now);
  }

  size_t queue_limit() const { return std::max<size_t>(1 << 20, 2 * run_.opts().size); }

  void flush(bool try_first) {
    if (closing_handle_) return;
    const int rc = out_.flush(try_first && !flooding_);
    if (rc < 0) ended(rc);
  }

  void mismatch(const std::string& what) {
    run_.stats().error(&ClientStats::mismatched, "connection " + std::to_string(id_) + ": " + what);
  }
  void protocol_error(const char* what) {
    run_.stats().error(&ClientStats::protocol_errors,
                       "connection " + std::to_string(id_) + ": " + what);
    close_handle();
  }

  void close_handle() {
    if (closing_handle_) return;
    closing_handle_ = true;
    state_ = State::closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
             [](uv_handle_t* h) { static_cast<ClientConn*>(h->data)->run_.closed(); });
  }

  ClientRun& run_;
  uint32_t id_;
  uint32_t slot_ = 0;
  uv_tcp_t tcp_{};
  uv_connect_t connect_{};
  OutQueue out_;
  std::unique_ptr<TlsConn> tls_;  // --tls
  State state_ = State::idle;
  uint64_t connect_start_ = 0;
  std::unique_ptr<wsi::HttpParser> http_;  // until the 101
  std::string accept_;
  wsi::FrameDecoder decoder_;
  bool frame_ok_ = false;
  uint8_t stamp_[16] = {};
  uint8_t control_[wsi::kMaxControlPayload] = {};
  uint64_t sent_ = 0;           // data messages sent
  uint64_t received_ = 0;       // data messages received
  uint64_t due_ = 0;            // open loop: messages due so far
  std::vector<uint64_t> ring_;  // closed loop: stamps of the messages in flight
  uint64_t last_stamp_ = 0;
  bool flooding_ = false;
  bool close_sent_ = false;
  bool close_received_ = false;
  bool closing_handle_ = false;
};

}  // namespace wsload
