// A JSON writer that appends straight to a std::string: the event log writes
// each event as it goes, with no tree to build, copy and free (building and
// dumping nlohmann::json trees was the largest cost of a handshake in the
// proxy, see BENCHMARKS.md). The output is compact, keys in the order
// written; strings, integers and booleans come out byte for byte as
// nlohmann's dump() wrote them, so the log's lines did not change (doubles
// differ: 1.0 is written 1).
//
// The writer checks nothing about structure: a key outside an object or an
// unclosed array is the caller's bug, so callers write whole objects in one
// place (see event_format.h).
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace wsi {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  // A key of the open object; the next call writes its value.
  JsonWriter& key(std::string_view k) {
    separate();
    append_string(out_, k);
    out_ += ':';
    need_comma_ = false;
    return *this;
  }

  JsonWriter& value(std::string_view s) {
    separate();
    append_string(out_, s);
    return *this;
  }
  // Without it a string literal would convert to bool.
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b) { return raw(b ? "true" : "false"); }
  template <std::integral T>
  requires(!std::same_as<T, bool>) JsonWriter& value(T v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return raw({buf, r.ptr});
  }
  // The shortest form that reads back as the same double; NaN and infinities,
  // which JSON cannot carry, as null.
  JsonWriter& value(double v);

  // A value that is already JSON (a cached object, a serialised string).
  JsonWriter& raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
  }

  template <class T>
  JsonWriter& field(std::string_view k, const T& v) {
    return key(k).value(v);
  }

  // Appends s as a JSON string: quotes, backslashes and control characters
  // escaped (\b \f \n \r \t, the others as \u00XX), valid UTF-8 as it is, and
  // each ill-formed UTF-8 sequence replaced by U+FFFD, so that the output is
  // valid JSON whatever the input.
  static void append_string(std::string& out, std::string_view s);

 private:
  JsonWriter& open(char c) {
    separate();
    out_ += c;
    need_comma_ = false;
    return *this;
  }
  JsonWriter& close(char c) {
    out_ += c;
    need_comma_ = true;
    return *this;
  }
  void separate() {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
  }

  std::string& out_;
  bool need_comma_ = false;  // a value or member was written at this level
};

// A whole object: `{`, what `fields(w)` writes, `}`.
template <class Fields>
std::string json_object(Fields fields) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  fields(w);
  w.end_object();
  return out;
}

}  // namespace wsi
