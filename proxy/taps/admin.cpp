#include "proxy/taps/admin.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "parser/http_parser.h"
#include "proxy/config.h"
#include "proxy/event_log.h"
#include "proxy/proxy_server.h"
#include "proxy/session.h"
#include "proxy/taps/connections.h"
#include "proxy/taps/metrics.h"

namespace wsi {
namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";
// After a response that ends the connection, what the client still sends is
// read and dropped for this long, so that closing with unread bytes does not
// reset the connection before the client has read the response.
constexpr uint64_t kLingerMs = 2000;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
  }
  return "Error";
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string admin_listen_address(std::string_view spec) {
  if (all_digits(spec)) return "127.0.0.1:" + std::string(spec);
  return std::string(spec);
}

struct AdminServer::Conn {
  explicit Conn(AdminServer& s)
      : server(s), parser(HttpMode::request, HttpLimits{kMaxHeadBytes, kMaxHeaders}) {}

  AdminServer& server;
  uv_tcp_t tcp;
  uv_timer_t timer;
  int handles = 0;  // open handles: freed when the last one has closed
  HttpParser parser;
  std::string in;   // bytes read and not parsed yet (a response was being written)
  std::string out;  // the response being written
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  uint32_t requests = 0;
  bool reading = false;
  bool writing = false;
  bool in_request = false;         // a request has begun and is not complete
  bool close_after_write = false;  // the response ends the connection
  bool discarding = false;         // after the last response: reading to drop
  bool eof = false;
  bool ending = false;
};

AdminServer::AdminServer(uv_loop_t* loop, Server& server, EventLog& log, MetricsTap& metrics,
                         ConnectionTable& connections)
    : loop_(loop), server_(server), log_(log), metrics_(metrics), connections_(connections) {}

AdminServer::~AdminServer() = default;

bool AdminServer::listen(std::string_view spec, std::string& error) {
  const std::string address = admin_listen_address(spec);
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(address, host, port)) {
    error = "--admin-listen " + std::string(spec) + ": expected [HOST:]PORT";
    return false;
  }
  sockaddr_storage addr{};
  if (host == "localhost") host = "127.0.0.1";
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    error =
        "--admin-listen " + std::string(spec) + ": the host must be an IP address (or localhost)";
    return false;
  }
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 64, on_connection);
  if (rc != 0) {
    error = "cannot listen on " + address + " (--admin-listen): " + uv_strerror(rc);
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_ = format_address(reinterpret_cast<sockaddr*>(&bound));
  return true;
}

void AdminServer::close() {
  if (closed_) return;
  closed_ = true;
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  const std::vector<Conn*> all = conns_;
  for (Conn* c : all) end(*c);
}

// ---- connections ---------------------------------------------------------------

void AdminServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<AdminServer*>(listener->data);
  if (status < 0 || self->closed_) return;
  const size_t active = static_cast<size_t>(
      std::count_if(self->conns_.begin(), self->conns_.end(), [](Conn* c) { return !c->ending; }));
  if (active >= kMaxConnections) self->evict_one();
  Conn* c = new Conn(*self);
  self->conns_.push_back(c);
  uv_tcp_init(self->loop_, &c->tcp);
  uv_timer_init(self->loop_, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    self->end(*c);
    return;
  }
  const size_t now_active = static_cast<size_t>(
      std::count_if(self->conns_.begin(), self->conns_.end(), [](Conn* x) { return !x->ending; }));
  if (now_active > kMaxConnections) {  // every other one is being answered
    self->end(*c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  self->set_deadline(*c, kIdleTimeoutMs);
  self->update_reading(*c);
}

// Makes room for a new connection: the oldest idle keep-alive connection
// goes first, then the oldest with a request still incomplete; one being
// answered is never cut.
void AdminServer::evict_one() {
  for (bool idle_only : {true, false}) {
    for (Conn* c : conns_) {
      if (c->ending || c->writing || (idle_only && c->in_request)) continue;
      end(*c);
      return;
    }
  }
}

void AdminServer::end(Conn& c) {
  if (c.ending) return;
  c.ending = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), on_handle_closed);
}

void AdminServer::on_handle_closed(uv_handle_t* h) {
  Conn* c = static_cast<Conn*>(h->data);
  if (--c->handles > 0) return;
  AdminServer& self = c->server;
  self.conns_.erase(std::find(self.conns_.begin(), self.conns_.end(), c));
  delete c;
}

void AdminServer::set_deadline(Conn& c, uint64_t ms) {
  uv_timer_start(&c.timer, on_timer, ms, 0);
}

void AdminServer::on_timer(uv_timer_t* t) {
  Conn* c = static_cast<Conn*>(t->data);
  c->server.end(*c);
}

void AdminServer::update_reading(Conn& c) {
  const bool want = !c.ending && !c.eof && (c.discarding || !c.writing);
  if (want == c.reading) return;
  c.reading = want;
  auto* s = reinterpret_cast<uv_stream_t*>(&c.tcp);
  if (want)
    uv_read_start(s, on_alloc, on_read);
  else
    uv_read_stop(s);
}

void AdminServer::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  AdminServer& self = static_cast<Conn*>(h->data)->server;
  *buf = uv_buf_init(self.read_buf_, sizeof self.read_buf_);
}

