// Session: the relay itself (reads, writes, backpressure, half-close, resets),
// the upstream connection and the timers. What the bytes mean is the
// connection core's business: every byte relayed is fed to it in the order
// it was received.
#include "proxy/session.h"

#include <cstring>

#include "proxy/frame_writer.h"
#include "proxy/proxy_server.h"

namespace wsi {

Session::Session(Server& server, uint64_t id)
    : server_(server),
      id_(id),
      client_tcp_(server.loop(), server.read_buffer(), *this),
      upstream_tcp_(server.loop(), server.read_buffer(), *this),
      client_(&client_tcp_),
      upstream_(&upstream_tcp_),
      core_(server.conn_config(), server.report(), id, uv_now(server.loop())) {
  client_tcp_.init();
  refs_ = 1;
}

Session::~Session() = default;

void Session::release_ref() {
  if (--refs_ == 0) server_.session_done(this);
}

void Session::abort_before_start() {
  ending_ = true;
  client_->close(false);
}

void Session::refuse(uint64_t limit) {
  refused_ = true;
  started_ms_ = last_activity_ms_ = now_ms();
  if (server_.listener_tls()) {
    abort_before_start();
    return;
  }
  reply_and_close(503, "over the connection limit (" + std::to_string(limit) + "); try again later",
                  EndCause::none);
}

uint64_t Session::now_ms() const {
  return uv_now(server_.loop());
}

void Session::start() {
  started_ms_ = last_activity_ms_ = http_wait_since_ms_ = now_ms();
  sockaddr_storage peer{};
  int len = sizeof peer;
  std::string client_addr;
  const bool have_peer =
      uv_tcp_getpeername(client_tcp_.tcp(), reinterpret_cast<sockaddr*>(&peer), &len) == 0;
  if (have_peer) client_addr = format_address(reinterpret_cast<sockaddr*>(&peer));
  client_tcp_.set_nodelay();
  server_.report().on_conn_open({id_, started_ms_}, client_addr);
  if (CaptureFile* capture = server_.capture(); capture && have_peer)
    start_capture(*capture, reinterpret_cast<const sockaddr*>(&peer));
  if (const TlsContext* tls = server_.listener_tls()) {
    client_tls_ = std::make_unique<TlsTransport>(client_tcp_, *tls, TlsRole::server,
                                                 server_.read_buffer(), client_handler());
    client_ = client_tls_.get();
  }
  const Server::UpstreamTls& up = server_.upstream_tls();
  if (up.ctx) {
    upstream_tls_ = std::make_unique<TlsTransport>(upstream_tcp_, *up.ctx, TlsRole::client,
                                                   server_.read_buffer(), upstream_handler());
    upstream_tls_->set_peer_name(up.sni, up.verify_host);
    upstream_ = upstream_tls_.get();
  }
  if (capture_) {
    client_tap_->set_inner(*client_);
    upstream_tap_->set_inner(*upstream_);
    client_ = client_tap_.get();
    upstream_ = upstream_tap_.get();
  }
  if (client_tls_) client_tls_->start_server();
  if (!server_.host_rewrite().empty())
    host_rewrite_ = std::make_unique<FirstHeadRewriter>(server_.host_rewrite());

  if (server_.config().forward) {
    // The client names the target in its proxy request.
    forward_ = Forward::request;
    forward_state_ = std::make_unique<ForwardState>();
    update_reading(*client_);
    arm_timer();
    return;
  }
  connect_upstream(server_.upstream_host(), server_.upstream_port());
}

void Session::start_capture(CaptureFile& file, const sockaddr* peer) {
  sockaddr_storage local{};
  int ll = sizeof local;
  if (uv_tcp_getsockname(client_tcp_.tcp(), reinterpret_cast<sockaddr*>(&local), &ll) != 0) return;
  const IpEndpoint client = ip_endpoint(peer);
  const CaptureSettings& s = file.settings();
  if (s.client && !s.client->contains(client)) return;
  capture_ =
      std::make_unique<CaptureConn>(file, client, ip_endpoint(reinterpret_cast<sockaddr*>(&local)));
  client_tap_ = std::make_unique<CaptureTap>(*capture_, true, client_tcp_, *this);
  upstream_tap_ = std::make_unique<CaptureTap>(*capture_, false, upstream_tcp_, *this);
  // Until a TLS layer takes them, the TCP legs report to the taps.
  client_tcp_.set_handler(*client_tap_);
  upstream_tcp_.set_handler(*upstream_tap_);
}

void Session::connect_upstream(const std::string& host, uint16_t port) {
  connecting_state_ = std::make_unique<Connecting>();
  Connecting& cs = *connecting_state_;
  // Numeric addresses need no resolver.
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
    cs.addrs.push_back(addr);
    connect_next();
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

// ---- upstream connection -------------------------------------------------------

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
      s->connect_next();
    }
  }
  if (res) uv_freeaddrinfo(res);
  s->release_ref();
}

