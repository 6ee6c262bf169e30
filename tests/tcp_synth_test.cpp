// TcpFlowSynth: the packets a capture is made of.
#include "parser/net/tcp_synth.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace wsi {
namespace {

struct Collect : PacketOut {
  std::vector<std::vector<uint8_t>> packets;
  void packet(uint64_t, std::span<const uint8_t> ip) override {
    packets.emplace_back(ip.begin(), ip.end());
  }
};

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// The one's-complement sum of a checksummed region is 0xffff.
uint16_t folded_sum(const uint8_t* p, size_t n, uint64_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += be16(p + i);
  if (n % 2) acc += uint32_t(p[n - 1]) << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

IpEndpoint v4(uint8_t last, uint16_t port) {
  IpEndpoint e;
  e.addr[0] = 127;
  e.addr[3] = last;
  e.port = port;
  return e;
}

struct Tcp {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;
  size_t payload;
};

// Checks both checksums of an IPv4 packet and returns its TCP fields.
Tcp check_v4(const std::vector<uint8_t>& p) {
  EXPECT_EQ(p[0], 0x45);
  EXPECT_EQ(be16(&p[2]), p.size());
  EXPECT_EQ(folded_sum(p.data(), 20), 0xffff) << "IPv4 header checksum";
  const uint8_t* tcp = p.data() + 20;
  const size_t tcp_len = p.size() - 20;
  uint64_t pseudo = folded_sum(p.data() + 12, 8);
  pseudo += 6 + tcp_len;
  EXPECT_EQ(folded_sum(tcp, tcp_len, pseudo), 0xffff) << "TCP checksum";
  return {be16(tcp), be16(tcp + 2), be32(tcp + 4), be32(tcp + 8), tcp[13], tcp_len - 20};
}

TEST(TcpFlowSynth, HandshakeDataAndFinHaveConsecutiveSequenceNumbers) {
  TcpFlowSynth flow(v4(1, 40000), v4(2, 8080), 1000, 5000);
  Collect out;
  flow.open(1, out);
  const std::vector<uint8_t> hello(10, 'h');
  flow.data(true, hello, 2, out);
  flow.data(false, std::vector<uint8_t>(3, 'r'), 3, out);
  flow.fin(true, 4, out);
  flow.fin(false, 5, out);
  flow.fin(false, 6, out);  // once only
  ASSERT_EQ(out.packets.size(), 7u);
  const Tcp syn = check_v4(out.packets[0]), synack = check_v4(out.packets[1]),
            ack = check_v4(out.packets[2]), data = check_v4(out.packets[3]),
            reply = check_v4(out.packets[4]), fin_c = check_v4(out.packets[5]),
            fin_s = check_v4(out.packets[6]);
  EXPECT_EQ(syn.flags, 0x02);
  EXPECT_EQ(syn.seq, 1000u);
  EXPECT_EQ(synack.flags, 0x12);
  EXPECT_EQ(synack.seq, 5000u);
  EXPECT_EQ(synack.ack, 1001u);
  EXPECT_EQ(ack.seq, 1001u);
  EXPECT_EQ(ack.ack, 5001u);
  EXPECT_EQ(data.sport, 40000);
  EXPECT_EQ(data.dport, 8080);
  EXPECT_EQ(data.seq, 1001u);
  EXPECT_EQ(data.payload, 10u);
  EXPECT_EQ(data.flags, 0x18);  // PSH, ACK
  EXPECT_EQ(reply.sport, 8080);
  EXPECT_EQ(reply.seq, 5001u);
  EXPECT_EQ(reply.ack, 1011u);
  EXPECT_EQ(fin_c.seq, 1011u);
  EXPECT_EQ(fin_c.flags, 0x11);
  EXPECT_EQ(fin_s.seq, 5004u);
  EXPECT_EQ(fin_s.ack, 1012u);  // the client's FIN took one number
  EXPECT_TRUE(flow.over());
}

TEST(TcpFlowSynth, LargeWritesAreSegmentedAndTheSequenceWraps) {
  TcpFlowSynth flow(v4(1, 1), v4(2, 2), 0xffffff00u, 7);
  Collect out;
  flow.open(0, out);
  const std::vector<uint8_t> big(TcpFlowSynth::kMaxSegment * 2 + 5, 0xab);
  flow.data(true, big, 0, out);
  ASSERT_EQ(out.packets.size(), 6u);
  const Tcp a = check_v4(out.packets[3]), b = check_v4(out.packets[4]),
            c = check_v4(out.packets[5]);
  EXPECT_EQ(a.payload, TcpFlowSynth::kMaxSegment);
  EXPECT_EQ(a.flags, 0x10);  // no PSH before the last segment
  EXPECT_EQ(b.seq, static_cast<uint32_t>(0xffffff01u + TcpFlowSynth::kMaxSegment));
  EXPECT_EQ(c.payload, 5u);
  EXPECT_EQ(c.flags, 0x18);
  flow.reset(false, 1, out);
  EXPECT_EQ(check_v4(out.packets.back()).flags, 0x14);  // RST, ACK
  flow.data(true, big, 2, out);                         // nothing after a reset
  EXPECT_EQ(out.packets.size(), 7u);
}

TEST(TcpFlowSynth, Ipv6PacketsCarryTheirChecksum) {
  IpEndpoint a, b;
  a.v6 = b.v6 = true;
  a.addr[15] = 1;  // ::1
  b.addr[15] = 1;
  a.port = 50000;
  b.port = 443;
  TcpFlowSynth flow(a, b, 1, 2);
  Collect out;
  flow.open(0, out);
  flow.data(true, std::vector<uint8_t>(33, 'x'), 0, out);
  const std::vector<uint8_t>& p = out.packets.back();
  ASSERT_EQ(p.size(), 40u + 20u + 33u);
  EXPECT_EQ(p[0] >> 4, 6);
  EXPECT_EQ(be16(&p[4]), 53);
  EXPECT_EQ(p[6], 6);
  uint64_t pseudo = folded_sum(p.data() + 8, 32);
  pseudo += 6 + 53;
  EXPECT_EQ(folded_sum(p.data() + 40, 53, pseudo), 0xffff);
}

}  // namespace
}  // namespace wsi
