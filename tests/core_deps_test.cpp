// parser/ is the sans-IO core (STYLE.md, principle 1): the proxy, `decode`,
// the tests and the fuzzers all drive it, so it must not pull in the event
// loop, the logger, TLS or the application's configuration and output
// libraries. libcrypto (SHA-1 for Sec-WebSocket-Accept), zlib, llhttp and
// simdjson's UTF-8 validation are what it may use. This test reads every
// #include under parser/ in the source tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Why `header` (as written between <> or "") may not be included by the
// core; empty when it may.
std::string forbidden_include(std::string_view header) {
  auto starts = [&](std::string_view p) { return header.substr(0, p.size()) == p; };
  if (header == "uv.h" || starts("uv/")) return "libuv: the core does no I/O";
  if (starts("spdlog/")) return "spdlog: the core reports events to a sink, never logs";
  for (std::string_view tls :
       {"openssl/ssl.h", "openssl/ssl2.h", "openssl/ssl3.h", "openssl/tls1.h", "openssl/dtls1.h"})
    if (header == tls) return "OpenSSL TLS: TLS is a transport below the core (libcrypto is fine)";
  if (starts("nlohmann/")) return "nlohmann json: formatting belongs to the sinks";
  if (starts("CLI/") || header == "CLI11.hpp") return "CLI11: command lines belong to the app";
  if (starts("toml")) return "toml: configuration files belong to the app";
  if (header == "pcap.h" || starts("pcap/")) return "libpcap: capture files are read by the app";
  // What those would bring in through the back door.
  if (starts("proxy/")) return "proxy/: the app and its I/O sit above the core";
  return {};
}

struct Include {
  std::string file;
  int line;
  std::string header;
};

// The header named by an #include line, or "" for any other line.
std::string included_header(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line[i] != '#') return "";
  i = line.find_first_not_of(" \t", i + 1);
  if (i == std::string::npos || line.compare(i, 7, "include") != 0) return "";
  i = line.find_first_not_of(" \t", i + 7);
  if (i == std::string::npos || (line[i] != '<' && line[i] != '"')) return "";
  const size_t end = line.find(line[i] == '<' ? '>' : '"', i + 1);
  return end == std::string::npos ? "" : line.substr(i + 1, end - i - 1);
}

std::vector<Include> includes_under(const fs::path& dir, size_t& files) {
  std::vector<Include> out;
  files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string ext = e.path().extension().string();
    if (ext != ".h" && ext != ".hpp" && ext != ".cpp" && ext != ".cc" && ext != ".c" &&
        ext != ".inc")
      continue;
    ++files;
    std::ifstream in(e.path());
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      const std::string header = included_header(text);
      if (!header.empty())
        out.push_back({fs::relative(e.path(), dir.parent_path()).string(), n, header});
    }
  }
  return out;
}

TEST(CoreDeps, ForbiddenIncludesAreRecognised) {
  for (const char* bad :
       {"uv.h", "uv/unix.h", "spdlog/spdlog.h", "spdlog/fmt/ostr.h", "openssl/ssl.h",
        "openssl/tls1.h", "nlohmann/json.hpp", "nlohmann/json_fwd.hpp", "CLI/CLI.hpp", "CLI11.hpp",
        "toml++/toml.hpp", "toml.hpp"})
    EXPECT_FALSE(forbidden_include(bad).empty()) << bad;
  for (const char* ok : {"openssl/sha.h", "openssl/evp.h", "zlib.h", "llhttp.h", "simdjson.h",
                         "parser/frame.h", "cstdint", "span"})
    EXPECT_TRUE(forbidden_include(ok).empty()) << ok;
}

TEST(CoreDeps, ParserIncludesNoIoLoggingTlsOrAppLibraries) {
  const fs::path parser = fs::path(WSI_SOURCE_DIR) / "parser";
  ASSERT_TRUE(fs::is_directory(parser)) << parser;
  size_t files = 0;
  const std::vector<Include> includes = includes_under(parser, files);
  // Guards against scanning the wrong place and passing on nothing.
  ASSERT_GE(files, 10u) << parser;
  ASSERT_GE(includes.size(), files);
  for (const Include& inc : includes) {
    const std::string why = forbidden_include(inc.header);
    EXPECT_TRUE(why.empty()) << inc.file << ":" << inc.line << ": #include " << inc.header << ": "
                             << why;
  }
}

}  // namespace
