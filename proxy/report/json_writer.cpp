#include "proxy/report/json_writer.h"

#include <cmath>

namespace wsi {
namespace {

// The length of the UTF-8 sequence at s[i], whose first byte is not ASCII,
// and whether it is well formed (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF). An ill-formed one is its maximal subpart (Unicode
// §3.9): what is replaced by one U+FFFD, as nlohmann's replace handler does.
size_t utf8_sequence(std::string_view s, size_t i, bool& well_formed) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t lead = byte(0);
  size_t len = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong below U+0800
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;  // overlong below U+10000
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    well_formed = false;
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size() || byte(k) < lo || byte(k) > hi) {
      well_formed = false;
      return k;
    }
    lo = 0x80;
    hi = 0xBF;
  }
  well_formed = true;
  return len;
}

}  // namespace

void JsonWriter::append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t plain = 0;  // the bytes from here to i are copied as they are
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    size_t n = 1;
    if (c >= 0x80) {
      bool well_formed;
      n = utf8_sequence(s, i, well_formed);
      if (well_formed) {
        i += n;
        continue;
      }
    }
    out.append(s.data() + plain, i - plain);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c >= 0x80) {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        }
    }
    i += n;
    plain = i;
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

JsonWriter& JsonWriter::value(double v) {
  if (!std::isfinite(v)) return raw("null");
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return raw({buf, r.ptr});
}

}  // namespace wsi
