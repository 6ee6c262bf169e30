#include "parser/net/packet.h"

#include <algorithm>
#include <cstdio>

namespace wsi {
namespace {

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr uint8_t kIpProtoTcp = 6;

TcpPacket malformed(const char* why) {
  TcpPacket p;
  p.kind = PacketKind::malformed;
  p.why = why;
  return p;
}
TcpPacket of_kind(PacketKind k) {
  TcpPacket p;
  p.kind = k;
  return p;
}

// `seg` is the TCP header and payload; `claimed` the length the IP header
// gives them (more than seg.size() when the capture cut the packet).
TcpPacket parse_tcp(TcpPacket p, std::span<const uint8_t> seg, size_t claimed) {
  if (seg.size() < 20) return malformed("TCP header cut short");
  const uint8_t* t = seg.data();
  const size_t header = size_t{static_cast<uint8_t>(t[12] >> 4)} * 4;
  if (header < 20 || header > seg.size() || header > claimed)
    return malformed("TCP data offset out of range");
  p.src.port = be16(t);
  p.dst.port = be16(t + 2);
  p.seq = be32(t + 4);
  p.ack = be32(t + 8);
  p.flags = t[13];
  p.payload = seg.subspan(header);
  p.payload_len = static_cast<uint32_t>(claimed - header);
  p.kind = PacketKind::tcp;
  return p;
}

TcpPacket parse_ipv4(std::span<const uint8_t> d) {
  if (d.size() < 20) return malformed("IPv4 header cut short");
  const size_t ihl = size_t{static_cast<uint8_t>(d[0] & 0x0f)} * 4;
  if (ihl < 20 || ihl > d.size()) return malformed("IPv4 header length out of range");
  size_t total = be16(d.data() + 2);
  // A segment captured on its sender before TCP segmentation offload says 0.
  if (total == 0) total = d.size();
  if (total < ihl) return malformed("IPv4 total length below its header");
  const uint16_t frag = be16(d.data() + 6);
  if ((frag & 0x2000) || (frag & 0x1fff)) return of_kind(PacketKind::fragment);
  if (d[9] != kIpProtoTcp) return of_kind(PacketKind::not_tcp);
  TcpPacket p;
  std::copy(d.begin() + 12, d.begin() + 16, p.src.addr.begin());
  std::copy(d.begin() + 16, d.begin() + 20, p.dst.addr.begin());
  // Ethernet pads short frames: the IP length, not the capture, ends the packet.
  const std::span<const uint8_t> seg = d.subspan(ihl, std::min(d.size(), total) - ihl);
  return parse_tcp(p, seg, total - ihl);
}

TcpPacket parse_ipv6(std::span<const uint8_t> d) {
  if (d.size() < 40) return malformed("IPv6 header cut short");
  size_t claimed = be16(d.data() + 4);
  if (claimed == 0) claimed = d.size() - 40;  // a jumbogram, or TSO
  TcpPacket p;
  p.src.v6 = p.dst.v6 = true;
  std::copy(d.begin() + 8, d.begin() + 24, p.src.addr.begin());
  std::copy(d.begin() + 24, d.begin() + 40, p.dst.addr.begin());
  uint8_t next = d[6];
  size_t at = 40;
  for (;;) {
    switch (next) {
      case kIpProtoTcp: {
        if (claimed + 40 < at) return malformed("IPv6 extension headers beyond its length");
        const size_t end = std::min(d.size(), 40 + claimed);
        if (at > end) return malformed("IPv6 extension header cut short");
        return parse_tcp(p, d.subspan(at, end - at), claimed + 40 - at);
      }
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 135:  // mobility
        if (at + 8 > d.size()) return malformed("IPv6 extension header cut short");
        next = d[at];
        at += (size_t{d[at + 1]} + 1) * 8;
        break;
      case 44:  // fragment
        return of_kind(PacketKind::fragment);
      default:
        return of_kind(PacketKind::not_tcp);
    }
  }
}

TcpPacket parse_ip(std::span<const uint8_t> d) {
  if (d.empty()) return malformed("no IP header");
  switch (d[0] >> 4) {
    case 4:
      return parse_ipv4(d);
    case 6:
      return parse_ipv6(d);
    default:
      return malformed("IP version neither 4 nor 6");
  }
}

TcpPacket parse_ethertype(uint16_t type, std::span<const uint8_t> d) {
  if (type == kEtherIpv4) return parse_ipv4(d);
  if (type == kEtherIpv6) return parse_ipv6(d);
  return of_kind(PacketKind::not_tcp);
}

TcpPacket parse_ethernet(std::span<const uint8_t> d) {
  if (d.size() < 14) return malformed("Ethernet header cut short");
  uint16_t type = be16(d.data() + 12);
  size_t at = 14;
  // 802.1Q tags, and 802.1ad (QinQ) stacks of them.
  while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld) {
    if (at + 4 > d.size()) return malformed("VLAN tag cut short");
    type = be16(d.data() + at + 2);
    at += 4;
  }
  return parse_ethertype(type, d.subspan(at));
}

// BSD loopback: the address family as 4 bytes, in the byte order of the
// capturing host (NULL) or network order (LOOP). IPv6's family number
// differs between systems: 10 (Linux), 24, 28, 30.
TcpPacket parse_loopback(std::span<const uint8_t> d, bool network_order) {
  if (d.size() < 4) return malformed("loopback header cut short");
  uint32_t family = be32(d.data());
  if (!network_order && (family & 0xffff) == 0)
    family = uint32_t{d[0]} | uint32_t{d[1]} << 8 | uint32_t{d[2]} << 16 | uint32_t{d[3]} << 24;
  switch (family) {
    case 2:
      return parse_ipv4(d.subspan(4));
    case 10:
    case 24:
    case 28:
    case 30:
      return parse_ipv6(d.subspan(4));
    default:
      return of_kind(PacketKind::not_tcp);
  }
}

}  // namespace

