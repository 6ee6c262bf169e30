// TcpFlowSynth: the packets of one TCP connection, made from what each side
// sent. A capture of a proxied connection has no packets of its own (the
// kernel's are not seen), so each leg is written as a TCP connection
// between its real addresses: a three-way handshake, data segments with
// consecutive sequence numbers, each acknowledging what the other side sent,
// and FIN or RST. Packets are raw IPv4 or IPv6 (pcap's LINKTYPE_RAW) with
// correct header and TCP checksums. Sans-IO: packets go to a PacketOut.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wsi {

struct IpEndpoint {
  bool v6 = false;
  uint8_t addr[16] = {};  // IPv4 in the first 4 bytes
  uint16_t port = 0;
};

class PacketOut {
 public:
  virtual ~PacketOut() = default;
  // One IP packet; `ts_us` is microseconds since the Unix epoch.
  virtual void packet(uint64_t ts_us, std::span<const uint8_t> ip) = 0;
};

class TcpFlowSynth {
 public:
  // The largest payload of one segment (an IPv4 packet stays under 64 KiB).
  static constexpr size_t kMaxSegment = 65000;

  // `client` opened the connection to `server`; the initial sequence numbers
  // are given (a capture's flows should not all start at the same one).
  TcpFlowSynth(const IpEndpoint& client, const IpEndpoint& server, uint32_t client_isn,
               uint32_t server_isn);

  // SYN, SYN-ACK, ACK.
  void open(uint64_t ts_us, PacketOut& out);
  // `bytes` from one side, in segments of at most kMaxSegment (PSH on the last).
  void data(bool from_client, std::span<const uint8_t> bytes, uint64_t ts_us, PacketOut& out);
  // That side's FIN (once; later calls do nothing).
  void fin(bool from_client, uint64_t ts_us, PacketOut& out);
  // A reset from that side; the flow is over after it.
  void reset(bool from_client, uint64_t ts_us, PacketOut& out);

  bool over() const { return reset_ || (fin_[0] && fin_[1]); }

 private:
  enum : uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10 };
  void segment(bool from_client, uint8_t flags, std::span<const uint8_t> payload, uint64_t ts_us,
               PacketOut& out);

  IpEndpoint ends_[2];  // [0] client, [1] server
  uint32_t next_seq_[2];
  bool opened_ = false;
  bool fin_[2] = {false, false};
  bool reset_ = false;
  uint16_t ip_id_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace wsi
