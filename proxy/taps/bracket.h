// Bracket mode: one process on both sides of an intermediary. The front
// listener (--listen) relays clients to the intermediary, which is pointed at
// the back listener (--bracket-listen), which relays to the real server.
// Each side's connections are recorded (parser/compare), a back connection is
// matched with the front one whose Sec-WebSocket-Key it carries, and the
// comparison runs live: hop_diff events as soon as both sides have seen a
// difference (a unit missing on one side once the window has passed), and a
// hop_verdict when both connections are over. Memory per pair is bounded by
// the window; a connection that never finds its other half is reported as
// hop_unmatched when it ends.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>

#include "parser/compare/hop_compare.h"
#include "parser/compare/hop_record.h"
#include "proxy/report/report_sink.h"

namespace wsi {

class Bracket {
 public:
  // Events go to `out` (the front server's report). The timer drives the
  // time window; it does not keep the loop alive.
  Bracket(uv_loop_t* loop, const HopCompareOptions& opts, ReportSink& out);
  ~Bracket();
  Bracket(const Bracket&) = delete;
  Bracket& operator=(const Bracket&) = delete;

  ReportSink& front();
  ReportSink& back();
  // Closes the timer (before the loop's last run).
  void close();
  size_t pairs() const { return pairs_.size(); }

 private:
  class Side;
  struct Pair;
  friend class Side;

  void changed(bool front, HopRecord& r);
  void step(Pair& p, bool final);
  void unmatched(bool front, const HopRecord& r);
  static void on_tick(uv_timer_t* t);

  uv_loop_t* loop_;
  HopCompareOptions opts_;
  DigestKey secrets_ = DigestKey::random();  // secret header values are compared by digest
  ReportSink& out_;
  std::unique_ptr<Side> front_;
  std::unique_ptr<Side> back_;
  uv_timer_t timer_;
  bool timer_open_ = false;
  // Sec-WebSocket-Key -> a connection of that side not yet matched (the back
  // side's handshake completes first: its response travels on to the front).
  std::map<std::string, uint64_t> waiting_[2];       // [0] front, [1] back
  std::map<uint64_t, std::unique_ptr<Pair>> pairs_;  // by front connection
  std::map<uint64_t, uint64_t> back_to_front_;
};

}  // namespace wsi