bool linktype_supported(int link) {
  switch (link) {
    case linktype::null:
    case linktype::ethernet:
    case linktype::raw:
    case linktype::raw_dlt:
    case linktype::raw_dlt_bsd:
    case linktype::loop:
    case linktype::linux_sll:
    case linktype::ipv4:
    case linktype::ipv6:
    case linktype::linux_sll2:
      return true;
    default:
      return false;
  }
}

std::string_view linktype_name(int link) {
  switch (link) {
    case linktype::null:
      return "BSD loopback";
    case linktype::ethernet:
      return "Ethernet";
    case linktype::raw:
    case linktype::raw_dlt:
    case linktype::raw_dlt_bsd:
    case linktype::ipv4:
    case linktype::ipv6:
      return "raw IP";
    case linktype::loop:
      return "OpenBSD loopback";
    case linktype::linux_sll:
      return "Linux cooked (SLL)";
    case linktype::linux_sll2:
      return "Linux cooked v2 (SLL2)";
    default:
      return "unsupported";
  }
}

TcpPacket parse_packet(int link, std::span<const uint8_t> d) {
  switch (link) {
    case linktype::ethernet:
      return parse_ethernet(d);
    case linktype::linux_sll:
      // Packet type, ARPHRD type, address length, 8 address bytes, protocol.
      if (d.size() < 16) return malformed("SLL header cut short");
      return parse_ethertype(be16(d.data() + 14), d.subspan(16));
    case linktype::linux_sll2:
      // Protocol, reserved, interface index, ARPHRD type, packet type,
      // address length, 8 address bytes.
      if (d.size() < 20) return malformed("SLL2 header cut short");
      return parse_ethertype(be16(d.data()), d.subspan(20));
    case linktype::null:
      return parse_loopback(d, false);
    case linktype::loop:
      return parse_loopback(d, true);
    case linktype::raw:
    case linktype::raw_dlt:
    case linktype::raw_dlt_bsd:
      return parse_ip(d);
    case linktype::ipv4:
      return parse_ipv4(d);
    case linktype::ipv6:
      return parse_ipv6(d);
    default:
      return of_kind(PacketKind::unsupported);
  }
}

std::string format_endpoint(const Endpoint& e) {
  char buf[64];
  if (!e.v6) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", e.addr[0], e.addr[1], e.addr[2], e.addr[3],
                  e.port);
    return buf;
  }
  // RFC 5952: lower-case hex, the longest run of two or more zero groups as "::".
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = be16(e.addr.data() + 2 * i);
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j == i ? i + 1 : j;
  }
  std::string s = "[";
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != '[' && s.back() != ':') s += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "]:%u", e.port);
  return s + buf;
}

}  // namespace wsi
