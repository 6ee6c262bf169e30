// Config errors are one printable line, whatever the file or flag held.
#include <gtest/gtest.h>

#include <string>

#include "proxy/config.h"

namespace wsi {
namespace {

std::string load_error(const std::string& doc) {
  ProxyConfig cfg;
  std::string error;
  EXPECT_FALSE(load_config_string(doc, "t.toml", cfg, error)) << doc;
  return error;
}

bool has_control_character(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

TEST(ConfigErrors, TheCharacterTomlDidNotExpectIsEscaped) {
  // toml++ quotes what it saw instead of "inf": here a newline.
  const std::string error = load_error("[timeouts]\ndrain =i\nx = 1\n");
  EXPECT_FALSE(has_control_character(error)) << error;
  EXPECT_EQ(error.rfind("t.toml:2:", 0), 0u) << error;
  EXPECT_NE(error.find("\\n"), std::string::npos) << error;
}

TEST(ConfigErrors, QuotedValuesAndKeysAreEscaped) {
  const std::string value = load_error("listen = \"a\\nb\\u0007\"\n");
  EXPECT_FALSE(has_control_character(value)) << value;
  EXPECT_NE(value.find("'a\\nb\\x07'"), std::string::npos) << value;
  const std::string key = load_error("\"x\\ty\" = 1\n");
  EXPECT_FALSE(has_control_character(key)) << key;
  EXPECT_NE(key.find("'x\\x09y'"), std::string::npos) << key;
}

}  // namespace
}  // namespace wsi
