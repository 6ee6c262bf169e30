// Inspection throughput of the sans-IO core, each workload beside a memcpy of
// the same bytes in the same run. Run: build/bench/parser_bench
// (make bench). The closing table prints GB/s (or frames/s), the memcpy
// figure, their ratio and the target for this workload.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "parser/stream_inspector.h"

namespace {

using wsi::InspectorConfig;
using wsi::Sender;
using wsi::StreamInspector;

class NullSink : public wsi::InspectorSink {
 public:
  uint64_t violations = 0;
  void on_violation(const wsi::Violation&) override { ++violations; }
};

constexpr uint8_t kKey[4] = {0x37, 0xfa, 0x21, 0x3d};

void append_frame(std::vector<uint8_t>& out, uint8_t op, const std::vector<uint8_t>& payload,
                  uint8_t rsv = 0) {
  out.push_back(static_cast<uint8_t>(0x80 | (rsv << 4) | op));
  const uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(0x80 | static_cast<uint8_t>(n));
  } else if (n < 65536) {
    out.insert(out.end(), {0x80 | 126, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)});
  } else {
    out.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  }
  out.insert(out.end(), kKey, kKey + 4);
  for (size_t i = 0; i < n; ++i) out.push_back(payload[i] ^ kKey[i % 4]);
}

std::vector<uint8_t> ascii_text(size_t n) {
  std::vector<uint8_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(' ' + (i * 7) % 95);
  return p;
}

std::vector<uint8_t> mixed_utf8_text(size_t n, uint32_t seed = 7) {
  // A random mix of 2-byte (é, ж) and 3-byte (€, 日) characters.
  static const char* chars[] = {"\xC3\xA9", "\xD0\xB6", "\xE2\x82\xAC", "\xE6\x97\xA5"};
  std::mt19937 rng(seed);
  std::vector<uint8_t> p;
  while (p.size() + 3 <= n) {
    const char* c = chars[rng() % 4];
    p.insert(p.end(), c, c + std::strlen(c));
  }
  while (p.size() < n) p.push_back('a');
  return p;
}

constexpr size_t kMiB = 1 << 20;

const std::vector<uint8_t>& stream_for(const std::string& name) {
  static std::map<std::string, std::vector<uint8_t>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  std::vector<uint8_t> s;
  if (name == "binary") {
    std::vector<uint8_t> p(kMiB);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 131);
    append_frame(s, 0x2, p);
  } else if (name == "ascii") {
    append_frame(s, 0x1, ascii_text(kMiB));
  } else if (name == "mixed") {
    append_frame(s, 0x1, mixed_utf8_text(kMiB));
  } else if (name == "deflate") {
    // 1 MiB of mixed UTF-8 text in 16 messages of 64 KiB, compressed with
    // context takeover as permessage-deflate senders do.
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    for (uint32_t m = 0; m < 16; ++m) {
      const auto text = mixed_utf8_text(64 * 1024, 100 + m);
      std::vector<uint8_t> out(80 * 1024);
      z.next_in = const_cast<Bytef*>(text.data());
      z.avail_in = static_cast<uInt>(text.size());
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      deflate(&z, Z_SYNC_FLUSH);
      out.resize(out.size() - z.avail_out - 4);  // drop 00 00 ff ff
      append_frame(s, 0x1, out, 4);
    }
    deflateEnd(&z);
  } else if (name == "small") {
    const auto p = ascii_text(64);
    for (int i = 0; i < 16384; ++i) append_frame(s, 0x1, p);
  }
  return cache.emplace(name, std::move(s)).first->second;
}

// Counts the inflated bytes of compressed messages.
class InflatedSink : public NullSink {
 public:
  uint64_t inflated = 0;
  void on_message(const wsi::MessageInfo& m) override { inflated += m.inflated_size; }
};

