// wsload client: ClientRun (see wsload_client.h).
#include "bench/wsload_client.h"

#include <csignal>
#include <cstdio>
#include <random>
#include <string>

#include "bench/wsload_conn.h"

namespace wsload {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kHandshakeTimeout = 10000 * kMs;
constexpr uint64_t kDrainTimeout = 2000 * kMs;
constexpr uint64_t kCloseTimeout = 3000 * kMs;
// Over TLS a close costs records both ways and close_notify: 1 ms more per connection.
constexpr uint64_t kTlsCloseTimeoutPerConnection = kMs;

uint64_t seconds_to_ns(double s) {
  return static_cast<uint64_t>(s * 1e9);
}

}  // namespace

ClientRun::ClientRun(const ClientOptions& o)
    : o_(o),
      rng_(std::random_device{}() | (uint64_t{std::random_device{}()} << 32)),
      read_buf_(256 * 1024) {
  uv_loop_init(&loop_);
  message_pacer_ = std::make_unique<Pacer>(&loop_, this, [](void* self, uint64_t j) {
    auto* r = static_cast<ClientRun*>(self);
    r->by_slot_[j % r->by_slot_.size()]->due();
  });
  ping_pacer_ = std::make_unique<Pacer>(&loop_, this, [](void* self, uint64_t j) {
    auto* r = static_cast<ClientRun*>(self);
    r->by_slot_[j % r->by_slot_.size()]->send_ping(r->ping_pacer_->due_time(j));
  });
}

ClientRun::~ClientRun() {
  conns_.clear();
  message_pacer_.reset();
  ping_pacer_.reset();
  uv_loop_close(&loop_);
}

int ClientRun::run() {
  std::string error;
  if (!resolve(&loop_, o_.target, addr_, error)) {
    std::fprintf(stderr, "wsload: %s\n", error.c_str());
    return 1;
  }
  if (o_.tls) {
    tls_ = TlsConfig::client(o_.tls_ca, error);
    if (!tls_) {
      std::fprintf(stderr, "wsload: %s\n", error.c_str());
      return 1;
    }
    tls_name_ = o_.tls_name.empty() ? o_.target.host : o_.tls_name;
    plain_buf_.resize(read_buf_.size());
  }
  if (!o_.idle) payload_ = make_payload(o_.kind, o_.size);
  conns_.reserve(o_.connections);
  for (uint32_t i = 0; i < o_.connections; ++i)
    conns_.push_back(std::make_unique<ClientConn>(*this, i));
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, on_tick, 10, 10);
  connect_start_ = uv_hrtime();
  connect_more();
  uv_run(&loop_, UV_RUN_DEFAULT);

  print_report(o_, stats_, message_pacer_->precise());
  if (stats_.established == 0) {
    std::fprintf(stderr, "wsload: no connection to %s:%u was established: %s\n",
                 o_.target.host.c_str(), o_.target.port, stats_.first_error.c_str());
    return 1;
  }
  if (stats_.errors() > o_.max_errors) {
    std::fprintf(stderr, "wsload: %llu errors (more than --max-errors %llu); first: %s\n",
                 static_cast<unsigned long long>(stats_.errors()),
                 static_cast<unsigned long long>(o_.max_errors), stats_.first_error.c_str());
    return 1;
  }
  return 0;
}

void ClientRun::connect_more() {
  if (in_connect_more_) return;  // a connect that failed at once: the loop below goes on
  in_connect_more_ = true;
  while (in_progress_ < o_.connect_concurrency && next_ < conns_.size()) {
    ++in_progress_;
    conns_[next_++]->connect(reinterpret_cast<const sockaddr*>(&addr_));
  }
  in_connect_more_ = false;
  if (phase_ != Phase::connecting || settled_ < conns_.size()) return;
  // Every connection is established or has failed.
  stats_.established = by_slot_.size();
  stats_.connect_phase_s = static_cast<double>(uv_hrtime() - connect_start_) / 1e9;
  std::fprintf(stderr, "wsload: %llu of %u connections established in %.3f s\n",
               static_cast<unsigned long long>(stats_.established), o_.connections,
               stats_.connect_phase_s);
  if (by_slot_.empty()) {
    phase_ = Phase::closing;
    deadline_ = uv_hrtime() + kCloseTimeout;
    return;
  }
  start_load();
}

