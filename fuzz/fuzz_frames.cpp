// libFuzzer target: the frame decoder and inspector on arbitrary streams.
// Byte 0 picks the sender, deflate and a message limit; byte 1 a piece size.
// Oracle: feeding the stream in pieces yields exactly the events of feeding it
// whole, and the input is never modified. One exception: on corrupt DEFLATE
// data zlib may emit a different amount of output before it notices,
// depending on how its input was cut, so findings about inflated output may
// differ, and with them what the per-rule report cap lets through later. When
// a stream carries compressed messages (RSV1 with deflate negotiated), only
// its frames, messages and closes are compared; valid compressed streams are
// checked split by split in tests/deflate_test.cpp.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "parser/stream_inspector.h"

namespace {

class LogSink : public wsi::InspectorSink {
 public:
  std::string log;  // frames, messages, closes
  std::string violations;
  bool compressed = false;  // a frame with RSV1 while deflate is negotiated
  bool deflate = false;
  void on_frame(wsi::Direction, const wsi::FrameHeader& h) override {
    if (deflate && (h.rsv & wsi::rsv::rsv1)) compressed = true;
    log += "F" + std::to_string(h.index) + "@" + std::to_string(h.offset) + ";";
  }
  void on_violation(const wsi::Violation& v) override {
    violations +=
        "V" + std::to_string(static_cast<int>(v.rule)) + "@" + std::to_string(v.offset) + ";";
  }
  void on_close(const wsi::CloseFrame& c) override {
    log += "C" + std::to_string(c.code) + (c.valid() ? "v;" : "i;");
  }
  void on_message(const wsi::MessageInfo& m) override { log += "M" + std::to_string(m.size) + ";"; }
};

LogSink run(const wsi::InspectorConfig& cfg, const uint8_t* p, size_t n, size_t piece) {
  LogSink sink;
  sink.deflate = cfg.deflate_negotiated;
  wsi::StreamInspector insp(cfg, sink);
  for (size_t at = 0; at < n; at += piece) insp.feed({p + at, piece < n - at ? piece : n - at});
  insp.finish();
  if (insp.stats().bytes != n) std::abort();
  return sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  wsi::InspectorConfig cfg;
  cfg.sender = (data[0] & 1) ? wsi::Sender::server : wsi::Sender::client;
  cfg.deflate_negotiated = (data[0] & 2) != 0;
  cfg.max_message_size = (data[0] & 4) ? 64 : 0;
  cfg.max_reports_per_rule = (data[0] & 8) ? 2 : 10;
  const size_t piece = 1 + data[1] % 17;
  const std::vector<uint8_t> copy(data + 2, data + size);
  const LogSink whole = run(cfg, copy.data(), copy.size(), copy.size() + 1);
  const LogSink split = run(cfg, copy.data(), copy.size(), piece);
  if (whole.log != split.log) std::abort();
  if (!whole.compressed && !split.compressed && whole.violations != split.violations) std::abort();
  if (!copy.empty() && std::memcmp(copy.data(), data + 2, copy.size()) != 0) std::abort();
  return 0;
}
