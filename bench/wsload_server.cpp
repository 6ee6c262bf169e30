// wsload server: one libuv loop that answers WebSocket upgrades and then
// echoes, discards or streams messages (see the control messages in
// wsload_common.h). One read buffer serves every connection of the loop;
// echoed payloads are unmasked straight into the connection's write queue.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench/wsload.h"
#include "bench/wsload_tls.h"
#include "parser/frame.h"
#include "parser/frame_decoder.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/mask.h"

namespace wsload {
namespace {

namespace op = wsi::opcode;

// Reading from a connection stops while more than this is queued towards it.
constexpr size_t kHighWatermark = 4 << 20;
constexpr size_t kLowWatermark = 1 << 20;

class ServerConn;

struct ServerStats {
  uint64_t accepted = 0;
  uint64_t upgraded = 0;
  uint64_t messages_in = 0;
  uint64_t bytes_in = 0;  // payload bytes of data frames
  uint64_t messages_out = 0;
  uint64_t bytes_out = 0;
  uint64_t bad_handshakes = 0;
  uint64_t tls_failures = 0;
  std::string tls;  // "version cipher group" of the first TLS connection
};

class Server {
 public:
  Server(uv_loop_t* loop, bool sink, const TlsConfig* tls)
      : loop_(loop), sink_(sink), tls_(tls), read_buf_(256 * 1024) {
    if (tls) plain_buf_.resize(read_buf_.size());
  }
  bool listen(const HostPort& hp, std::string& error);
  void stop();
  void done(ServerConn* c);
  std::string address();

  uv_loop_t* loop() const { return loop_; }
  bool sink() const { return sink_; }
  std::vector<char>& read_buffer() { return read_buf_; }
  // --tls: every connection's context, and where decrypted bytes go.
  const TlsConfig* tls() const { return tls_; }
  std::vector<uint8_t>& plain_buffer() { return plain_buf_; }
  ServerStats& stats() { return stats_; }
  // The payload of every streamed message of (kind, size), built once.
  const std::vector<uint8_t>& payload(PayloadKind k, uint64_t size) {
    auto& p = payloads_[{k, size}];
    if (p.size() != size) p = make_payload(k, size);
    return p;
  }

 private:
  static void on_connection(uv_stream_t* listener, int status);
  uv_loop_t* loop_;
  bool sink_;
  const TlsConfig* tls_;
  uv_tcp_t listener_{};
  bool listening_ = false;
  std::vector<char> read_buf_;
  std::vector<uint8_t> plain_buf_;
  std::unordered_set<ServerConn*> conns_;
  std::map<std::pair<PayloadKind, uint64_t>, std::vector<uint8_t>> payloads_;
  ServerStats stats_;
};

class ServerConn {
 public:
  explicit ServerConn(Server& server) : server_(server) {
    uv_tcp_init(server.loop(), &tcp_);
    tcp_.data = this;
    out_.init(stream(), this, on_written);
    behaviour_ = server.sink() ? Behaviour::sink : Behaviour::echo;
  }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void start() {
    uv_tcp_nodelay(&tcp_, 1);
    http_ = std::make_unique<wsi::HttpParser>(wsi::HttpMode::request);
    if (const TlsConfig* tls = server_.tls()) {
      tls_ = std::make_unique<TlsConn>(*tls, out_.wire(), std::string());
      out_.set_tls(tls_.get());
    }
    read_start();
  }

