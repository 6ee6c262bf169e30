// Connection vectors (tests/vectors/connections): each whole connection is
// replayed through the connection core whole, byte by byte, and cut in two
// at every position of every step; every replay must give the expected event
// log. The same files go through `wsinspect decode --connection` and the proxy.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "parser/conn/conn_script.h"
#include "tests/support/conn_recorder.h"

namespace wsi::test {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> vector_files() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(WSI_VECTOR_DIR) / "connections"))
    if (e.path().extension() == ".txt") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

ConnScript load(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  ConnScript s;
  std::string error;
  EXPECT_TRUE(parse_conn_script(ss.str(), s, error)) << p << ": " << error;
  return s;
}

template <class Cut>
std::string run(const ConnScript& s, Cut cut, bool bytewise = false) {
  ConnRecorder rec;
  ConnConfig cfg;
  ConnectionInspector core(cfg, rec);
  replay_conn_script(s, core, cut, bytewise);
  return rec.log();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

TEST(ConnectionVectors, ThereAreVectors) {
  EXPECT_GE(vector_files().size(), 7u);
}

TEST(ConnectionVectors, WholeBytewiseAndEverySplit) {
  for (const fs::path& p : vector_files()) {
    SCOPED_TRACE(p.filename().string());
    const ConnScript s = load(p);
    ASSERT_TRUE(s.has_expect) << "no expect: section";
    const std::string want = joined(s.expected);
    const auto whole = [](size_t, size_t n) { return n; };
    EXPECT_EQ(run(s, whole), want) << "whole";
    EXPECT_EQ(run(s, whole, true), want) << "byte by byte";
    size_t steps = 0;
    for (const ConnStep& st : s.steps) steps += st.kind == ConnStep::Kind::bytes;
    for (size_t i = 0; i < steps; ++i) {
      size_t n = 0;
      for (size_t k = 0, seen = 0; k < s.steps.size(); ++k)
        if (s.steps[k].kind == ConnStep::Kind::bytes && seen++ == i) n = s.steps[k].bytes.size();
      for (size_t at = 1; at < n; ++at) {
        const std::string got = run(s, [&](size_t idx, size_t len) { return idx == i ? at : len; });
        ASSERT_EQ(got, want) << "step " << i << " cut at " << at;
      }
    }
  }
}

TEST(ConnScriptGrammar, ErrorsNameTheLine) {
  ConnScript s;
  std::string error;
  EXPECT_FALSE(parse_conn_script("client: ok\nclient hex: 0g\n", s, error));
  EXPECT_EQ(error, "line 2: not a hex digit: 'g'");
  EXPECT_FALSE(parse_conn_script("# c\nserver: \\q\n", s, error));
  EXPECT_EQ(error, "line 2: unknown escape \\q");
  EXPECT_FALSE(parse_conn_script("proxy: x\n", s, error));
  EXPECT_EQ(error, "line 1: expected client, server, time or expect:");
  EXPECT_FALSE(parse_conn_script("time +x\n", s, error));
  EXPECT_TRUE(
      parse_conn_script("client: a\\x00\\s\ntime +5\nserver reset\nexpect:\nx y\n", s, error));
  ASSERT_EQ(s.steps.size(), 3u);
  EXPECT_EQ(s.steps[0].bytes, (std::vector<uint8_t>{'a', 0, ' '}));
  EXPECT_EQ(s.steps[1].ms, 5u);
  EXPECT_EQ(s.steps[2].kind, ConnStep::Kind::reset);
  EXPECT_EQ(s.expected, std::vector<std::string>{"x y"});
}

const char* const kUpgradeRequest =
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

// Bytes beyond what can be held while an upgrade awaits its answer are a
// gap, reported with its range, and the client's direction is only counted.
TEST(ConnectionCore, HeldBytesBeyondTheLimitAreAGap) {
  ConnRecorder rec;
  ConnConfig cfg;
  cfg.max_held_bytes = 16;
  ConnectionInspector core(cfg, rec);
  const std::string req = kUpgradeRequest;
  std::string bytes = req + std::string(20, '\x82');
  core.feed(Direction::client_to_server,
            {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, 0);
  EXPECT_EQ(core.room(Direction::client_to_server), SIZE_MAX);
  EXPECT_NE(rec.log().find("gap c2s " + std::to_string(req.size() + 16) + "-\n"), std::string::npos)
      << rec.log();
}

// While an upgrade awaits its answer the core asks for no more client bytes
// than it can hold, so a caller that respects room() never causes a gap.
TEST(ConnectionCore, RoomShrinksWhileHolding) {
  ConnRecorder rec;
  ConnConfig cfg;
  cfg.max_held_bytes = 100;
  ConnectionInspector core(cfg, rec);
  const std::string req = kUpgradeRequest;
  const std::string bytes = req + std::string(40, '\x82');
  core.feed(Direction::client_to_server,
            {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, 0);
  EXPECT_EQ(core.room(Direction::client_to_server), 60u);
  EXPECT_EQ(rec.log().find("gap"), std::string::npos);
}

// Pipelined requests beyond the limit wait, unparsed, for answers.
TEST(ConnectionCore, PendingRequestsAreBounded) {
  ConnRecorder rec;
  ConnConfig cfg;
  cfg.max_pending_requests = 4;
  ConnectionInspector core(cfg, rec);
  std::string reqs;
  for (int i = 0; i < 10; ++i) reqs += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
  core.feed(Direction::client_to_server,
            {reinterpret_cast<const uint8_t*>(reqs.data()), reqs.size()}, 0);
  EXPECT_LT(core.room(Direction::client_to_server), cfg.max_held_bytes);
  std::string resps;
  for (int i = 0; i < 10; ++i) resps += "HTTP/1.1 204 No Content\r\n\r\n";
  core.feed(Direction::server_to_client,
            {reinterpret_cast<const uint8_t*>(resps.data()), resps.size()}, 0);
  core.finish(EndCause::none, 0);
  for (int i = 0; i < 10; ++i)
    EXPECT_NE(rec.log().find("http GET /" + std::to_string(i) + " status=204"), std::string::npos)
        << rec.log();
  EXPECT_EQ(rec.log().find("status=0"), std::string::npos) << rec.log();
}

}  // namespace
}  // namespace wsi::test