// Tries the next candidate address on a fresh upstream handle.
void Session::connect_next() {
  Connecting& cs = *connecting_state_;
  if (cs.next_addr >= cs.addrs.size()) {
    upstream_failed("connect", cs.last_error ? cs.last_error : UV_EADDRNOTAVAIL, 502);
    return;
  }
  upstream_tcp_.init();
  ++refs_;
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&cs.addrs[cs.next_addr++]);
  int rc = 0;
  if (!upstream_tcp_.connect(addr, rc)) {
    cs.last_error = rc;
    reconnect_on_close_ = true;
    upstream_->close(false);
    return;
  }
  connecting_ = true;
}

void Session::on_connected(Transport& t, int status) {
  if (is_client(t)) {
    client_tls_done(status);
    return;
  }
  if (status == kTransportHandshaking) {
    // TCP is up; the upstream's TLS handshake has begun.
    upstream_tcp_.set_nodelay();
    upstream_tls_started_ms_ = now_ms();
    arm_timer();
    return;
  }
  connecting_ = false;
  upstream_tls_started_ms_ = 0;
  if (ending_ || failed_reply_) return;
  if (status < 0 && upstream_tls_ && upstream_tls_->failure().id.size()) {
    // TCP connected but TLS failed: another address would fail the same way.
    const TlsFailure& f = upstream_tls_->failure();
    server_.report().on_tls_error({id_, now_ms()}, {"upstream", f});
    upstream_failed("tls", f.id, 502);
    return;
  }
  if (status < 0) {
    // Try the next address once this handle has closed.
    connecting_state_->last_error = status;
    reconnect_on_close_ = true;
    upstream_->close(false);
    return;
  }
  connecting_state_.reset();
  upstream_tcp_.set_nodelay();
  if (forward_ == Forward::connecting) {
    forward_connected();
    return;
  }
  upstream_ready_ = true;
  if (upstream_tls_) core_.set_tls(Direction::server_to_client, &upstream_tls_->summary());
  update_reading(*client_);
  update_reading(*upstream_);
  arm_timer();
}

void Session::client_tls_done(int status) {
  if (ending_) return;
  if (status < 0) {
    server_.report().on_tls_error({id_, now_ms()}, {"client", client_tls_->failure()});
    end(EndCause::tls_handshake_failed, false, false);
    return;
  }
  core_.set_tls(Direction::client_to_server, &client_tls_->summary());
  if (forward_ == Forward::done && !upstream_tls_) {
    // Intercepted after CONNECT: TLS towards the target, with the name the
    // client asked for.
    const Server::ForwardTls& f = server_.forward_tls();
    const std::string& host = forward_state_->request.host;
    const std::string& sni = client_tls_->summary().sni;
    const std::string name = sni.empty() ? host : sni;
    upstream_tls_ = std::make_unique<TlsTransport>(upstream_tcp_, *f.upstream, TlsRole::client,
                                                   server_.read_buffer(), *this);
    upstream_tls_->set_peer_name(is_ip_literal(name) ? std::string() : name, name);
    upstream_ = upstream_tls_.get();
    connecting_ = true;
    upstream_tls_started_ms_ = now_ms();
    upstream_tls_->start_client();
  }
  update_reading(*client_);
  arm_timer();
}

