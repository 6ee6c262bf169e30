// What the wsload client and server share: addresses, the payloads both sides
// can rebuild from (kind, size), the send-time stamp at the start of every
// message, the control messages, and a libuv write queue that reuses its
// buffers so the steady path does not allocate.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsload {

class TlsConn;

struct HostPort {
  std::string host;
  uint16_t port = 0;
};
// "HOST:PORT" (IPv4 literal or name), "[V6]:PORT"; nullopt when malformed.
std::optional<HostPort> parse_host_port(std::string_view s);
// Resolves to a sockaddr (numeric hosts without DNS); false with `error` set.
bool resolve(uv_loop_t* loop, const HostPort& hp, sockaddr_storage& out, std::string& error);

enum class PayloadKind : uint8_t { text_ascii, text_utf8, binary };
std::optional<PayloadKind> parse_kind(std::string_view s);
std::string_view kind_name(PayloadKind k);
inline uint8_t kind_opcode(PayloadKind k) {
  return k == PayloadKind::binary ? 0x2 : 0x1;
}

// Every data message starts with a stamp: a uv_hrtime() value in nanoseconds
// (the intended send time for the client's messages, the send time for the
// server's streamed ones). Binary messages carry it as 8 little-endian bytes;
// text messages as 16 lowercase hex digits, so the text stays valid UTF-8.
inline size_t stamp_size(PayloadKind k) {
  return k == PayloadKind::binary ? 8 : 16;
}
void write_stamp(uint8_t* dst, PayloadKind k, uint64_t ns);
// False when the bytes are not a stamp of that kind.
bool read_stamp(const uint8_t* src, PayloadKind k, uint64_t& ns);

// The payload every message of (kind, size) carries after its stamp, built the
// same way on both sides so the receiver can check every byte. text-utf8 is a
// mix of 2-, 3- and 4-byte characters padded with ASCII to exactly `size`
// bytes. The stamp area holds zeros until a sender overwrites it.
std::vector<uint8_t> make_payload(PayloadKind k, size_t size);

// Control messages, sent by the client as the first text message of a
// connection (always shorter than kMaxCommand bytes, so the server can tell
// them from data: a data text message starts with hex digits):
//   "wsload echo"               echo every message (the server's --mode echo)
//   "wsload sink"               discard every message (the server's --mode sink)
//   "wsload stream SIZE KIND"   send messages of SIZE bytes of KIND as fast as the
//                               connection takes them, until the client closes
inline constexpr std::string_view kCommandPrefix = "wsload ";
inline constexpr size_t kMaxCommand = 64;

// A growable byte array that is never value-initialised and never shrinks.
class ByteBuffer {
 public:
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // n writable bytes at the end.
  uint8_t* grow(size_t n) {
    if (size_ + n > cap_) reserve(std::max(cap_ * 2, size_ + n));
    uint8_t* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void append(const void* p, size_t n) {
    if (n) std::memcpy(grow(n), p, n);
  }
  // Drops the first n bytes (n <= size()).
  void erase_front(size_t n) {
    if (n < size_) std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }
  void swap(ByteBuffer& o) {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }

 private:
  void reserve(size_t cap) {
    cap = std::max<size_t>(cap, 256);
    std::unique_ptr<uint8_t[]> d(new uint8_t[cap]);
    if (size_) std::memcpy(d.get(), data_.get(), size_);
    data_ = std::move(d);
    cap_ = cap;
  }
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t cap_ = 0;
};

// Outgoing bytes of one stream: appended to `pending`, handed to libuv in one
// write at a time from `inflight`. The two buffers swap, so once they have
// grown to the working size nothing is allocated. A write's buffer lives
// until its callback (the owner must outlive it: free in the close callback).
// Over TLS (set_tls), what is appended to `pending` is application data,
// encrypted when a write starts into the wire buffer, where the TLS layer
// also puts its own records (the handshake, close_notify).
class OutQueue {
 public:
  // on_written(owner, status) runs after each uv_write completes (status < 0:
  // failed or cancelled by uv_close).
  using WrittenFn = void (*)(void* owner, int status);
  void init(uv_stream_t* stream, void* owner, WrittenFn on_written) {
    stream_ = stream;
    req_.data = this;
    owner_ = owner;
    on_written_ = on_written;
  }
  ByteBuffer& pending() { return pending_; }
  // TLS: `tls` was made with wire() as its output.
  void set_tls(TlsConn* tls) {
    tls_ = tls;
    wire_ = &records_;
  }
  ByteBuffer& wire() { return records_; }
  size_t queued() const {
    return (tls_ ? pending_.size() + records_.size() : pending_.size()) - pending_off_ +
           inflight_.size();
  }
  bool idle() const { return queued() == 0; }
  // Starts writing what is pending unless a write is in flight. With
  // try_first, uv_try_write takes what the socket accepts right away.
  // Returns a libuv error (< 0) when the stream refuses.
  int flush(bool try_first);

 private:
  static void on_write(uv_write_t* req, int status);
  uv_stream_t* stream_ = nullptr;
  uv_write_t req_{};
  void* owner_ = nullptr;
  WrittenFn on_written_ = nullptr;
  ByteBuffer pending_;
  ByteBuffer records_;            // TLS: records not yet written
  ByteBuffer* wire_ = &pending_;  // what is written: pending_, or records_ over TLS
  size_t pending_off_ = 0;        // bytes at the front of *wire_ already written by try_write
  ByteBuffer inflight_;
  TlsConn* tls_ = nullptr;
  bool writing_ = false;
};

// xorshift64*: fast, not cryptographic. Masking keys only need to be
// unpredictable to browsers' attackers, not to this benchmark's peers.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }

 private:
  uint64_t s_;
};

// Raises the soft open-file limit to the hard limit; returns the new soft limit.
uint64_t raise_nofile_limit();

// A frame header (RFC 6455 §5.2) written into `dst` (at least 14 bytes);
// returns its size. `mask` (4 bytes) makes it a client frame.
size_t write_frame_header(uint8_t* dst, uint8_t opcode, uint64_t length, bool fin,
                          const uint8_t* mask);

std::string base64(const uint8_t* p, size_t n);

}  // namespace wsload
