// wsload client: opens the connections (a bounded number of connects and
// handshakes at a time), runs the scenario on one libuv loop, closes every
// connection with a close handshake and reports.
//
// Phases: connecting -> load (warmup, then the measurement window) -> drain
// (waiting for echoes still in flight) -> closing -> done. A 10 ms
// housekeeping timer moves between them; what counts as "in the window" is
// decided by uv_hrtime() stamps, not by when the timer fires.
#include <csignal>
#include <cstdio>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bench/pacer.h"
#include "bench/wsload.h"
#include "bench/wsload_report.h"
#include "parser/frame.h"
#include "parser/frame_decoder.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/mask.h"

namespace wsload {
namespace {

namespace op = wsi::opcode;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kHandshakeTimeout = 10000 * kMs;
constexpr uint64_t kDrainTimeout = 2000 * kMs;
constexpr uint64_t kCloseTimeout = 3000 * kMs;

uint64_t seconds_to_ns(double s) {
  return static_cast<uint64_t>(s * 1e9);
}

class ClientConn;

class ClientRun {
 public:
  explicit ClientRun(const ClientOptions& o);
  ~ClientRun();
  int run();

  // For the connections.
  uv_loop_t* loop() { return &loop_; }
  const ClientOptions& opts() const { return o_; }
  ClientStats& stats() { return stats_; }
  Rng& rng() { return rng_; }
  std::vector<char>& read_buffer() { return read_buf_; }
  const std::vector<uint8_t>& payload() const { return payload_; }
  const Pacer& message_pacer() const { return *message_pacer_; }
  uint64_t slots() const { return by_slot_.size(); }
  bool in_window(uint64_t t) const { return t >= window_start_ && t < window_end_; }
  // New messages may be sent: the load phase, before the window ends.
  bool sending() const { return phase_ == Phase::load; }
  void settled(ClientConn* c, bool established);
  void closed();

 private:
  enum class Phase : uint8_t { connecting, load, drain, closing, done };
  static void on_tick(uv_timer_t* t);
  void connect_more();
  void start_load();
  void tick();
  void begin_close();

  const ClientOptions& o_;
  uv_loop_t loop_{};
  uv_timer_t tick_{};
  sockaddr_storage addr_{};
  ClientStats stats_;
  Rng rng_;
  std::vector<char> read_buf_;
  std::vector<uint8_t> payload_;
  std::unique_ptr<Pacer> message_pacer_;
  std::unique_ptr<Pacer> ping_pacer_;
  std::vector<std::unique_ptr<ClientConn>> conns_;
  std::vector<ClientConn*> by_slot_;  // established connections
  Phase phase_ = Phase::connecting;
  size_t next_ = 0;  // the next connection to open
  uint32_t in_progress_ = 0;
  size_t settled_ = 0;
  size_t closed_ = 0;
  bool in_connect_more_ = false;
  uint64_t ticks_ = 0;
  uint64_t connect_start_ = 0;
  uint64_t window_start_ = UINT64_MAX;
  uint64_t window_end_ = UINT64_MAX;
  uint64_t deadline_ = 0;  // of the drain or closing phase
};

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
  uint64_t outstanding() const { return sent_ - received_; }
  uint64_t backlog() const { return due_ > sent_ ? due_ - sent_ : 0; }

  void connect(const sockaddr* addr) {
    state_ = State::connecting;
    connect_start_ = uv_hrtime();
    connect_.data = this;
    const int rc = uv_tcp_connect(&connect_, &tcp_, addr, on_connect);
    if (rc != 0) fail_opening(&ClientStats::connect_failures, "connect: ", rc);
  }

  void fail_opening(uint64_t ClientStats::*counter, const char* what, int rc = 0) {
    run_.stats().error(counter, std::string(what) + (rc ? uv_strerror(rc) : ""));
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
    append_frame(op::ping, stamp, sizeof stamp);
    if (run_.in_window(uv_hrtime())) ++run_.stats().pings_sent;
    flush(true);
  }

