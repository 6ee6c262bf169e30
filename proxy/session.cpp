// Session: the relay itself (reads, writes, backpressure, half-close, resets),
// the upstream connection and the timers. HTTP and WebSocket tracking lives in
// session_http.cpp, logging in session_report.cpp.
#include "proxy/session.h"

#include <cstdlib>
#include <cstring>

#include "proxy/frame_writer.h"
#include "proxy/proxy_server.h"

namespace wsi {

struct Session::WriteReq {
  uv_write_t req;
  Session* session;
  Side* to;
  Side* from;
  size_t len;
  char data[];
};

Session::Session(Server& server, uint64_t id) : server_(server), id_(id) {
  client_.session = upstream_.session = this;
  client_.is_client = true;
  uv_tcp_init(server_.loop(), &client_.tcp);
  client_.tcp.data = &client_;
  client_.open = true;
  refs_ = 1;
}

Session::~Session() = default;

void Session::release_ref() {
  if (--refs_ == 0) server_.session_done(this);
}

void Session::abort_before_start() {
  ending_ = true;
  close_side(client_, false);
}

uint64_t Session::now_ms() const {
  return uv_now(server_.loop());
}

void Session::start() {
  started_ms_ = last_activity_ms_ = now_ms();
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(&client_.tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0)
    client_addr_ = format_address(reinterpret_cast<sockaddr*>(&peer));
  uv_tcp_nodelay(&client_.tcp, 1);
  log_conn_open();

  connecting_state_ = std::make_unique<Connecting>();
  Connecting& cs = *connecting_state_;
  // Numeric addresses need no resolver.
  sockaddr_storage addr{};
  const std::string& host = server_.upstream_host();
  const int port = server_.upstream_port();
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
    cs.addrs.push_back(addr);
    init_upstream_and_connect();
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string port_str = std::to_string(port);
    cs.resolve_req.data = this;
    const int rc = uv_getaddrinfo(server_.loop(), &cs.resolve_req, on_resolved, host.c_str(),
                                  port_str.c_str(), &hints);
    if (rc < 0) {
      upstream_failed("resolve", rc, 502);
    } else {
      resolving_ = true;
      ++refs_;
    }
  }
  arm_timer();
}

void Session::on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
  Session* s = static_cast<Session*>(req->data);
  s->resolving_ = false;
  if (!s->ending_) {
    if (status < 0) {
      s->upstream_failed("resolve", status, 502);
    } else {
      for (addrinfo* a = res; a; a = a->ai_next) {
        sockaddr_storage st{};
        std::memcpy(&st, a->ai_addr, a->ai_addrlen);
        s->connecting_state_->addrs.push_back(st);
      }
      s->init_upstream_and_connect();
    }
  }
  if (res) uv_freeaddrinfo(res);
  s->release_ref();
}

void Session::init_upstream_and_connect() {
  Connecting& cs = *connecting_state_;
  if (cs.next_addr >= cs.addrs.size()) {
    upstream_failed("connect", cs.last_error ? cs.last_error : UV_EADDRNOTAVAIL, 502);
    return;
  }
  uv_tcp_init(server_.loop(), &upstream_.tcp);
  upstream_.tcp.data = &upstream_;
  upstream_.open = true;
  ++refs_;
  connect_next();
}

void Session::connect_next() {
  Connecting& cs = *connecting_state_;
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&cs.addrs[cs.next_addr++]);
  cs.connect_req.data = this;
  const int rc = uv_tcp_connect(&cs.connect_req, &upstream_.tcp, addr, on_connect);
  if (rc < 0) {
    cs.last_error = rc;
    reconnect_on_close_ = true;
    close_side(upstream_, false);
    return;
  }
  connecting_ = true;
  ++refs_;
}

