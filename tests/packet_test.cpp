// parse_packet: every link type a capture names, down to the TCP segment.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "parser/net/packet.h"

namespace wsi {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// A TCP header (20 bytes, or 32 with options) and the payload.
Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, const Bytes& payload,
          bool options = false) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, 77);
  b.push_back(options ? 0x80 : 0x50);
  b.push_back(flags);
  put16(b, 65535);
  put32(b, 0);  // checksum, urgent pointer: not read
  if (options)
    for (int i = 0; i < 12; ++i) b.push_back(1);  // NOPs
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ipv4(const Bytes& seg, uint8_t proto = 6, uint16_t frag = 0) {
  Bytes b = {0x45, 0};
  put16(b, static_cast<uint16_t>(20 + seg.size()));
  put16(b, 1);
  put16(b, frag);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  for (uint8_t x : {10, 0, 0, 1, 10, 0, 0, 2}) b.push_back(x);
  b.insert(b.end(), seg.begin(), seg.end());
  return b;
}

Bytes ipv6(const Bytes& seg, bool hop_by_hop = false) {
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(seg.size() + (hop_by_hop ? 8 : 0)));
  b.push_back(hop_by_hop ? 0 : 6);
  b.push_back(64);
  for (int i = 0; i < 15; ++i) b.push_back(0);
  b.push_back(1);  // ::1
  b.push_back(0x20);
  b.push_back(0x01);
  b.push_back(0x0d);
  b.push_back(0xb8);
  for (int i = 0; i < 11; ++i) b.push_back(0);
  b.push_back(2);  // 2001:db8::2
  if (hop_by_hop) {
    Bytes ext = {6, 0, 1, 4, 0, 0, 0, 0};  // next: TCP, 8 bytes, PadN
    b.insert(b.end(), ext.begin(), ext.end());
  }
  b.insert(b.end(), seg.begin(), seg.end());
  return b;
}

Bytes ethernet(const Bytes& ip, uint16_t type, int vlans = 0) {
  Bytes b(12, 0xaa);
  for (int i = 0; i < vlans; ++i) {
    put16(b, i == 0 && vlans > 1 ? 0x88a8 : 0x8100);
    put16(b, 5);
  }
  put16(b, type);
  b.insert(b.end(), ip.begin(), ip.end());
  return b;
}

const Bytes kPayload = {'G', 'E', 'T', ' '};

void expect_segment(const TcpPacket& p, bool v6 = false) {
  ASSERT_EQ(p.kind, PacketKind::tcp) << p.why;
  EXPECT_EQ(p.src.port, 40000);
  EXPECT_EQ(p.dst.port, 80);
  EXPECT_EQ(p.seq, 123456u);
  EXPECT_EQ(p.flags, tcp_flag::ack);
  EXPECT_EQ(Bytes(p.payload.begin(), p.payload.end()), kPayload);
  EXPECT_EQ(p.payload_len, 4u);
  EXPECT_EQ(p.src.v6, v6);
}

const Bytes kSeg = tcp(40000, 80, 123456, tcp_flag::ack, kPayload);

TEST(Packet, EthernetIpv4) {
  const Bytes frame = ethernet(ipv4(kSeg), 0x0800);  // the packet's views point into it
  const TcpPacket p = parse_packet(linktype::ethernet, frame);
  expect_segment(p);
  EXPECT_EQ(format_endpoint(p.src), "10.0.0.1:40000");
  EXPECT_EQ(format_endpoint(p.dst), "10.0.0.2:80");
}

TEST(Packet, EthernetPaddingIsNotPayload) {
  Bytes frame = ethernet(ipv4(kSeg), 0x0800);
  frame.insert(frame.end(), 6, 0);  // padded to the Ethernet minimum
  expect_segment(parse_packet(linktype::ethernet, frame));
}

TEST(Packet, VlanTagsAndQinQ) {
  expect_segment(parse_packet(linktype::ethernet, ethernet(ipv4(kSeg), 0x0800, 1)));
  expect_segment(parse_packet(linktype::ethernet, ethernet(ipv4(kSeg), 0x0800, 2)));
}

