#include "bench/wsload_common.h"

#include "bench/wsload_tls.h"

#include <sys/resource.h>

#include <charconv>

namespace wsload {

std::optional<HostPort> parse_host_port(std::string_view s) {
  HostPort hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    hp.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    hp.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535)
    return std::nullopt;
  hp.port = static_cast<uint16_t>(value);
  return hp;
}

bool resolve(uv_loop_t* loop, const HostPort& hp, sockaddr_storage& out, std::string& error) {
  std::memset(&out, 0, sizeof out);
  if (uv_ip4_addr(hp.host.c_str(), hp.port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return true;
  if (uv_ip6_addr(hp.host.c_str(), hp.port, reinterpret_cast<sockaddr_in6*>(&out)) == 0)
    return true;
  uv_getaddrinfo_t req;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(hp.port);
  const int rc = uv_getaddrinfo(loop, &req, nullptr, hp.host.c_str(), port.c_str(), &hints);
  if (rc != 0 || !req.addrinfo) {
    error = "cannot resolve " + hp.host + ": " + uv_strerror(rc);
    return false;
  }
  std::memcpy(&out, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  uv_freeaddrinfo(req.addrinfo);
  return true;
}

std::optional<PayloadKind> parse_kind(std::string_view s) {
  if (s == "text-ascii") return PayloadKind::text_ascii;
  if (s == "text-utf8") return PayloadKind::text_utf8;
  if (s == "binary") return PayloadKind::binary;
  return std::nullopt;
}

std::string_view kind_name(PayloadKind k) {
  switch (k) {
    case PayloadKind::text_ascii:
      return "text-ascii";
    case PayloadKind::text_utf8:
      return "text-utf8";
    case PayloadKind::binary:
      return "binary";
  }
  return "?";
}

void write_stamp(uint8_t* dst, PayloadKind k, uint64_t ns) {
  if (k == PayloadKind::binary) {
    for (int i = 0; i < 8; ++i) dst[i] = static_cast<uint8_t>(ns >> (8 * i));
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, ns >>= 4) dst[i] = static_cast<uint8_t>(kHex[ns & 0xf]);
}

bool read_stamp(const uint8_t* src, PayloadKind k, uint64_t& ns) {
  ns = 0;
  if (k == PayloadKind::binary) {
    for (int i = 7; i >= 0; --i) ns = (ns << 8) | src[i];
    return true;
  }
  for (int i = 0; i < 16; ++i) {
    const uint8_t c = src[i];
    uint64_t d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return false;
    ns = (ns << 4) | d;
  }
  return true;
}

std::vector<uint8_t> make_payload(PayloadKind k, size_t size) {
  std::vector<uint8_t> p(size, 0);
  const size_t start = std::min(size, stamp_size(k));
  if (k == PayloadKind::text_ascii || k == PayloadKind::text_utf8) {
    for (size_t i = 0; i < start; ++i) p[i] = '0';
  }
  switch (k) {
    case PayloadKind::binary:
      for (size_t i = start; i < size; ++i) p[i] = static_cast<uint8_t>(i * 131 + (i >> 8));
      break;
    case PayloadKind::text_ascii:
      for (size_t i = start; i < size; ++i) p[i] = static_cast<uint8_t>(' ' + (i * 7) % 95);
      break;
    case PayloadKind::text_utf8: {
      // é (2 bytes), € (3), 日 (3), 😀 (4), in turn; ASCII where the next one does not fit.
      static const std::string_view chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xE6\x97\xA5",
                                               "\xF0\x9F\x98\x80"};
      size_t i = start, n = 0;
      while (i < size) {
        const std::string_view c = chars[n++ % 4];
        if (i + c.size() > size) {
          p[i++] = 'a';
          continue;
        }
        std::memcpy(p.data() + i, c.data(), c.size());
        i += c.size();
      }
      break;
    }
  }
  return p;
}

int OutQueue::flush(bool try_first) {
  if (writing_) return 0;
  if (tls_ && !pending_.empty() && tls_->established()) {
    // Everything appended since the last write, in as few records as possible.
    if (!tls_->encrypt(pending_.data(), pending_.size())) return UV_EPROTO;
    pending_.clear();
  }
  ByteBuffer& wire = *wire_;
  if (wire.size() == pending_off_) return 0;
  if (try_first) {
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(wire.data() + pending_off_),
                             static_cast<unsigned>(wire.size() - pending_off_));
    const int n = uv_try_write(stream_, &b, 1);
    if (n < 0 && n != UV_EAGAIN) return n;
    if (n > 0) pending_off_ += static_cast<size_t>(n);
    if (pending_off_ == wire.size()) {
      wire.clear();
      pending_off_ = 0;
      return 0;
    }
  }
  inflight_.swap(wire);
  const size_t off = pending_off_;
  wire.clear();
  pending_off_ = 0;
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(inflight_.data() + off),
                           static_cast<unsigned>(inflight_.size() - off));
  const int rc = uv_write(&req_, stream_, &b, 1, on_write);
  if (rc < 0) {
    inflight_.clear();
    return rc;
  }
  writing_ = true;
  return 0;
}

void OutQueue::on_write(uv_write_t* req, int status) {
  auto* q = static_cast<OutQueue*>(req->data);
  q->writing_ = false;
  q->inflight_.clear();
  q->on_written_(q->owner_, status);
}

uint64_t raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

size_t write_frame_header(uint8_t* dst, uint8_t opcode, uint64_t length, bool fin,
                          const uint8_t* mask) {
  size_t n = 0;
  dst[n++] = static_cast<uint8_t>((fin ? 0x80 : 0) | (opcode & 0x0f));
  const uint8_t m = mask ? 0x80 : 0;
  if (length < 126) {
    dst[n++] = static_cast<uint8_t>(m | length);
  } else if (length < 65536) {
    dst[n++] = m | 126;
    dst[n++] = static_cast<uint8_t>(length >> 8);
    dst[n++] = static_cast<uint8_t>(length);
  } else {
    dst[n++] = m | 127;
    for (int i = 7; i >= 0; --i) dst[n++] = static_cast<uint8_t>(length >> (8 * i));
  }
  if (mask) {
    std::memcpy(dst + n, mask, 4);
    n += 4;
  }
  return n;
}

std::string base64(const uint8_t* p, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{p[i + 2]} : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

}  // namespace wsload
