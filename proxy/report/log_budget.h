// The live proxy's log budget: a token bucket of lines, so that no peer can
// fill the disk however many events it provokes. Each line takes a token;
// tokens come back at `lines_per_second`, up to `burst`; a line that finds
// none is dropped and counted. Time is the caller's (the loop's cached clock,
// handed in by the flush timer), so a line costs one compare and no clock
// read. `decode` and `compare` write through no budget.
#pragma once

#include <algorithm>
#include <cstdint>

namespace wsi {

class LogBudget {
 public:
  // lines_per_second 0: no budget, nothing is ever dropped.
  LogBudget(uint32_t lines_per_second, uint32_t burst)
      : rate_(lines_per_second),
        cost_(lines_per_second ? kUnit : 0),
        capacity_(uint64_t{std::max(burst, 1u)} * kUnit),
        tokens_(capacity_) {}

  // One line: true when it may be written. Without a budget the cost is 0,
  // so the same compare always passes.
  bool take() {
    if (tokens_ < cost_) {
      ++dropped_;
      return false;
    }
    tokens_ -= cost_;
    return true;
  }

  // Puts back what accrued since the previous call; the first call only
  // starts the clock (the bucket starts full).
  void refill(uint64_t now_ms) {
    if (!started_) {
      started_ = true;
      last_ms_ = now_ms;
      report_ms_ = now_ms;
      return;
    }
    if (now_ms <= last_ms_) return;
    // An empty bucket is full again after capacity_ / rate_ ms: a longer
    // pause is cut there, so the product cannot overflow.
    const uint64_t fill_ms = rate_ ? capacity_ / rate_ + 1 : 0;
    const uint64_t elapsed = std::min(now_ms - last_ms_, fill_ms);
    tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
    last_ms_ = now_ms;
  }

  // The lines dropped since the previous report when one is due (at most one
  // every kReportIntervalMs, or at once with `final`), else 0. `window_ms`
  // is the time since the previous report.
  uint64_t report_due(uint64_t now_ms, bool final, uint64_t& window_ms) {
    const uint64_t n = dropped_ - reported_;
    if (n == 0 || (!final && now_ms < report_ms_ + kReportIntervalMs)) return 0;
    window_ms = now_ms - std::min(now_ms, report_ms_);
    report_ms_ = now_ms;
    reported_ = dropped_;
    return n;
  }

  uint64_t dropped() const { return dropped_; }
  uint32_t lines_per_second() const { return rate_; }
  static constexpr uint64_t kReportIntervalMs = 1000;

 private:
  // Tokens are counted in thousandths of a line: `rate_` of them accrue per
  // millisecond, so no fraction is lost between refills.
  static constexpr uint64_t kUnit = 1000;
  uint64_t rate_;
  uint64_t cost_;
  uint64_t capacity_;
  uint64_t tokens_;
  uint64_t dropped_ = 0;
  uint64_t reported_ = 0;
  uint64_t last_ms_ = 0;
  uint64_t report_ms_ = 0;
  bool started_ = false;
};

}  // namespace wsi