// ---- forward proxy ---------------------------------------------------------------

void Session::forward_refuse(int status, std::string_view why, std::string_view method,
                             std::string_view target) {
  server_.report().on_forward({id_, now_ms()}, {method, target, "refused", status, why});
  forward_ = Forward::done;
  reply_and_close(status, why, EndCause::forward_refused);
}

void Session::on_forward_bytes(std::span<const uint8_t> bytes) {
  ForwardState& f = *forward_state_;
  if (forward_ == Forward::tunnel) {
    start_tunnel(bytes);
    return;
  }
  f.buf.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  int status = 0;
  std::string why;
  switch (parse_proxy_request(f.buf, f.request, status, why)) {
    case ProxyRequestStatus::need_more:
      return;
    case ProxyRequestStatus::bad:
      forward_refuse(status, why);
      return;
    case ProxyRequestStatus::ok:
      break;
  }
  const ProxyRequest& r = f.request;
  const std::string target = host_port_text(r.host, r.port);
  const std::string method = r.connect ? "CONNECT" : f.buf.substr(0, f.buf.find(' '));
  const std::vector<std::string>& allowed = server_.config().allow_targets;
  if (!allowed.empty() && !target_allowed(allowed, r.host, r.port)) {
    forward_refuse(403, "the target " + target + " is not allowed (--allow-target)", method,
                   target);
    return;
  }
  if (!r.connect) server_.report().on_forward({id_, now_ms()}, {method, target, "plain"});
  forward_ = Forward::connecting;
  update_reading(*client_);
  connect_upstream(r.host, r.port);
}

