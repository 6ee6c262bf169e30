// `wsinspect compare A B`: what two vantage points saw of the same WebSocket
// connections. Each input is a capture (our own --capture, tcpdump, dumpcap),
// decoded through the connection core with keyed digests, or a JSON log
// written with --log-digests, read back into the same records. Connections
// are matched by Sec-WebSocket-Key, compared (parser/compare), and reported
// with the events bracket mode logs live: hop_diff, hop_verdict,
// hop_unmatched, then a compare_summary.
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "parser/compare/hop_compare.h"
#include "parser/compare/hop_record.h"
#include "proxy/capture_decode.h"
#include "proxy/commands.h"
#include "proxy/event_format.h"
#include "proxy/pcap_input.h"
#include "proxy/report/json_writer.h"
#include "proxy/report/recorder_tap.h"
#include "proxy/report/report_sink.h"

namespace wsi {
namespace {

bool read_capture_records(const std::string& path, const DigestKey& key,
                          std::vector<HopRecord>& out, std::string& error) {
  HopRecorder recorder;
  RecorderTap tap(recorder);
  std::map<uint64_t, std::string> labels;
  StreamOut none(nullptr);
  CaptureDecodeOptions copts;
  copts.also = &tap;
  copts.digests = &key;
  copts.on_addresses = [&](uint64_t id, const std::string& c, const std::string& s) {
    labels[id] = c + " > " + s;
  };
  CaptureDecoder decoder(copts, none);
  const CaptureReadResult r = read_capture(
      path, [&](const CapturedPacket& p) { decoder.packet(p.time_us, p.link, p.data); }, nullptr);
  decoder.finish();
  if (!r.ok) {
    error = r.error;
    return false;
  }
  out = recorder.take_all();
  for (HopRecord& rec : out) rec.label = labels[rec.conn];
  return true;
}

// "2026-12-01T15:57:16.123456Z" -> milliseconds since the epoch (0: not a time).
uint64_t parse_ts(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  unsigned frac = 0;
  int digits = 0;
  if (s.size() < 20) return 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return 0;
  for (size_t i = 20; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits)
    if (digits < 3) frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
  for (int d = digits; d < 3; ++d) frac *= 10;
  ms = static_cast<int>(frac);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<uint64_t>(timegm(&tm)) * 1000 + static_cast<uint64_t>(ms);
}

bool parse_hex_bytes(const std::string& s, std::vector<uint8_t>& out) {
  out.clear();
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else if (c == ' ')
      continue;
    else
      return false;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return hi < 0;
}

Direction dir_of(const nlohmann::json& j) {
  return j.value("dir", "") == "server_to_client" ? Direction::server_to_client
                                                  : Direction::client_to_server;
}

std::vector<HttpHeader> headers_of(const nlohmann::ordered_json& j) {
  std::vector<HttpHeader> hs;
  if (!j.is_object()) return hs;
  for (auto it = j.begin(); it != j.end(); ++it)
    hs.push_back({it.key(), it.value().is_string() ? it.value().get<std::string>() : "", 0});
  return hs;
}

// A JSON log of `wsinspect proxy --log-format json --log-digests`.
bool read_log_records(const std::string& path, std::vector<HopRecord>& out, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open it";
    return false;
  }
  std::map<uint64_t, HopRecord> recs;
  std::string line;
  uint64_t lineno = 0, digests = 0, parsed = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] != '{') continue;
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    ++parsed;
    const std::string ev = j.value("event", "");
    const uint64_t conn = j.value("conn", uint64_t{0});
    if (!conn) continue;
    const uint64_t t = parse_ts(j.value("ts", ""));
    if (ev == "handshake") {
      if (!j.contains("key_digest")) continue;
      HopRecord& r = recs[conn];
      if (r.handshake && r.upgraded) continue;
      r.conn = conn;
      r.label = "conn " + std::to_string(conn);
      r.handshake = true;
      r.start_ms = t;
      r.path = j.value("path", "");
      r.has_key = true;
      r.key = j.value("key_digest", "");
      r.status = static_cast<uint16_t>(j.value("status", 0));
      r.request_headers = headers_of(j.value("headers", nlohmann::ordered_json::object()));
      r.response_headers =
          headers_of(j.value("response_headers", nlohmann::ordered_json::object()));
      r.upgraded = j.value("upgraded", false);
      continue;
    }
    auto it = recs.find(conn);
    if (it == recs.end()) continue;
    HopRecord& r = it->second;
    DirectionRecord& d = r.dir[dir_index(dir_of(j))];
    if (ev == "frame_digest") {
      ++digests;
      std::vector<uint8_t> raw;
      FrameHeader h;
      if (!parse_hex_bytes(j.value("header_hex", ""), raw) || raw.size() < 2 ||
          raw.size() > sizeof h.raw)
        continue;
      std::copy(raw.begin(), raw.end(), h.raw);
      h.raw_len = static_cast<uint8_t>(raw.size());
      h.fin = raw[0] & 0x80;
      h.rsv = (raw[0] >> 4) & 7;
      h.opcode = raw[0] & 0x0f;
      h.masked = raw[1] & 0x80;
      if (h.masked && raw.size() >= 6) std::copy(raw.end() - 4, raw.end(), h.mask);
      h.index = j.value("frame_index", uint64_t{0});
      h.offset = j.value("offset", uint64_t{0});
      h.length = j.value("length", uint64_t{0});
      Digest dg;
      Digest::from_hex(j.value("digest", ""), dg);
      FrameRecord f = frame_record(h, dg, t);
      if (h.opcode == opcode::text || h.opcode == opcode::binary ||
          h.opcode == opcode::continuation) {
        d.open.push_back(f);
      } else {
        Unit u;
        u.opcode = f.opcode;
        u.content = f.digest;
        u.size = f.length;
        u.time_ms = t;
        u.frames.push_back(f);
        queue_unit(d, std::move(u));
      }
    } else if (ev == "message_digest") {
      MessageInfo m{dir_of(j),
                    static_cast<uint8_t>(j.value("opcode", 1)),
                    j.value("size", uint64_t{0}),
                    j.value("inflated_size", uint64_t{0}),
                    j.value("frames", uint64_t{0}),
                    j.value("first_frame_index", uint64_t{0}),
                    j.value("compressed", false)};
      Digest dg;
      Digest::from_hex(j.value("digest", ""), dg);
      end_message(d, m.first_frame_index, m, dg, t);
    } else if (ev == "violation") {
      if (auto rule = rule_from_id(j.value("rule", ""));
          rule && d.violations.size() < HopRecorder::kViolationsKept)
        d.violations.push_back(
            {*rule, j.value("frame_index", uint64_t{0}), j.value("offset", uint64_t{0}), t});
    } else if (ev == "close") {
      if (j.value("synthesized", false)) {
        d.synthesized = static_cast<uint16_t>(j.value("code", 0));
        continue;
      }
      CloseRecord c{j.value("on_wire", true), static_cast<uint16_t>(j.value("code", 1005)),
                    j.value("reason", ""), j.value("frame_index", uint64_t{0}), t};
      if (!d.close) d.close = c;
      for (auto u = d.pending.rbegin(); u != d.pending.rend(); ++u) {
        if (u->frames.empty() || u->frames.front().index != c.frame_index) continue;
        u->has_code = c.has_code;
        u->code = c.code;
        u->reason = c.reason;
        break;
      }
    } else if (ev == "gap") {
      d.gap = true;
    } else if (ev == "conn_close") {
      r.finished = true;
      r.end_ms = t;
      const uint64_t duration = j.value("duration_ms", uint64_t{0});
      const uint64_t start = t > duration ? t - duration : 0;
      for (size_t i = 0; i < 2; ++i) {
        const auto& s = j.value(i == 0 ? "client_to_server" : "server_to_client",
                                nlohmann::ordered_json::object());
        DirectionRecord& dd = r.dir[i];
        flush_open(dd);
        dd.bytes = s.value("bytes", uint64_t{0});
        if (s.contains("last_data_ms")) dd.last_data_ms = start + s.value("last_data_ms", 0ull);
        if (s.contains("end")) {
          dd.ended = true;
          dd.how = s.value("end", "") == "reset" ? StreamEnd::reset : StreamEnd::fin;
          dd.end_ms = start + s.value("end_ms", 0ull);
        }
      }
    }
  }
  if (!parsed) {
    error = "neither a capture (pcap, pcapng) nor a JSON log: no JSON event lines in it";
    return false;
  }
  if (recs.empty() || !digests) {
    bool any_handshake = !recs.empty();
    error = any_handshake ? "its handshakes carry key digests but no frame_digest lines follow"
                          : "a JSON log without digests: run the proxy with --log-digests "
                            "(and --log-format json) to compare what it saw";
    if (recs.empty() || !any_handshake) return false;
  }
  for (auto& [id, r] : recs) {
    if (!r.finished)
      for (DirectionRecord& d : r.dir) flush_open(d);
    out.push_back(std::move(r));
  }
  return true;
}

