// The transport seam under the relay: one leg of a connection (the client's,
// or the upstream's) as a byte stream with reads, writes that complete, an
// orderly end and a reset. TCP is the first implementation; a layer that
// needs a handshake before application bytes (TLS) fits the same interface:
// it reports on_connected only when application bytes may flow, and ends
// with close_notify before FIN. Everything above it (the session, the
// built-in echo server) speaks only this interface.
//
// Ownership: a transport's memory may be released only after on_closed; by
// then every write and shutdown it accepted has called back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "parser/conn/events.h"

namespace wsi {

class Transport;

// on_connected's status when TCP is up and a transport handshake (TLS) has
// begun: application bytes cannot flow yet; a second on_connected follows.
inline constexpr int kTransportHandshaking = 1;

class TransportHandler {
 public:
  virtual ~TransportHandler() = default;
  // The connection (and any handshake of the transport) completed; status < 0: failed.
  virtual void on_connected(Transport&, int /*status*/) {}
  // At most read_limit() bytes the peer sent; valid during the call only.
  virtual void on_read(Transport&, std::span<const uint8_t> bytes) = 0;
  // The peer ended its stream (FIN, or for TLS close_notify), or it was
  // reset or failed (`error` is the libuv error then).
  virtual void on_end(Transport&, StreamEnd how, int error) = 0;
  // Queued bytes were written; `mark` is the one given to write(), 0 if none
  // (also when a shutdown has been carried out).
  virtual void on_written(Transport&, uint32_t /*mark*/) {}
  // A write failed: the peer is gone.
  virtual void on_write_error(Transport&, int /*error*/) {}
  // The transport is closed; its memory may go.
  virtual void on_closed(Transport&) = 0;
  // The largest read wanted now (the inspector's room); 0 is never asked.
  virtual size_t read_limit(const Transport&) const { return SIZE_MAX; }
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void start_reading() = 0;
  virtual void stop_reading() = 0;
  virtual bool reading() const = 0;
  // Sends `bytes` after everything queued before. Written straight from the
  // caller's memory when the peer takes them all at once, copied otherwise.
  // on_written(mark) follows once they are written (also when that happens
  // at once, after write() returns). False: the write failed (peer gone).
  virtual bool write(std::span<const uint8_t> bytes, uint32_t mark = 0) = 0;
  // Bytes accepted by write() and not yet written.
  virtual uint64_t queued() const = 0;
  // Ends our side of the stream once the queue is written (FIN); over TLS,
  // close_notify first unless `notify` is false (passing a truncation on).
  virtual void shutdown(bool notify = true) = 0;
  virtual bool shutdown_sent() const = 0;
  // Closes now; with `reset` the peer gets a RST (queued bytes are lost).
  virtual void close(bool reset) = 0;
  virtual bool is_open() const = 0;
};

}  // namespace wsi
