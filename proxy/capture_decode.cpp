#include "proxy/capture_decode.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <tuple>

#include "parser/conn/connection_inspector.h"
#include "parser/net/frame_resync.h"
#include "proxy/report/json_writer.h"

namespace wsi {
namespace {

constexpr size_t kClassifyBytes = 8 * 1024;  // a request line longer than this is not looked for
constexpr size_t kMaxPending = 256 * 1024;   // held per connection while its kind is unknown
constexpr size_t kResyncWindow = 64 * 1024;  // bytes searched for a frame header
constexpr size_t kResyncStep = 2 * 1024;     // searched again after this many more
constexpr size_t kClosedRemembered = 1024;

enum class Looks : uint8_t { yes, no, maybe };

// A request line, "METHOD SP target SP HTTP/1.x": the first bytes a client
// sends on an HTTP connection. `complete`: no more bytes will come for it.
Looks request_line(std::string_view s, bool complete) {
  size_t i = 0;
  while (i < s.size() && i < 24 && ((s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
    ++i;
  if (i == s.size()) return complete || i >= 24 ? Looks::no : Looks::maybe;
  if (i == 0 || s[i] != ' ') return Looks::no;
  const size_t eol = s.find("\r\n", i);
  if (eol == std::string_view::npos) {
    if (s.find('\n', i) != std::string_view::npos) return Looks::no;
    return complete ? Looks::yes : Looks::maybe;
  }
  const std::string_view line = s.substr(0, eol);
  const size_t v = line.rfind(" HTTP/1.");
  return v != std::string_view::npos && v + 9 == line.size() ? Looks::yes : Looks::no;
}

bool response_line(std::string_view s) {
  return s.substr(0, 7) == "HTTP/1.";
}

// "2026-12-01T15:57:16.123Z", or only the time of day.
std::string utc_time(uint64_t ms, bool date) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  if (date)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<unsigned>(ms % 1000));
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<unsigned>(ms % 1000));
  return buf;
}

std::string_view short_dir(Direction d) {
  return d == Direction::client_to_server ? "client->server" : "server->client";
}

}  // namespace

bool CaptureDecoder::Key::operator<(const Key& o) const {
  return std::tie(lo.addr, lo.v6, lo.port, hi.addr, hi.v6, hi.port) <
         std::tie(o.lo.addr, o.lo.v6, o.lo.port, o.hi.addr, o.hi.v6, o.hi.port);
}

// Notes whether anything an endpoint fails on was found.
class CaptureDecoder::ErrorSeen final : public ReportSink {
 public:
  void on_violation(const EventContext&, const Violation& v) override {
    error |= level_of(v) == EventLevel::error;
  }
  void on_handshake(const EventContext&, const HandshakeEvent& e) override {
    error |= level_of(e) == EventLevel::error;
  }
  bool error = false;
};

// Every line of a connection, labelled with the capture time and the
// connection's addresses: the text sinks' lines get a prefix, the JSON
// objects leading fields.
class CaptureDecoder::Labelled final : public LineOut {
 public:
  Labelled(LineOut& out, bool json) : out_(out), json_(json) {}
  bool enabled(EventLevel level) const override { return out_.enabled(level); }
  void write(EventLevel level, const std::string& line) override {
    if (label_json_.empty()) {
      out_.write(level, line);
      return;
    }
    if (json_) {
      line_.assign("{").append(ts_json_).append(",\"level\":\"").append(level_name(level));
      line_.append("\",").append(label_json_);
      if (line.size() > 2)
        line_.append(",").append(line, 1);
      else
        line_.append("}");
    } else {
      line_.assign(utc_time(ms_, false)).append(" ").append(label_text_).append(line);
    }
    out_.write(level, line_);
  }
  // The connection the next lines belong to (none: unlabelled).
  void set(uint64_t id, const std::string& client, const std::string& server, bool midstream,
           uint64_t ms) {
    ms_ = ms;
    ts_json_.clear();
    JsonWriter(ts_json_).field("ts", utc_time(ms, true));
    label_json_.clear();
    JsonWriter w(label_json_);
    w.field("conn", id).field("client_addr", client);
    w.field("server_addr", server);
    if (midstream) w.field("midstream", true);
    label_text_ = "#" + std::to_string(id) + " " + client + " > " + server +
                  (midstream ? " (mid-stream) " : " ");
  }
  void clear() { label_json_.clear(); }

