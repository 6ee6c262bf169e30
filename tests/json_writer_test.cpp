// The event log's JSON writer: escaping, numbers and nesting, each line read
// back with nlohmann::json, and strings compared byte for byte with what
// nlohmann's dump() writes (the log's lines must not change).
#include "proxy/report/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace wsi {
namespace {

std::string json_string(std::string_view s) {
  std::string out;
  JsonWriter::append_string(out, s);
  return out;
}

// What nlohmann writes for the string, ill-formed UTF-8 replaced as the
// proxy's log did it.
std::string nlohmann_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(JsonWriter, EveryControlCharacterIsEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string s(1, static_cast<char>(c));
    const std::string q = json_string(s);
    SCOPED_TRACE(c);
    switch (c) {
      case '\b':
        EXPECT_EQ(q, R"("\b")");
        break;
      case '\f':
        EXPECT_EQ(q, R"("\f")");
        break;
      case '\n':
        EXPECT_EQ(q, R"("\n")");
        break;
      case '\r':
        EXPECT_EQ(q, R"("\r")");
        break;
      case '\t':
        EXPECT_EQ(q, R"("\t")");
        break;
      default: {
        char expected[16];
        std::snprintf(expected, sizeof expected, "\"\\u%04x\"", c);
        EXPECT_EQ(q, expected);
      }
    }
    EXPECT_EQ(q, nlohmann_string(s));
    EXPECT_EQ(nlohmann::json::parse(q).get<std::string>(), s);
  }
}

