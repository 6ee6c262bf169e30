// The built-in echo WebSocket server (--upstream builtin:echo): answers the
// upgrade, selecting the first subprotocol offered and accepting the first
// well-formed permessage-deflate offer (RFC 7692: server_no_context_takeover,
// the client's own client_no_context_takeover and server_max_window_bits
// repeated, the client's window never reduced); echoes every uncompressed
// data frame back as it came (same opcode and fragmentation, unmasked) and
// every compressed message compressed anew (RSV1 on its first frame, text as
// text, binary as binary; one inflating to over 64 MiB closes with 1009);
// answers pings, completes the close handshake, and fails the connection with
// the right close code on a protocol violation, as a strict server would. It
// writes through the same transport and write queue as the relay, and stops
// reading a client that does not read.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>

#include "proxy/net/tcp_transport.h"

namespace wsi {

class EchoConnection;

class EchoServer {
 public:
  explicit EchoServer(uv_loop_t* loop);
  ~EchoServer();
  // Listens on 127.0.0.1 with an ephemeral port.
  bool listen(std::string& error);
  uint16_t port() const { return port_; }
  // Stops listening and closes every connection.
  void close();

  void connection_done(EchoConnection* c);
  uv_loop_t* loop() const { return loop_; }
  ReadBuffer read_buffer() { return {read_buf_.get(), kReadBufferSize}; }
  static constexpr size_t kReadBufferSize = 64 * 1024;

 private:
  static void on_connection(uv_stream_t* server, int status);

  uv_loop_t* loop_;
  uv_tcp_t listener_;
  bool open_ = false;
  uint16_t port_ = 0;
  std::unordered_set<EchoConnection*> conns_;
  std::unique_ptr<char[]> read_buf_;
};

}  // namespace wsi
