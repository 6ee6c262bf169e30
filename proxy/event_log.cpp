#include "proxy/event_log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace wsi {
namespace {

spdlog::level::level_enum spd_level(EventLevel l) {
  switch (l) {
    case EventLevel::debug:
      return spdlog::level::debug;
    case EventLevel::info:
      return spdlog::level::info;
    case EventLevel::warn:
      return spdlog::level::warn;
    case EventLevel::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

EventLevel from_config(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return EventLevel::debug;
    case LogLevel::info:
      return EventLevel::info;
    case LogLevel::warn:
      return EventLevel::warn;
  }
  return EventLevel::info;
}

}  // namespace

std::string timestamp_now() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto us = duration_cast<microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us % 1000000));
  return buf;
}

EventLog::EventLog(const ProxyConfig& cfg) : min_level_(from_config(cfg.log_level)) {
  const bool to_file = !cfg.log_file.empty();
  const bool tty = !to_file && isatty(STDOUT_FILENO);
  json_ = cfg.log_format ? *cfg.log_format == LogFormat::json : !tty;
  spdlog::sink_ptr sink;
  if (to_file) {
    sink = std::make_shared<spdlog::sinks::basic_file_sink_st>(cfg.log_file);
  } else {
    auto color = std::make_shared<spdlog::sinks::stdout_color_sink_st>();
    const bool colored =
        !json_ && (cfg.color == ColorMode::always || (cfg.color == ColorMode::auto_ && tty));
    color->set_color_mode(colored ? spdlog::color_mode::always : spdlog::color_mode::never);
    sink = color;
  }
  sink->set_pattern(json_ ? "%v" : "%^%v%$");
  logger_ = std::make_shared<spdlog::logger>("wsinspect", sink);
  logger_->set_level(spd_level(min_level_));
  // Warnings and errors are written at once; other lines are flushed by the
  // proxy's loop every few milliseconds (flush()), so a burst of events
  // costs one write, not one per line.
  logger_->flush_on(spdlog::level::warn);
}

EventLog::~EventLog() {
  flush();
}

void EventLog::write(EventLevel level, const std::string& line) {
  logger_->log(spd_level(level), "{}", line);
}

void EventLog::flush() {
  logger_->flush();
}

}  // namespace wsi
