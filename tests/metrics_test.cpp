// The metrics tap: label values come from the catalogues only, so the series
// are the same whatever peers send and however many connections there are;
// the exposition text is well formed (HELP and TYPE before each family's
// samples, no series twice); violations beyond the report cap are counted.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parser/frame.h"
#include "proxy/taps/metrics.h"

namespace wsi {
namespace {

std::set<std::string> label_set() {
  std::set<std::string> out;
  for (std::string_view l : close_code_labels()) out.insert(std::string(l));
  return out;
}

TEST(MetricsLabels, EveryCloseCodeMapsToACatalogueLabel) {
  const std::set<std::string> labels = label_set();
  EXPECT_EQ(labels.size(), close_code_labels().size()) << "no label twice";
  EXPECT_LE(labels.size(), MetricsTap::kCodeLabels);
  for (uint32_t code = 0; code <= 65535; ++code) {
    const std::string l(close_code_label(true, static_cast<uint16_t>(code), true));
    ASSERT_TRUE(labels.count(l)) << code << " -> " << l;
    const CloseCodeInfo& info = close_code_info(code);
    if (info.registered) {
      EXPECT_EQ(l, std::to_string(code));
    } else if (info.allowed_on_wire) {
      EXPECT_EQ(l, std::to_string(info.first) + "-" + std::to_string(info.last)) << code;
    } else {
      EXPECT_EQ(l, "invalid") << code;
    }
  }
}

TEST(MetricsLabels, CloseCodeExamples) {
  EXPECT_EQ(close_code_label(true, 1000, true), "1000");
  EXPECT_EQ(close_code_label(true, 1006, true), "1006");  // registered, even if never on the wire
  EXPECT_EQ(close_code_label(true, 3003, true), "3003");
  EXPECT_EQ(close_code_label(true, 3001, true), "3000-3999");
  EXPECT_EQ(close_code_label(true, 4000, true), "4000-4999");
  EXPECT_EQ(close_code_label(true, 4999, true), "4000-4999");
  for (uint16_t bad : {0, 999, 1016, 2999, 5000, 65535})
    EXPECT_EQ(close_code_label(true, bad, true), "invalid") << bad;
  EXPECT_EQ(close_code_label(false, 1005, true), "1005");      // an empty close frame
  EXPECT_EQ(close_code_label(false, 1005, false), "invalid");  // a 1-byte payload
}

TEST(MetricsLabels, OpcodesEndCausesAndStagesAreBounded) {
  std::set<std::string> ops;
  for (int op = 0; op < 16; ++op) {
    const size_t i = opcode_label_index(static_cast<uint8_t>(op));
    ASSERT_LT(i, kOpcodeLabels);
    ops.insert(std::string(opcode_label(i)));
    if (opcode::is_reserved(static_cast<uint8_t>(op))) {
      EXPECT_EQ(opcode_label(i), "reserved");
    }
  }
  EXPECT_EQ(ops, (std::set<std::string>{"continuation", "text", "binary", "close", "ping", "pong",
                                        "reserved"}));
  std::set<std::string_view> causes;
  for (EndCause c : all_end_causes()) causes.insert(end_cause_id(c));
  EXPECT_EQ(causes.size(), all_end_causes().size());
  // One past the last is not an end cause: the list is complete.
  EXPECT_EQ(end_cause_id(static_cast<EndCause>(all_end_causes().size())), "none");
  EXPECT_EQ(upstream_stages().size(), 5u);
}

// ---- the exposition text ----

struct Sample {
  std::string family;
  std::string series;  // name{labels}
  uint64_t value;
};

struct Parsed {
  std::map<std::string, std::string> types;  // family -> counter|gauge
  std::vector<Sample> samples;
  std::map<std::string, uint64_t> by_series;
};

// A strict reader of what render() writes: a family's HELP, then its TYPE,
// then its samples, each named after the family.
Parsed parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line, family;
  bool help_seen = false;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_FALSE(p.types.count(family)) << "family twice: " << family;
      help_seen = true;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_TRUE(help_seen) << line;
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_EQ(name, family);
      p.types[name] = line.substr(line.rfind(' ') + 1);
      help_seen = false;
    } else {
      const size_t space = line.rfind(' ');
      const std::string series = line.substr(0, space);
      const std::string name = series.substr(0, series.find('{'));
      EXPECT_EQ(name, family) << line;
      EXPECT_TRUE(p.types.count(name)) << line;
      EXPECT_FALSE(p.by_series.count(series)) << "series twice: " << series;
      const uint64_t v = std::stoull(line.substr(space + 1));
      p.samples.push_back({name, series, v});
      p.by_series[series] = v;
    }
  }
  return p;
}