void AdminServer::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  Conn& c = *static_cast<Conn*>(s->data);
  AdminServer& self = c.server;
  if (c.ending || nread == 0) return;
  if (nread < 0) {
    c.eof = true;
    // Nothing is left to answer: every byte read was parsed before.
    if (!c.writing) self.end(c);
    return;
  }
  if (c.discarding) return;
  if (!c.in_request) {
    c.in_request = true;
    self.set_deadline(c, kRequestTimeoutMs);
  }
  c.in.append(buf->base, static_cast<size_t>(nread));
  self.process(c);
}

// Parses what has arrived and answers the next complete request. Stops at
// each response until it has been written.
void AdminServer::process(Conn& c) {
  while (!c.writing && !c.ending) {
    const std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(c.in.data()), c.in.size());
    const HttpFeedResult r = c.parser.feed(rest);
    c.in.erase(0, r.consumed);
    if (r.event == HttpEvent::error) {
      const bool too_big = c.parser.error().name == "HPE_USER";  // the head limits
      fail(c, too_big ? 431 : 400,
           too_big ? "request head too large\n" : "bad request: " + c.parser.error().reason + "\n");
      break;
    }
    if (c.parser.body_bytes() > kMaxBodyBytes) {
      fail(c, 413, "request body too large\n");
      break;
    }
    if (r.event == HttpEvent::need_more) break;
    if (r.event == HttpEvent::head_complete) continue;
    // message_complete, or upgrade (answered, then the connection ends).
    const HttpHead& head = c.parser.head();
    ++c.requests;
    const bool keep_alive = head.keep_alive && r.event == HttpEvent::message_complete &&
                            c.requests < kMaxRequestsPerConnection;
    respond(c, route(head.method, head.target), head.method == "HEAD", keep_alive);
  }
  update_reading(c);
}

AdminServer::Response AdminServer::route(std::string_view method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  enum class Page { metrics, healthz, connections } page;
  if (path == "/metrics")
    page = Page::metrics;
  else if (path == "/healthz")
    page = Page::healthz;
  else if (path == "/connections")
    page = Page::connections;
  else
    return {404, kText,
            "not found: the admin endpoint serves /metrics, /healthz and /connections\n"};
  if (method != "GET" && method != "HEAD")
    return {405, kText, "method not allowed: use GET\n", "Allow: GET, HEAD\r\n"};
  switch (page) {
    case Page::metrics: {
      MetricsLive live;
      live.draining = server_.shutting_down();
      live.refused = server_.totals().refused;
      live.connection_limit = server_.connection_limit();
      live.log_dropped = log_.budget().dropped();
      for (const Session* s : server_.sessions()) {
        if (s->refused() || s->core().finished()) continue;
        live.open_bytes[0] += s->core().bytes(Direction::client_to_server);
        live.open_bytes[1] += s->core().bytes(Direction::server_to_client);
      }
      if (const CaptureFile* capture = server_.capture()) {
        live.capture = true;
        live.capture_packets = capture->packets();
        live.capture_dropped = capture->dropped();
      }
      return {200, kMetricsContentType, metrics_.render(live)};
    }
    case Page::healthz:
      if (server_.shutting_down()) return {503, kText, "draining\n"};
      return {200, kText, "ok\n"};
    case Page::connections: {
      size_t total = 0;
      std::string body = connections_.render(server_, uv_now(loop_), total);
      return {200, "application/json", std::move(body),
              "X-Total-Count: " + std::to_string(total) + "\r\n"};
    }
  }
  return {404, kText, "not found\n"};
}

void AdminServer::respond(Conn& c, const Response& r, bool head_only, bool keep_alive) {
  std::string& out = c.out;
  out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += reason_phrase(r.status);
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: " + std::to_string(r.body.size());
  out += "\r\nCache-Control: no-store\r\n";
  out += r.extra_headers;
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only) out += r.body;
  c.writing = true;
  c.close_after_write = !keep_alive;
  c.in_request = false;
  set_deadline(c, kWriteTimeoutMs);
  uv_buf_t buf = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
  c.write_req.data = &c;
  const int rc =
      uv_write(&c.write_req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1, on_written);
  if (rc != 0) {
    c.writing = false;
    end(c);
  }
}

void AdminServer::fail(Conn& c, int status, std::string_view body) {
  respond(c, {status, kText, std::string(body)}, false, false);
}

void AdminServer::on_written(uv_write_t* req, int status) {
  Conn& c = *static_cast<Conn*>(req->data);
  c.writing = false;
  if (c.ending) return;
  if (status < 0) {
    c.server.end(c);
    return;
  }
  c.server.finish_write(c);
}

void AdminServer::finish_write(Conn& c) {
  std::string().swap(c.out);  // a large response's memory is not kept while idle
  if (c.eof) {
    end(c);
    return;
  }
  if (c.close_after_write) {
    // FIN after the response; what the client still sends is dropped.
    c.discarding = true;
    std::string().swap(c.in);
    if (uv_shutdown(&c.shutdown_req, reinterpret_cast<uv_stream_t*>(&c.tcp), nullptr) != 0) {
      end(c);
      return;
    }
    set_deadline(c, kLingerMs);
    update_reading(c);
    return;
  }
  c.in_request = !c.in.empty();
  set_deadline(c, c.in_request ? kRequestTimeoutMs : kIdleTimeoutMs);
  process(c);
}

}  // namespace wsi
