#include "parser/net/tcp_synth.h"

#include <algorithm>
#include <cstring>

namespace wsi {
namespace {

constexpr size_t kIp4Header = 20;
constexpr size_t kIp6Header = 40;
constexpr size_t kTcpHeader = 20;
constexpr uint8_t kProtoTcp = 6;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

// The one's-complement sum of 16-bit words (RFC 1071), unfolded, taken in
// the machine's byte order eight bytes at a time: the sum of byte-swapped
// words is the byte-swapped sum (RFC 1071, 2(B)), so the folded result is
// stored as it is. Regions summed one after the other must start at even
// offsets of the checksummed data.
uint64_t sum_words(const uint8_t* p, size_t n, uint64_t acc = 0) {
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    acc += (w >> 32) + (w & 0xffffffffu);
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    const uint8_t last[2] = {p[0], 0};  // an odd byte is padded with a zero
    uint16_t w;
    std::memcpy(&w, last, 2);
    acc += w;
  }
  return acc;
}

// Folded and complemented, in the byte order sum_words used.
void put_checksum(uint8_t* at, uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  const uint16_t c = static_cast<uint16_t>(~acc);
  std::memcpy(at, &c, 2);
}

}  // namespace

TcpFlowSynth::TcpFlowSynth(const IpEndpoint& client, const IpEndpoint& server, uint32_t client_isn,
                           uint32_t server_isn)
    : ends_{client, server}, next_seq_{client_isn, server_isn} {}

void TcpFlowSynth::open(uint64_t ts_us, PacketOut& out) {
  if (opened_) return;
  opened_ = true;
  // The SYN and the SYN-ACK each take one sequence number.
  segment(true, kSyn, {}, ts_us, out);
  ++next_seq_[0];
  segment(false, kSyn | kAck, {}, ts_us, out);
  ++next_seq_[1];
  segment(true, kAck, {}, ts_us, out);
}

void TcpFlowSynth::data(bool from_client, std::span<const uint8_t> bytes, uint64_t ts_us,
                        PacketOut& out) {
  const int side = from_client ? 0 : 1;
  if (reset_ || fin_[side]) return;
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), kMaxSegment);
    segment(from_client, n == bytes.size() ? kAck | kPsh : kAck, bytes.first(n), ts_us, out);
    next_seq_[side] += static_cast<uint32_t>(n);
    bytes = bytes.subspan(n);
  }
}

void TcpFlowSynth::fin(bool from_client, uint64_t ts_us, PacketOut& out) {
  const int side = from_client ? 0 : 1;
  if (reset_ || fin_[side]) return;
  fin_[side] = true;
  segment(from_client, kFin | kAck, {}, ts_us, out);
  ++next_seq_[side];
}

void TcpFlowSynth::reset(bool from_client, uint64_t ts_us, PacketOut& out) {
  if (reset_) return;
  reset_ = true;
  segment(from_client, kRst | kAck, {}, ts_us, out);
}

void TcpFlowSynth::segment(bool from_client, uint8_t flags, std::span<const uint8_t> payload,
                           uint64_t ts_us, PacketOut& out) {
  const IpEndpoint& src = ends_[from_client ? 0 : 1];
  const IpEndpoint& dst = ends_[from_client ? 1 : 0];
  const size_t ip_len = src.v6 ? kIp6Header : kIp4Header;
  const size_t tcp_len = kTcpHeader + payload.size();
  buf_.resize(ip_len + tcp_len);
  uint8_t* ip = buf_.data();
  std::memset(ip, 0, ip_len + kTcpHeader);
  const size_t addr_len = src.v6 ? 16 : 4;
  if (src.v6) {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<uint16_t>(tcp_len));
    ip[6] = kProtoTcp;
    ip[7] = 64;  // hop limit
    std::memcpy(ip + 8, src.addr, 16);
    std::memcpy(ip + 24, dst.addr, 16);
  } else {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(ip_len + tcp_len));
    put16(ip + 4, ip_id_++);
    put16(ip + 6, 0x4000);  // don't fragment
    ip[8] = 64;             // TTL
    ip[9] = kProtoTcp;
    std::memcpy(ip + 12, src.addr, 4);
    std::memcpy(ip + 16, dst.addr, 4);
    put_checksum(ip + 10, sum_words(ip, kIp4Header));
  }
  uint8_t* tcp = ip + ip_len;
  const int side = from_client ? 0 : 1;
  put16(tcp, src.port);
  put16(tcp + 2, dst.port);
  put32(tcp + 4, next_seq_[side]);
  // Everything the other side sent is acknowledged (not on the first SYN).
  const bool ack = flags & kAck;
  put32(tcp + 8, ack ? next_seq_[1 - side] : 0);
  tcp[12] = static_cast<uint8_t>((kTcpHeader / 4) << 4);
  tcp[13] = flags;
  put16(tcp + 14, 65535);  // window
  if (!payload.empty()) std::memcpy(tcp + kTcpHeader, payload.data(), payload.size());
  // The pseudo-header: both addresses, then (IPv4) a zero, the protocol and
  // the 16-bit TCP length, or (IPv6) the 32-bit length, three zeros and the
  // next header.
  uint8_t pseudo[40] = {};
  std::memcpy(pseudo, src.addr, addr_len);
  std::memcpy(pseudo + addr_len, dst.addr, addr_len);
  size_t pseudo_len;
  if (src.v6) {
    put32(pseudo + 32, static_cast<uint32_t>(tcp_len));
    pseudo[39] = kProtoTcp;
    pseudo_len = 40;
  } else {
    pseudo[9] = kProtoTcp;
    put16(pseudo + 10, static_cast<uint16_t>(tcp_len));
    pseudo_len = 12;
  }
  put_checksum(tcp + 16, sum_words(tcp, tcp_len, sum_words(pseudo, pseudo_len)));
  out.packet(ts_us, buf_);
}

}  // namespace wsi
