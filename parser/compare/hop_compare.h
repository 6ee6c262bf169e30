// HopComparer: what changed between two vantage points of one WebSocket
// connection. A is the vantage point nearer the client, B the one nearer the
// server; whatever lies between them (a proxy, a load balancer, a filter) is
// "the hop". The comparison is incremental, so bracket mode can report live:
// each direction's units (messages and control frames) are aligned by
// content as they arrive on both sides, and a unit with no counterpart is
// judged dropped or inserted once the other side has moved `window` units
// past it, or `window_ms` later, or at the end. The same code compares two
// whole records offline (`compare`), so both give the same answers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parser/compare/hop_record.h"

namespace wsi {

enum class DiffKind : uint8_t {
  status_changed,
  header_removed,
  header_added,
  header_changed,
  header_case_or_order,  // benign
  frame_bits_changed,    // RSV, FIN or opcode of a frame
  payload_changed,
  split,  // one frame at A became several at B (or the other way: merged)
  merged,
  dropped,   // sent towards the far side, never arrived there
  inserted,  // arrived with no counterpart on the near side
  reordered,
  compression_changed,
  remasked,  // benign
  close_changed,
  close_lost,
  tcp_end,
  not_compared,  // a direction could not be aligned (bytes missing at one side)
};
std::string_view diff_kind_id(DiffKind k);

struct HopDiff {
  explicit HopDiff(DiffKind k) : kind(k) {}
  DiffKind kind;
  bool significant = true;  // false: benign, changes nothing an endpoint sees
  bool has_dir = false;
  Direction dir = Direction::client_to_server;
  // The frames concerned, at A and at B (index; -1: none).
  int64_t frame_a = -1;
  int64_t frame_b = -1;
  std::string header_a;  // header bytes in hex
  std::string header_b;
  std::string header;  // the HTTP header concerned, if any
  std::string text;    // one sentence
};

struct HopVerdict {
  bool identical = true;     // no difference at all
  bool significant = false;  // some difference changes what an endpoint sees
  size_t differences = 0;
  size_t benign = 0;
  std::string text;  // names the hop and, when known, what it broke
};

class HopDiffSink {
 public:
  virtual ~HopDiffSink() = default;
  virtual void on_diff(const HopDiff&) = 0;
};

struct HopCompareOptions {
  size_t window = 64;           // units a side may run ahead before a decision
  uint64_t window_ms = 10'000;  // or this long (bracket mode's clock)
  // The two sides share a clock (bracket mode): times compare directly.
  bool same_clock = false;
  std::string name_a = "A";
  std::string name_b = "B";
};

class HopComparer {
 public:
  HopComparer(const HopCompareOptions& opts, HopDiffSink& out);

  // Compares what is new in the two records; `now_ms` drives the time
  // window. Consumed units are removed from the records' queues.
  void step(HopRecord& a, HopRecord& b, uint64_t now_ms);
  // Both records are final: decides everything left, compares the TCP ends
  // and returns the verdict.
  HopVerdict finish(HopRecord& a, HopRecord& b);

  size_t differences() const { return diffs_; }

 private:
  void compare_handshakes(const HopRecord& a, const HopRecord& b);
  void align(HopRecord& a, HopRecord& b, size_t i, bool final, uint64_t now_ms);
  void pair(const HopRecord& a, const HopRecord& b, Direction d, const Unit& ua, const Unit& ub);
  void only_one(Direction d, bool at_a, const Unit& u, const HopRecord& other);
  void compare_ends(const HopRecord& a, const HopRecord& b);
  void emit(HopDiff d);
  std::string consequence(const HopRecord& a, const HopRecord& b) const;

  HopCompareOptions opts_;
  HopDiffSink& out_;
  bool handshakes_done_ = false;
  size_t diffs_ = 0;
  size_t benign_ = 0;
  bool has_first_ = false;
  HopDiff first_{DiffKind::tcp_end};  // the first significant difference
  // Units reported missing on one side, to recognise them if they turn up
  // later on the other side (reordered).
  struct Missing {
    Direction dir;
    bool at_a;
    Digest content;
    int64_t frame;
  };
  std::vector<Missing> missing_;
};

}  // namespace wsi
