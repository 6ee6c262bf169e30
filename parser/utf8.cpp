#include "parser/utf8.h"

#include <array>
#include <cstring>

#include <simdjson.h>

namespace wsi {
namespace {

// States, each stored as its bit position (index * 6).
enum : uint8_t {
  kAcc,  // on a code point boundary
  kRej,  // invalid: absorbing
  kC1,   // one continuation byte (80..BF) to go
  kC2,   // two to go
  kC3,   // three to go
  kE0,   // after E0: next must be A0..BF (no overlong 3-byte forms)
  kED,   // after ED: next must be 80..9F (no UTF-16 surrogates)
  kF0,   // after F0: next must be 90..BF (no overlong 4-byte forms)
  kF4,   // after F4: next must be 80..8F (nothing above U+10FFFF)
  kStates
};

constexpr uint8_t next_state(uint8_t s, uint8_t b) {
  if (s == kRej) return kRej;
  if (s == kAcc) {
    if (b < 0x80) return kAcc;
    if (b >= 0xC2 && b <= 0xDF) return kC1;
    if (b == 0xE0) return kE0;
    if (b == 0xED) return kED;
    if (b >= 0xE1 && b <= 0xEF) return kC2;
    if (b == 0xF0) return kF0;
    if (b == 0xF4) return kF4;
    if (b >= 0xF1 && b <= 0xF3) return kC3;
    return kRej;  // 80..BF stray continuation, C0/C1 overlong, F5..FF
  }
  if (b < 0x80 || b > 0xBF) return kRej;  // a continuation byte is required
  switch (s) {
    case kC1:
      return kAcc;
    case kC2:
      return kC1;
    case kC3:
      return kC2;
    case kE0:
      return b >= 0xA0 ? kC1 : kRej;
    case kED:
      return b <= 0x9F ? kC1 : kRej;
    case kF0:
      return b >= 0x90 ? kC2 : kRej;
    case kF4:
      return b <= 0x8F ? kC2 : kRej;
    default:
      return kRej;
  }
}

constexpr std::array<uint64_t, 256> make_table() {
  std::array<uint64_t, 256> t{};
  for (unsigned b = 0; b < 256; ++b) {
    uint64_t row = 0;
    for (uint8_t s = 0; s < kStates; ++s)
      row |= uint64_t{next_state(s, static_cast<uint8_t>(b)) * 6u} << (s * 6);
    t[b] = row;
  }
  return t;
}

constexpr std::array<uint64_t, 256> kTable = make_table();
constexpr size_t kBulkMin = 256;
static_assert(Utf8Validator::kReject == kRej * 6);

inline uint64_t step(uint64_t state, uint8_t b) {
  return kTable[b] >> (state & 63);
}

inline bool ascii16(const uint8_t* p) {
  uint64_t a, b;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  return ((a | b) & 0x8080808080808080ull) == 0;
}

}  // namespace

// Where a bulk check of p[0, n) must stop so that it ends on a code point
// boundary: before a trailing lead byte whose sequence is cut short.
size_t complete_prefix(const uint8_t* p, size_t n) {
  size_t j = n;
  while (j > 0 && n - j < 3 && (p[j - 1] & 0xC0) == 0x80) --j;
  if (j == 0) return n;
  const uint8_t lead = p[j - 1];
  const size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return (j - 1) + len > n ? j - 1 : n;
}

size_t Utf8Validator::feed(const uint8_t* p, size_t n) {
  if ((state_ & 63) == kReject) return n ? 0 : npos;
  uint64_t s = state_;
  size_t i = 0;
  // Long runs go to simdjson's SIMD validator, which answers only valid or
  // not; the DFA below finishes a code point left open by the previous call,
  // handles the tail and, on failure, locates the first invalid byte.
  while (i < n && (s & 63) != kAccept) {
    s = step(s, p[i]);
    if ((s & 63) == kReject) {
      state_ = kReject;
      pending_ = 0;
      return i;
    }
    ++i;
  }
  if (n - i >= kBulkMin) {
    const size_t cut = i + complete_prefix(p + i, n - i);
    if (simdjson::validate_utf8(reinterpret_cast<const char*>(p + i), cut - i)) i = cut;
  }
  while (i < n) {
    if ((s & 63) == kAccept) {
      while (i + 16 <= n && ascii16(p + i)) i += 16;
    }
    // Up to 16 bytes through the DFA with no per-byte branch; a failure is
    // located afterwards, since the reject state is absorbing.
    const size_t end = i + 16 <= n ? i + 16 : n;
    const uint64_t before = s;
    for (size_t j = i; j < end; ++j) s = step(s, p[j]);
    if ((s & 63) == kReject) {
      s = before;
      for (size_t j = i; j < end; ++j) {
        s = step(s, p[j]);
        if ((s & 63) == kReject) {
          state_ = kReject;
          pending_ = 0;
          return j;
        }
      }
    }
    i = end;
  }
  state_ = s & 63;
  if (state_ == kAccept) {
    pending_ = 0;
  } else {
    // Count the bytes of the unfinished code point: walk back to its lead byte.
    unsigned k = 0;
    while (k < n && k < 4 && (p[n - 1 - k] & 0xC0) == 0x80) ++k;
    pending_ = k < n ? k + 1 : pending_ + static_cast<unsigned>(n);
  }
  return npos;
}

}  // namespace wsi
