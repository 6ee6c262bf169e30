#include "parser/compare/hop_compare.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace wsi {
namespace {

constexpr size_t kMissingKept = 256;
// How far (in windows) one side may run ahead of a side that has nothing
// yet before its units are judged missing there: the other side's bytes may
// still be crossing the hop.
constexpr size_t kLagFactor = 16;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Headers whose change alters what the WebSocket endpoints negotiate.
bool websocket_header(const std::string& lname) {
  return lname.rfind("sec-websocket-", 0) == 0 || lname == "upgrade" || lname == "connection";
}

// Token lists compare without case or spaces; other values exactly.
std::string normalized(const std::string& lname, std::string_view value) {
  if (lname != "connection" && lname != "upgrade" && lname != "sec-websocket-extensions" &&
      lname != "sec-websocket-protocol")
    return std::string(value);
  std::string out;
  for (char c : lower(value))
    if (c != ' ' && c != '\t') out += c;
  return out;
}

// Name (lowercase) -> the values, joined in order.
std::map<std::string, std::string> header_map(const std::vector<HttpHeader>& hs) {
  std::map<std::string, std::string> m;
  for (const HttpHeader& h : hs) {
    const std::string n = lower(h.name);
    std::string& v = m[n];
    if (!v.empty()) v += ", ";
    v += h.value;
  }
  return m;
}

// "81 7e 07 d0", as every header_hex is written.
std::string hex_of(const uint8_t* p, size_t n) {
  static const char* const kHex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 15];
  }
  return s;
}

std::string frame_hex(const FrameRecord& f) {
  return hex_of(f.raw, f.raw_len);
}

std::string sender_name(Direction d) {
  return d == Direction::client_to_server ? "client" : "server";
}

std::string receiver_name(Direction d) {
  return d == Direction::client_to_server ? "server" : "client";
}

std::string opcode_word(uint8_t op) {
  switch (op) {
    case opcode::text:
      return "text message";
    case opcode::binary:
      return "binary message";
    case opcode::close:
      return "close frame";
    case opcode::ping:
      return "ping";
    case opcode::pong:
      return "pong";
    case opcode::continuation:
      return "continuation frame";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "opcode-0x%X frame", op);
      return buf;
    }
  }
}

std::string bits_of(const FrameRecord& f) {
  std::string s = f.fin ? "FIN" : "no-FIN";
  if (f.rsv & rsv::rsv1) s += " RSV1";
  if (f.rsv & rsv::rsv2) s += " RSV2";
  if (f.rsv & rsv::rsv3) s += " RSV3";
  s += " ";
  s += opcode::name(f.opcode);
  return s;
}

std::string close_words(const Unit& u) {
  if (!u.has_code) return "no code";
  std::string s = std::to_string(u.code);
  if (!u.reason.empty()) s += " \"" + u.reason + "\"";
  return s;
}

std::string seconds(uint64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

bool is_control(uint8_t op) {
  return opcode::is_control(op);
}

bool wire_equal(const Unit& x, const Unit& y) {
  if (x.frames.size() != y.frames.size()) return false;
  for (size_t i = 0; i < x.frames.size(); ++i)
    if (x.frames[i].digest != y.frames[i].digest || x.frames[i].length != y.frames[i].length)
      return false;
  return true;
}

bool same_unit(const Unit& x, const Unit& y) {
  if (x.opcode != y.opcode) return false;
  return x.content == y.content || wire_equal(x, y);
}

int64_t first_index(const Unit& u) {
  return u.frames.empty() ? -1 : static_cast<int64_t>(u.frames.front().index);
}

// Which stream ended first at a vantage point: 0 the client side's, 1 the
// server side's, -1 neither.
int first_end(const HopRecord& r) {
  const DirectionRecord& c = r.dir[0];
  const DirectionRecord& s = r.dir[1];
  if (c.ended && (!s.ended || c.end_ms <= s.end_ms)) return 0;
  if (s.ended) return 1;
  return -1;
}

std::string how_word(StreamEnd h) {
  return h == StreamEnd::reset ? "a reset" : "a FIN";
}

}  // namespace

