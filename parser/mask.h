// Unmasking (RFC 6455 §5.3) into a destination buffer, never in place: the
// proxy forwards the original bytes, so the caller's input stays untouched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wsi {

// dst[i] = src[i] ^ key[(phase + i) % 4]. `phase` is the position of src[0]
// within the frame's payload (only its low two bits matter).
inline void unmask_copy(uint8_t* dst, const uint8_t* src, size_t n, const uint8_t key[4],
                        uint64_t phase) {
  uint8_t rot[4];
  for (int k = 0; k < 4; ++k) rot[k] = key[(phase + k) & 3];
  uint32_t k32;
  std::memcpy(&k32, rot, 4);
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i k128 = _mm_set1_epi32(static_cast<int>(k32));
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(v, k128));
  }
#endif
  const uint64_t k64 = (uint64_t{k32} << 32) | k32;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, src + i, 8);
    v ^= k64;
    std::memcpy(dst + i, &v, 8);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ rot[i & 3];
}

}  // namespace wsi
