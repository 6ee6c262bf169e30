#include "proxy/proxy_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstring>

#include "proxy/event_format.h"
#include "proxy/session.h"

namespace wsi {

uint64_t descriptor_connection_limit(uint64_t wanted, unsigned per_connection, std::string& note) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return wanted;
  const rlim_t before = lim.rlim_cur;
  const rlim_t cap = 1 << 20;  // an unlimited hard limit is still bounded by the kernel
  const rlim_t target = lim.rlim_max == RLIM_INFINITY ? std::max(before, cap) : lim.rlim_max;
  if (target > before) {
    rlimit raised = lim;
    raised.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim.rlim_cur = target;
  }
  const uint64_t fds = lim.rlim_cur;
  const uint64_t usable = fds > kDescriptorReserve ? fds - kDescriptorReserve : 0;
  const uint64_t by_fds = std::max<uint64_t>(1, usable / std::max(1u, per_connection));
  const uint64_t limit = std::min(wanted, by_fds);
  note = "descriptor limit " + std::to_string(fds) +
         (fds != before ? " (raised from " + std::to_string(before) + ")" : std::string()) +
         ": at most " + std::to_string(limit) + " concurrent connections (" +
         std::to_string(per_connection) + " descriptors each, " +
         std::to_string(kDescriptorReserve) + " reserved" +
         (limit < wanted ? "; --max-connections " + std::to_string(wanted) + " is lowered to it"
                         : std::string()) +
         "); more are refused with 503";
  return limit;
}

std::string format_address(const struct sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(in6, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

Server::Server(uv_loop_t* loop, const ProxyConfig& cfg, EventLog& log)
    : loop_(loop), cfg_(cfg), log_(log), read_buf_(new char[kReadBufferSize]) {
  conn_config_.inspect = cfg.inspect;
  conn_config_.max_message_size = cfg.max_message_size;
  conn_config_.max_reports_per_rule = cfg.max_reports_per_rule;
  conn_config_.preview = cfg.preview;
  max_connections_ = cfg.max_connections;
  log_.budget().refill(uv_now(loop_));  // starts the budget's clock
  make_format_sink();
}

void Server::log_tick() {
  log_.budget().refill(uv_now(loop_));
  report_log_dropped(false);
  log_.flush();
}

void Server::report_log_dropped(bool final) {
  LogBudget& budget = log_.budget();
  uint64_t window_ms = 0;
  if (const uint64_t n = budget.report_due(uv_now(loop_), final, window_ms))
    report_.on_log_dropped(n, budget.dropped(), window_ms, budget.lines_per_second());
}

void Server::make_format_sink() {
  ReportOptions opts;
  opts.show_secrets = cfg_.log_secrets;
  opts.color = log_.colored();
  opts.log_digests = cfg_.log_digests;
  opts.explain = cfg_.explain;
  opts.lang = cfg_.lang == LangChoice::pt_br ? Lang::pt_br
              : cfg_.lang == LangChoice::en  ? Lang::en
                                             : lang_from_environment();
  opts.only_problems = cfg_.only_problems;
  opts.only_path = cfg_.only_path;
  opts.only_client = cfg_.only_client;
  opts.only_rules = cfg_.only_rules;
  opts.idle_timeout_ms = cfg_.idle_timeout_ms;
  opts.handshake_timeout_ms = cfg_.handshake_timeout_ms;
  opts.http_inactivity_timeout_ms = cfg_.http_inactivity_timeout_ms;
  opts.upstream_label = upstream_label_;
  format_ = log_.json() ? make_json_sink(log_, opts) : make_text_sink(log_, opts);
  report_ = FanOutSink();
  report_.add(counts_);
  report_.add(*format_);
  for (ReportSink* t : taps_) report_.add(*t);
}

void Server::set_tls(std::unique_ptr<TlsContext> listener, UpstreamTls upstream) {
  listener_tls_ = std::move(listener);
  upstream_tls_ = std::move(upstream);
}

void Server::report_listening(std::string_view upstream_name,
                              const std::vector<std::string>& notes) {
  const std::string url = (listener_tls_ ? "wss://" : "ws://") + bound_ + "/";
  ListeningEvent e{bound_, upstream_name, url, cfg_.inspect};
  if (listener_tls_) {
    e.tls_fingerprint = listener_tls_->fingerprint();
    e.tls_names = &listener_tls_->names();
    e.tls_self_signed = cfg_.tls_self_signed;
  }
  e.upstream_insecure = upstream_tls_.ctx && !upstream_tls_.ctx->verifies_peer();
  e.host_rewrite = host_rewrite_;
  e.notes = &notes;
  e.role = role_;
  report_.on_listening(e);
}

Server::~Server() = default;

void Server::set_upstream(std::string host, uint16_t port, bool tls) {
  upstream_host_ = std::move(host);
  upstream_port_ = port;
  upstream_label_ = std::string(tls ? "wss://" : "") +
                    (upstream_host_.find(':') != std::string::npos ? "[" + upstream_host_ + "]"
                                                                   : upstream_host_) +
                    ":" + std::to_string(port);
  make_format_sink();
}

bool Server::listen(std::string& error) {
  std::string host;
  uint16_t port = 0;
  if (!split_host_port(cfg_.listen, host, port)) {
    error = "--listen " + cfg_.listen + ": expected HOST:PORT";
    return false;
  }
  sockaddr_storage addr{};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    if (host == "localhost") {
      uv_ip4_addr("127.0.0.1", port, reinterpret_cast<sockaddr_in*>(&addr));
    } else {
      error = "--listen " + cfg_.listen + ": the host must be an IP address (or localhost)";
      return false;
    }
  }
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  listening_ = true;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, on_connection);
  if (rc != 0) {
    error = "cannot listen on " + cfg_.listen + ": " + uv_strerror(rc);
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_ = format_address(reinterpret_cast<sockaddr*>(&bound));
  return true;
}

void Server::on_connection(uv_stream_t* listener, int status) {
  Server* self = static_cast<Server*>(listener->data);
  if (status < 0 || self->shutting_down_) return;
  Session* s = new Session(*self, (*self->next_id_ptr_)++);
  self->sessions_.insert(s);
  if (uv_accept(listener, s->client_stream()) != 0) {
    s->abort_before_start();
    return;
  }
  if (self->sessions_.size() - self->refusing_ > self->max_connections_) {
    self->refuse(s);
    return;
  }
  s->start();
}

// Over the limit: counted always, logged at most kRefusalLinesPerSecond
// times a second (a summary line gives the rest), answered with 503 while
// few refusals are in flight and closed at once beyond that, so refusals
// never hold more than kMaxRefusing descriptors.
void Server::refuse(Session* s) {
  const uint64_t now = uv_now(loop_);
  counts_.on_conn_refused({s->id(), now}, max_connections_);
  if (now / 1000 != refusal_second_) {
    refusal_second_ = now / 1000;
    refusal_lines_ = 0;
  }
  if (refusal_lines_ < kRefusalLinesPerSecond) {
    ++refusal_lines_;
    format_->on_conn_refused({s->id(), now}, max_connections_);
  } else {
    ++refusals_unlogged_;
    arm_refusal_summary();
  }
  refused_.insert(s);
  ++refusing_;
  if (refusing_ > kMaxRefusing)
    s->abort_before_start();
  else
    s->refuse(max_connections_);
}

void Server::arm_refusal_summary() {
  if (refusal_timer_open_) return;
  uv_timer_init(loop_, &refusal_timer_);
  refusal_timer_.data = this;
  refusal_timer_open_ = true;
  uv_timer_start(
      &refusal_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        if (self->refusals_unlogged_) {
          self->format_->on_refusal_summary(self->refusals_unlogged_, kRefusalSummaryMs);
          self->refusals_unlogged_ = 0;
        } else {
          self->refusal_timer_open_ = false;
          uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        }
      },
      kRefusalSummaryMs, kRefusalSummaryMs);
}