TEST(JsonWriter, QuotesAndBackslashes) {
  EXPECT_EQ(json_string(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(json_string(R"(C:\dir\)"), R"("C:\\dir\\")");
  EXPECT_EQ(json_string(R"(\")"), R"("\\\"")");
  EXPECT_EQ(json_string(""), R"("")");
  EXPECT_EQ(json_string("/"), R"("/")");       // not escaped
  EXPECT_EQ(json_string("\x7f"), "\"\x7f\"");  // DEL is not a JSON control character
  for (std::string_view s : {R"(say "hi")", R"(C:\dir\)", R"(\")", "", "/", "\x7f"}) {
    EXPECT_EQ(json_string(s), nlohmann_string(s));
    EXPECT_EQ(nlohmann::json::parse(json_string(s)).get<std::string>(), s);
  }
}

TEST(JsonWriter, WellFormedUtf8PassesThrough) {
  // 2, 3 and 4-byte sequences, the first and last of each length.
  for (std::string_view s :
       {"h\xc3\xa9llo", "\xe2\x82\xac 5", "\xf0\x9d\x84\x9e clef", "\xc2\x80", "\xdf\xbf",
        "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf"}) {
    EXPECT_EQ(json_string(s), "\"" + std::string(s) + "\"");
    EXPECT_EQ(nlohmann::json::parse(json_string(s)).get<std::string>(), s);
  }
}

TEST(JsonWriter, IllFormedUtf8BecomesReplacementCharacters) {
  const std::string_view fffd = "\xef\xbf\xbd";
  EXPECT_EQ(json_string("a\xff"
                        "b"),
            "\"a" + std::string(fffd) + "b\"");
  // A truncated sequence is one replacement; the byte that broke it is read again.
  EXPECT_EQ(json_string("\xe2\x82"
                        "A"),
            "\"" + std::string(fffd) + "A\"");
  for (std::string_view s : {
           "\x80",                   // lone continuation byte
           "\xc0\xaf",               // overlong '/'
           "\xc1\xbf",               // overlong
           "\xe0\x80\xaf",           // overlong, three bytes
           "\xed\xa0\x80",           // a surrogate
           "\xf0\x80\x80\xaf",       // overlong, four bytes
           "\xf4\x90\x80\x80",       // above U+10FFFF
           "\xf5\x80\x80\x80",       // no such lead byte
           "\xff\xfe",               //
           "\xe2\x82",               // cut at the end
           "\xf0\x9d\x84",           // cut at the end
           "\xe2\x28\xa1",           // second byte not a continuation
           "ok \xc3\xa9 \xc3 \xa9",  // mixed
       }) {
    SCOPED_TRACE(testing::PrintToString(std::string(s)));
    EXPECT_EQ(json_string(s), nlohmann_string(s));
    EXPECT_TRUE(nlohmann::json::accept(json_string(s)));
  }
}

TEST(JsonWriter, Integers) {
  std::string out;
  JsonWriter w(out);
  w.begin_array()
      .value(0)
      .value(-1)
      .value(std::numeric_limits<int64_t>::min())
      .value(std::numeric_limits<int64_t>::max())
      .value(std::numeric_limits<uint64_t>::max())
      .value(uint8_t{200})  // a number, not a character
      .value(uint16_t{1006})
      .value(size_t{42})
      .end_array();
  EXPECT_EQ(out,
            "[0,-1,-9223372036854775808,9223372036854775807,18446744073709551615,200,1006,42]");
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j[2].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(j[4].get<uint64_t>(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(j[5].get<int>(), 200);
}

TEST(JsonWriter, DoublesRoundTrip) {
  const double values[] = {0.0, 0.1, -2.5, 1.0 / 3.0, 1e300, 5e-324, 123456.789};
  for (double v : values) {
    std::string out;
    JsonWriter(out).value(v);
    SCOPED_TRACE(out);
    EXPECT_EQ(nlohmann::json::parse(out).get<double>(), v);
  }
  std::string out;
  JsonWriter(out).value(0.1);
  EXPECT_EQ(out, "0.1");  // shortest, not 0.10000000000000001
  for (double v : {std::nan(""), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    std::string s;
    JsonWriter(s).value(v);
    EXPECT_EQ(s, "null");
  }
}

TEST(JsonWriter, BooleansAndStringLiterals) {
  std::string out;
  JsonWriter(out).begin_array().value(true).value(false).value("true").end_array();
  EXPECT_EQ(out, R"([true,false,"true"])");  // a literal stays a string
}

TEST(JsonWriter, NestingAndKeyOrder) {
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .field("z", 1)
      .field("a", "x")
      .key("list")
      .begin_array()
      .begin_object()
      .field("k", true)
      .end_object()
      .begin_object()
      .end_object()
      .begin_array()
      .end_array()
      .value(2)
      .end_array()
      .key("empty")
      .begin_object()
      .end_object()
      .key("cached")
      .raw(R"({"pre":"serialised"})")
      .field("key \"quoted\"\n", -3)
      .end_object();
  EXPECT_EQ(out, R"({"z":1,"a":"x","list":[{"k":true},{},[],2],"empty":{},)"
                 R"("cached":{"pre":"serialised"},"key \"quoted\"\n":-3})");
  const auto j = nlohmann::ordered_json::parse(out);
  EXPECT_EQ(j.begin().key(), "z");  // keys in the order written
  EXPECT_EQ(j["a"], "x");
  EXPECT_EQ(j["list"].size(), 4u);
  EXPECT_EQ(j["list"][0]["k"], true);
  EXPECT_TRUE(j["list"][1].is_object() && j["list"][1].empty());
  EXPECT_TRUE(j["list"][2].is_array() && j["list"][2].empty());
  EXPECT_EQ(j["cached"]["pre"], "serialised");
  EXPECT_EQ(j["key \"quoted\"\n"], -3);
}

TEST(JsonWriter, AppendsToWhatIsThere) {
  std::string out = "prefix ";
  JsonWriter(out).begin_object().field("a", 1).end_object();
  EXPECT_EQ(out, R"(prefix {"a":1})");
  EXPECT_EQ(json_object([](JsonWriter& w) { w.field("b", 2).field("c", "d"); }),
            R"({"b":2,"c":"d"})");
  EXPECT_EQ(json_object([](JsonWriter&) {}), "{}");
}

}  // namespace
}  // namespace wsi