  void close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
      auto* c = static_cast<ServerConn*>(h->data);
      c->server_.done(c);
    });
  }

  // FrameDecoder handler.
  void on_frame_header(const wsi::FrameHeader& h) {
    if (close_received_) {
      frame_ = FrameUse::ignore;
    } else if (h.is_control() || (h.opcode == op::text && h.length < kMaxCommand)) {
      frame_ = h.length <= sizeof small_ ? FrameUse::collect : FrameUse::ignore;
    } else if (behaviour_ == Behaviour::echo) {
      frame_ = FrameUse::echo;
      append_header(h.opcode, h.length, h.fin);
    } else {
      frame_ = FrameUse::ignore;
    }
  }
  void on_frame_payload(const wsi::FrameHeader& h, const uint8_t* data, size_t n, uint64_t at) {
    if (h.opcode != op::close && h.opcode != op::ping && h.opcode != op::pong)
      server_.stats().bytes_in += n;
    if (frame_ == FrameUse::collect) {
      wsi::unmask_copy(small_ + at, data, n, h.mask, at);
    } else if (frame_ == FrameUse::echo) {
      wsi::unmask_copy(out_.pending().grow(n), data, n, h.mask, at);
      server_.stats().bytes_out += n;
    }
  }
  void on_frame_end(const wsi::FrameHeader& h) {
    if (frame_ == FrameUse::ignore && close_received_) return;
    if (!h.is_control() && h.fin) ++server_.stats().messages_in;
    if (frame_ == FrameUse::echo && h.fin) ++server_.stats().messages_out;
    if (frame_ != FrameUse::collect) return;
    const size_t n = static_cast<size_t>(h.length);
    if (h.opcode == op::ping) {
      append_frame(op::pong, small_, n);
    } else if (h.opcode == op::close) {
      close_received_ = true;
      streaming_ = nullptr;
      append_frame(op::close, small_, n < 2 ? 0 : n);  // echo the code and reason
    } else if (h.opcode == op::text) {
      const std::string_view text(reinterpret_cast<const char*>(small_), n);
      if (text.starts_with(kCommandPrefix)) {
        command(text.substr(kCommandPrefix.size()));
      } else if (behaviour_ == Behaviour::echo) {
        append_frame(h.opcode, small_, n, h.fin);
        server_.stats().bytes_out += n;
        if (h.fin) ++server_.stats().messages_out;
      }
    }
  }

 private:
  enum class Behaviour : uint8_t { echo, sink };
  enum class FrameUse : uint8_t { ignore, collect, echo };

  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto& b = static_cast<ServerConn*>(h->data)->server_.read_buffer();
    *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
  }
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<ServerConn*>(s->data);
    if (nread < 0) {
      c->close();  // EOF after our close reply, or the client went away
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
    auto* c = static_cast<ServerConn*>(owner);
    if (status < 0 || c->closing_) {
      c->close();
      return;
    }
    c->fill_stream();
    c->flush(false);
    if (!c->reading_ && !c->closing_ && (c->streaming_ || c->out_.queued() <= kLowWatermark))
      c->read_start();
  }

  // TLS records from the client: the handshake, then application bytes,
  // decrypted a buffer at a time and handled as a plain read would be.
  void tls_input(std::span<const uint8_t> records) {
    tls_->feed(records);
    if (!tls_->established()) {
      const TlsConn::Step step = tls_->handshake();
      flush(true);  // our flight, or the alert
      if (step == TlsConn::Step::failed) {
        ++server_.stats().tls_failures;
        if (server_.stats().tls_failures == 1)
          std::fprintf(stderr, "wsload server: TLS handshake failed: %s\n", tls_->error().c_str());
        close();
        return;
      }
      if (step == TlsConn::Step::again || closing_) {
        tls_->keep_rest();
        return;
      }
      if (server_.stats().tls.empty()) server_.stats().tls = tls_->summary();
    }
    std::vector<uint8_t>& plain = server_.plain_buffer();
    for (;;) {
      size_t n = 0;
      while (n < plain.size()) {
        const size_t got = tls_->read(plain.data() + n, plain.size() - n);
        if (got == 0) break;
        n += got;
      }
      if (n) handle({plain.data(), n});
      if (closing_) return;
      if (n < plain.size()) break;
    }
    if (tls_->failed()) {
      close();
      return;
    }
    tls_->keep_rest();
  }

  void read_start() {
    reading_ = true;
    uv_read_start(stream(), on_alloc, on_read);
  }

  void handle(std::span<const uint8_t> bytes) {
    if (http_) {
      for (;;) {
        const wsi::HttpFeedResult r = http_->feed(bytes);
        bytes = bytes.subspan(r.consumed);
        if (r.event == wsi::HttpEvent::need_more) return;
        if (r.event == wsi::HttpEvent::error || r.event == wsi::HttpEvent::message_complete) {
          reject();
          return;
        }
        if (r.event == wsi::HttpEvent::upgrade) {
          if (!upgrade()) return;
          break;
        }
      }
    }
    decoder_.feed(bytes.data(), bytes.size(), *this);
    // A stream refills from write callbacks: a try_write that took everything
    // would leave no callback, and the stream would stop.
    flush(!streaming_);
    if (closing_) return;
    // Echoes wait for the client to read them; a stream does not stop reading (the close).
    if (!streaming_ && out_.queued() > kHighWatermark && reading_) {
      reading_ = false;
      uv_read_stop(stream());
    }
  }

  bool upgrade() {
    std::vector<wsi::Finding> findings;
    const wsi::HandshakeRequest req = wsi::analyze_request(http_->head(), findings);
    http_.reset();
    if (!req.is_websocket_upgrade || !req.key_valid) {
      reject();
      return false;
    }
    const std::string answer =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        wsi::websocket_accept(req.key) + "\r\n\r\n";
    out_.pending().append(answer.data(), answer.size());
    ++server_.stats().upgraded;
    return true;
  }

  void reject() {
    ++server_.stats().bad_handshakes;
    static constexpr std::string_view kAnswer =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    http_.reset();
    close_received_ = true;
    out_.pending().append(kAnswer.data(), kAnswer.size());
    flush(true);
  }

  // "echo", "sink" or "stream SIZE KIND"; anything else is ignored.
  void command(std::string_view cmd) {
    if (cmd == "echo") behaviour_ = Behaviour::echo;
    if (cmd == "sink") behaviour_ = Behaviour::sink;
    if (!cmd.starts_with("stream ")) return;
    cmd.remove_prefix(7);
    const size_t space = cmd.find(' ');
    if (space == std::string_view::npos) return;
    const std::string size_text(cmd.substr(0, space));
    const auto kind = parse_kind(cmd.substr(space + 1));
    char* end = nullptr;
    const unsigned long long size = std::strtoull(size_text.c_str(), &end, 10);
    if (!kind || *end != '\0' || size < stamp_size(*kind) || size > (uint64_t{1} << 31)) return;
    behaviour_ = Behaviour::sink;
    stream_kind_ = *kind;
    streaming_ = &server_.payload(*kind, size);
    fill_stream();
  }

  // Queues whole messages until twice the stream's working size is queued.
  void fill_stream() {
    if (!streaming_ || close_received_) return;
    const std::vector<uint8_t>& p = *streaming_;
    const size_t target = std::max<size_t>(1 << 20, 2 * p.size());
    const size_t stamp = stamp_size(stream_kind_);
    while (out_.queued() < 2 * target) {
      append_header(kind_opcode(stream_kind_), p.size(), true);
      uint8_t* body = out_.pending().grow(p.size());
      std::memcpy(body + stamp, p.data() + stamp, p.size() - stamp);
      write_stamp(body, stream_kind_, uv_hrtime());
      ++server_.stats().messages_out;
      server_.stats().bytes_out += p.size();
    }
  }

  void append_header(uint8_t opcode, uint64_t length, bool fin) {
    uint8_t h[wsi::kMaxHeaderSize];
    out_.pending().append(h, write_frame_header(h, opcode, length, fin, nullptr));
  }
  void append_frame(uint8_t opcode, const uint8_t* payload, size_t n, bool fin = true) {
    append_header(opcode, n, fin);
    out_.pending().append(payload, n);
  }

  void flush(bool try_first) {
    if (closing_) return;
    if (out_.flush(try_first) < 0) {
      close();
      return;
    }
    // After the close reply (or a refusal) is on the wire, end our side:
    // over TLS with close_notify first.
    if (close_received_ && out_.idle() && tls_ && !notified_) {
      notified_ = true;
      tls_->close_notify();
      if (out_.flush(true) < 0) {
        close();
        return;
      }
    }
    if (close_received_ && out_.idle() && !shut_) {
      shut_ = true;
      if (uv_shutdown(&shutdown_, stream(), [](uv_shutdown_t* r, int) {
            static_cast<ServerConn*>(r->handle->data)->close();
          }) != 0)
        close();
    }
  }

  Server& server_;
  uv_tcp_t tcp_{};
  uv_shutdown_t shutdown_{};
  OutQueue out_;
  std::unique_ptr<TlsConn> tls_;           // --tls
  std::unique_ptr<wsi::HttpParser> http_;  // until the upgrade
  wsi::FrameDecoder decoder_;
  Behaviour behaviour_ = Behaviour::echo;
  FrameUse frame_ = FrameUse::ignore;
  uint8_t small_[wsi::kMaxControlPayload];  // control frames and short text (commands)
  const std::vector<uint8_t>* streaming_ = nullptr;
  PayloadKind stream_kind_ = PayloadKind::binary;
  bool reading_ = false;
  bool close_received_ = false;
  bool shut_ = false;
  bool notified_ = false;  // close_notify sent
  bool closing_ = false;
};