// The target is connected: answer a CONNECT, or send an absolute-form
// request on in origin form.
void Session::forward_connected() {
  ForwardState& f = *forward_state_;
  const std::string rest = f.buf.substr(f.request.head_size);
  if (f.request.connect) {
    static const char kEstablished[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    forward_ = Forward::tunnel;
    if (!client_tcp_.write(
            {reinterpret_cast<const uint8_t*>(kEstablished), sizeof kEstablished - 1})) {
      write_failed(*client_);
      return;
    }
    f.buf.clear();
    if (!rest.empty())
      start_tunnel({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
    else
      update_reading(*client_);
    arm_timer();
    return;
  }
  forward_ = Forward::done;
  upstream_ready_ = true;
  const std::string out = f.request.origin_head + rest;
  if (!upstream_->write({reinterpret_cast<const uint8_t*>(out.data()), out.size()})) {
    write_failed(*upstream_);
    return;
  }
  // The core sees what the client sent: its request in absolute form.
  core_.feed(Direction::client_to_server,
             {reinterpret_cast<const uint8_t*>(f.buf.data()), f.buf.size()}, now_ms());
  f.buf.clear();
  update_reading(*client_);
  update_reading(*upstream_);
  arm_timer();
}

// The client's first bytes inside a CONNECT tunnel: TLS is intercepted
// (with --ca, unless the host is in --passthrough) or tunnelled; anything
// else is inspected as it is.
void Session::start_tunnel(std::span<const uint8_t> first) {
  ForwardState& f = *forward_state_;
  const std::string target = host_port_text(f.request.host, f.request.port);
  const bool tls = first[0] == 0x16;
  const Server::ForwardTls& ft = server_.forward_tls();
  bool pass = false;
  for (const std::string& p : server_.config().passthrough)
    pass = pass || host_matches(p, f.request.host);
  forward_ = Forward::done;
  if (tls && ft.ca && !pass) {
    server_.report().on_forward({id_, now_ms()}, {"CONNECT", target, "intercepted"});
    client_tls_ = std::make_unique<TlsTransport>(client_tcp_, *ft.intercept, TlsRole::server,
                                                 server_.read_buffer(), *this);
    client_tls_->set_fallback_name(f.request.host);
    client_ = client_tls_.get();
    client_tls_->start_server();
    client_tls_->feed_records(first);
    return;
  }
  server_.report().on_forward({id_, now_ms()}, {"CONNECT", target,
                                                !tls   ? "plain"
                                                : pass ? "passthrough"
                                                       : "tunnelled"});
  if (tls) {
    core_.opaque();  // bytes are counted, not judged
  }
  note_http_wait();  // the requests inside the tunnel are timed from here
  upstream_ready_ = true;
  update_reading(*upstream_);
  on_read(*client_, first);
}

void Session::upstream_failed(const char* stage, int status, int http_status) {
  upstream_failed(stage, uv_strerror(status), http_status);
}

void Session::upstream_failed(const char* stage, std::string_view error, int http_status,
                              EndCause cause) {
  if (failed_reply_ || ending_) return;
  failed_reply_ = true;
  failed_at_ms_ = now_ms();
  // In forward mode the upstream is the client's target.
  const std::string label =
      forward_state_ ? host_port_text(forward_state_->request.host, forward_state_->request.port)
                     : server_.upstream_label();
  if (forward_ == Forward::connecting && forward_state_->request.connect)
    server_.report().on_forward({id_, failed_at_ms_},
                                {"CONNECT", label, "refused", http_status, "target unreachable"});
  server_.report().on_upstream_error({id_, failed_at_ms_}, {label, stage, error, http_status});
  failed_reply_ = false;  // reply_and_close takes it from here
  reply_and_close(http_status,
                  "upstream " + label + " " + (http_status == 504 ? "timed out" : "unreachable") +
                      " (" + stage + "): " + std::string(error),
                  cause);
}

// The proxy's own answer (502, 504, 408): the upstream is let go, the client
// gets the answer and a FIN, and what it still sends is read and dropped,
// so closing does not reset the connection before it has read the answer.
void Session::reply_and_close(int status, std::string_view body, EndCause cause) {
  if (failed_reply_ || ending_) return;
  failed_reply_ = true;
  failed_cause_ = cause;
  failed_at_ms_ = now_ms();
  upstream_->close(false);
  const std::string answer = proxy_answer(status, body);
  if (!client_->write({reinterpret_cast<const uint8_t*>(answer.data()), answer.size()})) {
    write_failed(*client_);
    return;
  }
  client_->shutdown();
  update_reading(*client_);
  arm_timer();
}

// ---- relay -----------------------------------------------------------------------

size_t Session::read_limit(const Transport& t) const {
  return core_.room(from_dir(t));
}

// Reading a leg goes on unless its peer ended, the other leg is backed up,
// or the core cannot take more of its bytes yet.
void Session::update_reading(Transport& t) {
  const Leg& l = leg(t);
  bool want = !ending_ && !lingering_ && !l.eof;
  if (failed_reply_)
    want = want && is_client(t);  // the client's bytes are read and dropped
  else if (forward_ == Forward::request || forward_ == Forward::tunnel)
    want = want && is_client(t);  // the proxy request, or the tunnel's first bytes
  else if (forward_ == Forward::connecting)
    want = false;
  else
    want = want && upstream_ready_ && !l.paused && core_.room(from_dir(t)) > 0;
  if (want)
    t.start_reading();
  else
    t.stop_reading();
}

void Session::on_read(Transport& t, std::span<const uint8_t> bytes) {
  if (ending_) return;
  last_activity_ms_ = now_ms();
  if (failed_reply_) return;  // the client's request goes nowhere
  if (forward_ != Forward::off && forward_ != Forward::done) {
    on_forward_bytes(bytes);
    return;
  }
  Transport& to = other(t);
  if (is_client(t) && host_rewrite_) {
    if (!forward_client(bytes)) return;
  } else if (!to.write(bytes)) {
    write_failed(to);
    return;
  }
  core_.feed(from_dir(t), bytes, last_activity_ms_);
  if (ending_) return;
  if (to.queued() > server_.config().high_watermark) leg(t).paused = true;
  if (is_client(t)) client_spoke_ = true;
  note_http_wait();
  // A server's answer can free room for held client bytes, and vice versa.
  update_reading(*client_);
  update_reading(*upstream_);
}

bool Session::forward_client(std::span<const uint8_t> bytes) {
  const std::string out = host_rewrite_->feed(bytes);
  if (host_rewrite_->done()) host_rewrite_.reset();
  if (!out.empty() &&
      !upstream_->write({reinterpret_cast<const uint8_t*>(out.data()), out.size()})) {
    write_failed(*upstream_);
    return false;
  }
  return true;
}

void Session::on_end(Transport& t, StreamEnd how, int) {
  if (ending_) return;
  Leg& l = leg(t);
  l.eof = true;
  report_tls_stream_failure(t);
  if (failed_reply_) {
    end(failed_cause_, false, false);
    return;
  }
  if (is_client(t) && host_rewrite_) {
    // A head that never completed goes on as it came.
    const std::string rest = host_rewrite_->flush();
    host_rewrite_.reset();
    if (!rest.empty())
      upstream_->write({reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
  }
  core_.end_stream(from_dir(t), how, now_ms());
  if (how == StreamEnd::fin) report_tls_end(t);
  Transport& to = other(t);
  if (how == StreamEnd::fin) {
    // FIN once what is queued has been written; over TLS a stream that ended
    // without close_notify is passed on the same way.
    const TlsTransport* tls = is_client(t) ? client_tls_.get() : upstream_tls_.get();
    to.shutdown(!(tls && tls->truncated()));
    maybe_finish();
    return;
  }
  // A reset: passed on as a reset once the bytes already read have been
  // written (a reset drops what is still queued), waiting at most kLingerMs.
  if (to.queued() == 0) {
    end(EndCause::none, is_client(to), !is_client(to));
    return;
  }
  leg(to).reset_after_drain = true;
  lingering_ = true;
  linger_at_ms_ = now_ms() + kLingerMs;
  update_reading(to);  // stops: nothing more is read while lingering
  arm_timer();
}

// A TLS stream's end: with close_notify, or without it (truncation), which
// is a problem only when the WebSocket close handshake had not completed.
void Session::report_tls_end(Transport& t) {
  const TlsTransport* tls = is_client(t) ? client_tls_.get() : upstream_tls_.get();
  if (!tls || !tls->handshake_done()) return;
  server_.report().on_tls_end({id_, now_ms()},
                              {is_client(t) ? "client" : "upstream", tls->close_notify_received(),
                               core_.close_handshake_done()});
}

// A TLS stream that broke after its handshake, reported once, at its end.
void Session::report_tls_stream_failure(Transport& t) {
  const TlsTransport* tls = is_client(t) ? client_tls_.get() : upstream_tls_.get();
  if (!tls) return;
  const TlsFailure f = tls->stream_failure();
  if (!f.id.empty())
    server_.report().on_tls_error({id_, now_ms()}, {is_client(t) ? "client" : "upstream", f});
}

// What the HTTP phase waits for changed: its timeout counts from now.
void Session::note_http_wait() {
  const HttpWait w = core_.http_wait();
  if (w == http_wait_) return;
  http_wait_ = w;
  http_wait_since_ms_ = now_ms();
  arm_timer();
}

// A head did not come in time: a client that never sent a byte is closed
// without an answer (browsers open spare connections); one whose request
// head is incomplete gets 408; a request that got no response byte, 504.
void Session::head_timed_out() {
  const uint64_t ms = server_.config().handshake_timeout_ms;
  if (http_wait_ == HttpWait::response_head && upstream_ready_) {
    upstream_failed("response",
                    "no response byte within " + std::to_string(ms) +
                        " ms of the request (--handshake-timeout)",
                    504, EndCause::handshake_timeout);
    return;
  }
  if (!client_spoke_ || http_wait_ != HttpWait::request_head) {
    end(EndCause::handshake_timeout, false, false);
    return;
  }
  reply_and_close(408,
                  "the request head did not complete within " + std::to_string(ms) +
                      " ms (--handshake-timeout)",
                  EndCause::handshake_timeout);
}

void Session::on_written(Transport& t, uint32_t mark) {
  if (mark == kMarkOwnClose)
    core_.own_close_sent(is_client(t) ? Direction::server_to_client : Direction::client_to_server,
                         now_ms());
  if (ending_) return;
  Transport& from = other(t);
  Leg& src = leg(from);
  if (src.paused && t.queued() <= server_.config().low_watermark) {
    src.paused = false;
    update_reading(from);
  }
  if (leg(t).reset_after_drain && t.queued() == 0) {
    end(EndCause::none, is_client(t), !is_client(t));
    return;
  }
  maybe_finish();
}

void Session::on_write_error(Transport& t, int) {
  if (!ending_) write_failed(t);
}

// A write towards `to` failed: that side is gone; the other side is reset.
void Session::write_failed(Transport& to) {
  core_.end_stream(from_dir(to), StreamEnd::reset, now_ms());
  end(EndCause::none, !is_client(to), is_client(to));
}

void Session::maybe_finish() {
  if (ending_) return;
  if (lingering_) {
    if (client_->queued() == 0 && upstream_->queued() == 0) end(linger_cause_, false, false);
    return;
  }
  if (!client_leg_.eof) return;
  if (!failed_reply_ && !upstream_leg_.eof) return;
  if (client_->queued() || upstream_->queued()) return;
  end(EndCause::none, false, false);
}

void Session::end(EndCause cause, bool reset_client, bool reset_upstream) {
  if (ending_) return;
  ending_ = true;
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&connecting_state_->resolve_req));
  if (!refused_) core_.finish(cause, now_ms());
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), on_timer_closed);
    timer_ = nullptr;
  }
  client_->close(reset_client);
  upstream_->close(reset_upstream);
}