std::string_view diff_kind_id(DiffKind k) {
  switch (k) {
    case DiffKind::status_changed:
      return "status-changed";
    case DiffKind::header_removed:
      return "header-removed";
    case DiffKind::header_added:
      return "header-added";
    case DiffKind::header_changed:
      return "header-changed";
    case DiffKind::header_case_or_order:
      return "header-case-or-order";
    case DiffKind::frame_bits_changed:
      return "frame-bits-changed";
    case DiffKind::payload_changed:
      return "payload-changed";
    case DiffKind::split:
      return "split";
    case DiffKind::merged:
      return "merged";
    case DiffKind::dropped:
      return "dropped";
    case DiffKind::inserted:
      return "inserted";
    case DiffKind::reordered:
      return "reordered";
    case DiffKind::compression_changed:
      return "compression-changed";
    case DiffKind::remasked:
      return "remasked";
    case DiffKind::close_changed:
      return "close-changed";
    case DiffKind::close_lost:
      return "close-lost";
    case DiffKind::tcp_end:
      return "tcp-end";
    case DiffKind::not_compared:
      return "not-compared";
  }
  return "unknown";
}

HopComparer::HopComparer(const HopCompareOptions& opts, HopDiffSink& out)
    : opts_(opts), out_(out) {}

void HopComparer::emit(HopDiff d) {
  // Not a difference: a statement about what could be compared.
  if (d.kind == DiffKind::not_compared) {
    out_.on_diff(d);
    return;
  }
  ++diffs_;
  if (!d.significant) ++benign_;
  if (d.significant && !has_first_) {
    has_first_ = true;
    first_ = d;
  }
  out_.on_diff(d);
}

void HopComparer::step(HopRecord& a, HopRecord& b, uint64_t now_ms) {
  if (!handshakes_done_ && a.handshake && b.handshake) compare_handshakes(a, b);
  if (!handshakes_done_) return;
  for (size_t i = 0; i < 2; ++i) align(a, b, i, false, now_ms);
}

HopVerdict HopComparer::finish(HopRecord& a, HopRecord& b) {
  if (!handshakes_done_ && a.handshake && b.handshake) compare_handshakes(a, b);
  for (size_t i = 0; i < 2; ++i) {
    flush_open(a.dir[i]);
    flush_open(b.dir[i]);
    align(a, b, i, true, 0);
  }
  compare_ends(a, b);
  HopVerdict v;
  v.differences = diffs_;
  v.benign = benign_;
  v.identical = diffs_ == 0;
  v.significant = has_first_;
  const std::string between = "between " + opts_.name_a + " and " + opts_.name_b;
  if (v.identical)
    v.text = "no difference " + between;
  else if (!v.significant)
    v.text = between + ": only benign differences (" + std::to_string(benign_) + ")";
  else
    v.text = between + ": " + first_.text + consequence(a, b);
  return v;
}

void HopComparer::compare_handshakes(const HopRecord& a, const HopRecord& b) {
  handshakes_done_ = true;
  if (a.status != b.status) {
    HopDiff d(DiffKind::status_changed);
    d.text = "the server answered " + std::to_string(b.status) + " (at " + opts_.name_b +
             ") but the client got " + std::to_string(a.status) + " (at " + opts_.name_a + ")";
    emit(d);
  }
  // The request travels from A to B, the response from B to A.
  auto compare = [&](const std::vector<HttpHeader>& from, const std::vector<HttpHeader>& to,
                     const char* what) {
    const auto mf = header_map(from);
    const auto mt = header_map(to);
    bool any = false;
    for (const auto& [name, value] : mf) {
      auto it = mt.find(name);
      const HttpHeader* orig = nullptr;
      for (const HttpHeader& h : from)
        if (lower(h.name) == name) orig = &h;
      const std::string shown = orig ? orig->name : name;
      if (it == mt.end()) {
        HopDiff d(DiffKind::header_removed);
        d.significant = websocket_header(name);
        d.header = shown;
        d.text = std::string("the ") + what + " lost " + shown + ": " + value;
        emit(d);
        any = true;
      } else if (value != "[redacted]" && it->second != "[redacted]" &&
                 normalized(name, value) != normalized(name, it->second)) {
        HopDiff d(DiffKind::header_changed);
        d.significant = websocket_header(name);
        d.header = shown;
        d.text = std::string("the ") + what + "'s " + shown + " changed from \"" + value +
                 "\" to \"" + it->second + "\"";
        emit(d);
        any = true;
      }
    }
    for (const auto& [name, value] : mt) {
      if (mf.count(name)) continue;
      std::string shown = name;
      for (const HttpHeader& h : to)
        if (lower(h.name) == name) shown = h.name;
      HopDiff d(DiffKind::header_added);
      d.significant = websocket_header(name);
      d.header = shown;
      d.text = std::string("the ") + what + " gained " + shown + ": " + value;
      emit(d);
      any = true;
    }
    if (any) return;
    bool same_form = from.size() == to.size();
    for (size_t i = 0; same_form && i < from.size(); ++i) same_form = from[i].name == to[i].name;
    if (!same_form) {
      HopDiff d(DiffKind::header_case_or_order);
      d.significant = false;
      d.text = std::string("the ") + what + "'s header names changed case or order only";
      emit(d);
    }
  };
  compare(a.request_headers, b.request_headers, "request");
  compare(b.response_headers, a.response_headers, "response");
}

