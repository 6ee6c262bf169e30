// Pacer: fires events on a fixed schedule, event j being due at
// t0 + j * period (uv_hrtime() nanoseconds). Every event that is due when the
// loop gets to it fires, late or not, so a sender that stalls keeps its
// schedule and the stall shows up as latency (no coordinated omission).
//
// libuv timers count whole milliseconds, which would add up to 1 ms of sender
// lag to every sample at a few hundred messages per second; on Linux the
// pacer waits on a timerfd (CLOCK_MONOTONIC, the clock of uv_hrtime) through
// a uv_poll_t instead, and falls back to a uv_timer_t elsewhere.
#pragma once

#include <uv.h>

#include <cstdint>

namespace wsload {

class Pacer {
 public:
  using FireFn = void (*)(void* owner, uint64_t event);

  Pacer(uv_loop_t* loop, void* owner, FireFn fire);
  ~Pacer();
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  void start(uint64_t t0, double period_ns);
  void stop();   // no more events; the handles stay open until close()
  void close();  // closes the handles (the loop can end once they are closed)

  uint64_t due_time(uint64_t event) const {
    return t0_ + static_cast<uint64_t>(static_cast<double>(event) * period_);
  }
  uint64_t next_event() const { return next_; }
  bool precise() const { return tfd_ >= 0; }

 private:
  void run();
  void arm(uint64_t at);

  uv_loop_t* loop_;
  void* owner_;
  FireFn fire_;
  int tfd_ = -1;
  uv_poll_t poll_{};
  uv_timer_t timer_{};
  uint64_t t0_ = 0;
  double period_ = 0;
  uint64_t next_ = 0;
  bool running_ = false;
  bool started_handles_ = false;
  bool closed_ = false;
};

}  // namespace wsload