  // A close frame (1000); the server answers and ends the stream.
  void begin_close() {
    if (!open() || close_sent_) return;
    close_sent_ = true;
    flooding_ = false;
    const uint8_t payload[] = {0x03, 0xe8, 'd', 'o', 'n', 'e'};
    append_frame(op::close, payload, sizeof payload);
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
    c->send_request();
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
    c->handle({reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
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
                         head.status != 101
                             ? ("handshake: status " + std::to_string(head.status)).c_str()
                             : "handshake: wrong Sec-WebSocket-Accept");
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

  void control_frame(const wsi::FrameHeader& h, uint64_t now) {
    const size_t n = static_cast<size_t>(h.length);
    if (h.opcode == op::ping) {
      append_frame(op::pong, control_, n);
    } else if (h.opcode == op::pong) {
      uint64_t stamp;
      if (n == 8 && read_stamp(control_, PayloadKind::binary, stamp) && stamp <= now &&
          run_.in_window(now)) {
        ++run_.stats().pongs_received;
        run_.stats().ping_rtt.record(now - stamp);
      }
    } else if (h.opcode == op::close) {
      close_received_ = true;
      if (!close_sent_) {
        run_.stats().error(&ClientStats::unexpected_closes, "the server sent a close frame");
        close_sent_ = true;
        append_frame(op::close, control_, n < 2 ? 0 : 2);
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
    append_frame(op::text, reinterpret_cast<const uint8_t*>(text.data()), text.size());
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

ClientRun::ClientRun(const ClientOptions& o)
    : o_(o),
      rng_(std::random_device{}() | (uint64_t{std::random_device{}()} << 32)),
      read_buf_(256 * 1024) {
  uv_loop_init(&loop_);
  message_pacer_ = std::make_unique<Pacer>(&loop_, this, [](void* self, uint64_t j) {
    auto* r = static_cast<ClientRun*>(self);
    r->by_slot_[j % r->by_slot_.size()]->due();
  });
  ping_pacer_ = std::make_unique<Pacer>(&loop_, this, [](void* self, uint64_t j) {
    auto* r = static_cast<ClientRun*>(self);
    r->by_slot_[j % r->by_slot_.size()]->send_ping(r->ping_pacer_->due_time(j));
  });
}

ClientRun::~ClientRun() {
  conns_.clear();
  message_pacer_.reset();
  ping_pacer_.reset();
  uv_loop_close(&loop_);
}

int ClientRun::run() {
  std::string error;
  if (!resolve(&loop_, o_.target, addr_, error)) {
    std::fprintf(stderr, "wsload: %s\n", error.c_str());
    return 1;
  }
  if (!o_.idle) payload_ = make_payload(o_.kind, o_.size);
  conns_.reserve(o_.connections);
  for (uint32_t i = 0; i < o_.connections; ++i)
    conns_.push_back(std::make_unique<ClientConn>(*this, i));
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, on_tick, 10, 10);
  connect_start_ = uv_hrtime();
  connect_more();
  uv_run(&loop_, UV_RUN_DEFAULT);

  print_report(o_, stats_, message_pacer_->precise());
  if (stats_.established == 0) {
    std::fprintf(stderr, "wsload: no connection to %s:%u was established: %s\n",
                 o_.target.host.c_str(), o_.target.port, stats_.first_error.c_str());
    return 1;
  }
  if (stats_.errors() > o_.max_errors) {
    std::fprintf(stderr, "wsload: %llu errors (more than --max-errors %llu); first: %s\n",
                 static_cast<unsigned long long>(stats_.errors()),
                 static_cast<unsigned long long>(o_.max_errors), stats_.first_error.c_str());
    return 1;
  }
  return 0;
}

void ClientRun::connect_more() {
  if (in_connect_more_) return;  // a connect that failed at once: the loop below goes on
  in_connect_more_ = true;
  while (in_progress_ < o_.connect_concurrency && next_ < conns_.size()) {
    ++in_progress_;
    conns_[next_++]->connect(reinterpret_cast<const sockaddr*>(&addr_));
  }
  in_connect_more_ = false;
  if (phase_ != Phase::connecting || settled_ < conns_.size()) return;
  // Every connection is established or has failed.
  stats_.established = by_slot_.size();
  stats_.connect_phase_s = static_cast<double>(uv_hrtime() - connect_start_) / 1e9;
  std::fprintf(stderr, "wsload: %llu of %u connections established in %.3f s\n",
               static_cast<unsigned long long>(stats_.established), o_.connections,
               stats_.connect_phase_s);
  if (by_slot_.empty()) {
    phase_ = Phase::closing;
    deadline_ = uv_hrtime() + kCloseTimeout;
    return;
  }
  start_load();
}

void ClientRun::settled(ClientConn* c, bool established) {
  --in_progress_;
  ++settled_;
  if (established) by_slot_.push_back(c);
  connect_more();
}

void ClientRun::closed() {
  ++closed_;
}

void ClientRun::start_load() {
  phase_ = Phase::load;
  const uint64_t now = uv_hrtime();
  window_start_ = now + seconds_to_ns(o_.warmup_s);
  window_end_ = window_start_ + seconds_to_ns(o_.duration_s);
  stats_.window_s = o_.duration_s;
  if (o_.idle)
    std::fprintf(stderr, "wsload: holding %zu connections for %.1f s\n", by_slot_.size(),
                 o_.warmup_s + o_.duration_s);
  for (uint32_t i = 0; i < by_slot_.size(); ++i) {
    if (by_slot_[i]->open()) by_slot_[i]->start_load(i);
  }
  const double n = static_cast<double>(by_slot_.size());
  if (o_.rate > 0 && !o_.idle && o_.direction != Direction::s2c)
    message_pacer_->start(now + kMs, 1e9 / (o_.rate * n));
  if (o_.ping_interval_s > 0) ping_pacer_->start(now + kMs, o_.ping_interval_s * 1e9 / n);
}

void ClientRun::on_tick(uv_timer_t* t) {
  static_cast<ClientRun*>(t->data)->tick();
}

void ClientRun::tick() {
  const uint64_t now = uv_hrtime();
  ++ticks_;
  if (phase_ == Phase::connecting && ticks_ % 10 == 0) {
    for (size_t i = 0; i < next_; ++i) {
      ClientConn& c = *conns_[i];
      if (c.connecting() && now - c.started() > kHandshakeTimeout) c.timeout();
    }
  }
  if (phase_ == Phase::load && now >= window_end_) {
    message_pacer_->stop();
    ping_pacer_->stop();
    phase_ = Phase::drain;
    deadline_ = now + kDrainTimeout;
  }
  if (phase_ == Phase::drain) {
    bool drained = true;
    if (o_.direction == Direction::both && !o_.idle) {
      for (ClientConn* c : by_slot_) drained = drained && (!c->open() || c->outstanding() == 0);
    }
    if (drained || now >= deadline_) begin_close();
  }
  if (phase_ == Phase::closing) {
    if (closed_ == conns_.size()) {
      phase_ = Phase::done;
      uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
      message_pacer_->close();
      ping_pacer_->close();
    } else if (now >= deadline_) {
      for (auto& c : conns_) {
        if (c->done()) continue;
        stats_.error(&ClientStats::close_timeouts, "no close handshake within 3 s");
        c->abort();
      }
    }
  }
}

void ClientRun::begin_close() {
  for (ClientConn* c : by_slot_) {
    if (!c->open()) continue;
    if (o_.direction == Direction::both && !o_.idle && c->outstanding() > 0) {
      stats_.lost += c->outstanding();
      if (stats_.first_error.empty())
        stats_.first_error = std::to_string(c->outstanding()) + " echoes missing at the end";
    }
    stats_.backlog_at_end += c->backlog();
  }
  phase_ = Phase::closing;
  deadline_ = uv_hrtime() + kCloseTimeout;
  for (ClientConn* c : by_slot_) c->begin_close();
}

}  // namespace

int run_client(const ClientOptions& opts) {
  raise_nofile_limit();
  std::signal(SIGPIPE, SIG_IGN);
  wsi::websocket_accept("warm up OpenSSL before timing handshakes");
  ClientRun run(opts);
  return run.run();
}

}  // namespace wsload