void BM_Inspect(benchmark::State& state, const std::string& name) {
  const auto& s = stream_for(name);
  InflatedSink sink;
  uint64_t frames = 0;
  for (auto _ : state) {
    InspectorConfig cfg;
    cfg.sender = Sender::client;
    cfg.deflate_negotiated = name == "deflate";
    StreamInspector insp(cfg, sink);
    insp.feed(s);
    frames += insp.stats().frames;
    benchmark::DoNotOptimize(insp.stats().frames);
  }
  if (sink.violations) state.SkipWithError("valid input produced violations");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
  state.counters["frames/s"] =
      benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
  if (sink.inflated)
    state.counters["inflated_bytes/s"] =
        benchmark::Counter(static_cast<double>(sink.inflated), benchmark::Counter::kIsRate);
}

void BM_Memcpy(benchmark::State& state, const std::string& name) {
  const auto& s = stream_for(name);
  std::vector<uint8_t> dst(s.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), s.data(), s.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
}

struct Workload {
  const char* name;
  const char* what;
  double target;  // GB/s, or million frames/s for "small"
  bool frames;
};
constexpr Workload kWorkloads[] = {
    {"binary", "1 MiB masked binary frames", 10.0, false},
    {"ascii", "1 MiB masked ASCII text", 4.0, false},
    {"mixed", "1 MiB masked mixed UTF-8 text (2/3-byte)", 1.5, false},
    {"small", "64-byte masked text frames", 20.0, true},
    {"deflate", "compressed mixed UTF-8 text, 64 KiB messages", 0.0, false},
};

// Collects each run's rates for the closing table.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> bytes_per_s, frames_per_s, inflated_per_s;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      const std::string n = r.benchmark_name();
      if (auto it = r.counters.find("bytes_per_second"); it != r.counters.end())
        bytes_per_s[n] = it->second.value;
      if (auto it = r.counters.find("frames/s"); it != r.counters.end())
        frames_per_s[n] = it->second.value;
      if (auto it = r.counters.find("inflated_bytes/s"); it != r.counters.end())
        inflated_per_s[n] = it->second.value;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  for (const Workload& w : kWorkloads) {
    benchmark::RegisterBenchmark((std::string("inspect/") + w.name).c_str(), BM_Inspect,
                                 std::string(w.name));
    benchmark::RegisterBenchmark((std::string("memcpy/") + w.name).c_str(), BM_Memcpy,
                                 std::string(w.name));
  }
  benchmark::Initialize(&argc, argv);
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);

  std::printf("\n%-42s %12s %12s %8s %10s %s\n", "workload", "inspect", "memcpy", "ratio", "target",
              "met");
  for (const Workload& w : kWorkloads) {
    const std::string in = std::string("inspect/") + w.name, mc = std::string("memcpy/") + w.name;
    if (!reporter.bytes_per_s.count(in) || !reporter.bytes_per_s.count(mc)) continue;
    const double gbps = reporter.bytes_per_s[in] / 1e9, mgbps = reporter.bytes_per_s[mc] / 1e9;
    const double value = w.frames ? reporter.frames_per_s[in] / 1e6 : gbps;
    const char* unit = w.frames ? "Mframes/s" : "GB/s";
    if (w.target > 0)
      std::printf("%-42s %7.2f %-4s %7.2f GB/s %7.2fx %5.1f %-4s %s\n", w.what, value, unit, mgbps,
                  gbps / mgbps, w.target, unit, value >= w.target ? "yes" : "NO");
    else
      std::printf("%-42s %7.2f %-4s %7.2f GB/s %7.2fx %10s\n", w.what, value, unit, mgbps,
                  gbps / mgbps, "-");
    if (w.frames) std::printf("%-42s %7.2f GB/s\n", "  (same stream in bytes)", gbps);
    if (reporter.inflated_per_s.count(in))
      std::printf("%-42s %7.2f GB/s of inflated text (no target; zlib bound)\n",
                  "  (inflated output)", reporter.inflated_per_s[in] / 1e9);
  }
  benchmark::Shutdown();
  return 0;
}
