#include "proxy/event_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "proxy/event_format.h"
#include "proxy/report/json_writer.h"

namespace wsi {
namespace {

// https://no-color.org: a set, non-empty NO_COLOR turns automatic colour off.
bool no_color_requested() {
  const char* v = std::getenv("NO_COLOR");
  return v && *v;
}

}  // namespace

// The log file. spdlog's own file sink creates missing directories and opens
// its file when it is made; this one opens only when told to (after the
// listener is bound), never creates a directory, and can switch to a new
// file at the same path (SIGHUP after a rotation) keeping the old one when
// that fails. Lines written before the first open are held in memory.
class FileLogSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  ~FileLogSink() override {
    if (file_) std::fclose(file_);
  }

  bool open(const std::string& path, std::string& error) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    FILE* f = fd < 0 ? nullptr : fdopen(fd, "a");
    if (!f) {
      error = "cannot open the log " + path + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return false;
    }
    if (file_) {
      std::fflush(file_);
      std::fclose(file_);
    }
    file_ = f;
    if (!held_.empty()) {
      std::fwrite(held_.data(), 1, held_.size(), file_);
      held_.clear();
      held_.shrink_to_fit();
    }
    return true;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    if (file_) {
      std::fwrite(buf.data(), 1, buf.size(), file_);
    } else if (held_.size() < kMaxHeld) {
      held_.append(buf.data(), buf.size());
    }
  }
  void flush_() override {
    if (file_) std::fflush(file_);
  }

 private:
  static constexpr size_t kMaxHeld = 1 << 20;
  FILE* file_ = nullptr;
  std::string held_;
};

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

EventLog::EventLog(const ProxyConfig& cfg)
    : min_level_(from_config(cfg.log_level)),
      budget_(cfg.log_max_lines_per_second, cfg.log_max_lines_per_second) {
  const bool to_file = !cfg.log_file.empty();
  const bool tty = !to_file && isatty(STDOUT_FILENO);
  json_ = cfg.log_format ? *cfg.log_format == LogFormat::json : !tty;
  spdlog::sink_ptr sink;
  if (to_file) {
    path_ = cfg.log_file;
    file_sink_ = std::make_shared<FileLogSink>();
    sink = file_sink_;
  } else {
    // The text sink colours what means something (problems, directions);
    // spdlog's colour by level would paint every healthy line green.
    auto out = std::make_shared<spdlog::sinks::stdout_color_sink_st>();
    out->set_color_mode(spdlog::color_mode::never);
    colored_ = !json_ && (cfg.color == ColorMode::always ||
                          (cfg.color == ColorMode::auto_ && tty && !no_color_requested()));
    sink = out;
  }
  sink->set_pattern("%v");
  logger_ = std::make_shared<spdlog::logger>("wsinspect", sink);
  // The level is applied by admit(); lines of class `always` pass below it.
  logger_->set_level(spdlog::level::trace);
  // Warnings and errors are written at once; other lines are flushed by the
  // proxy's loop every few milliseconds (flush()), so a burst of events
  // costs one write, not one per line.
  logger_->flush_on(spdlog::level::warn);
}

EventLog::~EventLog() {
  flush();
}

bool EventLog::open(std::string& error) {
  return !file_sink_ || file_sink_->open(path_, error);
}

bool EventLog::reopen(std::string& error) {
  if (!file_sink_) return false;
  logger_->flush();  // what was written before the rotation goes to the old file
  return file_sink_->open(path_, error);
}

void EventLog::report_reopened(const std::vector<std::string>& files,
                               const std::vector<ReopenFailure>& failed) {
  const EventLevel level = failed.empty() ? EventLevel::info : EventLevel::warn;
  if (!enabled(level)) return;
  std::string line;
  if (json_) {
    JsonWriter w(line);
    w.begin_object()
        .field("ts", timestamp_now())
        .field("level", level_name(level))
        .field("event", "reopened")
        .key("files")
        .begin_array();
    for (const std::string& f : files) w.value(escape_text(f));
    w.end_array().key("failed").begin_array();
    for (const ReopenFailure& f : failed)
      w.begin_object()
          .field("file", escape_text(f.file))
          .field("error", escape_text(f.error))
          .end_object();
    w.end_array().end_object();
  } else {
    line = timestamp_now().substr(11) + " SIGHUP: ";
    if (files.empty() && failed.empty()) line += "no file to reopen";
    for (size_t i = 0; i < files.size(); ++i)
      line += (i ? ", " : "reopened ") + escape_text(files[i]);
    for (size_t i = 0; i < failed.size(); ++i)
      line += (i || !files.empty() ? "; " : "") + escape_text(failed[i].error) +
              " (still writing to the file that was open)";
  }
  write(level, line);
  logger_->flush();
}

void EventLog::write(EventLevel level, const std::string& line) {
  logger_->log(spd_level(level), "{}", line);
}

void EventLog::flush() {
  logger_->flush();
}

}  // namespace wsi