// One connection's worth of events, with what a hostile peer picks freely:
// the close codes, the rules it breaks, the path, the opcodes.
void feed_connection(MetricsTap& m, uint64_t id, std::mt19937& rng) {
  const EventContext c{id, id * 10};
  m.on_conn_open(c, "10.0.0." + std::to_string(id % 250) + ":" + std::to_string(id));
  HandshakeRequest req;
  req.path = "/user/" + std::to_string(rng());
  const std::vector<HttpHeader> headers;
  std::vector<Finding> findings;
  if (id % 3 == 0) findings.push_back({Rule::request_missing_host, "", 0});
  const std::vector<Finding> none;
  HttpHead response;
  response.status = 101;
  Negotiated n;
  n.switched = n.websocket = true;
  m.on_handshake(c, HandshakeEvent{req, headers, findings, &response, &n, none});
  for (int i = 0; i < 4; ++i) {
    FrameHeader h;
    h.opcode = static_cast<uint8_t>(rng() % 16);
    h.length = rng() % 1000;
    const Direction d = i % 2 ? Direction::server_to_client : Direction::client_to_server;
    m.on_frame(c, d, h);
    m.on_violation(c, Violation{static_cast<Rule>(rng() % kRuleCount), d, 0, 0, nullptr, ""});
  }
  MessageInfo msg{Direction::client_to_server, opcode::text, 5, 0, 1, 0, false};
  m.on_message(c, msg);
  CloseFrame f{};
  f.dir = Direction::client_to_server;
  f.has_code = rng() % 8 != 0;
  f.code = f.has_code ? static_cast<uint16_t>(rng() % 65536) : 1005;
  f.length_valid = rng() % 16 != 0;
  m.on_close(c, CloseEvent{f, false, nullptr, false});
  m.on_synthesized_close(
      c, {Direction::server_to_client, 1006, all_end_causes()[rng() % all_end_causes().size()]});
  m.on_upstream_error(c, {"up:1", id % 2 ? "connect" : "made-up stage", "refused", 502});
  ConnCloseEvent e{};
  e.ended_by = all_end_causes()[rng() % all_end_causes().size()];
  e.dir[0].bytes = 100;
  e.dir[1].bytes = 50;
  m.on_conn_close(c, e);
}

TEST(MetricsRender, TheSeriesDoNotDependOnTheTraffic) {
  std::mt19937 rng(12);
  MetricsTap one(10);
  feed_connection(one, 1, rng);
  MetricsTap many(10);
  for (uint64_t id = 1; id <= 2000; ++id) feed_connection(many, id, rng);
  const Parsed a = parse(one.render({}));
  const Parsed b = parse(many.render({}));
  std::set<std::string> sa, sb;
  for (const Sample& s : a.samples) sa.insert(s.series);
  for (const Sample& s : b.samples) sb.insert(s.series);
  EXPECT_EQ(sa, sb);
  EXPECT_LT(sb.size(), 400u);
  EXPECT_EQ(b.by_series.at("wsinspect_connections_total"), 2000u);
  EXPECT_EQ(b.by_series.at("wsinspect_connections_open"), 0u);
  EXPECT_EQ(b.by_series.at("wsinspect_bytes_total{direction=\"client_to_server\"}"), 200000u);
  EXPECT_EQ(b.by_series.at("wsinspect_handshakes_total{outcome=\"upgraded\"}"), 2000u);
  EXPECT_EQ(b.by_series.at("wsinspect_handshake_findings_total{rule=\"request-missing-host\"}"),
            666u);
  EXPECT_EQ(b.by_series.at("wsinspect_upstream_errors_total{stage=\"connect\"}"), 1000u);
  EXPECT_EQ(b.by_series.at("wsinspect_upstream_errors_total{stage=\"other\"}"), 1000u);
  uint64_t closes = 0, frames = 0, violations = 0, ended = 0, synthesized = 0;
  for (const Sample& s : b.samples) {
    if (s.family == "wsinspect_closes_total") closes += s.value;
    if (s.family == "wsinspect_frames_total") frames += s.value;
    if (s.family == "wsinspect_violations_total") violations += s.value;
    if (s.family == "wsinspect_connections_ended_total") ended += s.value;
    if (s.family == "wsinspect_synthesized_closes_total") synthesized += s.value;
  }
  EXPECT_EQ(closes, 2000u);
  EXPECT_EQ(frames, 8000u);
  EXPECT_EQ(violations, 8000u);
  EXPECT_EQ(ended, 2000u);
  EXPECT_EQ(synthesized, 2000u);
  for (const auto& [name, type] : b.types) {
    EXPECT_EQ(name.rfind("wsinspect_", 0), 0u) << name;
    EXPECT_TRUE(type == "counter" || type == "gauge") << name;
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
}

TEST(MetricsRender, LiveValuesAndTheCaptureFamilies) {
  MetricsTap m(10);
  MetricsLive live;
  live.draining = true;
  live.refused = 3;
  live.connection_limit = 77;
  live.log_dropped = 9;
  live.open_bytes[1] = 1234;
  const Parsed p = parse(m.render(live));
  EXPECT_EQ(p.by_series.at("wsinspect_draining"), 1u);
  EXPECT_EQ(p.by_series.at("wsinspect_connections_refused_total"), 3u);
  EXPECT_EQ(p.by_series.at("wsinspect_connection_limit"), 77u);
  EXPECT_EQ(p.by_series.at("wsinspect_log_lines_dropped_total"), 9u);
  EXPECT_EQ(p.by_series.at("wsinspect_bytes_total{direction=\"server_to_client\"}"), 1234u);
  EXPECT_FALSE(p.types.count("wsinspect_capture_packets_total"));
  live.capture = true;
  live.capture_packets = 5;
  EXPECT_EQ(parse(m.render(live)).by_series.at("wsinspect_capture_packets_total"), 5u);
}

TEST(MetricsRender, ViolationsBeyondTheReportCapAreCountedAtTheEnd) {
  MetricsTap m(10);
  const EventContext c{1, 0};
  m.on_conn_open(c, "");
  for (int i = 0; i < 10; ++i)
    m.on_violation(
        c, Violation{Rule::reserved_opcode, Direction::server_to_client, 0, 0, nullptr, ""});
  InspectorStats stats;
  stats.counter(Rule::reserved_opcode) = 25;
  stats.suppressed = 15;
  ConnCloseEvent e{};
  e.dir[1].stats = &stats;
  const std::string series =
      "wsinspect_violations_total{rule=\"reserved-opcode\",direction=\"server_to_client\"}";
  EXPECT_EQ(parse(m.render({})).by_series.at(series), 10u);
  m.on_conn_close(c, e);
  EXPECT_EQ(parse(m.render({})).by_series.at(series), 25u);
}

}  // namespace
}  // namespace wsi