 private:
  LineOut& out_;
  bool json_;
  uint64_t ms_ = 0;
  // The members that lead each object: the time, the level, then these.
  std::string ts_json_;
  std::string label_json_;
  std::string label_text_;
  std::string line_;
};

// ---- one connection -----------------------------------------------------------

struct CaptureDecoder::Flow {
  enum class State : uint8_t { undecided, http, midstream, skipped };
  enum class Sync : uint8_t { waiting, synced, failed };

  struct Side final : TcpStreamSink {
    Side(Flow& f, int i, const ReassemblyLimits& limits) : flow(f), s(i), r(limits, *this) {}
    void on_data(std::span<const uint8_t> b) override { flow.data(s, b); }
    void on_lost(uint64_t from, uint64_t n) override { flow.lost(s, from, n); }
    void on_conflict(uint64_t at, uint64_t n) override { flow.conflict(s, at, n); }
    void on_end(TcpEnd how) override { flow.end(s, how); }
    Flow& flow;
    int s;
    TcpReassembler r;
  };

  // An event of a direction held while the connection's kind is unknown.
  struct Op {
    enum class Kind : uint8_t { data, lost, conflict, end };
    Kind kind;
    int s;
    uint64_t ms;
    std::vector<uint8_t> bytes;
    uint64_t at = 0, n = 0;
    TcpEnd how = TcpEnd::fin;
  };

  Flow(CaptureDecoder& d, const Endpoint& first_sender, const Endpoint& other, uint64_t flow_id,
       uint64_t ms)
      : dec(d), ep{first_sender, other}, id(flow_id), start_ms(ms), now_ms(ms) {}

  CaptureDecoder& dec;
  Endpoint ep[2];  // [0] sent the first packet seen
  Side side[2] = {{*this, 0, dec.opts_.limits}, {*this, 1, dec.opts_.limits}};
  uint64_t id;
  uint64_t start_ms;
  uint64_t now_ms;
  State state = State::undecided;
  int client = -1;  // which of ep is the client, once known
  std::string first[2];
  bool lost_first[2] = {false, false};  // bytes were missing before the first ones seen
  bool ended[2] = {false, false};
  TcpEnd end_how[2] = {TcpEnd::fin, TcpEnd::fin};
  bool flags_end[2] = {false, false};  // a skipped connection's FINs
  std::vector<Op> pending;
  size_t pending_bytes = 0;
  std::unique_ptr<ConnectionInspector> core;
  // Mid-stream: each direction searched for a frame header first.
  Sync sync[2] = {Sync::waiting, Sync::waiting};
  std::vector<uint8_t> resync[2];
  size_t resync_tried[2] = {0, 0};
  uint64_t unsynced[2] = {0, 0};  // bytes before the frame header found

  Direction dir(int s) const {
    return s == client ? Direction::client_to_server : Direction::server_to_client;
  }
  void label() {
    if (client < 0) return;
    const std::string c = format_endpoint(ep[client]), sv = format_endpoint(ep[1 - client]);
    dec.labelled_->set(id, c, sv, state == State::midstream, now_ms);
    if (dec.opts_.on_addresses) dec.opts_.on_addresses(id, c, sv);
  }

