// One direction of a captured TCP connection put back into its byte stream:
// segments arrive in capture order (out of order, retransmitted, overlapping,
// some never captured) and the stream comes out in sequence order. The first
// copy of a byte wins; a later copy that differs is reported. A hole that
// outlives the out-of-order buffer, or the end of the capture, is reported
// as lost bytes and skipped, so what follows is still delivered (and a
// consumer can say it saw a gap, not guess what was in it). No I/O, no clock.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace wsi {

enum class TcpEnd : uint8_t { fin, reset };

// What a reassembled direction delivers, in stream order. Offsets count
// stream bytes from the first one (after the SYN, or the first captured).
class TcpStreamSink {
 public:
  virtual ~TcpStreamSink() = default;
  virtual void on_data(std::span<const uint8_t> bytes) = 0;
  // [from, from + length) was never captured (or was cut by the snap length).
  virtual void on_lost(uint64_t from, uint64_t length) = 0;
  // A later copy of [at, at + length) (first to last differing byte) did
  // not match the copy delivered or held; the first copy was kept.
  virtual void on_conflict(uint64_t at, uint64_t length) = 0;
  virtual void on_end(TcpEnd how) = 0;
};

struct ReassemblyLimits {
  // Bytes held beyond a hole, per direction; past it the hole is lost.
  size_t max_buffered = 1024 * 1024;
  size_t max_pieces = 4096;  // separate held pieces (lost ones hold no bytes)
  // Delivered bytes kept (between this and twice this) to compare late
  // retransmissions with; older ones are dropped unchecked.
  size_t history = 64 * 1024;
};

class TcpReassembler {
 public:
  // `limits` is kept by reference and must outlive the reassembler.
  TcpReassembler(const ReassemblyLimits& limits, TcpStreamSink& sink);
  TcpReassembler(const ReassemblyLimits&&, TcpStreamSink&) = delete;

  // One captured segment of this direction: its TCP flags, sequence number,
  // captured payload and the payload length the IP header gave (larger
  // when the capture cut the packet short).
  void segment(uint8_t flags, uint32_t seq, std::span<const uint8_t> payload, uint32_t payload_len);
  // No more segments will come: holes become lost bytes, what was held is
  // delivered, and a FIN that was seen ends the stream.
  void flush();

  bool started() const { return started_; }
  bool saw_syn() const { return saw_syn_; }
  bool ended() const { return ended_; }
  uint64_t delivered() const { return next_; }  // stream offset of the next byte
  size_t buffered() const { return buffered_; }

 private:
  struct Piece {
    std::vector<uint8_t> bytes;  // empty for a lost piece
    uint64_t length = 0;
  };

  // The stream offset of `seq`, the one nearest the next expected byte (so
  // the 32-bit sequence space wraps); negative: before the stream began.
  int64_t offset_of(uint32_t seq) const;
  void insert(uint64_t at, std::span<const uint8_t> bytes);
  void insert_lost(uint64_t at, uint64_t length);
  void compare_delivered(uint64_t at, std::span<const uint8_t> bytes);
  void deliver_ready();
  void deliver(uint64_t at, Piece& p);
  void skip_first_hole();
  void end(TcpEnd how);

  const ReassemblyLimits& limits_;
  TcpStreamSink& sink_;
  bool started_ = false;
  bool saw_syn_ = false;
  bool ended_ = false;
  bool fin_seen_ = false;
  uint32_t base_ = 0;                 // the sequence number of stream offset 0
  uint64_t next_ = 0;                 // the next stream offset to deliver
  uint64_t fin_at_ = 0;               // the stream offset the FIN follows
  std::map<uint64_t, Piece> pieces_;  // held beyond a hole, never overlapping
  size_t buffered_ = 0;
  std::vector<uint8_t> history_;  // delivered bytes ending at next_
};

}  // namespace wsi