// Counts what a comparison finds, without reporting it.
class DiffCounter final : public HopDiffSink {
 public:
  void on_diff(const HopDiff& d) override { n += d.significant ? 1000 : 1; }
  size_t n = 0;
};

size_t difference_score(const HopRecord& a, const HopRecord& b, const HopCompareOptions& o) {
  HopRecord x = a, y = b;
  DiffCounter c;
  HopComparer cmp(o, c);
  cmp.finish(x, y);
  return c.n;
}

struct Forward final : HopDiffSink {
  Forward(ReportSink& s, uint64_t a, uint64_t b) : sink(s), conn_a(a), conn_b(b) {}
  void on_diff(const HopDiff& d) override { sink.on_hop_diff({conn_a, 0}, {conn_a, conn_b, d}); }
  ReportSink& sink;
  uint64_t conn_a, conn_b;
};

bool load_records(const std::string& path, const DigestKey& key, std::vector<HopRecord>& out,
                  std::ostream& err) {
  std::string error;
  const bool ok = is_capture_file(path) ? read_capture_records(path, key, out, error)
                                        : read_log_records(path, out, error);
  if (!ok) err << "wsinspect compare: " << escape_text(path) << ": " << escape_text(error) << '\n';
  return ok;
}

}  // namespace

int run_compare(const CompareOptions& opts, std::ostream& out, std::ostream& err) {
  for (const std::string* p : {&opts.a, &opts.b}) {
    std::ifstream probe(*p);
    if (!probe) {
      err << "wsinspect compare: cannot open " << escape_text(*p) << ": " << std::strerror(errno)
          << '\n';
      return 2;
    }
  }
  const bool cap_a = is_capture_file(opts.a), cap_b = is_capture_file(opts.b);
  // Captures are digested here; against a log, with the log's key.
  std::unique_ptr<DigestKey> key;
  std::string secret, error;
  if (!read_digest_secret(opts.digest_key_file, secret, error)) {
    err << "wsinspect compare: " << error << '\n';
    return 2;
  }
  if (cap_a != cap_b && secret.empty()) {
    err << "wsinspect compare: comparing a capture with a log needs the key the log's digests "
           "were made with: --digest-key-file PATH or WSINSPECT_DIGEST_KEY\n";
    return 2;
  }
  key = std::make_unique<DigestKey>(secret.empty() ? DigestKey::random() : DigestKey(secret));

  std::vector<HopRecord> ra, rb;
  if (!load_records(opts.a, *key, ra, err) || !load_records(opts.b, *key, rb, err)) return 2;

  StreamOut lines(&out);
  ReportOptions ropts;
  ropts.stamped = false;
  std::unique_ptr<ReportSink> sink =
      opts.json ? make_json_sink(lines, ropts) : make_text_sink(lines, ropts);
  HopCompareOptions hop;
  hop.window = opts.window;
  hop.window_ms = 0;

  // Matched by key. A key seen more than once on a side (both legs of one
  // wsinspect in its capture, a client's retry) is one connection seen
  // there several times: the pair that differs least is compared.
  for (auto* recs : {&ra, &rb})
    for (HopRecord& r : *recs) {
      redact_for_compare(r.request_headers, *key);
      redact_for_compare(r.response_headers, *key);
    }
  auto by_key = [](const std::vector<HopRecord>& rs) {
    std::map<std::string, std::vector<size_t>> m;
    for (size_t i = 0; i < rs.size(); ++i)
      if (rs[i].handshake && rs[i].has_key) m[rs[i].key].push_back(i);
    return m;
  };
  const auto keys_a = by_key(ra);
  const auto keys_b = by_key(rb);
  size_t matched = 0, significant = 0, benign = 0, identical = 0, only_a = 0, only_b = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    if (!ra[i].handshake || !ra[i].has_key) continue;
    const std::vector<size_t>& same_a = keys_a.at(ra[i].key);
    if (same_a.front() != i) continue;  // the key was handled at its first record
    auto it = keys_b.find(ra[i].key);
    if (it == keys_b.end()) {
      ++only_a;
      const HopRecord& a = ra[i];
      sink->on_hop_unmatched({a.conn, 0}, {opts.a, a.conn, a.label, a.path, a.status,
                                           "its Sec-WebSocket-Key is not in " + opts.b});
      continue;
    }
    size_t best_a = i, best_b = it->second.front();
    if (same_a.size() > 1 || it->second.size() > 1) {
      size_t best_score = SIZE_MAX;
      for (size_t x : same_a)
        for (size_t y : it->second)
          if (const size_t score = difference_score(ra[x], rb[y], hop); score < best_score) {
            best_score = score;
            best_a = x;
            best_b = y;
          }
    }
    HopRecord& a = ra[best_a];
    HopRecord& b = rb[best_b];
    ++matched;
    Forward fw(*sink, a.conn, b.conn);
    HopComparer cmp(hop, fw);
    const HopVerdict v = cmp.finish(a, b);
    significant += v.significant;
    benign += !v.significant && !v.identical;
    identical += v.identical;
    sink->on_hop_verdict({a.conn, 0}, {a.conn, b.conn, a.path, v});
  }
  for (const auto& [k, idx] : keys_b) {
    if (keys_a.count(k)) continue;
    ++only_b;
    const HopRecord& b = rb[idx.front()];
    sink->on_hop_unmatched({b.conn, 0}, {opts.b, b.conn, b.label, b.path, b.status,
                                         "its Sec-WebSocket-Key is not in " + opts.a});
  }
  if (opts.json) {
    std::string line;
    JsonWriter w(line);
    w.begin_object()
        .field("event", "compare_summary")
        .field("matched", static_cast<uint64_t>(matched))
        .field("significant", static_cast<uint64_t>(significant))
        .field("benign_only", static_cast<uint64_t>(benign))
        .field("identical", static_cast<uint64_t>(identical))
        .field("only_in_a", static_cast<uint64_t>(only_a))
        .field("only_in_b", static_cast<uint64_t>(only_b))
        .end_object();
    out << line << '\n';
  } else {
    out << "compare: " << matched << " connection" << (matched == 1 ? "" : "s") << " matched ("
        << significant << " with differences an endpoint sees, " << benign
        << " with benign ones only, " << identical << " identical); " << only_a << " only in A, "
        << only_b << " only in B\n";
  }
  if (matched == 0 && only_a == 0 && only_b == 0) {
    err << "wsinspect compare: no WebSocket handshake in either input\n";
    return 2;
  }
  if (matched == 0 && only_a && only_b)
    err << "wsinspect compare: no connection is in both: if both are --log-digests logs, were "
           "they written with the same key (--digest-key-file, WSINSPECT_DIGEST_KEY)?\n";
  return significant || only_a || only_b ? 1 : 0;
}

}  // namespace wsi
