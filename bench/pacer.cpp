#include "bench/pacer.h"

#include <unistd.h>

#if defined(__linux__)
#include <sys/timerfd.h>
#endif

namespace wsload {

namespace {
// Events that may fire in one wake-up before the loop gets a turn again.
constexpr int kMaxBurst = 100000;
}  // namespace

Pacer::Pacer(uv_loop_t* loop, void* owner, FireFn fire) : loop_(loop), owner_(owner), fire_(fire) {
#if defined(__linux__)
  tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
#endif
  if (tfd_ >= 0 && uv_poll_init(loop_, &poll_, tfd_) == 0) {
    poll_.data = this;
  } else {
    if (tfd_ >= 0) ::close(tfd_);
    tfd_ = -1;
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
  }
}

Pacer::~Pacer() {
  if (tfd_ >= 0) ::close(tfd_);
}

void Pacer::start(uint64_t t0, double period_ns) {
  t0_ = t0;
  period_ = period_ns;
  next_ = 0;
  running_ = true;
  if (tfd_ >= 0 && !started_handles_) {
    uv_poll_start(&poll_, UV_READABLE, [](uv_poll_t* p, int, int) {
      auto* self = static_cast<Pacer*>(p->data);
      uint64_t expirations;
      while (::read(self->tfd_, &expirations, sizeof expirations) > 0) {
      }
      self->run();
    });
  }
  started_handles_ = true;
  arm(due_time(0));
}

void Pacer::stop() {
  running_ = false;
  if (closed_) return;
#if defined(__linux__)
  if (tfd_ >= 0) {
    itimerspec off{};
    timerfd_settime(tfd_, 0, &off, nullptr);
    return;
  }
#endif
  uv_timer_stop(&timer_);
}

void Pacer::close() {
  stop();
  if (closed_) return;
  closed_ = true;
  if (tfd_ >= 0)
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
  else
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void Pacer::run() {
  if (!running_) return;
  const uint64_t now = uv_hrtime();
  for (int n = 0; n < kMaxBurst && running_ && due_time(next_) <= now; ++n) fire_(owner_, next_++);
  if (running_) arm(due_time(next_));
}

void Pacer::arm(uint64_t at) {
#if defined(__linux__)
  if (tfd_ >= 0) {
    // An absolute expiry in the past fires at once.
    itimerspec when{};
    when.it_value.tv_sec = static_cast<time_t>(at / 1000000000);
    when.it_value.tv_nsec = static_cast<long>(at % 1000000000);
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1;
    timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &when, nullptr);
    return;
  }
#endif
  const uint64_t now = uv_hrtime();
  const uint64_t ms = at > now ? (at - now + 999999) / 1000000 : 0;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<Pacer*>(t->data)->run(); }, ms, 0);
}

}  // namespace wsload