void ClientRun::settled(ClientConn* c, bool established) {
  --in_progress_;
  ++settled_;
  if (established) by_slot_.push_back(c);
  connect_more();
}

void ClientRun::closed() {
  ++closed_;
}

void ClientRun::start_load() {
  phase_ = Phase::load;
  const uint64_t now = uv_hrtime();
  window_start_ = now + seconds_to_ns(o_.warmup_s);
  window_end_ = window_start_ + seconds_to_ns(o_.duration_s);
  stats_.window_s = o_.duration_s;
  if (o_.idle)
    std::fprintf(stderr, "wsload: holding %zu connections for %.1f s\n", by_slot_.size(),
                 o_.warmup_s + o_.duration_s);
  for (uint32_t i = 0; i < by_slot_.size(); ++i) {
    if (by_slot_[i]->open()) by_slot_[i]->start_load(i);
  }
  const double n = static_cast<double>(by_slot_.size());
  if (o_.rate > 0 && !o_.idle && o_.direction != Direction::s2c)
    message_pacer_->start(now + kMs, 1e9 / (o_.rate * n));
  if (o_.ping_interval_s > 0) ping_pacer_->start(now + kMs, o_.ping_interval_s * 1e9 / n);
}

void ClientRun::on_tick(uv_timer_t* t) {
  static_cast<ClientRun*>(t->data)->tick();
}

void ClientRun::tick() {
  const uint64_t now = uv_hrtime();
  ++ticks_;
  if (phase_ == Phase::connecting && ticks_ % 10 == 0) {
    for (size_t i = 0; i < next_; ++i) {
      ClientConn& c = *conns_[i];
      if (c.connecting() && now - c.started() > kHandshakeTimeout) c.timeout();
    }
  }
  if (phase_ == Phase::load && now >= window_end_) {
    message_pacer_->stop();
    ping_pacer_->stop();
    phase_ = Phase::drain;
    deadline_ = now + kDrainTimeout;
  }
  if (phase_ == Phase::drain) {
    bool drained = true;
    if (o_.direction == Direction::both && !o_.idle) {
      for (ClientConn* c : by_slot_) drained = drained && (!c->open() || c->outstanding() == 0);
    }
    if (drained || now >= deadline_) begin_close();
  }
  if (phase_ == Phase::closing) {
    if (closed_ == conns_.size()) {
      phase_ = Phase::done;
      uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
      message_pacer_->close();
      ping_pacer_->close();
    } else if (now >= deadline_) {
      for (auto& c : conns_) {
        if (c->done()) continue;
        stats_.error(&ClientStats::close_timeouts, "no close handshake in time");
        c->abort();
      }
    }
  }
}

void ClientRun::begin_close() {
  for (ClientConn* c : by_slot_) {
    if (!c->open()) continue;
    if (o_.direction == Direction::both && !o_.idle && c->outstanding() > 0) {
      stats_.lost += c->outstanding();
      if (stats_.first_error.empty())
        stats_.first_error = std::to_string(c->outstanding()) + " echoes missing at the end";
    }
    stats_.backlog_at_end += c->backlog();
  }
  phase_ = Phase::closing;
  deadline_ =
      uv_hrtime() + kCloseTimeout + (tls_ ? kTlsCloseTimeoutPerConnection * by_slot_.size() : 0);
  for (ClientConn* c : by_slot_) c->begin_close();
}

int run_client(const ClientOptions& opts) {
  raise_nofile_limit();
  std::signal(SIGPIPE, SIG_IGN);
  wsi::websocket_accept("warm up OpenSSL before timing handshakes");
  ClientRun run(opts);
  return run.run();
}

}  // namespace wsload