bool Server::listen(const HostPort& hp, std::string& error) {
  sockaddr_storage addr;
  if (!resolve(loop_, hp, addr, error)) return false;
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, on_connection);
  if (rc != 0) {
    error = "cannot listen on " + hp.host + ":" + std::to_string(hp.port) + ": " + uv_strerror(rc);
    return false;
  }
  return true;
}

void Server::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0) return;
  auto* c = new ServerConn(*self);
  self->conns_.insert(c);
  if (uv_accept(listener, c->stream()) != 0) {
    c->close();
    return;
  }
  ++self->stats_.accepted;
  c->start();
}

std::string Server::address() {
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  char host[INET6_ADDRSTRLEN] = "";
  if (bound.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&bound);
    uv_ip6_name(a, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&bound);
  uv_ip4_name(a, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
}

void Server::done(ServerConn* c) {
  conns_.erase(c);
  delete c;
}

void Server::stop() {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  const std::vector<ServerConn*> all(conns_.begin(), conns_.end());
  for (ServerConn* c : all) c->close();
}

}  // namespace

int run_server(const ServerOptions& opts) {
  const uint64_t nofile = raise_nofile_limit();
  std::signal(SIGPIPE, SIG_IGN);
  wsi::websocket_accept("warm up OpenSSL before the first client");
  uv_loop_t* loop = uv_default_loop();
  std::string error;
  std::unique_ptr<TlsConfig> tls;
  if (opts.tls) {
    tls = TlsConfig::server(opts.tls_cert, opts.tls_key, error);
    if (!tls) {
      std::fprintf(stderr, "wsload server: %s\n", error.c_str());
      return 1;
    }
  }
  Server server(loop, opts.sink, tls.get());
  if (!server.listen(opts.listen, error)) {
    std::fprintf(stderr, "wsload server: %s\n", error.c_str());
    return 1;
  }
  std::printf("listening %s\n", server.address().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "wsload server: mode %s%s, open-file limit %llu\n",
               opts.sink ? "sink" : "echo", opts.tls ? ", TLS" : "",
               static_cast<unsigned long long>(nofile));

  // SIGINT or SIGTERM: stop listening, close every connection, leave the loop.
  uv_signal_t signals[2];
  const int signums[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; ++i) {
    uv_signal_init(loop, &signals[i]);
    signals[i].data = &server;
    uv_signal_start(
        &signals[i],
        [](uv_signal_t* s, int) {
          static_cast<Server*>(s->data)->stop();
          uv_walk(
              s->loop,
              [](uv_handle_t* h, void*) {
                if (h->type == UV_SIGNAL && !uv_is_closing(h)) uv_close(h, nullptr);
              },
              nullptr);
        },
        signums[i]);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  const ServerStats& st = server.stats();
  std::fprintf(
      stderr,
      "wsload server: %llu connections (%llu upgraded, %llu refused), %llu messages "
      "in (%llu payload bytes), %llu messages out (%llu payload bytes)\n",
      static_cast<unsigned long long>(st.accepted), static_cast<unsigned long long>(st.upgraded),
      static_cast<unsigned long long>(st.bad_handshakes),
      static_cast<unsigned long long>(st.messages_in), static_cast<unsigned long long>(st.bytes_in),
      static_cast<unsigned long long>(st.messages_out),
      static_cast<unsigned long long>(st.bytes_out));
  if (opts.tls)
    std::fprintf(stderr, "wsload server: TLS %s, %llu failed handshakes\n",
                 st.tls.empty() ? "(no handshake completed)" : st.tls.c_str(),
                 static_cast<unsigned long long>(st.tls_failures));
  uv_loop_close(loop);
  return 0;
}

}  // namespace wsload