void Session::on_connect(uv_connect_t* req, int status) {
  Session* s = static_cast<Session*>(req->data);
  s->connecting_ = false;
  if (!s->ending_ && !s->failed_reply_) {
    if (status < 0) {
      // Try the next address once this handle has closed.
      s->connecting_state_->last_error = status;
      s->reconnect_on_close_ = true;
      s->close_side(s->upstream_, false);
    } else {
      s->upstream_ready_ = true;
      s->connecting_state_.reset();  // no callback refers to it any more
      uv_tcp_nodelay(&s->upstream_.tcp, 1);
      s->start_reading(s->client_);
      s->start_reading(s->upstream_);
      s->arm_timer();
    }
  }
  s->release_ref();
}

void Session::upstream_failed(const char* stage, int status, int http_status) {
  if (failed_reply_ || ending_) return;
  failed_reply_ = true;
  failed_at_ms_ = now_ms();
  end_cause_ = EndCause::upstream_unreachable;
  server_.stats().upstream_errors++;
  nlohmann::ordered_json j = {{"event", "upstream_error"},
                              {"upstream", server_.upstream_label()},
                              {"stage", stage},
                              {"error", uv_strerror(status)},
                              {"status", http_status}};
  server_.log().emit(EventLevel::warn, id_, j,
                     "upstream " + server_.upstream_label() + " unreachable (" + stage +
                         "): " + uv_strerror(status) + "; answering the client with " +
                         std::to_string(http_status));
  if (upstream_.open) close_side(upstream_, false);
  std::string body = "wsinspect: upstream " + server_.upstream_label() + " " +
                     (http_status == 504 ? "timed out" : "unreachable") + " (" + stage +
                     "): " + uv_strerror(status) + "\n";
  reply_and_close(http_status, body);
}

void Session::reply_and_close(int status, const std::string& body) {
  const char* reason = status == 504 ? "Gateway Timeout" : "Bad Gateway";
  const std::string resp = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  // Read (and discard) what the client sends, so closing does not reset the
  // connection before it has read the answer.
  start_reading(client_);
  forward(upstream_, client_, resp.data(), resp.size());
  send_fin(client_);
  arm_timer();
}

// ---- relay ---------------------------------------------------------------

void Session::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  Side* side = static_cast<Side*>(h->data);
  buf->base = side->session->server_.read_buffer();
  buf->len = Server::kReadBufferSize;
}

void Session::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Side* side = static_cast<Side*>(s->data);
  side->session->handle_read(*side, nread, buf);
}

void Session::handle_read(Side& from, ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0 || ending_) return;
  if (nread > 0) {
    last_activity_ms_ = now_ms();
    from.bytes_from += static_cast<uint64_t>(nread);
    if (failed_reply_) return;  // the client's request goes nowhere
    forward(from, other(from), buf->base, static_cast<size_t>(nread));
    if (ending_ || !server_.config().inspect) return;
    const uint8_t* data = reinterpret_cast<const uint8_t*>(buf->base);
    if (from.is_client)
      inspect_client(data, static_cast<size_t>(nread));
    else
      inspect_server(data, static_cast<size_t>(nread));
    return;
  }
  if (nread == UV_EOF) {
    from.eof = true;
    stop_reading(from);
    if (failed_reply_) {
      end(EndCause::upstream_unreachable, false, false);
      return;
    }
    if (end_cause_ == EndCause::none)
      end_cause_ = from.is_client ? EndCause::client_fin : EndCause::server_fin;
    if (StreamInspector* insp = inspector_of(from)) insp->finish();
    send_fin(other(from));
    maybe_finish_after_eof();
    return;
  }
  // A reset or another error: pass it on as a reset.
  const EndCause cause = from.is_client ? EndCause::client_reset : EndCause::server_reset;
  if (end_cause_ == EndCause::none || end_cause_ == EndCause::client_fin ||
      end_cause_ == EndCause::server_fin)
    end_cause_ = cause;
  if (StreamInspector* insp = inspector_of(from)) insp->finish();
  end(cause, !from.is_client, from.is_client);
}