void HopComparer::align(HopRecord& a, HopRecord& b, size_t i, bool final, uint64_t now_ms) {
  DirectionRecord& da = a.dir[i];
  DirectionRecord& db = b.dir[i];
  const Direction d = i == 0 ? Direction::client_to_server : Direction::server_to_client;
  std::deque<Unit>& qa = da.pending;
  std::deque<Unit>& qb = db.pending;
  if (da.gap || db.gap) {
    // A vantage point missed bytes: what follows cannot be judged.
    if (final) {
      qa.clear();
      qb.clear();
      HopDiff h(DiffKind::not_compared);
      h.significant = false;
      h.has_dir = true;
      h.dir = d;
      h.text = "the " + std::string(direction_name(d)) +
               " direction was not compared: " + (da.gap ? opts_.name_a : opts_.name_b) +
               " missed some of its bytes (a gap in a capture, or more messages than the "
               "window held while the other side was not yet seen)";
      emit(h);
    }
    return;
  }
  const size_t w = std::max<size_t>(opts_.window, 1);
  auto find = [&](const std::deque<Unit>& q, const Unit& u) -> size_t {
    for (size_t k = 1; k < q.size() && k <= w; ++k)
      if (same_unit(q[k], u)) return k;
    return 0;
  };
  // A unit has waited too long for its counterpart: for longer than the
  // time window, or behind more than kLagFactor windows of its own side's
  // units (that side runs far ahead; the other's bytes may still be on
  // their way, so the count alone is no proof).
  auto waited = [&](const std::deque<Unit>& q) {
    return q.size() > std::max<size_t>(w, 1) * kLagFactor ||
           (opts_.same_clock && opts_.window_ms && now_ms &&
            now_ms - q.front().time_ms >= opts_.window_ms);
  };
  while (true) {
    if (qa.empty() || qb.empty()) {
      std::deque<Unit>& q = qa.empty() ? qb : qa;
      const bool at_a = !qa.empty();
      const HopRecord& other = at_a ? b : a;
      // The other side has nothing (yet): its counterpart never came once
      // that side is over, or once the unit has waited too long.
      while (!q.empty() && (final || other.finished || waited(q))) {
        only_one(d, at_a, q.front(), other);
        q.pop_front();
      }
      return;
    }
    const Unit& x = qa.front();
    const Unit& y = qb.front();
    if (same_unit(x, y)) {
      pair(a, b, d, x, y);
      qa.pop_front();
      qb.pop_front();
      continue;
    }
    const size_t ka = find(qb, x);  // x turns up later at B
    const size_t kb = find(qa, y);  // y turns up later at A
    if (ka && (!kb || ka <= kb)) {
      for (size_t k = 0; k < ka; ++k) {
        only_one(d, false, qb.front(), a);
        qb.pop_front();
      }
      continue;
    }
    if (kb) {
      for (size_t k = 0; k < kb; ++k) {
        only_one(d, true, qa.front(), b);
        qa.pop_front();
      }
      continue;
    }
    // Neither turns up within the window on the other side: decided once
    // both sides have moved a window past them (or they waited too long).
    const bool both_past = qa.size() > w && qb.size() > w;
    if (!final && !both_past && !waited(qa) && !waited(qb) && !(a.finished && b.finished)) return;
    // No counterpart for either within the window: the same unit, changed,
    // when both are data or both control; otherwise A's is missing at B.
    if (is_control(x.opcode) == is_control(y.opcode)) {
      pair(a, b, d, x, y);
      qa.pop_front();
      qb.pop_front();
    } else {
      only_one(d, true, x, b);
      qa.pop_front();
    }
  }
}