  // ---- what the reassemblers deliver
  void data(int s, std::span<const uint8_t> b) {
    switch (state) {
      case State::undecided: {
        if (first[s].size() < kClassifyBytes)
          first[s].append(b.begin(), b.begin() + static_cast<ptrdiff_t>(std::min(
                                                     b.size(), kClassifyBytes - first[s].size())));
        Op op{Op::Kind::data, s, now_ms, {b.begin(), b.end()}};
        pending_bytes += b.size();
        pending.push_back(std::move(op));
        classify(false);
        break;
      }
      case State::http:
        core->feed(dir(s), b, now_ms);
        break;
      case State::midstream:
        mid_data(s, b);
        break;
      case State::skipped:
        break;
    }
  }
  void lost(int s, uint64_t from, uint64_t n) {
    dec.totals_.gaps++;
    switch (state) {
      case State::undecided:
        if (first[s].empty()) lost_first[s] = true;
        pending.push_back(Op{Op::Kind::lost, s, now_ms, {}, from, n});
        break;
      case State::http:
        core->skip(dir(s), n, "bytes missing from the capture", now_ms);
        break;
      case State::midstream:
        mid_lost(s, n);
        break;
      case State::skipped:
        break;
    }
  }
  void conflict(int s, uint64_t at, uint64_t n) {
    dec.totals_.conflicts++;
    if (state == State::undecided)
      pending.push_back(Op{Op::Kind::conflict, s, now_ms, {}, at, n});
    else if (state != State::skipped)
      report_conflict(s, at, n);
  }
  void end(int s, TcpEnd how) {
    ended[s] = true;
    end_how[s] = how;
    switch (state) {
      case State::undecided:
        pending.push_back(Op{Op::Kind::end, s, now_ms, {}, 0, 0, how});
        classify(false);
        break;
      case State::http:
        core_end(s);
        break;
      case State::midstream:
        mid_end(s);
        break;
      case State::skipped:
        break;
    }
  }
  void core_end(int s) {
    core->end_stream(dir(s), end_how[s] == TcpEnd::fin ? StreamEnd::fin : StreamEnd::reset, now_ms);
  }

  void report_conflict(int s, uint64_t at, uint64_t n) {
    if (client < 0) return;  // a mid-stream direction not placed yet
    label();
    const Direction d = dir(s);
    dec.emit(
        EventLevel::warn,
        [&](JsonWriter& w) {
          w.field("event", "tcp_conflict")
              .field("dir", direction_name(d))
              .field("from", at)
              .field("to", at + n);
        },
        [&] {
          return std::string(short_dir(d)) + " tcp: a retransmitted copy of stream bytes " +
                 std::to_string(at) + "-" + std::to_string(at + n) +
                 " differs from the first copy; the first copy was inspected";
        });
  }

  // ---- what kind of connection this is
  void classify(bool force) {
    if (state != State::undecided) return;
    force = force || pending_bytes > kMaxPending;
    auto looks = [&](int s) {
      if (first[s].empty() || lost_first[s]) return Looks::no;
      return request_line(first[s], force || ended[s] || first[s].size() >= kClassifyBytes);
    };
    if (client >= 0) {
      // The SYN said who the client is: an HTTP client speaks first.
      const int c = client;
      const Looks l = looks(c);
      if (l == Looks::yes) return start_http();
      if (l == Looks::maybe) return;
      if (first[c].empty() && !lost_first[c] && response_line(first[1 - c])) return start_http();
      if (first[c].empty() && first[1 - c].empty() && !force) return;
      if (first[c].empty() && !lost_first[c] && !force && first[1 - c].size() < 8) return;
      // A client that did not start with a request, seen from the start, is
      // not HTTP; seen from its middle it may be WebSocket.
      if (side[c].r.saw_syn() && !lost_first[c]) return skip();
      return start_midstream();
    }
    bool waiting = false;
    for (int s = 0; s < 2; ++s) {
      const Looks l = looks(s);
      if (l == Looks::yes) {
        client = s;
        return start_http();
      }
      waiting |= l == Looks::maybe;
    }
    for (int s = 0; s < 2; ++s)
      if (response_line(first[s]) && first[1 - s].empty()) {
        client = 1 - s;
        return start_http();
      }
    if (waiting && !force) return;
    if (first[0].empty() && first[1].empty() && !force) return;
    start_midstream();
  }

