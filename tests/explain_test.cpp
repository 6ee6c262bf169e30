// `wsinspect explain`: one code, two codes compared, and input validation.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "proxy/commands.h"

namespace wsi {
namespace {

struct Result {
  int status;
  std::string out;
  std::string err;
};

Result explain(std::vector<std::string> args) {
  std::ostringstream out, err;
  int status = run_explain(args, out, err);
  return {status, out.str(), err.str()};
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) {
    ++n;
  }
  return n;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void expect_wrapped_plain_text(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 78u) << line;
    EXPECT_FALSE(line.ends_with(" ")) << line;
  }
  EXPECT_FALSE(has(text, "\x1b")) << "no colour codes";
}

TEST(Explain, OneCodeHasNameFactsAndThreeSections) {
  Result r = explain({"1006"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.err.empty());
  EXPECT_TRUE(has(r.out, "1006"));
  EXPECT_TRUE(has(r.out, "Abnormal Closure"));
  EXPECT_TRUE(has(r.out, "May appear in a close frame: no"));
  EXPECT_TRUE(has(r.out, "Sent by:"));
  EXPECT_TRUE(has(r.out, "What it means"));
  EXPECT_TRUE(has(r.out, "When you see it"));
  EXPECT_TRUE(has(r.out, "How to fix it"));
  expect_wrapped_plain_text(r.out);

  Result ok = explain({"1000"});
  EXPECT_TRUE(has(ok.out, "May appear in a close frame: yes"));
}

TEST(Explain, TwoCodesAreComparedSideBySide) {
  Result r = explain({"1002", "1008"});
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(r.err.empty());
  EXPECT_TRUE(has(r.out, "Protocol Error"));
  EXPECT_TRUE(has(r.out, "Policy Violation"));
  EXPECT_EQ(count(r.out, "What it means"), 2u);
  EXPECT_EQ(count(r.out, "When you see it"), 2u);
  EXPECT_EQ(count(r.out, "How to fix it"), 2u);
  EXPECT_TRUE(has(r.out, "Key differences"));
  EXPECT_TRUE(has(r.out, "  1. "));
  EXPECT_TRUE(has(r.out, "Which one applies"));
  // The Protocol Error section comes before the Policy Violation one.
  EXPECT_LT(r.out.find("\n1002 (Protocol Error)"), r.out.find("\n1008 (Policy Violation)"));
  expect_wrapped_plain_text(r.out);
}

TEST(Explain, ComparisonContrastsValidityOnTheWire) {
  Result r = explain({"1000", "1006"});
  ASSERT_EQ(r.status, 0);
  EXPECT_TRUE(has(r.out, "Only 1000 may appear in a close frame"));
  expect_wrapped_plain_text(r.out);
}

TEST(Explain, UnregisteredCodesAreExplainedByTheirRange) {
  Result priv = explain({"4321"});
  EXPECT_EQ(priv.status, 0);
  EXPECT_TRUE(has(priv.out, "Private Use"));
  EXPECT_TRUE(has(priv.out, "private use"));
  EXPECT_TRUE(has(priv.out, "4000-4999"));

  EXPECT_TRUE(has(explain({"1016"}).out, "1016-2999"));
  EXPECT_TRUE(has(explain({"2500"}).out, "1016-2999"));
  EXPECT_TRUE(has(explain({"0"}).out, "0-999"));
  EXPECT_TRUE(has(explain({"65535"}).out, "5000-65535"));
  EXPECT_TRUE(has(explain({"3500"}).out, "3000-3999"));

  Result same_range = explain({"2500", "2600"});
  EXPECT_EQ(same_range.status, 0);
  EXPECT_TRUE(has(same_range.out, "same range"));
  expect_wrapped_plain_text(same_range.out);
}

TEST(Explain, EveryCodeAndPairOfKindsFitsTheWidth) {
  for (const char* code : {"0",    "1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007",
                           "1008", "1009", "1010", "1011", "1012", "1013", "1014", "1015", "1016",
                           "3000", "3003", "3008", "3500", "4000", "4999", "5000"}) {
    Result r = explain({code});
    EXPECT_EQ(r.status, 0) << code;
    expect_wrapped_plain_text(r.out);
  }
  for (auto [a, b] :
       {std::pair{"1005", "1006"}, std::pair{"1002", "4321"}, std::pair{"1010", "1011"},
        std::pair{"0", "5000"}, std::pair{"3000", "3003"}}) {
    Result r = explain({a, b});
    EXPECT_EQ(r.status, 0) << a << " " << b;
    EXPECT_TRUE(has(r.out, "Key differences")) << a << " " << b;
    expect_wrapped_plain_text(r.out);
  }
}

TEST(Explain, BadInputIsAUsageError) {
  for (const char* bad : {"abc", "-1", "1e3", "", "99999999999", "70000", "65536", "+5", " 12",
                          "12 ", "0x3e8", "1002.0"}) {
    Result r = explain({bad});
    EXPECT_EQ(r.status, 2) << "'" << bad << "'";
    EXPECT_FALSE(r.err.empty()) << "'" << bad << "'";
    EXPECT_TRUE(r.out.empty()) << "'" << bad << "'";
  }
  Result second_bad = explain({"1000", "abc"});
  EXPECT_EQ(second_bad.status, 2);
  EXPECT_TRUE(has(second_bad.err, "abc"));
  EXPECT_TRUE(second_bad.out.empty());
}

TEST(Explain, WrongArgumentCountIsAUsageError) {
  Result none = explain({});
  EXPECT_EQ(none.status, 2);
  EXPECT_TRUE(has(none.err, "usage"));
  Result three = explain({"1000", "1001", "1002"});
  EXPECT_EQ(three.status, 2);
  EXPECT_TRUE(has(three.err, "usage"));
  EXPECT_TRUE(three.out.empty());
}

}  // namespace
}  // namespace wsi