void HopComparer::pair(const HopRecord& a, const HopRecord& b, Direction d, const Unit& x,
                       const Unit& y) {
  (void)a;
  (void)b;
  const bool a_sends = d == Direction::client_to_server;
  const Unit& from = a_sends ? x : y;  // as sent towards the hop
  const Unit& to = a_sends ? y : x;    // as it left the hop
  const std::string& nfrom = a_sends ? opts_.name_a : opts_.name_b;
  const std::string& nto = a_sends ? opts_.name_b : opts_.name_a;
  auto base = [&](DiffKind k) {
    HopDiff h(k);
    h.has_dir = true;
    h.dir = d;
    h.frame_a = first_index(x);
    h.frame_b = first_index(y);
    if (!x.frames.empty()) h.header_a = frame_hex(x.frames.front());
    if (!y.frames.empty()) h.header_b = frame_hex(y.frames.front());
    return h;
  };
  auto where = [&](const Unit& u, const std::string& n) {
    return "frame " + std::to_string(first_index(u)) + " at " + n;
  };
  const std::string what = "the " + sender_name(d) + "'s " + opcode_word(from.opcode) + " (" +
                           where(from, nfrom) + ", " + where(to, nto) + ")";
  const bool content_same = x.content == y.content;
  const bool wire_same = wire_equal(x, y);
  if (x.opcode != y.opcode) {
    HopDiff h = base(DiffKind::frame_bits_changed);
    h.text = what + ": the opcode changed from " + std::string(opcode::name(from.opcode)) + " to " +
             std::string(opcode::name(to.opcode));
    emit(h);
  }
  if (!content_same && !wire_same) {
    HopDiff h = base(DiffKind::payload_changed);
    // The first frame whose payload differs, when the framing is the same.
    if (from.frames.size() == to.frames.size()) {
      for (size_t k = 0; k < from.frames.size(); ++k) {
        if (from.frames[k].digest == to.frames[k].digest) continue;
        const FrameRecord& fa = a_sends ? from.frames[k] : to.frames[k];
        const FrameRecord& fb = a_sends ? to.frames[k] : from.frames[k];
        h.frame_a = static_cast<int64_t>(fa.index);
        h.frame_b = static_cast<int64_t>(fb.index);
        h.header_a = frame_hex(fa);
        h.header_b = frame_hex(fb);
        break;
      }
    }
    h.text = what + ": the payload changed (" + std::to_string(from.size) + " bytes sent, " +
             std::to_string(to.size) + " delivered, frame " + std::to_string(h.frame_a) + " at " +
             opts_.name_a + " differs from frame " + std::to_string(h.frame_b) + " at " +
             opts_.name_b + ")";
    emit(h);
  }
  if (from.frames.size() != to.frames.size() && !from.frames.empty() && !to.frames.empty()) {
    const bool split = to.frames.size() > from.frames.size();
    HopDiff h = base(split ? DiffKind::split : DiffKind::merged);
    // Re-fragmenting a data message is allowed to an intermediary (RFC 6455
    // §5.4) when its content is unchanged.
    h.significant = !content_same || is_control(from.opcode);
    h.text = what + ": " + std::to_string(from.frames.size()) + " frame" +
             (from.frames.size() == 1 ? "" : "s") + " became " + std::to_string(to.frames.size()) +
             (content_same ? ", content unchanged" : "");
    emit(h);
  }
  if (from.frames.size() == to.frames.size()) {
    bool remasked = false;
    for (size_t k = 0; k < from.frames.size(); ++k) {
      const FrameRecord& f = from.frames[k];
      const FrameRecord& t = to.frames[k];
      const FrameRecord& fa = a_sends ? f : t;
      const FrameRecord& fb = a_sends ? t : f;
      if (f.rsv != t.rsv || f.fin != t.fin || f.masked != t.masked ||
          (f.opcode != t.opcode && k > 0)) {
        HopDiff h = base(DiffKind::frame_bits_changed);
        h.frame_a = static_cast<int64_t>(fa.index);
        h.frame_b = static_cast<int64_t>(fb.index);
        h.header_a = frame_hex(fa);
        h.header_b = frame_hex(fb);
        h.text = "the " + sender_name(d) + "'s frame " + std::to_string(f.index) + " at " + nfrom +
                 " (" + bits_of(f) + (f.masked ? " masked" : "") + ") arrived as frame " +
                 std::to_string(t.index) + " at " + nto + " (" + bits_of(t) +
                 (t.masked ? " masked" : "") + ")";
        emit(h);
      } else if (f.masked && t.masked && std::equal(f.mask, f.mask + 4, t.mask) == false) {
        remasked = true;
      }
    }
    if (remasked && content_same) {
      HopDiff h = base(DiffKind::remasked);
      h.significant = false;
      h.text = what + ": masked again with a new key, content unchanged";
      emit(h);
    }
  }
  if (from.compressed != to.compressed && content_same && !wire_same) {
    HopDiff h = base(DiffKind::compression_changed);
    h.significant = false;
    h.text = what +
             (from.compressed ? ": sent compressed, delivered uncompressed"
                              : ": sent uncompressed, delivered compressed") +
             ", content unchanged";
    emit(h);
  }
  if (from.opcode == opcode::close && to.opcode == opcode::close &&
      (from.has_code != to.has_code || from.code != to.code || from.reason != to.reason)) {
    HopDiff h = base(DiffKind::close_changed);
    h.text = "the " + sender_name(d) + "'s close frame said " + close_words(from) + " at " + nfrom +
             " but " + close_words(to) + " at " + nto;
    emit(h);
  }
}

