// Hex text to bytes, as `decode --hex` and the test vectors use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsi {

// Turns hex text into bytes as it streams, a line at a time. Each line is
// read in the form it is written in, so the forms mix freely:
//
// - plain hex: whitespace is ignored and '#' starts a comment that runs to the
//   end of the line; a byte's two digits may be split by whitespace or a line
//   break;
// - `xxd` (also -g1, -c): "00000000: 8105 4865 6c6c 6f  ..Hello": the offset
//   up to ':' and the text column (after the first two spaces of the hex
//   area) are dropped;
// - `hexdump -C`: "00000000  81 05 48 65 6c 6c 6f  |..Hello|": the offset and
//   the |text| column are dropped, and so is the final line holding only the
//   offset; a '*' (lines squeezed) is an error, since bytes are missing;
// - `xxd -i`, C and JavaScript arrays: "0x81, 0x05," tokens of one or two
//   digits, separated by whitespace, ',', '[' or ']'. On a line with '{'
//   (before any '#') everything up to it is ignored; '}' ends the array, and
//   after it the lines in other forms than these three are ignored (the
//   declarations around an array, as "unsigned int x_len = 35;");
// - escapes: "\x81\x05", optionally quoted ("...", '...', b'...').
//
// A line is only decided once it is whole: call finish() at the end of the
// input for a last line with no line break.
class HexReader {
 public:
  // Appends the bytes of each complete line to `out`; false on a line that
  // cannot be read (line(), bad() and error() say where and why).
  bool feed(const char* p, size_t n, std::vector<uint8_t>& out) {
    for (size_t i = 0; i < n; ++i) {
      if (p[i] != '\n') {
        pending_ += p[i];
        continue;
      }
      if (!read_line(pending_, out)) return false;
      pending_.clear();
      ++line_;
    }
    return true;
  }
  // The end of the input: reads a last line that has no line break.
  bool finish(std::vector<uint8_t>& out) {
    if (pending_.empty()) return true;
    if (!read_line(pending_, out)) return false;
    pending_.clear();
    return true;
  }
  // A byte is incomplete (an odd number of digits), or a last line is still
  // to be read by finish().
  bool odd() const { return have_nibble_ || !blank(pending_); }
  unsigned line() const { return line_; }
  char bad() const { return bad_; }
  // Why the line was refused, e.g. "not a hex digit: 'g'"; printable ASCII
  // only (the character is shown escaped when it is not printable).
  const std::string& error() const { return error_; }

 private:
  static int digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  static bool space(char c) { return c == ' ' || c == '\t' || c == '\r'; }
  // Blank up to a '#' comment.
  static bool blank(std::string_view s) {
    for (const char c : s) {
      if (c == '#') return true;
      if (!space(c)) return false;
    }
    return true;
  }
  static size_t skip_space(std::string_view s, size_t i) {
    while (i < s.size() && space(s[i])) ++i;
    return i;
  }
  static size_t hex_run(std::string_view s, size_t i) {
    size_t n = 0;
    while (i + n < s.size() && digit(s[i + n]) >= 0) ++n;
    return n;
  }
  static bool starts_0x(std::string_view s, size_t i) {
    return i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
  }

  bool fail(char c, std::string why) {
    bad_ = c;
    error_ = std::move(why);
    return false;
  }
  // A character of the input as an error shows it: printable ASCII as it
  // is, anything else as \xNN, so the message holds no control characters.
  static std::string shown(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') return std::string(1, c);
    static constexpr char kDigits[] = "0123456789abcdef";
    return std::string("\\x") + kDigits[u >> 4] + kDigits[u & 15];
  }
  bool fail_digit(char c) { return fail(c, "not a hex digit: '" + shown(c) + "'"); }
  bool push_byte(uint8_t b, char at, std::vector<uint8_t>& out) {
    if (have_nibble_)
      return fail(at,
                  "a whole byte after an odd number of hex digits (the byte before is "
                  "incomplete)");
    out.push_back(b);
    return true;
  }