void Server::session_done(Session* s) {
  if (refused_.erase(s)) --refusing_;
  sessions_.erase(s);
  delete s;
  maybe_stop();
}

void Server::begin_shutdown(const char* signal_name) {
  if (shutting_down_) return;
  shutting_down_ = true;
  // The listener closes before the line is written: whoever reads the
  // shutdown event can rely on new clients being refused from then on.
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  report_.on_shutdown(signal_name, sessions_.size(), cfg_.drain_timeout_ms);
  if (sessions_.empty()) {
    maybe_stop();
    return;
  }
  if (cfg_.drain_timeout_ms == 0) return;  // no limit: wait for every session to end
  uv_timer_init(loop_, &drain_timer_);
  drain_timer_.data = this;
  drain_timer_open_ = true;
  uv_timer_start(&drain_timer_, on_drain_timer, cfg_.drain_timeout_ms, 0);
}

void Server::on_drain_timer(uv_timer_t* t) {
  Server* self = static_cast<Server*>(t->data);
  self->report_.on_drain_over(self->sessions_.size());
  self->end_sessions(self->cfg_.shutdown_close_frames ? Ending::close_frames : Ending::drain);
}

void Server::force_shutdown() {
  shutting_down_ = true;
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  end_sessions(Ending::now);
  maybe_stop();
}

void Server::end_sessions(Ending how) {
  // Ending a session frees nothing synchronously, but iterate over a copy anyway.
  std::vector<Session*> all(sessions_.begin(), sessions_.end());
  for (Session* s : all) {
    if (how == Ending::now)
      s->force_end();
    else
      s->shut_down(how == Ending::close_frames);
  }
  if (drain_timer_open_) {
    drain_timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  }
}

void Server::maybe_stop() {
  if (!shutting_down_ || !sessions_.empty() || stopped_) return;
  stopped_ = true;
  if (refusals_unlogged_) format_->on_refusal_summary(refusals_unlogged_, kRefusalSummaryMs);
  refusals_unlogged_ = 0;
  if (refusal_timer_open_) {
    refusal_timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&refusal_timer_), nullptr);
  }
  // The lines dropped since the last log_dropped, so that those lines add
  // up to the total in stopped.
  report_log_dropped(true);
  ProxyTotals totals = counts_.totals();
  totals.log_dropped = log_.budget().dropped();
  if (capture_) {
    capture_->flush();
    totals.capture = true;
    totals.capture_packets = capture_->packets();
    totals.capture_dropped = capture_->dropped();
  }
  report_.on_stopped(totals);
  if (drain_timer_open_) {
    drain_timer_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  }
  if (on_stopped) on_stopped();
}

}  // namespace wsi
