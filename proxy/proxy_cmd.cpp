// `wsinspect proxy`: the event loop, signals, the built-in echo upstream.
#include <csignal>
#include <iostream>
#include <memory>

#include "proxy/commands.h"
#include "proxy/echo_server.h"
#include "proxy/event_log.h"
#include "proxy/proxy_server.h"

namespace wsi {
namespace {

struct SignalState {
  Server* server = nullptr;
  int count = 0;
  bool forced = false;
};

void on_signal(uv_signal_t* h, int signum) {
  auto* st = static_cast<SignalState*>(h->data);
  if (++st->count == 1) {
    st->server->begin_shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
  } else {
    // A second signal: end every session now; the loop then runs dry.
    st->forced = true;
    st->server->force_shutdown();
  }
}

}  // namespace

int run_proxy(const ProxyConfig& cfg, std::ostream& err, const ProxyHooks& hooks) {
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<EventLog> log;
  try {
    log = std::make_unique<EventLog>(cfg);
  } catch (const std::exception& e) {
    err << "wsinspect proxy: cannot open the log: " << e.what() << '\n';
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  Server server(&loop, cfg, *log);

  EchoServer echo(&loop);
  std::string error;
  const bool builtin = cfg.upstream == "builtin:echo";
  if (builtin) {
    if (!echo.listen(error)) {
      err << "wsinspect proxy: " << error << '\n';
      return 1;
    }
    server.set_upstream("127.0.0.1", echo.port());
  } else {
    std::string host;
    uint16_t port = 0;
    if (!split_host_port(cfg.upstream, host, port)) {
      err << "wsinspect proxy: --upstream " << cfg.upstream << ": expected HOST:PORT\n";
      return 2;
    }
    server.set_upstream(host, port);
  }
  if (!server.listen(error)) {
    err << "wsinspect proxy: " << error << '\n';
    echo.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  server.report_listening(builtin ? std::string("builtin:echo") : server.upstream_label());

  SignalState st;
  st.server = &server;
  uv_signal_t sigint, sigterm;
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  sigint.data = sigterm.data = &st;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);

  // Buffered log lines go out every few milliseconds; the timer does not
  // keep the loop alive by itself.
  uv_timer_t flusher;
  uv_timer_init(&loop, &flusher);
  flusher.data = log.get();
  uv_timer_start(
      &flusher, [](uv_timer_t* t) { static_cast<EventLog*>(t->data)->flush(); },
      EventLog::kFlushIntervalMs, EventLog::kFlushIntervalMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&flusher));

  server.on_stopped = [&] {
    uv_close(reinterpret_cast<uv_handle_t*>(&flusher), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    echo.close();
    if (hooks.on_stopped) hooks.on_stopped();
  };
  if (hooks.on_ready) hooks.on_ready(&loop, server);

  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  log->flush();
  return st.forced ? 3 : 0;
}

}  // namespace wsi
