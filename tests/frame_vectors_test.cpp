// Replays every frame vector under tests/vectors/frames whole, byte by byte
// and at every two-way split, through the inspector and through the
// `wsinspect decode` binary, and checks the expected violations and closes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "inspect_util.h"
#include "splits.h"

namespace wsi::test {
namespace {

class FrameVectorTest : public ::testing::TestWithParam<FrameVector> {};

TEST_P(FrameVectorTest, SameEventsForEverySplit) {
  const FrameVector& v = GetParam();
  RecordingSink whole;
  {
    StreamInspector insp(config_of(v), whole);
    insp.feed(v.bytes);
    insp.finish();
  }
  EXPECT_EQ(whole.violations, v.expect);
  EXPECT_EQ(whole.closes, v.closes);
  for (const Split& split : all_splits(v.bytes)) {
    RecordingSink sink;
    StreamInspector insp(config_of(v), sink);
    for (auto piece : split.pieces) insp.feed(piece);
    insp.finish();
    ASSERT_EQ(sink.log, whole.log) << "split " << split.name;
    EXPECT_EQ(insp.stats().bytes, v.bytes.size());
  }
}

std::string run_capture(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = pclose(p);
  status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

TEST_P(FrameVectorTest, DecodeCommandReportsTheSame) {
  const FrameVector& v = GetParam();
  std::string cmd = std::string(WSI_BINARY) + " decode --hex --json --sender " +
                    (v.sender == Sender::client ? "client" : "server");
  if (v.deflate) cmd += " --permessage-deflate";
  if (v.max_message_size) cmd += " --max-message-size " + std::to_string(v.max_message_size);
  cmd += " '" + v.path.string() + "'";
  int status = -1;
  const std::string out = run_capture(cmd, status);

  std::vector<std::string> violations, closes;
  bool any_error = false;
  int summaries = 0;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string event = j.at("event");
    if (event == "violation") {
      const Rule rule = *rule_from_id(j.at("rule").get<std::string>());
      const RuleInfo& info = rule_info(rule);
      EXPECT_EQ(j.at("close_code"), info.close_code);
      EXPECT_EQ(j.at("severity"), severity_name(info.severity));
      EXPECT_EQ(j.at("rfc"), info.rfc);
      EXPECT_EQ(j.at("dir"), v.sender == Sender::client ? "client_to_server" : "server_to_client");
      EXPECT_FALSE(j.at("header_hex").get<std::string>().empty());
      EXPECT_FALSE(j.at("detail").get<std::string>().empty());
      any_error |= info.severity == Severity::error;
      violations.push_back(j.at("rule").get<std::string>() + " @" +
                           std::to_string(j.at("offset").get<uint64_t>()) + " #" +
                           std::to_string(j.at("frame_index").get<uint64_t>()));
    } else if (event == "close") {
      const uint16_t code = j.at("code");
      if (!j.at("on_wire").get<bool>()) {
        EXPECT_EQ(code, 1005) << line;
        EXPECT_EQ(j.at("reason"), "") << line;
      }
      EXPECT_EQ(j.at("name"), close_code_info(code).name);
      for (const char* k : {"description", "when", "fix"})
        EXPECT_FALSE(j.at("explanation").at(k).get<std::string>().empty());
      closes.push_back(std::to_string(code) + (j.at("valid").get<bool>() ? " valid" : " invalid"));
    } else if (event == "summary") {
      ++summaries;
      EXPECT_EQ(j.at("bytes"), v.bytes.size());
    }
  }
  EXPECT_EQ(violations, v.expect);
  EXPECT_EQ(closes, v.closes);
  EXPECT_EQ(summaries, 1);
  EXPECT_EQ(status, any_error ? 1 : 0) << out;
}

INSTANTIATE_TEST_SUITE_P(Vectors, FrameVectorTest, ::testing::ValuesIn(load_frame_vectors()),
                         [](const auto& p) {
                           std::string n = p.param.name;
                           std::replace_if(
                               n.begin(), n.end(), [](char c) { return !isalnum(c); }, '_');
                           return n;
                         });

// Every frame rule has a vector named after it that triggers it.
TEST(FrameVectorCoverage, EveryFrameRuleHasAVector) {
  std::set<std::string> names, triggered;
  for (const FrameVector& v : load_frame_vectors()) {
    names.insert(v.name);
    for (const std::string& e : v.expect) triggered.insert(e.substr(0, e.find(' ')));
  }
  for (const RuleInfo& r : all_rules()) {
    const std::string id(r.id);
    if (id.rfind("request-", 0) == 0 || id.rfind("response-", 0) == 0) continue;
    EXPECT_TRUE(names.count(id)) << "no vector named " << id;
    EXPECT_TRUE(triggered.count(id)) << "no vector triggers " << id;
  }
}

}  // namespace
}  // namespace wsi::test
