// permessage-deflate (RFC 7692): the negotiated parameters, and inflating one
// direction's compressed messages for inspection.
//
// Each compressed message is raw DEFLATE with the final 00 00 ff ff removed
// (§7.2.1); the receiver appends it and inflates. The sender's LZ77 window
// carries over between messages unless "no context takeover" was agreed for
// that sender, and its size is bounded by the negotiated max_window_bits.
//
// Memory: a zlib inflate state (about 7 KiB) plus a window of
// 2^max_window_bits bytes (at most 32 KiB) per compressing direction, held
// only while a message is being inflated when the sender takes no context
// over, and for the connection's life otherwise. Output goes through a fixed
// window shared by every inflater of a thread; no message is ever held whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

struct z_stream_s;

namespace wsi {

// permessage-deflate parameters in effect on the connection (RFC 7692 §7.1).
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  uint8_t server_max_window_bits = 15;
  uint8_t client_max_window_bits = 15;
};

class MessageInflater {
 public:
  // window_bits: the sender's max_window_bits (8-15); no_context_takeover:
  // the sender resets its compressor at every message.
  MessageInflater(uint8_t window_bits, bool no_context_takeover);
  ~MessageInflater();
  MessageInflater(const MessageInflater&) = delete;
  MessageInflater& operator=(const MessageInflater&) = delete;

  // Output handler: bool(const uint8_t* data, size_t n); returning false stops
  // inflating this message (the caller has seen enough, e.g. a size limit).
  using Sink = bool (*)(void* ctx, const uint8_t* data, size_t n);

  // Starts a compressed message.
  void begin_message();
  // Inflates the next compressed bytes. False on a DEFLATE error: error()
  // says what zlib found; the rest of the message is not inflated.
  bool feed(const uint8_t* p, size_t n, Sink sink, void* ctx);
  // Ends the message (appends 00 00 ff ff). False on a DEFLATE error.
  bool end_message(Sink sink, void* ctx);

  const std::string& error() const { return error_; }
  // Bytes of output produced for the current message.
  uint64_t produced() const { return produced_; }
  // True while zlib state is allocated.
  bool allocated() const { return stream_ != nullptr; }
  // The window is lost (an error, or a message cut short while context
  // carries over): later messages cannot be inflated.
  bool broken() const { return broken_; }

 private:
  bool run(const uint8_t* p, size_t n, Sink sink, void* ctx);
  void release();

  z_stream_s* stream_ = nullptr;
  uint8_t window_bits_;
  bool no_context_takeover_;
  bool stopped_ = false;  // the sink asked to stop, or an error: skip the rest
  bool broken_ = false;
  uint64_t produced_ = 0;
  std::string error_;
};

// Compressing one direction's messages (RFC 7692 §7.2.1): raw DEFLATE, each
// message ended with a sync flush whose final 00 00 ff ff is removed. The
// output of a message is produced as its input arrives; only the last 4
// bytes are held back (they may turn out to be that tail).
//
// Memory: a zlib deflate state (about 2^(window_bits+2) + 128 KiB) for the
// connection's life when context carries over, and only while a message is
// being compressed otherwise.
class MessageDeflater {
 public:
  // window_bits: this sender's max_window_bits (8-15; 8 runs zlib with 9,
  // whose matches never reach further than 250 bytes, so an 8-bit inflater
  // reads them); no_context_takeover: reset the compressor at every message.
  MessageDeflater(uint8_t window_bits, bool no_context_takeover, int level = 6);
  ~MessageDeflater();
  MessageDeflater(const MessageDeflater&) = delete;
  MessageDeflater& operator=(const MessageDeflater&) = delete;

  // Compresses the next bytes of the current message (begun implicitly),
  // appending to `out` what may be sent now. False if zlib fails.
  bool feed(const uint8_t* p, size_t n, std::string& out);
  // Ends the message: the rest of its payload, without 00 00 ff ff.
  bool end_message(std::string& out);

  bool allocated() const { return stream_ != nullptr; }
  const std::string& error() const { return error_; }

 private:
  bool ensure();
  bool run(const uint8_t* p, size_t n, int flush, std::string& out);
  void release();

  z_stream_s* stream_ = nullptr;
  uint8_t window_bits_;
  bool no_context_takeover_;
  int level_;
  uint8_t held_[4] = {};  // the last bytes produced, not yet given out
  size_t held_len_ = 0;
  std::string error_;
};

}  // namespace wsi
