// TcpTransport: a Transport over a libuv TCP handle, with the one write
// queue every writer goes through (relay, built-in echo, proxy-originated
// frames): bytes are tried at once with uv_try_write and the rest is copied
// into a request that lives until its write callback.
#pragma once

#include <uv.h>

#include <cstdint>

#include "proxy/net/transport.h"

namespace wsi {

// The loop's single read buffer: every read lands here and is consumed
// (forwarded or copied) before the read callback returns.
struct ReadBuffer {
  char* data;
  size_t size;
};

class TcpTransport final : public Transport {
 public:
  TcpTransport(uv_loop_t* loop, ReadBuffer buf, TransportHandler& handler);
  ~TcpTransport() override = default;
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;

  // Initialises the handle (again, after on_closed, for another attempt).
  void init();
  // For uv_accept.
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }
  uv_tcp_t* tcp() { return &tcp_; }
  // Connects to `addr`; on_connected follows. False with `error` when it cannot start.
  bool connect(const sockaddr* addr, int& error);
  void set_nodelay();
  // A layer above (TLS) takes the callbacks instead of the one given at construction.
  void set_handler(TransportHandler& handler) { handler_ = &handler; }

  void start_reading() override;
  void stop_reading() override;
  bool reading() const override { return reading_; }
  bool write(std::span<const uint8_t> bytes, uint32_t mark = 0) override;
  uint64_t queued() const override { return queued_; }
  void shutdown(bool notify = true) override;
  bool shutdown_sent() const override { return shutdown_sent_; }
  void close(bool reset) override;
  bool is_open() const override { return open_; }

 private:
  struct WriteReq;
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write_cb(uv_write_t* req, int status);
  static void on_shutdown_cb(uv_shutdown_t* req, int status);
  static void on_connect_cb(uv_connect_t* req, int status);
  static void on_close_cb(uv_handle_t* h);
  int pending_error();

  uv_loop_t* loop_;
  ReadBuffer buf_;
  TransportHandler* handler_;
  uv_tcp_t tcp_;
  uint64_t queued_ = 0;
  bool open_ = false;  // init done, close not yet called
  bool reading_ = false;
  bool eof_ = false;
  bool shutdown_sent_ = false;
};

}  // namespace wsi