void Session::on_closed(Transport& t) {
  if (!is_client(t) && reconnect_on_close_ && !ending_ && !failed_reply_) {
    reconnect_on_close_ = false;
    connect_next();
  }
  release_ref();
}

void Session::shut_down(bool close_frames) {
  if (ending_ || lingering_) return;
  if (close_frames && core_.websocket()) {
    // Close 1001 Going Away, only where it cannot land inside a frame and
    // only to an endpoint that has not had a close frame yet: unmasked
    // towards the client, masked towards the server.
    static const uint8_t kKey[4] = {0x5a, 0x17, 0xc3, 0x7e};
    const std::string payload = close_payload(1001, "wsinspect shutting down");
    auto send = [&](Direction dir, Transport& to, const std::string& f) {
      // A write that fails means that peer is gone: it gets no close frame,
      // and the core reports 1006 towards it.
      if (!core_.close_seen(dir) && core_.at_frame_boundary(dir))
        to.write({reinterpret_cast<const uint8_t*>(f.data()), f.size()}, kMarkOwnClose);
    };
    send(Direction::server_to_client, *client_, frame(opcode::close, payload));
    send(Direction::client_to_server, *upstream_, frame(opcode::close, payload, true, 0, kKey));
  }
  lingering_ = true;
  linger_cause_ = EndCause::proxy_shutdown;
  linger_at_ms_ = now_ms() + kLingerMs;
  update_reading(*client_);  // both stop: nothing more is read while lingering
  update_reading(*upstream_);
  client_->shutdown();
  upstream_->shutdown();
  maybe_finish();
  arm_timer();
}