void Session::forward(Side& from, Side& to, const char* data, size_t len) {
  if (!to.open || to.shutdown_sent) return;
  if (to.queued == 0) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    const int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&to.tcp), &b, 1);
    if (n == static_cast<int>(len)) return;
    if (n < 0 && n != UV_EAGAIN) {
      write_failed(to);
      return;
    }
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
    }
  }
  WriteReq* w = static_cast<WriteReq*>(std::malloc(sizeof(WriteReq) + len));
  if (!w) std::abort();
  w->session = this;
  w->to = &to;
  w->from = &from;
  w->len = len;
  std::memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, static_cast<unsigned>(len));
  const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&to.tcp), &b, 1, on_write);
  if (rc < 0) {
    std::free(w);
    write_failed(to);
    return;
  }
  ++refs_;
  to.queued += len;
  if (to.queued > server_.config().high_watermark && from.reading) {
    stop_reading(from);
    from.paused = true;
  }
}

// A write towards `to` failed: that side is gone; the other side is reset.
void Session::write_failed(Side& to) {
  end(to.is_client ? EndCause::client_reset : EndCause::server_reset, !to.is_client, to.is_client);
}

void Session::on_write(uv_write_t* req, int status) {
  WriteReq* w = reinterpret_cast<WriteReq*>(req);
  Session* s = w->session;
  Side& to = *w->to;
  Side& from = *w->from;
  to.queued -= w->len;
  std::free(w);
  if (!s->ending_) {
    if (status < 0) {
      s->write_failed(to);
    } else if (from.paused && to.queued <= s->server_.config().low_watermark) {
      s->start_reading(from);
    }
    if (!s->ending_) s->maybe_finish_after_eof();
  }
  s->release_ref();
}

void Session::start_reading(Side& s) {
  if (s.reading || !s.open || s.eof) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&s.tcp), on_alloc, on_read) == 0) {
    s.reading = true;
    s.paused = false;
  }
}

void Session::stop_reading(Side& s) {
  if (!s.reading) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&s.tcp));
  s.reading = false;
}

void Session::send_fin(Side& to) {
  if (!to.open || to.shutdown_sent) return;
  to.shutdown_sent = true;
  uv_shutdown_t* req = new uv_shutdown_t;
  req->data = this;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&to.tcp), on_shutdown) < 0) {
    delete req;
    return;
  }
  ++refs_;
}

void Session::on_shutdown(uv_shutdown_t* req, int) {
  Session* s = static_cast<Session*>(req->data);
  delete req;
  if (!s->ending_) s->maybe_finish_after_eof();
  s->release_ref();
}

void Session::maybe_finish_after_eof() {
  if (ending_ || !client_.eof) return;
  if (!failed_reply_ && !upstream_.eof) return;
  if (client_.queued || upstream_.queued) return;
  end(end_cause_, false, false);
}

void Session::end(EndCause cause, bool reset_client, bool reset_upstream) {
  if (ending_) return;
  ending_ = true;
  if (end_cause_ == EndCause::none) end_cause_ = cause;
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&connecting_state_->resolve_req));
  log_unanswered_requests();
  log_synthesized_closes();
  log_conn_close();
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), on_close_handle);
    timer_ = nullptr;
  }
  close_side(client_, reset_client);
  close_side(upstream_, reset_upstream);
}

void Session::close_side(Side& s, bool reset) {
  if (!s.open) return;
  s.open = false;
  s.reading = false;
  uv_handle_t* h = reinterpret_cast<uv_handle_t*>(&s.tcp);
  if (reset && uv_tcp_close_reset(&s.tcp, on_close_handle) == 0) return;
  uv_close(h, on_close_handle);
}

