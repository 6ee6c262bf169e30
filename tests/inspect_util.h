// Shared by the frame tests: vector files and an event-recording sink.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parser/close_codes.h"
#include "parser/stream_inspector.h"
#include "proxy/hex_reader.h"

namespace wsi::test {

// A frame vector: hex bytes of one direction's stream with '#' comment lines.
// Metadata lines: "# sender: client|server", "# deflate: yes",
// "# max-message-size: N", "# expect: RULE-ID @OFFSET #FRAME" (violations in
// order) and "# close: CODE valid|invalid" (close frames in order).
struct FrameVector {
  std::string name;
  std::filesystem::path path;
  Sender sender = Sender::client;
  bool deflate = false;
  uint64_t max_message_size = 0;
  std::vector<std::string> expect;
  std::vector<std::string> closes;
  std::vector<uint8_t> bytes;
};

inline void PrintTo(const FrameVector& v, std::ostream* os) {
  *os << v.name;
}

inline FrameVector load_frame_vector(const std::filesystem::path& path) {
  FrameVector v;
  v.name = path.stem().string();
  v.path = path;
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    auto value = [&](const std::string& key) -> std::string {
      const std::string prefix = "# " + key + ": ";
      return line.rfind(prefix, 0) == 0 ? line.substr(prefix.size()) : std::string();
    };
    if (auto s = value("sender"); !s.empty())
      v.sender = s == "server" ? Sender::server : Sender::client;
    if (value("deflate") == "yes") v.deflate = true;
    if (auto s = value("max-message-size"); !s.empty()) v.max_message_size = std::stoull(s);
    if (auto s = value("expect"); !s.empty()) v.expect.push_back(s);
    if (auto s = value("close"); !s.empty()) v.closes.push_back(s);
  }
  HexReader hex;
  if (!hex.feed(text.data(), text.size(), v.bytes) || !hex.finish(v.bytes) || hex.odd())
    throw std::runtime_error("bad hex in " + path.string());
  return v;
}

inline std::vector<FrameVector> load_frame_vectors() {
  std::vector<FrameVector> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(WSI_VECTOR_DIR) + "/frames"))
    if (e.path().extension() == ".txt") out.push_back(load_frame_vector(e.path()));
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

// Records every event as one line of text, in order.
class RecordingSink : public InspectorSink {
 public:
  std::vector<std::string> log;         // every event
  std::vector<std::string> violations;  // "rule @offset #frame"
  std::vector<std::string> closes;      // "code valid|invalid"

  void on_frame(Direction, const FrameHeader& h) override {
    log.push_back("frame #" + std::to_string(h.index) + " @" + std::to_string(h.offset) +
                  " op=" + std::to_string(h.opcode) + " len=" + std::to_string(h.length));
  }
  void on_violation(const Violation& v) override {
    violations.push_back(std::string(rule_info(v.rule).id) + " @" + std::to_string(v.offset) +
                         " #" + std::to_string(v.frame_index));
    log.push_back("violation " + violations.back() + " " + std::string(v.detail));
  }
  void on_close(const CloseFrame& c) override {
    closes.push_back(std::to_string(c.code) + (c.valid() ? " valid" : " invalid"));
    log.push_back("close " + closes.back() +
                  " reason=" + std::string(c.reason.begin(), c.reason.end()));
  }
  void on_message(const MessageInfo& m) override {
    log.push_back("message op=" + std::to_string(m.opcode) + " size=" + std::to_string(m.size) +
                  " frames=" + std::to_string(m.frames));
  }
};

inline InspectorConfig config_for(Sender sender) {
  InspectorConfig cfg;
  cfg.sender = sender;
  return cfg;
}

inline InspectorConfig config_of(const FrameVector& v) {
  InspectorConfig cfg;
  cfg.sender = v.sender;
  cfg.deflate_negotiated = v.deflate;
  cfg.max_message_size = v.max_message_size;
  return cfg;
}

}  // namespace wsi::test