  void skip() {
    state = State::skipped;
    dec.totals_.skipped++;
    pending.clear();
    pending.shrink_to_fit();
    pending_bytes = 0;
    for (int s = 0; s < 2; ++s) {
      first[s].clear();
      resync[s].clear();
      resync[s].shrink_to_fit();
      flags_end[s] = ended[s];
    }
  }

  void make_core() {
    core = std::make_unique<ConnectionInspector>(dec.core_cfg_, dec.sink_, id, start_ms);
  }

  void replay(State to) {
    state = to;
    std::vector<Op> ops;
    ops.swap(pending);
    pending_bytes = 0;
    for (int s = 0; s < 2; ++s) first[s].clear();
    const uint64_t now = now_ms;
    for (Op& op : ops) {
      now_ms = op.ms;
      switch (op.kind) {
        case Op::Kind::data:
          data(op.s, op.bytes);
          break;
        case Op::Kind::lost:
          dec.totals_.gaps--;  // counted when it was held
          lost(op.s, op.at, op.n);
          break;
        case Op::Kind::conflict:
          if (state != State::skipped) report_conflict(op.s, op.at, op.n);
          break;
        case Op::Kind::end:
          end(op.s, op.how);
          break;
      }
      if (state == State::skipped) break;
    }
    now_ms = std::max(now, now_ms);
  }

  void start_http() {
    make_core();
    label();
    replay(State::http);
  }

  void start_midstream() { replay(State::midstream); }

  // ---- mid-stream: frames from the first header that resynchronises
  void mid_data(int s, std::span<const uint8_t> b) {
    if (sync[s] == Sync::synced) {
      core->feed(dir(s), b, now_ms);
    } else if (sync[s] == Sync::failed) {
      if (core)
        core->skip(dir(s), b.size(), "", now_ms);
      else
        unsynced[s] += b.size();
    } else {
      resync[s].insert(resync[s].end(), b.begin(), b.end());
      try_sync(s, false);
    }
  }
  void mid_lost(int s, uint64_t n) {
    if (sync[s] == Sync::synced) {
      core->skip(dir(s), n, "bytes missing from the capture", now_ms);
      return;
    }
    if (sync[s] == Sync::failed) {
      if (core)
        core->skip(dir(s), n, "", now_ms);
      else
        unsynced[s] += n;
      return;
    }
    // What came before the hole does not run on into what follows it: the
    // search starts again after it.
    unsynced[s] += resync[s].size() + n;
    resync[s].clear();
    resync_tried[s] = 0;
  }
  void mid_end(int s) {
    if (sync[s] == Sync::waiting) try_sync(s, true);
    if (sync[s] == Sync::synced) core_end(s);
  }

  void try_sync(int s, bool complete) {
    std::vector<uint8_t>& buf = resync[s];
    const bool full = buf.size() >= kResyncWindow;
    if (!complete && !full && buf.size() < resync_tried[s] + kResyncStep) return;
    resync_tried[s] = buf.size();
    const int masked = client < 0 ? -1 : s == client ? 1 : 0;
    const Resync r = find_frame_start(buf, complete || full, masked);
    if (r.result == Resync::Result::need_more) return;
    if (r.result == Resync::Result::none) {
      sync[s] = Sync::failed;
      unsynced[s] += buf.size();
      buf.clear();
      buf.shrink_to_fit();
      if (core) {
        core->skip(dir(s), unsynced[s], "no frame header found to resynchronise on", now_ms);
        if (ended[s]) core_end(s);
      } else if (sync[1 - s] == Sync::failed || (ended[1 - s] && resync[1 - s].empty())) {
        skip();
      }
      return;
    }
    if (client < 0) client = r.masked ? s : 1 - s;
    sync[s] = Sync::synced;
    unsynced[s] += r.offset;
    const bool first_synced = !core;
    if (first_synced) {
      make_core();
      core->assume_websocket(now_ms);
    }
    label();
    report_resync(s);
    std::vector<uint8_t> rest(buf.begin() + static_cast<ptrdiff_t>(r.offset), buf.end());
    buf.clear();
    buf.shrink_to_fit();
    core->feed(dir(s), rest, now_ms);
    if (first_synced && sync[1 - s] == Sync::failed) {
      core->skip(dir(1 - s), unsynced[1 - s], "no frame header found to resynchronise on", now_ms);
      if (ended[1 - s]) core_end(1 - s);
    }
  }