TEST(Packet, EthernetIpv6WithExtensionHeader) {
  const Bytes frame = ethernet(ipv6(kSeg, true), 0x86dd);
  const TcpPacket p = parse_packet(linktype::ethernet, frame);
  expect_segment(p, true);
  EXPECT_EQ(format_endpoint(p.src), "[::1]:40000");
  EXPECT_EQ(format_endpoint(p.dst), "[2001:db8::2]:80");
}

TEST(Packet, LinuxCookedSll) {
  Bytes b = {0, 0, 0, 1, 0, 6};
  b.insert(b.end(), 8, 0);
  put16(b, 0x0800);
  const Bytes ip = ipv4(kSeg);
  b.insert(b.end(), ip.begin(), ip.end());
  expect_segment(parse_packet(linktype::linux_sll, b));
}

TEST(Packet, LinuxCookedSll2) {
  Bytes b;
  put16(b, 0x86dd);
  put16(b, 0);
  put32(b, 1);
  put16(b, 772);
  b.push_back(0);
  b.push_back(0);
  b.insert(b.end(), 8, 0);
  const Bytes ip = ipv6(kSeg);
  b.insert(b.end(), ip.begin(), ip.end());
  expect_segment(parse_packet(linktype::linux_sll2, b), true);
}

TEST(Packet, BsdLoopbackInEitherByteOrder) {
  Bytes little = {2, 0, 0, 0};
  const Bytes ip = ipv4(kSeg);
  little.insert(little.end(), ip.begin(), ip.end());
  expect_segment(parse_packet(linktype::null, little));
  Bytes big = {0, 0, 0, 30};  // AF_INET6 of macOS
  const Bytes ip6 = ipv6(kSeg);
  big.insert(big.end(), ip6.begin(), ip6.end());
  expect_segment(parse_packet(linktype::null, big), true);
  expect_segment(parse_packet(linktype::loop, big), true);
}

TEST(Packet, RawIpUnderEveryNumber) {
  for (int link : {linktype::raw, linktype::raw_dlt, linktype::ipv4})
    expect_segment(parse_packet(link, ipv4(kSeg)));
  for (int link : {linktype::raw, linktype::raw_dlt, linktype::ipv6})
    expect_segment(parse_packet(link, ipv6(kSeg)), true);
}

TEST(Packet, TcpOptionsAreSkipped) {
  expect_segment(
      parse_packet(linktype::raw, ipv4(tcp(40000, 80, 123456, tcp_flag::ack, kPayload, true))));
}

TEST(Packet, SnapLengthCutKeepsTheClaimedLength) {
  const Bytes whole = ipv4(kSeg);
  const Bytes ip(whole.begin(), whole.end() - 3);  // the capture kept all but 3 bytes
  const TcpPacket p = parse_packet(linktype::raw, ip);
  ASSERT_EQ(p.kind, PacketKind::tcp);
  EXPECT_EQ(p.payload.size(), 1u);
  EXPECT_EQ(p.payload_len, 4u);
}

TEST(Packet, WhatIsNotATcpSegment) {
  EXPECT_EQ(parse_packet(linktype::raw, ipv4(kSeg, 17)).kind, PacketKind::not_tcp);
  EXPECT_EQ(parse_packet(linktype::raw, ipv4(kSeg, 6, 0x2000)).kind, PacketKind::fragment);
  EXPECT_EQ(parse_packet(linktype::ethernet, ethernet(ipv4(kSeg), 0x0806)).kind,
            PacketKind::not_tcp);
  EXPECT_EQ(parse_packet(linktype::raw, Bytes{0x45, 0, 0}).kind, PacketKind::malformed);
  Bytes bad_offset = ipv4(kSeg);
  bad_offset[20 + 12] = 0xf0;  // 60-byte TCP header in a 24-byte segment
  EXPECT_EQ(parse_packet(linktype::raw, bad_offset).kind, PacketKind::malformed);
  EXPECT_EQ(parse_packet(147, kSeg).kind, PacketKind::unsupported);
  EXPECT_FALSE(linktype_supported(147));
  // Cut anywhere, nothing reads past the end.
  const Bytes frame = ethernet(ipv6(kSeg, true), 0x86dd, 2);
  for (size_t n = 0; n < frame.size(); ++n)
    parse_packet(linktype::ethernet, std::span<const uint8_t>(frame.data(), n));
}

}  // namespace
}  // namespace wsi
