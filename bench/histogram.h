// LatencyHistogram: an HdrHistogram-style log-linear histogram of durations
// in nanoseconds, with 3 significant digits, fixed memory and O(1) record.
//
// Values are grouped in buckets that each cover twice the range of the one
// before; every bucket holds 1024 linear sub-buckets (2048 for the first), so
// a recorded value is known to within 1/1024 of itself (better than 0.1%).
// The layout is HdrHistogram's: counts index = (bucket + 1) * 1024 +
// (sub_bucket - 1024). Values above kHighest (~18 minutes) are clamped to it
// and counted in saturated().
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <memory>

namespace wsload {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketHalfMagnitude = 10;  // 3 significant digits: 2 * 10^3 <= 2048
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << (kSubBucketHalfMagnitude + 1);
  static constexpr uint64_t kSubBucketHalf = kSubBucketCount / 2;
  static constexpr uint64_t kSubBucketMask = kSubBucketCount - 1;
  static constexpr uint64_t kHighest = (uint64_t{1} << 40) - 1;  // ns
  // Buckets needed so that kSubBucketCount << (buckets - 1) exceeds kHighest.
  static constexpr int kBuckets = 40 - (kSubBucketHalfMagnitude + 1) + 1;
  static constexpr size_t kCounts = static_cast<size_t>(kBuckets + 1) * kSubBucketHalf;

  LatencyHistogram() : counts_(std::make_unique<std::array<uint64_t, kCounts>>()) {
    counts_->fill(0);
  }
  LatencyHistogram(const LatencyHistogram& o)
      : counts_(std::make_unique<std::array<uint64_t, kCounts>>(*o.counts_)),
        total_(o.total_),
        min_(o.min_),
        max_(o.max_),
        sum_(o.sum_),
        saturated_(o.saturated_) {}
  LatencyHistogram& operator=(const LatencyHistogram& o) {
    if (this != &o) *this = LatencyHistogram(o);
    return *this;
  }
  LatencyHistogram(LatencyHistogram&&) = default;
  LatencyHistogram& operator=(LatencyHistogram&&) = default;

  void record(uint64_t ns) {
    if (ns > kHighest) {
      ns = kHighest;
      ++saturated_;
    }
    ++(*counts_)[index_of(ns)];
    ++total_;
    sum_ += static_cast<double>(ns);
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }

  // Adds every sample of `o` (histograms from several loops or threads).
  void merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < kCounts; ++i) (*counts_)[i] += (*o.counts_)[i];
    total_ += o.total_;
    sum_ += o.sum_;
    saturated_ += o.saturated_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }

  uint64_t count() const { return total_; }
  uint64_t saturated() const { return saturated_; }
  uint64_t min() const { return total_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }

  // The smallest recorded value v (to 3 significant digits: the highest value
  // equivalent to its bucket) such that at least `percentile`% of the samples
  // are <= v. 100 gives the exact maximum.
  uint64_t percentile(double percentile) const {
    if (total_ == 0) return 0;
    if (percentile >= 100.0) return max_;
    const double want = std::ceil(percentile / 100.0 * static_cast<double>(total_));
    const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(want));
    uint64_t seen = 0;
    for (size_t i = 0; i < kCounts; ++i) {
      seen += (*counts_)[i];
      if (seen >= rank) return std::min(highest_equivalent(i), max_);
    }
    return max_;
  }

  // Exposed for tests: the counts slot of a value, and the value range of a slot.
  static size_t index_of(uint64_t v) {
    const int pow2ceiling = 64 - std::countl_zero(v | kSubBucketMask);
    const int bucket = pow2ceiling - (kSubBucketHalfMagnitude + 1);
    const uint64_t sub = v >> bucket;
    return (static_cast<size_t>(bucket + 1) << kSubBucketHalfMagnitude) + (sub - kSubBucketHalf);
  }
  static uint64_t lowest_equivalent(size_t index) {
    int bucket = static_cast<int>(index >> kSubBucketHalfMagnitude) - 1;
    uint64_t sub = (index & (kSubBucketHalf - 1)) + kSubBucketHalf;
    if (bucket < 0) {  // the first bucket's lower half
      sub -= kSubBucketHalf;
      bucket = 0;
    }
    return sub << bucket;
  }
  static uint64_t highest_equivalent(size_t index) {
    const int bucket = std::max(0, static_cast<int>(index >> kSubBucketHalfMagnitude) - 1);
    return lowest_equivalent(index) + (uint64_t{1} << bucket) - 1;
  }

 private:
  std::unique_ptr<std::array<uint64_t, kCounts>> counts_;
  uint64_t total_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
  uint64_t saturated_ = 0;
};

}  // namespace wsload