void Session::force_end() {
  end(EndCause::proxy_shutdown, false, false);
}

// ---- timers ----------------------------------------------------------------------

// One source of truth for both arming and firing: the earliest deadline that
// applies in the session's current state, and what expires then.
Session::Deadline Session::next_deadline() const {
  const ProxyConfig& cfg = server_.config();
  Deadline d{UINT64_MAX, TimerKind::none};
  auto consider = [&](uint64_t at, TimerKind kind) {
    if (at < d.at) d = {at, kind};
  };
  if (lingering_) {
    consider(linger_at_ms_, TimerKind::linger);
    return d;
  }
  if (failed_reply_) {
    consider(failed_at_ms_ + kFailedReplyLingerMs, TimerKind::failed_reply);
    return d;  // nothing else matters while answering 502/504
  }
  if ((resolving_ || connecting_ || reconnect_on_close_) && !upstream_tls_started_ms_ &&
      cfg.connect_timeout_ms)
    consider(started_ms_ + cfg.connect_timeout_ms, TimerKind::connect);
  if (cfg.tls_handshake_timeout_ms) {
    if (client_tls_ && !client_tls_->handshake_done())
      consider(started_ms_ + cfg.tls_handshake_timeout_ms, TimerKind::tls_handshake);
    if (upstream_tls_started_ms_)
      consider(upstream_tls_started_ms_ + cfg.tls_handshake_timeout_ms,
               TimerKind::upstream_tls_handshake);
  }
  // The HTTP phase: each head within the head timeout (a request's from the
  // end of the previous response, a response's from the end of its
  // request), a message in progress within the inactivity timeout.
  if (http_wait_ == HttpWait::request_head || http_wait_ == HttpWait::response_head) {
    if (cfg.handshake_timeout_ms)
      consider(http_wait_since_ms_ + cfg.handshake_timeout_ms, TimerKind::handshake);
  } else if (http_wait_ != HttpWait::none && cfg.http_inactivity_timeout_ms) {
    consider(last_activity_ms_ + cfg.http_inactivity_timeout_ms, TimerKind::http_inactivity);
  }
  if (upstream_ready_ && cfg.idle_timeout_ms)
    consider(last_activity_ms_ + cfg.idle_timeout_ms, TimerKind::idle);
  return d;
}

