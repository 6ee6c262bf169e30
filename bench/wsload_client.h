// ClientRun: one client run on its own libuv loop. It opens the connections
// (a bounded number of connects and handshakes at a time), runs the scenario,
// closes every connection with a close handshake and reports.
//
// Phases: connecting -> load (warmup, then the measurement window) -> drain
// (waiting for echoes still in flight) -> closing -> done. A 10 ms
// housekeeping timer moves between them; what counts as "in the window" is
// decided by uv_hrtime() stamps, not by when the timer fires.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "bench/pacer.h"
#include "bench/wsload.h"
#include "bench/wsload_report.h"
#include "bench/wsload_tls.h"

namespace wsload {

class ClientConn;

class ClientRun {
 public:
  explicit ClientRun(const ClientOptions& o);
  ~ClientRun();
  int run();

  // For the connections.
  uv_loop_t* loop() { return &loop_; }
  const ClientOptions& opts() const { return o_; }
  ClientStats& stats() { return stats_; }
  Rng& rng() { return rng_; }
  std::vector<char>& read_buffer() { return read_buf_; }
  // --tls: the context of every connection, and where decrypted bytes go.
  const TlsConfig* tls() const { return tls_.get(); }
  const std::string& tls_name() const { return tls_name_; }
  std::vector<uint8_t>& plain_buffer() { return plain_buf_; }
  const std::vector<uint8_t>& payload() const { return payload_; }
  const Pacer& message_pacer() const { return *message_pacer_; }
  uint64_t slots() const { return by_slot_.size(); }
  bool in_window(uint64_t t) const { return t >= window_start_ && t < window_end_; }
  // New messages may be sent: the load phase, before the window ends.
  bool sending() const { return phase_ == Phase::load; }
  void settled(ClientConn* c, bool established);
  void closed();

 private:
  enum class Phase : uint8_t { connecting, load, drain, closing, done };
  static void on_tick(uv_timer_t* t);
  void connect_more();
  void start_load();
  void tick();
  void begin_close();

  const ClientOptions& o_;
  uv_loop_t loop_{};
  uv_timer_t tick_{};
  sockaddr_storage addr_{};
  ClientStats stats_;
  Rng rng_;
  std::vector<char> read_buf_;
  std::unique_ptr<TlsConfig> tls_;
  std::string tls_name_;
  std::vector<uint8_t> plain_buf_;
  std::vector<uint8_t> payload_;
  std::unique_ptr<Pacer> message_pacer_;
  std::unique_ptr<Pacer> ping_pacer_;
  std::vector<std::unique_ptr<ClientConn>> conns_;
  std::vector<ClientConn*> by_slot_;  // established connections
  Phase phase_ = Phase::connecting;
  size_t next_ = 0;  // the next connection to open
  uint32_t in_progress_ = 0;
  size_t settled_ = 0;
  size_t closed_ = 0;
  bool in_connect_more_ = false;
  uint64_t ticks_ = 0;
  uint64_t connect_start_ = 0;
  uint64_t window_start_ = UINT64_MAX;
  uint64_t window_end_ = UINT64_MAX;
  uint64_t deadline_ = 0;  // of the drain or closing phase
};

}  // namespace wsload
