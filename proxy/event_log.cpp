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
  const long long us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  // Every event line starts with the time: the date and time to the second
  // are formatted once a second, only the microseconds for each line.
  thread_local long long cached_secs = -1;
  thread_local char prefix[48];  // "2026-11-25T01:50:27."
  thread_local int prefix_len = 0;
  const long long secs = us / 1000000;
  if (secs != cached_secs) {
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    prefix_len =
        std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_secs = secs;
  }
  char tail[7];  // the microseconds, then 'Z'
  for (long long v = us % 1000000, i = 5; i >= 0; --i, v /= 10)
    tail[i] = static_cast<char>('0' + v % 10);
  tail[6] = 'Z';
  std::string out(prefix, static_cast<size_t>(prefix_len));
  out.append(tail, sizeof tail);
  return out;
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
