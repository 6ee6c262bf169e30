#include "proxy/net/tcp_transport.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <sys/socket.h>

namespace wsi {

struct TcpTransport::WriteReq {
  uv_write_t req;
  TcpTransport* transport;
  size_t len;
  uint32_t mark;
  char data[];
};

TcpTransport::TcpTransport(uv_loop_t* loop, ReadBuffer buf, TransportHandler& handler)
    : loop_(loop), buf_(buf), handler_(&handler) {}

void TcpTransport::init() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  open_ = true;
  reading_ = eof_ = shutdown_sent_ = false;
  queued_ = 0;
}

void TcpTransport::set_nodelay() {
  uv_tcp_nodelay(&tcp_, 1);
}

// Connect and shutdown requests live only while they are in flight: an
// established connection holds neither.
bool TcpTransport::connect(const sockaddr* addr, int& error) {
  auto* req = new uv_connect_t;
  req->data = this;
  error = uv_tcp_connect(req, &tcp_, addr, on_connect_cb);
  if (error != 0) delete req;
  return error == 0;
}

void TcpTransport::on_connect_cb(uv_connect_t* req, int status) {
  auto* t = static_cast<TcpTransport*>(req->data);
  delete req;
  if (status == UV_ECANCELED) return;  // closing: on_closed follows
  t->handler_->on_connected(*t, status);
}

// libuv reports a hang-up that follows data in the same poll as EOF without
// reading the socket's error, so a reset right after data would pass for a
// FIN: the pending error tells them apart.
int TcpTransport::pending_error() {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return UV_EOF;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0) return UV_EOF;
  return uv_translate_sys_error(err);
}

void TcpTransport::start_reading() {
  if (reading_ || !open_ || eof_) return;
  if (uv_read_start(stream(), on_alloc, on_read_cb) == 0) reading_ = true;
}

void TcpTransport::stop_reading() {
  if (!reading_) return;
  uv_read_stop(stream());
  reading_ = false;
}

void TcpTransport::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* t = static_cast<TcpTransport*>(h->data);
  const size_t limit = std::max<size_t>(1, std::min(t->buf_.size, t->handler_->read_limit(*t)));
  *buf = uv_buf_init(t->buf_.data, static_cast<unsigned>(limit));
}

void TcpTransport::on_read_cb(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* t = static_cast<TcpTransport*>(s->data);
  if (nread == 0) return;
  if (nread > 0) {
    t->handler_->on_read(*t,
                         {reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread)});
    return;
  }
  t->eof_ = true;
  t->stop_reading();
  int error = static_cast<int>(nread);
  if (error == UV_EOF) error = t->pending_error();
  t->handler_->on_end(*t, error == UV_EOF ? StreamEnd::fin : StreamEnd::reset, error);
}

bool TcpTransport::write(std::span<const uint8_t> bytes, uint32_t mark) {
  if (!open_ || shutdown_sent_) return true;  // nowhere to go: dropped, as the peer is gone
  const char* data = reinterpret_cast<const char*>(bytes.data());
  size_t len = bytes.size();
  if (queued_ == 0) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    const int n = len ? uv_try_write(stream(), &b, 1) : 0;
    if (n == static_cast<int>(len)) {
      if (mark) handler_->on_written(*this, mark);
      return true;
    }
    if (n < 0 && n != UV_EAGAIN) return false;
    if (n > 0) {
      data += n;
      len -= static_cast<size_t>(n);
    }
  }
  WriteReq* w = static_cast<WriteReq*>(std::malloc(sizeof(WriteReq) + len));
  if (!w) std::abort();
  w->transport = this;
  w->len = len;
  w->mark = mark;
  std::memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, static_cast<unsigned>(len));
  if (uv_write(&w->req, stream(), &b, 1, on_write_cb) < 0) {
    std::free(w);
    return false;
  }
  queued_ += len;
  return true;
}

void TcpTransport::on_write_cb(uv_write_t* req, int status) {
  WriteReq* w = reinterpret_cast<WriteReq*>(req);
  TcpTransport* t = w->transport;
  const uint32_t mark = w->mark;
  t->queued_ -= w->len;
  std::free(w);
  if (status == UV_ECANCELED) return;  // closing: on_closed follows
  if (status < 0)
    t->handler_->on_write_error(*t, status);
  else
    t->handler_->on_written(*t, mark);
}

void TcpTransport::shutdown(bool) {
  if (!open_ || shutdown_sent_) return;
  shutdown_sent_ = true;
  auto* req = new uv_shutdown_t;
  req->data = this;
  if (uv_shutdown(req, stream(), on_shutdown_cb) != 0) delete req;
}

void TcpTransport::on_shutdown_cb(uv_shutdown_t* req, int status) {
  auto* t = static_cast<TcpTransport*>(req->data);
  delete req;
  if (status == UV_ECANCELED) return;
  t->handler_->on_written(*t, 0);
}

void TcpTransport::close(bool reset) {
  if (!open_) return;
  open_ = false;
  reading_ = false;
  if (reset && uv_tcp_close_reset(&tcp_, on_close_cb) == 0) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close_cb);
}

void TcpTransport::on_close_cb(uv_handle_t* h) {
  auto* t = static_cast<TcpTransport*>(h->data);
  t->handler_->on_closed(*t);
}

}  // namespace wsi
