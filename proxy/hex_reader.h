// Hex text to bytes, as `decode --hex` and the test vectors use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wsi {

// Turns hex text into bytes as it streams: whitespace is ignored and '#'
// starts a comment that runs to the end of the line.
class HexReader {
 public:
  // Appends the decoded bytes to `out`; false on a character that is not hex.
  bool feed(const char* p, size_t n, std::vector<uint8_t>& out) {
    for (size_t i = 0; i < n; ++i) {
      const char c = p[i];
      if (c == '\n') {
        ++line_;
        in_comment_ = false;
        continue;
      }
      if (in_comment_ || c == ' ' || c == '\t' || c == '\r') continue;
      if (c == '#') {
        in_comment_ = true;
        continue;
      }
      const int v = digit(c);
      if (v < 0) {
        bad_ = c;
        return false;
      }
      if (have_nibble_) {
        out.push_back(static_cast<uint8_t>((nibble_ << 4) | v));
        have_nibble_ = false;
      } else {
        nibble_ = static_cast<uint8_t>(v);
        have_nibble_ = true;
      }
    }
    return true;
  }
  bool odd() const { return have_nibble_; }
  unsigned line() const { return line_; }
  char bad() const { return bad_; }

 private:
  static int digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  unsigned line_ = 1;
  uint8_t nibble_ = 0;
  bool have_nibble_ = false;
  bool in_comment_ = false;
  char bad_ = 0;
};

}  // namespace wsi