  bool read_line(std::string_view s, std::vector<uint8_t>& out) {
    if (array_) return tokens(s, out);
    const size_t i = skip_space(s, 0);
    if (i == s.size()) return true;
    const size_t run = hex_run(s, i);
    const std::string_view rest = s.substr(i + run);
    if (run > 0 && rest.starts_with(':')) {
      // xxd: the hex area ends at the first two spaces, where the text starts.
      hexdump_ = false;
      std::string_view area = rest.substr(1);
      if (area.starts_with(' ')) area.remove_prefix(1);
      return plain(area.substr(0, area.find("  ")), false, out);
    }
    if (run == 8 && rest.starts_with("  ") && rest.find('|') != std::string_view::npos) {
      hexdump_ = true;
      return plain(rest.substr(0, rest.find('|')), false, out);
    }
    if (hexdump_ && run == 8 && skip_space(rest, 0) == rest.size()) return true;  // the end offset
    if (hexdump_ && s[i] == '*' && skip_space(s, i + 1) == s.size())
      return fail('*', "hexdump left out repeated lines ('*'): run hexdump -C -v to write them");
    hexdump_ = false;
    // Checked after xxd and hexdump, whose text column may show a '{'.
    if (const size_t brace = s.find('{'); brace < s.find('#')) return array_line(s, out);
    if (after_array_) return true;
    if (starts_0x(s, i) || s[i] == '[' || s[i] == ']') return tokens(s.substr(i), out);
    if (s[i] == '\\' || s[i] == '"' || s[i] == '\'' ||
        (s[i] == 'b' && s.size() > i + 1 && (s[i + 1] == '\'' || s[i + 1] == '"')))
      return escapes(s.substr(i), out);
    return plain(s, true, out);
  }

  // Whitespace ignored, nibbles joined across tokens and lines.
  bool plain(std::string_view s, bool comments, std::vector<uint8_t>& out) {
    for (const char c : s) {
      if (space(c)) continue;
      if (c == '#' && comments) break;
      const int v = digit(c);
      if (v < 0) return fail_digit(c);
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

  // A line of a C or JavaScript array (or its '{' line).
  bool array_line(std::string_view s, std::vector<uint8_t>& out) {
    s.remove_prefix(s.find('{') + 1);
    array_ = true;
    after_array_ = false;
    return tokens(s, out);
  }

  // "0x81, 0x5 [0x00]": one byte per token; "//" comments; '}' ends an array.
  bool tokens(std::string_view s, std::vector<uint8_t>& out) {
    size_t i = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (space(c) || c == ',' || c == '[' || c == ']' || c == ';') {
        ++i;
        continue;
      }
      if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') return true;
      if (c == '}') {
        array_ = false;
        after_array_ = true;
        return true;
      }
      if (!starts_0x(s, i)) return fail_digit(c);
      const size_t run = hex_run(s, i + 2);
      if (run == 0 || run > 2) {
        const size_t end = i + 2 + run;
        const char at = run > 0 ? s[i + 2] : end < s.size() ? s[end] : s[i + 1];
        return fail(at, "'" + std::string(s.substr(i, end - i)) +
                            "' is not one byte (0x and one or two hex digits)");
      }
      uint8_t b = 0;
      for (size_t k = 0; k < run; ++k) b = static_cast<uint8_t>(b << 4 | digit(s[i + 2 + k]));
      if (!push_byte(b, c, out)) return false;
      i += 2 + run;
      if (i < s.size() && !space(s[i]) && s[i] != ',' && s[i] != ']' && s[i] != '}' &&
          s[i] != ';' && s[i] != '/')
        return fail_digit(s[i]);
    }
    return true;
  }

  // "\x81\x05", with optional quotes and a b prefix around it.
  bool escapes(std::string_view s, std::vector<uint8_t>& out) {
    size_t i = 0;
    if (s.starts_with('b')) ++i;
    while (i < s.size()) {
      const char c = s[i];
      if (space(c) || c == '"' || c == '\'') {
        ++i;
        continue;
      }
      if (c != '\\') return fail_digit(c);
      if (i + 1 >= s.size() || s[i + 1] != 'x')
        return fail(i + 1 < s.size() ? s[i + 1] : c,
                    "an escape that is not \\x and two hex digits");
      if (hex_run(s, i + 2) < 2)
        return fail(i + 2 < s.size() ? s[i + 2] : c,
                    "an escape that is not \\x and two hex digits");
      if (!push_byte(static_cast<uint8_t>(digit(s[i + 2]) << 4 | digit(s[i + 3])), c, out))
        return false;
      i += 4;
    }
    return true;
  }

  std::string pending_;  // the line read so far
  std::string error_;
  unsigned line_ = 1;
  uint8_t nibble_ = 0;
  bool have_nibble_ = false;
  bool hexdump_ = false;      // the last line was hexdump -C's
  bool array_ = false;        // inside '{' ... '}'
  bool after_array_ = false;  // an array ended: lines without '{' are its declarations
  char bad_ = 0;
};

}  // namespace wsi