void HopComparer::only_one(Direction d, bool at_a, const Unit& u, const HopRecord& other) {
  (void)other;
  const bool a_sends = d == Direction::client_to_server;
  const bool at_sender = at_a == a_sends;
  const std::string& here = at_a ? opts_.name_a : opts_.name_b;
  const std::string& there = at_a ? opts_.name_b : opts_.name_a;
  // Reported missing on the other side earlier, now found here: reordered.
  for (auto it = missing_.begin(); it != missing_.end(); ++it) {
    if (it->dir != d || it->at_a == at_a || it->content != u.content) continue;
    HopDiff h(DiffKind::reordered);
    h.has_dir = true;
    h.dir = d;
    h.frame_a = at_a ? first_index(u) : it->frame;
    h.frame_b = at_a ? it->frame : first_index(u);
    h.text = "the " + sender_name(d) + "'s " + opcode_word(u.opcode) + " reported above as " +
             (it->at_a == a_sends ? "dropped" : "inserted") + " arrived out of order (frame " +
             std::to_string(h.frame_a) + " at " + opts_.name_a + ", frame " +
             std::to_string(h.frame_b) + " at " + opts_.name_b + ")";
    missing_.erase(it);
    emit(h);
    return;
  }
  if (missing_.size() >= kMissingKept) missing_.erase(missing_.begin());
  missing_.push_back({d, at_a, u.content, first_index(u)});

  const bool close = u.opcode == opcode::close;
  HopDiff h(at_sender ? (close ? DiffKind::close_lost : DiffKind::dropped) : DiffKind::inserted);
  h.has_dir = true;
  h.dir = d;
  (at_a ? h.frame_a : h.frame_b) = first_index(u);
  if (!u.frames.empty()) (at_a ? h.header_a : h.header_b) = frame_hex(u.frames.front());
  const std::string desc =
      "the " + sender_name(d) + "'s " + opcode_word(u.opcode) +
      (close ? " (" + close_words(u) + ")"
             : " of " + std::to_string(u.size) + " byte" + (u.size == 1 ? "" : "s")) +
      " (frame " + std::to_string(first_index(u)) + " at " + here + ")";
  if (at_sender)
    h.text = desc + " never reached " + there +
             (close ? ": the " + receiver_name(d) + " reports 1006 instead" : "");
  else
    h.text = desc + " was not sent at " + there + ": the hop inserted it";
  emit(h);
}

