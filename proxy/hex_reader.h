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
//   offset; a '*' (lines squeezed) is an error, since bytes are missing. A
//   line of eight hex digits after a hexdump -C line is held: it is that
//   final offset when the input ends right after it or another hexdump -C
//   line follows, and plain hex otherwise;
// - `xxd -i`, C and JavaScript arrays: "0x81, 0x05," tokens of one or two
//   digits, separated by whitespace, ',', '[' or ']'. On a line with '{'
//   (before any '#') everything up to it is ignored; '}' ends the array, and
//   after it, until a line of bytes is read, the lines that do not look like
//   bytes (plain hex, 0x tokens, [..], \x escapes, xxd, hexdump -C) are
//   ignored: the declarations around an array, as "unsigned int x_len = 35;";
// - escapes: "\x81\x05", optionally quoted ("...", '...', b'...').
//
// A line is only decided once it is whole: call finish() at the end of the
// input for a last line with no line break. A line held is at most
// kMaxLine bytes: one that grows longer without a line break (a whole dump
// written as one line of plain hex) is read as plain hex from there on, as
// it streams, when it is plain hex so far; any other is an error.
class HexReader {
 public:
  static constexpr size_t kMaxLine = 64 * 1024;

  // Appends the bytes of each complete line to `out` (and of a long plain
  // hex line as it comes); false on a line that cannot be read (line(),
  // bad() and error() say where and why).
  bool feed(const char* p, size_t n, std::vector<uint8_t>& out) {
    for (size_t i = 0; i < n; ++i) {
      const char c = p[i];
      if (c == '\n') {
        if (!streaming_ && !read_line(pending_, out)) return false;
        pending_.clear();
        streaming_ = comment_ = false;
        ++line_;
      } else if (streaming_) {
        if (!stream_char(c, out)) return false;
      } else {
        pending_ += c;
        if (pending_.size() == kMaxLine && !start_streaming(out)) return false;
      }
    }
    return true;
  }
  // The end of the input: reads a last line that has no line break, and
  // drops a line held as hexdump's final offset.
  bool finish(std::vector<uint8_t>& out) {
    if (!streaming_ && !pending_.empty() && !read_line(pending_, out)) return false;
    pending_.clear();
    streaming_ = comment_ = false;
    held_.clear();
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
  // Where plain hex (hex digits and whitespace, up to a '#' comment) stops
  // being that; npos when all of it is.
  static size_t not_plain(std::string_view s) {
    for (size_t i = 0; i < s.size() && s[i] != '#'; ++i)
      if (!space(s[i]) && digit(s[i]) < 0) return i;
    return std::string_view::npos;
  }
  static bool is_hexdump(std::string_view s, size_t i, size_t run) {
    const std::string_view rest = s.substr(i + run);
    return run == 8 && rest.starts_with("  ") && rest.find('|') != std::string_view::npos;
  }
  // A line of bytes in a form the array's declarations are not: plain hex,
  // 0x tokens, [..] or \x escapes (xxd and hexdump are told apart before).
  static bool looks_like_bytes(std::string_view s, size_t i) {
    if (starts_0x(s, i) || s[i] == '[' || s[i] == ']' || s[i] == '\\') return true;
    if (s[i] == 'b') ++i;
    if (i + 1 < s.size() && (s[i] == '"' || s[i] == '\'') && s[i + 1] == '\\') return true;
    return not_plain(s) == std::string_view::npos;
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
    if (blank(s)) return true;  // neither ends a hexdump nor decides a held line
    const size_t i = skip_space(s, 0);
    const size_t run = hex_run(s, i);
    const std::string_view rest = s.substr(i + run);
    const bool hexdump_line = is_hexdump(s, i, run);
    // A line held after hexdump -C: its final offset if another dump follows.
    if (!held_.empty() && !hexdump_line && !plain(held_, true, out)) return false;
    held_.clear();
    if (run > 0 && rest.starts_with(':')) {
      // xxd: the hex area ends at the first two spaces, where the text starts.
      hexdump_ = after_array_ = false;
      std::string_view area = rest.substr(1);
      if (area.starts_with(' ')) area.remove_prefix(1);
      return plain(area.substr(0, area.find("  ")), false, out);
    }
    if (hexdump_line) {
      hexdump_ = true;
      after_array_ = false;
      return plain(rest.substr(0, rest.find('|')), false, out);
    }
    if (hexdump_ && run == 8 && skip_space(rest, 0) == rest.size()) {
      // The end offset, or 4 bytes of plain hex: the next line tells.
      held_ = s;
      hexdump_ = false;
      return true;
    }
    if (hexdump_ && s[i] == '*' && skip_space(s, i + 1) == s.size())
      return fail('*', "hexdump left out repeated lines ('*'): run hexdump -C -v to write them");
    hexdump_ = false;
    // Checked after xxd and hexdump, whose text column may show a '{'.
    if (const size_t brace = s.find('{'); brace < s.find('#')) return array_line(s, out);
    if (after_array_) {
      if (!looks_like_bytes(s, i)) return true;
      after_array_ = false;
    }
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
      add_nibble(v, out);
    }
    return true;
  }
  void add_nibble(int v, std::vector<uint8_t>& out) {
    if (have_nibble_) {
      out.push_back(static_cast<uint8_t>((nibble_ << 4) | v));
      have_nibble_ = false;
    } else {
      nibble_ = static_cast<uint8_t>(v);
      have_nibble_ = true;
    }
  }

  // A line reached kMaxLine with no line break: read as plain hex from here
  // on when it is that so far (outside an array), so that no more of it is held.
  bool start_streaming(std::vector<uint8_t>& out) {
    const std::string_view s = pending_;
    const size_t bad = array_ ? skip_space(s, 0) : not_plain(s);
    if (bad != std::string_view::npos) return fail_long(bad < s.size() ? s[bad] : ' ', bad + 1);
    if (!held_.empty() && !plain(held_, true, out)) return false;  // a long line is no hexdump's
    held_.clear();
    hexdump_ = after_array_ = false;
    const size_t hash = s.find('#');
    if (!plain(s.substr(0, hash), false, out)) return false;
    comment_ = hash != std::string_view::npos;
    column_ = s.size();
    streaming_ = true;
    pending_.clear();
    return true;
  }
  bool stream_char(char c, std::vector<uint8_t>& out) {
    ++column_;
    if (comment_ || space(c)) return true;
    if (c == '#') {
      comment_ = true;
      return true;
    }
    const int v = digit(c);
    if (v < 0) return fail_long(c, column_);
    add_nibble(v, out);
    return true;
  }
  bool fail_long(char c, size_t column) {
    return fail(c, "line " + std::to_string(line_) +
                       " is longer than 64 KiB and is not plain hex ('" + shown(c) + "' at byte " +
                       std::to_string(column) +
                       " of the line): a line that long is read only as plain hex (hex digits, "
                       "whitespace, a '#' comment), as it streams");
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

  std::string pending_;  // the line read so far, at most kMaxLine bytes
  std::string held_;     // 8 hex digits after hexdump -C: its end offset, or bytes
  std::string error_;
  size_t column_ = 0;  // bytes of a streaming line so far
  unsigned line_ = 1;
  uint8_t nibble_ = 0;
  bool have_nibble_ = false;
  bool hexdump_ = false;      // the last line was hexdump -C's
  bool streaming_ = false;    // a line longer than kMaxLine, read as plain hex as it comes
  bool comment_ = false;      // ... and now in its '#' comment
  bool array_ = false;        // inside '{' ... '}'
  bool after_array_ = false;  // an array ended: lines without '{' are its declarations
  char bad_ = 0;
};

}  // namespace wsi