void Session::arm_timer() {
  if (ending_) return;
  const Deadline d = next_deadline();
  if (d.kind == TimerKind::none) {
    if (timer_) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), on_timer_closed);
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

void Session::on_timer_closed(uv_handle_t* h) {
  Session* s = static_cast<Session*>(h->data);
  delete reinterpret_cast<uv_timer_t*>(h);
  s->release_ref();
}

void Session::on_timer(uv_timer_t* t) {
  Session* s = static_cast<Session*>(t->data);
  const Deadline d = s->next_deadline();
  if (s->now_ms() >= d.at) {
    switch (d.kind) {
      case TimerKind::failed_reply:
        s->end(s->failed_cause_, false, false);
        break;
      case TimerKind::connect:
        s->reconnect_on_close_ = false;
        s->upstream_failed("timeout", UV_ETIMEDOUT, 504);
        break;
      case TimerKind::tls_handshake:
        s->client_tls_->fail_timeout();  // reports on_connected(error): the session ends
        break;
      case TimerKind::upstream_tls_handshake:
        s->upstream_tls_->fail_timeout();
        break;
      case TimerKind::handshake:
        s->head_timed_out();
        break;
      case TimerKind::http_inactivity:
        if (s->http_wait_ == HttpWait::request_body)
          s->reply_and_close(408, "the request body stalled (--http-inactivity-timeout)",
                             EndCause::http_inactivity);
        else
          s->end(EndCause::http_inactivity, false, false);
        break;
      case TimerKind::idle:
        s->end(EndCause::idle_timeout, false, false);
        break;
      case TimerKind::linger:
        // Queues did not drain in time: pass a pending reset on now.
        s->end(s->linger_cause_, s->client_leg_.reset_after_drain,
               s->upstream_leg_.reset_after_drain);
        break;
      case TimerKind::none:
        break;
    }
  }
  s->arm_timer();
}

}  // namespace wsi