void HopComparer::compare_ends(const HopRecord& a, const HopRecord& b) {
  const int ea = first_end(a);
  const int eb = first_end(b);
  // What each endpoint sent, seen at the vantage point beside it.
  const bool client_closed = a.dir[0].close.has_value();
  const bool server_closed = b.dir[1].close.has_value();
  const bool handshake_closed = client_closed && server_closed;
  const std::string who_closed =
      client_closed   ? "the client had sent a close frame, the server had not"
      : server_closed ? "the server had sent a close frame (" +
                            std::to_string(b.dir[1].close->code) + "), the client had not"
                      : "neither the client nor the server had closed";
  const uint64_t last_a = std::max(a.dir[0].last_data_ms, a.dir[1].last_data_ms);
  // At A the hop's side ended first, and at B the hop's side too: the hop
  // ended both legs on its own.
  if (ea == 1 && eb == 0 && !handshake_closed) {
    HopDiff h(DiffKind::tcp_end);
    const DirectionRecord& ta = a.dir[1];
    const DirectionRecord& tb = b.dir[0];
    const uint64_t idle = ta.end_ms > last_a ? ta.end_ms - last_a : 0;
    h.text = "the hop ended both legs (towards " + opts_.name_a + " with " + how_word(ta.how) +
             ", towards " + opts_.name_b + " with " + how_word(tb.how) + ") after " +
             seconds(idle) + " of silence, while " + who_closed;
    emit(h);
    return;
  }
  if (ea == 1 && eb < 0 && b.finished && !handshake_closed) {
    HopDiff h(DiffKind::tcp_end);
    const uint64_t idle = a.dir[1].end_ms > last_a ? a.dir[1].end_ms - last_a : 0;
    h.text = "the hop ended the client's leg (towards " + opts_.name_a + " with " +
             how_word(a.dir[1].how) + ") after " + seconds(idle) +
             " of silence, while the server's leg (at " + opts_.name_b + ") stayed open";
    emit(h);
    return;
  }
  if (eb == 0 && ea < 0 && a.finished && !handshake_closed) {
    HopDiff h(DiffKind::tcp_end);
    h.text = "the hop ended the server's leg (towards " + opts_.name_b + " with " +
             how_word(b.dir[0].how) + "), while the client's leg (at " + opts_.name_a +
             ") stayed open";
    emit(h);
    return;
  }
  // The server ended first and its end reached A in another form.
  if (ea == 1 && eb == 1 && a.dir[1].how != b.dir[1].how) {
    HopDiff h(DiffKind::tcp_end);
    h.has_dir = true;
    h.dir = Direction::server_to_client;
    h.significant = a.dir[1].how == StreamEnd::reset;
    h.text = "the server ended its stream with " + how_word(b.dir[1].how) + " at " + opts_.name_b +
             ", which reached " + opts_.name_a + " as " + how_word(a.dir[1].how);
    emit(h);
  }
  if (ea == 0 && eb == 0 && a.dir[0].how != b.dir[0].how) {
    HopDiff h(DiffKind::tcp_end);
    h.has_dir = true;
    h.dir = Direction::client_to_server;
    h.significant = b.dir[0].how == StreamEnd::reset;
    h.text = "the client ended its stream with " + how_word(a.dir[0].how) + " at " + opts_.name_a +
             ", which reached " + opts_.name_b + " as " + how_word(b.dir[0].how);
    emit(h);
  }
}

std::string HopComparer::consequence(const HopRecord& a, const HopRecord& b) const {
  // Who received the change: the client (response, server-to-client) or the
  // server (request, client-to-server); the nearer vantage point saw its
  // reaction.
  bool to_client = true;
  switch (first_.kind) {
    case DiffKind::status_changed:
      to_client = true;
      break;
    case DiffKind::header_removed:
    case DiffKind::header_added:
    case DiffKind::header_changed:
    case DiffKind::header_case_or_order:
      to_client = first_.text.rfind("the response", 0) == 0;
      break;
    case DiffKind::tcp_end:
      break;
    default:
      to_client = first_.has_dir && first_.dir == Direction::server_to_client;
  }
  const HopRecord& near = to_client ? a : b;
  const std::string& vantage = to_client ? opts_.name_a : opts_.name_b;
  const DirectionRecord& received = near.dir[to_client ? 1 : 0];
  const DirectionRecord& sent = near.dir[to_client ? 0 : 1];
  const std::string who = to_client ? "client" : "server";
  std::string because;
  for (const ViolationRecord& v : received.violations) {
    if (rule_info(v.rule).severity != Severity::error) continue;
    because = std::string(rule_info(v.rule).id) + " on frame " + std::to_string(v.frame_index) +
              " of what it received, seen at " + vantage;
    break;
  }
  std::string out;
  if (sent.close && sent.close->has_code) {
    out = "; then the " + who + " closed with " + std::to_string(sent.close->code);
  } else if (received.synthesized) {
    out = "; the " + who + " reports " + std::to_string(received.synthesized) +
          " (no close frame reached it)";
  }
  if (!because.empty()) out += (out.empty() ? "; the " + who + " received " : " (") + because;
  if (!because.empty() && !out.empty() && out.find(" (") != std::string::npos) out += ")";
  if (first_.kind == DiffKind::tcp_end && a.dir[1].synthesized == 1006)
    out = "; the client reports 1006";
  if (first_.kind == DiffKind::close_lost) out.clear();  // the difference says what it reports
  return out;
}

}  // namespace wsi
