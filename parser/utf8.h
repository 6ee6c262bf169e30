// Streaming UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires): a DFA
// that carries a partial code point across calls, with an ASCII fast path
// that checks 16 bytes at a time.
//
// The DFA is shift-based: each byte selects a 64-bit row holding, for every
// state s, the next state in bits [s, s+6). A state is a bit position, so one
// step is a table load and a shift, with no branch per byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace wsi {

class Utf8Validator {
 public:
  static constexpr size_t npos = static_cast<size_t>(-1);

  // Validates the next bytes of the text. Returns npos when they are valid so
  // far, or the index in [0, n) of the first byte at which the text can no
  // longer be valid UTF-8 (the validator is then stuck in its reject state).
  size_t feed(const uint8_t* p, size_t n);

  // True when the bytes so far end on a code point boundary.
  bool complete() const { return (state_ & 63) == kAccept; }
  bool failed() const { return (state_ & 63) == kReject; }
  // Bytes of an unfinished code point seen so far (0 when complete()).
  unsigned pending() const { return pending_; }
  void reset() {
    state_ = kAccept;
    pending_ = 0;
  }

  // Whole-buffer convenience.
  static bool valid(const uint8_t* p, size_t n) {
    Utf8Validator v;
    return v.feed(p, n) == npos && v.complete();
  }

  static constexpr uint64_t kAccept = 0;
  static constexpr uint64_t kReject = 6;

 private:
  uint64_t state_ = kAccept;
  unsigned pending_ = 0;
};

}  // namespace wsi
