#include "parser/net/tcp_reassembly.h"

#include <algorithm>
#include <iterator>

#include "parser/net/packet.h"

namespace wsi {
namespace {

// The first and last differing byte of the copies compared for one segment.
struct Mismatch {
  uint64_t first = UINT64_MAX;
  uint64_t last = 0;
  void compare(uint64_t at, const uint8_t* a, const uint8_t* b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] == b[i]) continue;
      first = std::min(first, at + i);
      last = std::max(last, at + i);
    }
  }
  bool any() const { return first != UINT64_MAX; }
};

}  // namespace

TcpReassembler::TcpReassembler(const ReassemblyLimits& limits, TcpStreamSink& sink)
    : limits_(limits), sink_(sink) {}

int64_t TcpReassembler::offset_of(uint32_t seq) const {
  const uint32_t expected = base_ + static_cast<uint32_t>(next_);
  return static_cast<int64_t>(next_) + static_cast<int32_t>(seq - expected);
}

void TcpReassembler::segment(uint8_t flags, uint32_t seq, std::span<const uint8_t> payload,
                             uint32_t payload_len) {
  if (ended_) return;
  payload_len = std::max<uint32_t>(payload_len, static_cast<uint32_t>(payload.size()));
  if (flags & tcp_flag::syn) {
    // The SYN takes one sequence number; data (TCP Fast Open) follows it.
    seq += 1;
    if (!started_) {
      base_ = seq;
      started_ = saw_syn_ = true;
    }
  }
  if (!started_) {
    if (payload_len == 0 && !(flags & (tcp_flag::fin | tcp_flag::rst))) return;
    base_ = seq;  // first seen in the middle: the stream starts here
    started_ = true;
  }
  int64_t at = offset_of(seq);
  if (payload_len) {
    // A keep-alive probe repeats the byte before the next one with any
    // content: not a retransmission to compare.
    const bool keepalive = payload_len == 1 && at + 1 == static_cast<int64_t>(next_);
    int64_t end = at + payload_len;
    if (end > 0 && !keepalive) {
      size_t skip = at < 0 ? static_cast<size_t>(-at) : 0;
      const uint64_t from = static_cast<uint64_t>(at + static_cast<int64_t>(skip));
      const std::span<const uint8_t> have =
          skip < payload.size() ? payload.subspan(skip) : std::span<const uint8_t>();
      insert(from, have);
      const uint64_t captured_end = from + have.size();
      if (static_cast<uint64_t>(end) > captured_end)
        insert_lost(captured_end, static_cast<uint64_t>(end) - captured_end);
    }
  }
  if ((flags & tcp_flag::fin) && !fin_seen_ && at + payload_len >= 0) {
    fin_seen_ = true;
    fin_at_ = static_cast<uint64_t>(at + payload_len);
  }
  deliver_ready();
  while (!pieces_.empty() &&
         (buffered_ > limits_.max_buffered || pieces_.size() > limits_.max_pieces))
    skip_first_hole();
  if (flags & tcp_flag::rst) {
    flush();
    end(TcpEnd::reset);
  }
}

void TcpReassembler::insert(uint64_t at, std::span<const uint8_t> bytes) {
  Mismatch mm;
  // Bytes already delivered: compare with the history that is still kept.
  if (at < next_) {
    const size_t old = static_cast<size_t>(std::min<uint64_t>(bytes.size(), next_ - at));
    const uint64_t kept_from = next_ - history_.size();
    const uint64_t from = std::max(at, kept_from);
    if (from < at + old) {
      const size_t n = static_cast<size_t>(at + old - from);
      mm.compare(from, bytes.data() + (from - at), history_.data() + (from - kept_from), n);
    }
    bytes = bytes.subspan(old);
    at += old;
  }
  // Beyond: the parts held already are compared, the rest is held.
  while (!bytes.empty()) {
    auto it = pieces_.upper_bound(at);
    if (it != pieces_.begin()) {
      auto prev = std::prev(it);
      const uint64_t prev_end = prev->first + prev->second.length;
      if (prev_end > at) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), prev_end - at));
        if (!prev->second.bytes.empty())
          mm.compare(at, bytes.data(), prev->second.bytes.data() + (at - prev->first), n);
        bytes = bytes.subspan(n);
        at += n;
        continue;
      }
    }
    const size_t n = it == pieces_.end()
                         ? bytes.size()
                         : static_cast<size_t>(std::min<uint64_t>(bytes.size(), it->first - at));
    Piece p;
    p.bytes.assign(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    p.length = n;
    buffered_ += n;
    pieces_.emplace(at, std::move(p));
    bytes = bytes.subspan(n);
    at += n;
  }
  if (mm.any()) sink_.on_conflict(mm.first, mm.last - mm.first + 1);
}

void TcpReassembler::insert_lost(uint64_t at, uint64_t length) {
  // Only where nothing is known: a copy captured whole keeps its bytes.
  uint64_t end = at + length;
  at = std::max(at, next_);
  while (at < end) {
    auto it = pieces_.upper_bound(at);
    if (it != pieces_.begin()) {
      auto prev = std::prev(it);
      const uint64_t prev_end = prev->first + prev->second.length;
      if (prev_end > at) {
        at = prev_end;
        continue;
      }
    }
    const uint64_t stop = it == pieces_.end() ? end : std::min(end, it->first);
    Piece p;
    p.length = stop - at;
    pieces_.emplace(at, std::move(p));
    at = stop;
  }
}

void TcpReassembler::deliver(uint64_t at, Piece& p) {
  if (p.bytes.empty()) {
    sink_.on_lost(at, p.length);
    history_.clear();  // nothing before a hole can be compared reliably
  } else {
    buffered_ -= p.bytes.size();
    sink_.on_data(p.bytes);
    history_.insert(history_.end(), p.bytes.begin(), p.bytes.end());
    if (history_.size() > 2 * limits_.history)
      history_.erase(history_.begin(), history_.end() - static_cast<ptrdiff_t>(limits_.history));
  }
  next_ = at + p.length;
}

void TcpReassembler::deliver_ready() {
  while (!pieces_.empty() && pieces_.begin()->first <= next_ && !ended_) {
    auto node = pieces_.extract(pieces_.begin());
    deliver(node.key(), node.mapped());
  }
  if (fin_seen_ && next_ >= fin_at_ && pieces_.empty()) end(TcpEnd::fin);
}

void TcpReassembler::skip_first_hole() {
  if (pieces_.empty()) return;
  const uint64_t hole_end = pieces_.begin()->first;
  sink_.on_lost(next_, hole_end - next_);
  history_.clear();
  next_ = hole_end;
  deliver_ready();
}

void TcpReassembler::flush() {
  while (!pieces_.empty() && !ended_) skip_first_hole();
  // A FIN after bytes never captured.
  if (fin_seen_ && !ended_ && fin_at_ > next_) {
    sink_.on_lost(next_, fin_at_ - next_);
    next_ = fin_at_;
    end(TcpEnd::fin);
  }
}

void TcpReassembler::end(TcpEnd how) {
  if (ended_) return;
  ended_ = true;
  pieces_.clear();
  buffered_ = 0;
  history_.clear();
  history_.shrink_to_fit();
  sink_.on_end(how);
}

}  // namespace wsi