  void report_resync(int s) {
    const Direction d = dir(s);
    const uint64_t skipped = unsynced[s];
    dec.emit(
        EventLevel::warn,
        [&](JsonWriter& w) {
          w.field("event", "resync")
              .field("dir", direction_name(d))
              .field("skipped", skipped)
              .field("note",
                     "the capture begins after the handshake: frames are decoded from the first "
                     "frame header that resynchronises, offsets count from it, and no extension "
                     "is known to be negotiated (RSV1 is judged as without permessage-deflate)");
        },
        [&] {
          return std::string(short_dir(d)) +
                 " mid-stream: no handshake in the capture; frames decoded from the first frame "
                 "header that resynchronises, after " +
                 std::to_string(skipped) +
                 " byte(s); offsets count from there, and no extension is known (RSV1 is judged "
                 "as without permessage-deflate)";
        });
  }
};

// ---- the capture ------------------------------------------------------------------

CaptureDecoder::CaptureDecoder(const CaptureDecodeOptions& opts, LineOut& out)
    : opts_(opts),
      labelled_(std::make_unique<Labelled>(out, opts.json)),
      seen_(std::make_unique<ErrorSeen>()) {
  ReportOptions ropts;
  ropts.stamped = false;
  format_ = opts.json ? make_json_sink(*labelled_, ropts) : make_text_sink(*labelled_, ropts);
  sink_.add(*seen_);
  sink_.add(*format_);
  if (opts.also) sink_.add(*opts.also);
  core_cfg_.max_message_size = opts.max_message_size;
  core_cfg_.preview = opts.preview;
  core_cfg_.digests = opts.digests;
  closed_.resize(kClosedRemembered);
}

CaptureDecoder::~CaptureDecoder() = default;

bool CaptureDecoder::error_seen() const {
  return seen_->error;
}

template <class Json, class Text>
void CaptureDecoder::emit(EventLevel level, Json json, Text text) {
  if (!labelled_->enabled(level)) return;
  if (opts_.json)
    labelled_->write(level, json_object(json));
  else
    labelled_->write(level, text());
}

void CaptureDecoder::remember_closed(const Key& k) {
  closed_[closed_next_] = k;
  closed_next_ = (closed_next_ + 1) % closed_.size();
}

void CaptureDecoder::packet(uint64_t time_us, int link, std::span<const uint8_t> data) {
  totals_.packets++;
  const uint64_t ms = time_us / 1000;
  last_ms_ = std::max(last_ms_, ms);
  const TcpPacket p = parse_packet(link, data);
  switch (p.kind) {
    case PacketKind::tcp:
      break;
    case PacketKind::not_tcp:
    case PacketKind::fragment:
      totals_.not_tcp++;
      return;
    case PacketKind::malformed:
    case PacketKind::unsupported:
      totals_.malformed++;
      return;
  }
  Key key{p.src, p.dst};
  if (std::tie(key.hi.addr, key.hi.v6, key.hi.port) < std::tie(key.lo.addr, key.lo.v6, key.lo.port))
    std::swap(key.lo, key.hi);
  auto it = flows_.find(key);
  const bool syn = p.flags & tcp_flag::syn;
  if (it == flows_.end()) {
    // Bare ACKs, FINs and resets of connections not followed start nothing,
    // nor do late retransmissions of one that just closed.
    if (!syn && (p.payload_len == 0 || (p.flags & tcp_flag::rst))) return;
    if (!syn && std::find_if(closed_.begin(), closed_.end(), [&](const Key& k) {
                  return !(k < key) && !(key < k);
                }) != closed_.end())
      return;
    it = flows_.emplace(key, std::make_unique<Flow>(*this, p.src, p.dst, next_id_++, ms)).first;
    totals_.connections++;
  }
  Flow& f = *it->second;
  const int s = p.src == f.ep[0] ? 0 : 1;
  f.now_ms = std::max(f.now_ms, ms);
  if (syn && f.client < 0) f.client = (p.flags & tcp_flag::ack) ? 1 - s : s;
  if (f.state == Flow::State::skipped) {
    if (p.flags & tcp_flag::fin) f.flags_end[s] = true;
    if ((p.flags & tcp_flag::rst) || (f.flags_end[0] && f.flags_end[1])) close_flow(it, ms, false);
    return;
  }
  f.label();
  f.side[s].r.segment(p.flags, p.seq, p.payload, p.payload_len);
  if ((p.flags & tcp_flag::rst) || (f.side[0].r.ended() && f.side[1].r.ended()) ||
      (f.state == Flow::State::skipped && f.flags_end[0] && f.flags_end[1]))
    close_flow(it, ms, false);
  labelled_->clear();
}

void CaptureDecoder::close_flow(std::map<Key, std::unique_ptr<Flow>>::iterator it, uint64_t now_ms,
                                bool at_end) {
  Flow& f = *it->second;
  f.now_ms = std::max(f.now_ms, now_ms);
  f.label();
  for (int s = 0; s < 2; ++s)
    if (!f.side[s].r.ended()) f.side[s].r.flush();
  f.classify(true);
  if (f.state == Flow::State::midstream)
    for (int s = 0; s < 2; ++s)
      if (f.sync[s] == Flow::Sync::waiting && !f.resync[s].empty()) f.try_sync(s, true);
  if (f.state != Flow::State::skipped && !f.core) f.skip();
  const bool open = at_end && !(f.side[0].r.ended() && f.side[1].r.ended());
  if (f.core) {
    f.label();
    f.core->finish(open ? EndCause::capture_ended : EndCause::none, f.now_ms);
    if (f.core->upgraded())
      totals_.websocket++;
    else
      totals_.http++;
    if (f.state == Flow::State::midstream) totals_.midstream++;
    if (open) totals_.open_at_end++;
  }
  labelled_->clear();
  remember_closed(it->first);
  flows_.erase(it);
}

void CaptureDecoder::finish() {
  std::vector<std::map<Key, std::unique_ptr<Flow>>::iterator> order;
  for (auto it = flows_.begin(); it != flows_.end(); ++it) order.push_back(it);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return a->second->id < b->second->id; });
  for (auto it : order) close_flow(it, last_ms_, true);
  const CaptureTotals& t = totals_;
  emit(
      EventLevel::info,
      [&](JsonWriter& w) {
        w.field("event", "capture_summary")
            .field("packets", t.packets)
            .field("connections", t.connections)
            .field("websocket", t.websocket)
            .field("midstream", t.midstream)
            .field("http", t.http)
            .field("skipped", t.skipped)
            .field("open_at_end", t.open_at_end)
            .field("gaps", t.gaps)
            .field("conflicts", t.conflicts)
            .field("not_tcp", t.not_tcp)
            .field("malformed", t.malformed);
      },
      [&] {
        return "capture: " + std::to_string(t.packets) + " packets, " +
               std::to_string(t.connections) + " TCP connections: " + std::to_string(t.websocket) +
               " WebSocket (" + std::to_string(t.midstream) + " seen from mid-stream), " +
               std::to_string(t.http) + " HTTP only, " + std::to_string(t.skipped) +
               " skipped (neither HTTP nor WebSocket); " + std::to_string(t.open_at_end) +
               " still open at the end, " + std::to_string(t.gaps) + " gap(s), " +
               std::to_string(t.conflicts) + " conflicting retransmission(s), " +
               std::to_string(t.not_tcp) + " packets not TCP, " + std::to_string(t.malformed) +
               " malformed";
      });
}

}  // namespace wsi
