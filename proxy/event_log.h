// The proxy's event log: the lines the report sinks format (JSON objects of
// docs/events.md, or text for people), written through spdlog to standard
// output or a file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proxy/config.h"
#include "proxy/report/log_budget.h"
#include "proxy/report/report_sink.h"

namespace spdlog {
class logger;
}

namespace wsi {

class FileLogSink;

class EventLog final : public LineOut {
 public:
  // Opens nothing: with --log-file, lines are held until open() (the proxy
  // calls it once its listener is bound, so a proxy that cannot start
  // creates no file).
  explicit EventLog(const ProxyConfig& cfg);
  ~EventLog() override;

  // Opens --log-file for appending (its directory is never created); false
  // with "cannot open the log PATH: reason". True at once for standard output.
  bool open(std::string& error);
  // SIGHUP (log rotation): opens the same path again and switches to it; on
  // failure the old file is kept and `error` says why. False without a file.
  bool reopen(std::string& error);
  const std::string& path() const { return path_; }

  bool enabled(EventLevel level) const override { return level >= min_level_; }
  // Within the budget of --log-rate lines a second; kept lines always are.
  bool admit(EventLevel level, LineClass cls) override {
    if (cls == LineClass::always) return true;
    return level >= min_level_ && (cls == LineClass::kept || budget_.take());
  }
  void write(EventLevel level, const std::string& line) override;
  // Refilled from the loop's clock by the proxy's flush timer.
  LogBudget& budget() { return budget_; }
  bool json() const { return json_; }
  // Text to a terminal (or --color always), NO_COLOR unset: the text sink
  // colours problems and directions.
  bool colored() const { return colored_; }
  // Writes out buffered lines. The proxy calls it on a short timer.
  void flush();
  static constexpr uint64_t kFlushIntervalMs = 20;

  // The `reopened` event, in this log's format: the files opened again, and
  // those that could not be (with why). Info, or warn when one failed.
  struct ReopenFailure {
    std::string file, error;
  };
  void report_reopened(const std::vector<std::string>& files,
                       const std::vector<ReopenFailure>& failed);

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<FileLogSink> file_sink_;  // with --log-file
  std::string path_;
  EventLevel min_level_;
  bool json_;
  bool colored_ = false;
  LogBudget budget_;
};

// RFC 3339 UTC time with microseconds, e.g. "2026-11-25T01:50:27.123456Z".
std::string timestamp_now();

}  // namespace wsi
