// AdminServer: the admin endpoint (--admin-listen), an HTTP/1.1 server on the
// proxy's own loop: no thread, requests parsed by the project's llhttp
// wrapper (parser/http_parser.h).
//
//   GET /metrics       the Prometheus text format (MetricsTap)
//   GET /healthz       200 "ok" while accepting, 503 "draining" after SIGTERM
//   GET /connections   a JSON array of the open connections (ConnectionTable)
//
// HEAD works too; other methods get 405, other paths 404, what is not
// HTTP/1.x 400, a head over kMaxHeadBytes 431, a body over kMaxBodyBytes 413.
// A client can hold little and nothing for long: one request is served at a
// time per connection (reading stops while its response is written), a
// request must be complete kRequestTimeoutMs after its first byte, a
// keep-alive connection may wait kIdleTimeoutMs for the next one, a response
// must be read within kWriteTimeoutMs, and at most kMaxConnections are open:
// a new one replaces the oldest that is not being answered, so stalled
// clients cannot lock a scraper out.
//
// Ownership (libuv): each connection's TCP handle and timer are freed in their
// close callbacks; close() starts that for everything and the loop finishes it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsi {

class Server;
class EventLog;
class MetricsTap;
class ConnectionTable;

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, Server& server, EventLog& log, MetricsTap& metrics,
              ConnectionTable& connections);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds `spec`, [HOST:]PORT (a bare port is 127.0.0.1:PORT), and listens.
  // False with `error` set when the address cannot be used.
  bool listen(std::string_view spec, std::string& error);
  // "127.0.0.1:9100" once listening.
  const std::string& bound_address() const { return bound_; }
  // Stops listening and ends every admin connection. Idempotent.
  void close();
  size_t connections() const { return conns_.size(); }

  static constexpr size_t kMaxConnections = 16;
  static constexpr size_t kMaxHeadBytes = 8 * 1024;
  static constexpr size_t kMaxHeaders = 32;
  static constexpr uint64_t kMaxBodyBytes = 1024;
  static constexpr uint32_t kMaxRequestsPerConnection = 1000;
  static constexpr uint64_t kRequestTimeoutMs = 5000;
  static constexpr uint64_t kIdleTimeoutMs = 30000;
  static constexpr uint64_t kWriteTimeoutMs = 10000;

 private:
  struct Conn;
  struct Response {
    int status;
    std::string_view content_type;
    std::string body;
    std::string extra_headers = {};  // whole lines, each ending with CRLF
  };
  static void on_connection(uv_stream_t* listener, int status);
  Response route(std::string_view method, std::string_view target);
  void evict_one();

  // Per connection.
  void process(Conn& c);
  void respond(Conn& c, const Response& r, bool head_only, bool keep_alive);
  void fail(Conn& c, int status, std::string_view body);
  void finish_write(Conn& c);
  void set_deadline(Conn& c, uint64_t ms);
  void update_reading(Conn& c);
  void end(Conn& c);
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  static void on_timer(uv_timer_t* t);
  static void on_handle_closed(uv_handle_t* h);

  uv_loop_t* loop_;
  Server& server_;
  EventLog& log_;
  MetricsTap& metrics_;
  ConnectionTable& connections_;
  uv_tcp_t listener_;
  bool listening_ = false;
  bool closed_ = false;
  std::string bound_;
  std::vector<Conn*> conns_;  // in accept order
  char read_buf_[16 * 1024];  // every read is consumed or copied before on_read returns
};

// "127.0.0.1:PORT" for a bare port, else `spec` as it is.
std::string admin_listen_address(std::string_view spec);

}  // namespace wsi
