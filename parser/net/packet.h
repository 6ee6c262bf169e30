// One captured packet taken apart down to its TCP segment: the link layer
// (Ethernet with 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, BSD
// loopback/NULL, raw IP), IPv4 or IPv6 (extension headers skipped) and the
// TCP header. A pure function over bytes the caller owns: no I/O, no
// allocation; the payload is a view into the packet.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace wsi {

// The link types a capture file names (LINKTYPE_* of the pcap and pcapng
// formats). libpcap reports some under their platform DLT_* value instead
// (raw IP is DLT_RAW, 12 on Linux); parse_packet accepts both.
namespace linktype {
inline constexpr int null = 0;  // BSD loopback: 4-byte address family, host order
inline constexpr int ethernet = 1;
inline constexpr int raw = 101;     // raw IPv4 or IPv6
inline constexpr int raw_dlt = 12;  // DLT_RAW on most platforms
inline constexpr int raw_dlt_bsd = 14;
inline constexpr int loop = 108;  // OpenBSD loopback: address family, network order
inline constexpr int linux_sll = 113;
inline constexpr int ipv4 = 228;
inline constexpr int ipv6 = 229;
inline constexpr int linux_sll2 = 276;
}  // namespace linktype

// Whether parse_packet knows the link type.
bool linktype_supported(int link);
std::string_view linktype_name(int link);

// An IPv4 or IPv6 address and a port.
struct Endpoint {
  std::array<uint8_t, 16> addr = {};  // IPv4 in the first 4 bytes
  bool v6 = false;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};
// "10.0.0.1:80", "[::1]:8080".
std::string format_endpoint(const Endpoint& e);

namespace tcp_flag {
inline constexpr uint8_t fin = 0x01;
inline constexpr uint8_t syn = 0x02;
inline constexpr uint8_t rst = 0x04;
inline constexpr uint8_t ack = 0x10;
}  // namespace tcp_flag

enum class PacketKind : uint8_t {
  tcp,          // a TCP segment: the fields below are set
  not_tcp,      // ARP, UDP, ICMP, another EtherType...: nothing to reassemble
  fragment,     // an IP fragment (reassembling IP fragments is not done)
  malformed,    // a header that does not fit or does not parse
  unsupported,  // a link type parse_packet does not know
};

struct TcpPacket {
  PacketKind kind = PacketKind::malformed;
  Endpoint src, dst;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;  // tcp_flag bits
  // The captured payload; `payload_len` is what the IP header says the
  // segment carried, more than payload.size() when the capture cut the
  // packet short (its snap length).
  std::span<const uint8_t> payload;
  uint32_t payload_len = 0;
  const char* why = "";  // for malformed: which header
};

// `data` is the captured bytes of one packet of link type `link`.
TcpPacket parse_packet(int link, std::span<const uint8_t> data);

}  // namespace wsi
