// The live proxy's log budget: the token bucket with time handed in, then
// the proxy's event log and both format sinks over it (lines dropped and
// counted, the kinds that are never dropped), written to a real file.
#include "proxy/report/log_budget.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "proxy/event_log.h"
#include "proxy/report/report_sink.h"

namespace wsi {
namespace {

int take_all(LogBudget& b, int tries) {
  int taken = 0;
  for (int i = 0; i < tries; ++i) taken += b.take();
  return taken;
}

TEST(LogBudget, StartsFullWithTheBurstThenDrops) {
  LogBudget b(200, 50);
  b.refill(1000);
  EXPECT_EQ(take_all(b, 80), 50);
  EXPECT_EQ(b.dropped(), 30u);
}

TEST(LogBudget, RefillsAtTheRateFromTheGivenTime) {
  LogBudget b(200, 200);
  b.refill(0);
  EXPECT_EQ(take_all(b, 1000), 200);
  b.refill(100);  // 100 ms at 200 a second: 20 lines
  EXPECT_EQ(take_all(b, 1000), 20);
  b.refill(100);  // no time passed: nothing more
  EXPECT_EQ(take_all(b, 10), 0);
  b.refill(1100);  // a whole second: 200
  EXPECT_EQ(take_all(b, 1000), 200);
  EXPECT_EQ(b.dropped(), 800u + 980u + 10u + 800u);
}

TEST(LogBudget, FractionsOfALineAccrueAcrossRefills) {
  // 200 a second is a fifth of a line per millisecond: refilled every
  // millisecond it gives one line every 5 ms, none lost to rounding.
  LogBudget b(200, 1);
  b.refill(0);
  ASSERT_TRUE(b.take());
  int lines = 0;
  for (uint64_t t = 1; t <= 1000; ++t) {
    b.refill(t);
    lines += take_all(b, 3);
  }
  EXPECT_EQ(lines, 200);
}

TEST(LogBudget, APauseRefillsNoMoreThanTheBurst) {
  LogBudget b(1000, 100);
  b.refill(5);
  EXPECT_EQ(take_all(b, 500), 100);
  b.refill(3'600'000);  // an hour later
  EXPECT_EQ(take_all(b, 500), 100);
  // The largest rate and a clock jump to its end do not overflow.
  const uint32_t max = std::numeric_limits<uint32_t>::max();
  LogBudget big(max, max);
  big.refill(0);
  EXPECT_EQ(take_all(big, 1000), 1000);
  big.refill(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(take_all(big, 1000), 1000);
  EXPECT_EQ(big.dropped(), 0u);
}

TEST(LogBudget, TimeGoingBackIsIgnored) {
  LogBudget b(100, 10);
  b.refill(10'000);
  EXPECT_EQ(take_all(b, 20), 10);
  b.refill(5'000);
  EXPECT_EQ(take_all(b, 20), 0);
  b.refill(10'100);  // 100 ms after the latest time seen
  EXPECT_EQ(take_all(b, 20), 10);
}

TEST(LogBudget, ZeroMeansNoBudget) {
  LogBudget b(0, 0);
  b.refill(0);
  EXPECT_EQ(take_all(b, 1'000'000), 1'000'000);
  EXPECT_EQ(b.dropped(), 0u);
  uint64_t window = 0;
  EXPECT_EQ(b.report_due(10'000, true, window), 0u);
}

TEST(LogBudget, DropsAreReportedAtMostOnceASecondAndAddUp) {
  LogBudget b(10, 10);
  b.refill(0);
  uint64_t window = 0;
  EXPECT_EQ(b.report_due(2000, false, window), 0u) << "nothing dropped, nothing to say";
  take_all(b, 25);  // 15 dropped
  EXPECT_EQ(b.report_due(500, false, window), 0u) << "within a second of the start";
  EXPECT_EQ(b.report_due(1000, false, window), 15u);
  EXPECT_EQ(window, 1000u);
  take_all(b, 5);
  EXPECT_EQ(b.report_due(1999, false, window), 0u);
  EXPECT_EQ(b.report_due(2500, false, window), 5u);
  EXPECT_EQ(window, 1500u);
  take_all(b, 7);
  // At the end the rest is reported at once, whatever the time.
  EXPECT_EQ(b.report_due(2600, true, window), 7u);
  EXPECT_EQ(window, 100u);
  EXPECT_EQ(b.report_due(2600, true, window), 0u);
  EXPECT_EQ(b.dropped(), 15u + 5u + 7u);
}

// ---- the proxy's log over the budget ------------------------------------------

// The proxy's event log writing to a file in the test's temp directory.
class BudgetedLog {
 public:
  BudgetedLog(uint32_t rate, LogFormat format, LogLevel level = LogLevel::info) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = testing::TempDir() + "wsi_budget_" + info->name() + ".log";
    std::filesystem::remove(path_);
    ProxyConfig cfg;
    cfg.log_file = path_;
    cfg.log_format = format;
    cfg.log_level = level;
    cfg.log_max_lines_per_second = rate;
    log_ = std::make_unique<EventLog>(cfg);
    std::string error;
    EXPECT_TRUE(log_->open(error)) << error;
    log_->budget().refill(0);
    ReportOptions opts;
    sink_ = format == LogFormat::json ? make_json_sink(*log_, opts) : make_text_sink(*log_, opts);
  }
  ~BudgetedLog() {
    sink_.reset();
    log_.reset();
    std::filesystem::remove(path_);
  }

  ReportSink& sink() { return *sink_; }
  EventLog& log() { return *log_; }
  std::string text() {
    log_->flush();
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // The JSON lines' event names, in order.
  std::vector<std::string> events() {
    std::vector<std::string> out;
    std::istringstream in(text());
    for (std::string line; std::getline(in, line);)
      out.push_back(nlohmann::json::parse(line).at("event").get<std::string>());
    return out;
  }

 private:
  std::string path_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<ReportSink> sink_;
};

// What a peer can repeat: a gap event stands for any of them.
void flood(ReportSink& s, int n) {
  for (int i = 0; i < n; ++i)
    s.on_gap({1, 0}, GapEvent{Direction::client_to_server, static_cast<uint64_t>(i), "test"});
}

// Every kind that is never dropped, once each.
void kept_kinds(ReportSink& s) {
  const std::vector<std::string> notes;
  s.on_listening(ListeningEvent{"127.0.0.1:1", "a:1", "ws://127.0.0.1:1/", true});
  s.on_conn_close({1, 0}, ConnCloseEvent{5, EndCause::client_fin, false, {}});
  s.on_refusal_summary(3, 10000);
  s.on_shutdown("SIGTERM", 1, 5000);
  s.on_drain_over(1);
  s.on_log_dropped(7, 7, 1000, 10);
  s.on_stopped(ProxyTotals{});
}

TEST(EventLogBudget, LinesBeyondTheBudgetAreDroppedAndCounted) {
  BudgetedLog log(10, LogFormat::json);
  flood(log.sink(), 25);
  EXPECT_EQ(log.events(), std::vector<std::string>(10, "gap"));
  EXPECT_EQ(log.log().budget().dropped(), 15u);
  log.log().budget().refill(500);  // half a second: 5 more
  flood(log.sink(), 25);
  EXPECT_EQ(log.events().size(), 15u);
  EXPECT_EQ(log.log().budget().dropped(), 35u);
}

TEST(EventLogBudget, TheStartTheEndAndSummariesAreNeverDropped) {
  for (const LogFormat format : {LogFormat::json, LogFormat::text}) {
    BudgetedLog log(5, format);
    flood(log.sink(), 100);  // the budget is spent
    const uint64_t dropped = log.log().budget().dropped();
    EXPECT_EQ(dropped, 95u);
    kept_kinds(log.sink());
    EXPECT_EQ(log.log().budget().dropped(), dropped);
    if (format == LogFormat::json) {
      const std::vector<std::string> expected = {"listening", "conn_close", "conn_refused_summary",
                                                 "shutdown",  "shutdown",   "log_dropped",
                                                 "stopped"};
      std::vector<std::string> events = log.events();
      ASSERT_EQ(events.size(), 5u + expected.size());
      events.erase(events.begin(), events.begin() + 5);
      EXPECT_EQ(events, expected);
    } else {
      const std::string text = log.text();
      for (const char* s :
           {"wsinspect listening on", "connection closed after", "more connection",
            "no longer accepting", "drain time over", "log line(s) dropped", "stopped after"})
        EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
    }
  }
}

TEST(EventLogBudget, LinesBelowTheLevelCostNothing) {
  // Debug events at level info are not written: they neither take a line
  // of the budget nor count as dropped.
  BudgetedLog log(3, LogFormat::json);
  FrameHeader h{};
  for (int i = 0; i < 100; ++i) log.sink().on_frame({1, 0}, Direction::client_to_server, h);
  EXPECT_EQ(log.log().budget().dropped(), 0u);
  flood(log.sink(), 3);
  EXPECT_EQ(log.events(), std::vector<std::string>(3, "gap"));
  EXPECT_EQ(log.log().budget().dropped(), 0u);
}

TEST(EventLogBudget, ZeroWritesEveryLine) {
  BudgetedLog log(0, LogFormat::json);
  flood(log.sink(), 5000);
  EXPECT_EQ(log.events().size(), 5000u);
  EXPECT_EQ(log.log().budget().dropped(), 0u);
}

TEST(EventLogBudget, DroppedLinesAreStatedInLogDroppedAndStopped) {
  BudgetedLog log(2, LogFormat::json);
  flood(log.sink(), 9);
  ProxyTotals t;
  t.log_dropped = log.log().budget().dropped();
  log.sink().on_log_dropped(7, 7, 1000, 2);
  log.sink().on_stopped(t);
  std::istringstream in(log.text());
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2]["event"], "log_dropped");
  EXPECT_EQ(lines[2]["level"], "warn");
  EXPECT_EQ(lines[2]["dropped"], 7);
  EXPECT_EQ(lines[2]["total"], 7);
  EXPECT_EQ(lines[2]["window_ms"], 1000);
  EXPECT_EQ(lines[2]["max_lines_per_second"], 2);
  EXPECT_EQ(lines[3]["event"], "stopped");
  EXPECT_EQ(lines[3]["log_dropped"], 7);
}

}  // namespace
}  // namespace wsi
