#include "proxy/taps/bracket.h"

#include "proxy/event_format.h"
#include "proxy/report/recorder_tap.h"

#include <algorithm>

namespace wsi {

// One side: its recorder, telling the bracket of every change, and the tap
// that feeds it from that side's server.
class Bracket::Side final {
 public:
  Side(Bracket& b, bool front) : recorder_(b, front), tap_(recorder_) {}
  HopRecorder& recorder() { return recorder_; }
  ReportSink& tap() { return tap_; }

 private:
  class Recorder final : public HopRecorder {
   public:
    Recorder(Bracket& b, bool front) : b_(b), front_(front) {}
    void changed(HopRecord& r) override { b_.changed(front_, r); }

   private:
    Bracket& b_;
    bool front_;
  };
  Recorder recorder_;
  RecorderTap tap_;
};

struct Bracket::Pair final : HopDiffSink {
  Pair(Bracket& b, uint64_t f, uint64_t k) : br(b), front(f), back(k), cmp(b.opts_, *this) {}
  void on_diff(const HopDiff& d) override {
    br.out_.on_hop_diff({front, uv_now(br.loop_)}, {front, back, d});
  }
  Bracket& br;
  uint64_t front;
  uint64_t back;
  HopComparer cmp;
};

Bracket::Bracket(uv_loop_t* loop, const HopCompareOptions& opts, ReportSink& out)
    : loop_(loop),
      opts_(opts),
      out_(out),
      front_(std::make_unique<Side>(*this, true)),
      back_(std::make_unique<Side>(*this, false)) {
  opts_.same_clock = true;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timer_open_ = true;
  const uint64_t every = opts_.window_ms ? std::max<uint64_t>(opts_.window_ms / 4, 50) : 1000;
  uv_timer_start(&timer_, on_tick, every, every);
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

Bracket::~Bracket() = default;

ReportSink& Bracket::front() {
  return front_->tap();
}

ReportSink& Bracket::back() {
  return back_->tap();
}

void Bracket::close() {
  if (!timer_open_) return;
  timer_open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void Bracket::on_tick(uv_timer_t* t) {
  auto* self = static_cast<Bracket*>(t->data);
  for (auto it = self->pairs_.begin(); it != self->pairs_.end();) {
    Pair& p = *it->second;
    ++it;  // step may end the pair
    self->step(p, false);
  }
}

void Bracket::changed(bool front, HopRecord& r) {
  if (r.handshake && !r.headers_redacted) {
    redact_for_compare(r.request_headers, secrets_);
    redact_for_compare(r.response_headers, secrets_);
    r.headers_redacted = true;
  }
  HopRecorder& mine = front ? front_->recorder() : back_->recorder();
  HopRecorder& theirs = front ? back_->recorder() : front_->recorder();
  if (front) {
    auto it = pairs_.find(r.conn);
    if (it != pairs_.end()) return step(*it->second, false);
  } else {
    auto it = back_to_front_.find(r.conn);
    if (it != back_to_front_.end()) return step(*pairs_.at(it->second), false);
  }
  auto& own_wait = waiting_[front ? 0 : 1];
  auto& other_wait = waiting_[front ? 1 : 0];
  if (r.handshake && r.has_key && !r.finished) {
    auto w = other_wait.find(r.key);
    if (w != other_wait.end() && theirs.find(w->second)) {
      const uint64_t f = front ? r.conn : w->second;
      const uint64_t k = front ? w->second : r.conn;
      other_wait.erase(w);
      auto p = std::make_unique<Pair>(*this, f, k);
      Pair& pr = *p;
      back_to_front_[k] = f;
      pairs_[f] = std::move(p);
      return step(pr, false);
    }
    own_wait.emplace(r.key, r.conn);
  }
  if (r.finished) {
    // Never paired.
    unmatched(front, r);
    auto w = own_wait.find(r.key);
    if (w != own_wait.end() && w->second == r.conn) own_wait.erase(w);
    mine.erase(r.conn);
    return;
  }
  // Bounded while it waits for its other half: beyond the bound, the
  // direction is marked as not comparable rather than judged on a part.
  const size_t bound = std::max<size_t>(opts_.window * 16, 1024);
  for (DirectionRecord& d : r.dir) {
    while (d.pending.size() > bound) {
      d.pending.pop_front();
      d.gap = true;
    }
  }
}

void Bracket::step(Pair& p, bool final) {
  HopRecord* a = front_->recorder().find(p.front);
  HopRecord* b = back_->recorder().find(p.back);
  if (!a || !b) return;
  if (!(a->finished && b->finished) && !final) {
    p.cmp.step(*a, *b, uv_now(loop_));
    return;
  }
  const HopVerdict v = p.cmp.finish(*a, *b);
  out_.on_hop_verdict({p.front, uv_now(loop_)}, {p.front, p.back, a->path, v});
  const uint64_t f = p.front, k = p.back;
  front_->recorder().erase(f);
  back_->recorder().erase(k);
  back_to_front_.erase(k);
  pairs_.erase(f);  // destroys p
}

void Bracket::unmatched(bool front, const HopRecord& r) {
  if (!r.handshake) return;
  const char* why =
      front ? "no connection with its Sec-WebSocket-Key reached --bracket-listen: the "
              "intermediary answered it itself, refused it, or changed the key"
            : "its Sec-WebSocket-Key was never seen at --listen: the intermediary opened it on "
              "its own (a health check?) or changed the key";
  out_.on_hop_unmatched({r.conn, uv_now(loop_)},
                        {front ? "front" : "back", r.conn, r.label, r.path, r.status, why});
}

}  // namespace wsi
