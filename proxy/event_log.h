// The proxy's event log: the lines the report sinks format (JSON objects of
// docs/events.md, or text for people), written through spdlog to standard
// output or a file.
#pragma once

#include <memory>
#include <string>

#include "proxy/config.h"
#include "proxy/report/report_sink.h"

namespace spdlog {
class logger;
}

namespace wsi {

class EventLog final : public LineOut {
 public:
  // Throws std::runtime_error when the log file cannot be opened.
  explicit EventLog(const ProxyConfig& cfg);
  ~EventLog() override;

  bool enabled(EventLevel level) const override { return level >= min_level_; }
  void write(EventLevel level, const std::string& line) override;
  bool json() const { return json_; }
  // Writes out buffered lines. The proxy calls it on a short timer.
  void flush();
  static constexpr uint64_t kFlushIntervalMs = 20;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  EventLevel min_level_;
  bool json_;
};

// RFC 3339 UTC time with microseconds, e.g. "2026-11-25T01:50:27.123456Z".
std::string timestamp_now();

}  // namespace wsi
