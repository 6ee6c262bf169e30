// The proxy's event log: every event is one JSON object (the schema of
// docs/events.md) or one line of text for people, written through spdlog to
// standard output or a file.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "proxy/config.h"

namespace spdlog {
class logger;
}

namespace wsi {

enum class EventLevel : uint8_t { debug, info, warn, error };

class EventLog {
 public:
  // Throws std::runtime_error when the log file cannot be opened.
  explicit EventLog(const ProxyConfig& cfg);
  ~EventLog();

  bool enabled(EventLevel level) const { return level >= min_level_; }
  bool json() const { return json_; }

  // `event` gets "ts", "level" and, when conn != 0, "conn" in front of its
  // fields. `text` is the human form, used with --log-format text.
  void emit(EventLevel level, uint64_t conn, const nlohmann::ordered_json& event,
            const std::string& text);
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