void Session::on_close_handle(uv_handle_t* h) {
  Session* s;
  if (h->type == UV_TIMER) {
    s = static_cast<Session*>(h->data);
    delete reinterpret_cast<uv_timer_t*>(h);
  } else {
    Side* side = static_cast<Side*>(h->data);
    s = side->session;
    if (side == &s->upstream_ && s->reconnect_on_close_ && !s->ending_ && !s->failed_reply_) {
      s->reconnect_on_close_ = false;
      s->init_upstream_and_connect();
    }
  }
  s->release_ref();
}

void Session::shut_down(bool close_frames) {
  if (ending_) return;
  if (close_frames && phase_ == Phase::websocket) {
    // Close 1001 Going Away: unmasked towards the client, masked towards the server.
    static const uint8_t kKey[4] = {0x5a, 0x17, 0xc3, 0x7e};
    const std::string payload = close_payload(1001, "wsinspect shutting down");
    const std::string to_client = frame(opcode::close, payload);
    const std::string to_server = frame(opcode::close, payload, true, 0, kKey);
    forward(upstream_, client_, to_client.data(), to_client.size());
    forward(client_, upstream_, to_server.data(), to_server.size());
    proxy_sent_close_ = true;
  }
  end_cause_ = EndCause::proxy_shutdown;
  send_fin(client_);
  send_fin(upstream_);
  end(EndCause::proxy_shutdown, false, false);
}

// ---- timers --------------------------------------------------------------

// One source of truth for both arming and firing: the earliest deadline that
// applies in the session's current state, and what expires then.
Session::Deadline Session::next_deadline() const {
  const ProxyConfig& cfg = server_.config();
  Deadline d{UINT64_MAX, TimerKind::none};
  auto consider = [&](uint64_t at, TimerKind kind) {
    if (at < d.at) d = {at, kind};
  };
  if (failed_reply_) {
    consider(failed_at_ms_ + kFailedReplyLingerMs, TimerKind::failed_reply);
    return d;  // nothing else matters while answering 502/504
  }
  if ((resolving_ || connecting_ || reconnect_on_close_) && cfg.connect_timeout_ms)
    consider(started_ms_ + cfg.connect_timeout_ms, TimerKind::connect);
  if (!first_response_seen_ && cfg.handshake_timeout_ms)
    consider(started_ms_ + cfg.handshake_timeout_ms, TimerKind::handshake);
  if (upstream_ready_ && cfg.idle_timeout_ms)
    consider(last_activity_ms_ + cfg.idle_timeout_ms, TimerKind::idle);
  return d;
}

void Session::arm_timer() {
  if (ending_) return;
  const Deadline d = next_deadline();
  if (d.kind == TimerKind::none) {
    if (timer_) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), on_close_handle);
      timer_ = nullptr;
    }
    return;
  }
  if (!timer_) {
    timer_ = new uv_timer_t;
    uv_timer_init(server_.loop(), timer_);
    timer_->data = this;
    ++refs_;
  }
  // At least 1 ms: a zero timeout would run again within the same loop turn.
  const uint64_t now = now_ms();
  uv_timer_start(timer_, on_timer, d.at > now ? d.at - now : 1, 0);
}

void Session::on_timer(uv_timer_t* t) {
  Session* s = static_cast<Session*>(t->data);
  const Deadline d = s->next_deadline();
  if (s->now_ms() >= d.at) {
    switch (d.kind) {
      case TimerKind::failed_reply:
        s->end(EndCause::upstream_unreachable, false, false);
        break;
      case TimerKind::connect:
        s->reconnect_on_close_ = false;
        s->upstream_failed("timeout", UV_ETIMEDOUT, 504);
        break;
      case TimerKind::handshake:
        s->end_cause_ = EndCause::handshake_timeout;
        s->end(EndCause::handshake_timeout, false, false);
        break;
      case TimerKind::idle:
        s->end_cause_ = EndCause::idle_timeout;
        s->end(EndCause::idle_timeout, false, false);
        break;
      case TimerKind::none:
        break;
    }
  }
  s->arm_timer();
}

}  // namespace wsi
