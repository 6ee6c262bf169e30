// `wsinspect proxy`: the event loop, signals, the built-in echo upstream.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/commands.h"
#include "proxy/echo_server.h"
#include "proxy/event_format.h"
#include "proxy/event_log.h"
#include "proxy/net/cert_authority.h"
#include "proxy/net/tls_context.h"
#include "proxy/proxy_server.h"
#include "proxy/taps/admin.h"
#include "proxy/taps/bracket.h"
#include "proxy/taps/capture.h"
#include "proxy/taps/connections.h"
#include "proxy/taps/metrics.h"

namespace wsi {
namespace {

struct SignalState {
  Server* server = nullptr;
  Server* back = nullptr;  // bracket mode's far-side listener
  EventLog* log = nullptr;
  KeyLogFile* keylog = nullptr;  // with --tls-keylog
  std::string keylog_path;
  CaptureFile* capture = nullptr;  // with --capture
  int count = 0;
  bool forced = false;
};

// SIGHUP: logrotate has renamed (or copied and truncated) the files; open
// each at its path again. A file that cannot be opened again is reported and
// the old one kept, so the proxy never stops over a rotation.
void on_hangup(uv_signal_t* h, int) {
  auto* st = static_cast<SignalState*>(h->data);
  std::vector<std::string> files;
  std::vector<EventLog::ReopenFailure> failed;
  std::string error;
  if (!st->log->path().empty()) {
    if (st->log->reopen(error))
      files.push_back(st->log->path());
    else
      failed.push_back({st->log->path(), error});
  }
  if (st->keylog) {
    if (st->keylog->reopen(error))
      files.push_back(st->keylog_path);
    else
      failed.push_back({st->keylog_path, error});
  }
  if (st->capture) {
    if (st->capture->reopen(error))
      files.push_back(st->capture->settings().path);
    else
      failed.push_back({st->capture->settings().path, error});
  }
  st->log->report_reopened(files, failed);
}

void on_signal(uv_signal_t* h, int signum) {
  auto* st = static_cast<SignalState*>(h->data);
  if (++st->count == 1) {
    st->server->begin_shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
    if (st->back) st->back->begin_shutdown(signum == SIGINT ? "SIGINT" : "SIGTERM");
  } else {
    // A second signal: end every session now; the loop then runs dry.
    st->forced = true;
    st->server->force_shutdown();
    if (st->back) st->back->force_shutdown();
  }
}

// The names a self-signed certificate is made for: the listen host, and for
// a wildcard or loopback listener the loopback names a client would type.
std::vector<std::string> self_signed_names(const std::string& listen) {
  std::string host;
  uint16_t port = 0;
  split_host_port(listen, host, port);
  const bool loopback = host == "0.0.0.0" || host == "::" || host == "localhost" ||
                        host == "127.0.0.1" || host == "::1";
  if (loopback) return {"localhost", "127.0.0.1", "::1"};
  return {host};
}

// TLS towards a wss:// upstream, with the --upstream-ca/-insecure/-cert/-key
// settings; `sni` overrides the name sent and checked (empty: the host's).
bool upstream_tls_for(const ProxyConfig& cfg, const UpstreamTarget& target, const std::string& sni,
                      KeyLogFile* keylog, Server::UpstreamTls& out, std::string& error) {
  out.ctx = TlsContext::for_upstream(
      {cfg.upstream_ca, cfg.upstream_insecure, cfg.upstream_cert, cfg.upstream_key}, keylog, error);
  if (!out.ctx) return false;
  // RFC 6066: no SNI for an address; the certificate must then name the address.
  out.sni = !sni.empty() ? sni : is_ip_literal(target.host) ? std::string() : target.host;
  out.verify_host = sni.empty() ? target.host : sni;
  return true;
}

// --log-digests: the shared secret, from the file or the environment.
bool load_digest_key(const ProxyConfig& cfg, std::unique_ptr<DigestKey>& key, std::string& error) {
  std::string secret;
  if (!read_digest_secret(cfg.digest_key_file, secret, error)) return false;
  if (secret.empty()) {
    error =
        "--log-digests needs a secret both vantage points share: --digest-key-file PATH (a file "
        "with the secret) or the environment variable WSINSPECT_DIGEST_KEY";
    return false;
  }
  key = std::make_unique<DigestKey>(secret);
  return true;
}

}  // namespace

int run_proxy(const ProxyConfig& cfg, std::ostream& err, const ProxyHooks& hooks) {
  std::signal(SIGPIPE, SIG_IGN);
  add_secret_headers(cfg.redact_headers);
  // Nothing is opened yet: the log file is created once the listener is bound.
  auto log = std::make_unique<EventLog>(cfg);

  std::string error;
  const bool builtin = cfg.upstream == "builtin:echo";
  UpstreamTarget target;
  if (!check_setting_relations(cfg, error) ||
      (!builtin && !cfg.forward && !parse_upstream(cfg.upstream, target, error))) {
    err << "wsinspect proxy: " << error << '\n';
    return 2;
  }
  // TLS contexts read their files now, before anything is bound or created.
  KeyLogFile keylog;
  KeyLogFile* keylog_ptr = cfg.tls_keylog.empty() ? nullptr : &keylog;
  std::unique_ptr<TlsContext> listener_tls;
  if (cfg.tls_self_signed || !cfg.tls_cert.empty()) {
    TlsListenSettings ls{cfg.tls_cert, cfg.tls_key, cfg.tls_self_signed, {}};
    if (cfg.tls_self_signed) ls.self_signed_names = self_signed_names(cfg.listen);
    listener_tls = TlsContext::for_listener(ls, keylog_ptr, error);
    if (!listener_tls) {
      err << "wsinspect proxy: " << error << '\n';
      return 1;
    }
  }
  Server::UpstreamTls upstream_tls;
  if (target.tls &&
      !upstream_tls_for(cfg, target, cfg.upstream_sni, keylog_ptr, upstream_tls, error)) {
    err << "wsinspect proxy: " << error << '\n';
    return 1;
  }
  Server::ForwardTls forward_tls;
  if (cfg.forward) {
    if (!cfg.ca_dir.empty()) {
      forward_tls.ca = CertAuthority::load(cfg.ca_dir, error);
      if (forward_tls.ca)
        forward_tls.intercept = TlsContext::for_interception(*forward_tls.ca, keylog_ptr, error);
      if (!forward_tls.intercept) {
        err << "wsinspect proxy: " << error << '\n';
        return 1;
      }
    }
    forward_tls.upstream = TlsContext::for_upstream(
        {cfg.upstream_ca, cfg.upstream_insecure, cfg.upstream_cert, cfg.upstream_key}, keylog_ptr,
        error);
    if (!forward_tls.upstream) {
      err << "wsinspect proxy: " << error << '\n';
      return 1;
    }
  }
  std::unique_ptr<DigestKey> digest_key;
  if (cfg.log_digests && !load_digest_key(cfg, digest_key, error)) {
    err << "wsinspect proxy: " << error << '\n';
    return 2;
  }
  // Bracket mode: the far side's listener relays to the real server.
  const bool bracket = !cfg.bracket_listen.empty();
  ProxyConfig back_cfg;
  UpstreamTarget back_target;
  Server::UpstreamTls back_tls;
  if (bracket) {
    back_cfg = cfg;
    back_cfg.listen = cfg.bracket_listen;
    back_cfg.upstream = cfg.bracket_upstream;
    if (!parse_upstream(back_cfg.upstream, back_target, error)) {
      err << "wsinspect proxy: --bracket-upstream: " << error << '\n';
      return 2;
    }
    // --upstream-sni names the main upstream only.
    if (back_target.tls && !upstream_tls_for(cfg, back_target, {}, keylog_ptr, back_tls, error)) {
      err << "wsinspect proxy: " << error << '\n';
      return 1;
    }
    if (!digest_key) digest_key = std::make_unique<DigestKey>(DigestKey::random());
  }
  std::vector<std::string> notes;
  if (!target.ignored_path.empty())
    notes.push_back("the path " + target.ignored_path +
                    " of the upstream URL is ignored: each request keeps the path the client "
                    "asked for");
  const bool rewrite_host = target.url && !cfg.keep_host && !is_ip_literal(target.host);

  // The loop only now: every return above is before anything libuv allocates.
  uv_loop_t loop;
  uv_loop_init(&loop);
  Server server(&loop, cfg, *log);
  server.set_digests(digest_key.get());
  uint64_t next_id = 1;
  std::unique_ptr<Server> back;
  std::unique_ptr<Bracket> brackets;
  if (bracket) {
    back = std::make_unique<Server>(&loop, back_cfg, *log);
    back->set_role("bracket");
    back->set_digests(digest_key.get());
    server.share_ids(&next_id);
    back->share_ids(&next_id);
    back->set_upstream(back_target.host, back_target.port, back_target.tls);
    back->set_tls(nullptr, std::move(back_tls));
    if (back_target.url && !cfg.keep_host && !is_ip_literal(back_target.host))
      back->set_host_rewrite(back_target.authority);
    HopCompareOptions hop;
    hop.window = cfg.bracket_window;
    hop.window_ms = cfg.bracket_window_ms;
    hop.name_a = "front";
    hop.name_b = "back";
    brackets = std::make_unique<Bracket>(&loop, hop, server.report());
    server.add_tap(brackets->front());
    back->add_tap(brackets->back());
  }
  EchoServer echo(&loop);
  if (builtin) {
    if (!echo.listen(error)) {
      err << "wsinspect proxy: " << error << '\n';
      echo.close();
      uv_run(&loop, UV_RUN_DEFAULT);
      uv_loop_close(&loop);
      return 1;
    }
    server.set_upstream("127.0.0.1", echo.port());
  } else if (!cfg.forward) {
    server.set_upstream(target.host, target.port, target.tls);
  }
  const bool intercepting = forward_tls.ca != nullptr;
  if (cfg.forward) server.set_forward_tls(std::move(forward_tls));
  server.set_tls(std::move(listener_tls), std::move(upstream_tls));
  // Never reach EMFILE (libuv would accept and drop clients unseen): the
  // connection limit follows from the descriptor limit.
  std::string fd_note;
  server.set_connection_limit(
      descriptor_connection_limit(cfg.max_connections, builtin ? 3 : 2, fd_note));
  notes.push_back(fd_note);
  if (rewrite_host) server.set_host_rewrite(target.authority);
  if (!server.listen(error) || (back && !back->listen(error))) {
    err << "wsinspect proxy: " << error << '\n';
    server.force_shutdown();
    if (back) back->force_shutdown();
    if (brackets) brackets->close();
    echo.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  // The files the proxy writes are created only now that it has started.
  CaptureFile capture;
  CaptureSettings capture_settings;
  if (!cfg.capture_file.empty()) {
    capture_settings.path = cfg.capture_file;
    capture_settings.max_size = cfg.capture_max_size;
    capture_settings.max_files = cfg.capture_max_files;
    capture_settings.path_prefix = cfg.capture_path;
    if (!cfg.capture_client.empty()) {
      CaptureNet net;
      parse_capture_net(cfg.capture_client, net, error);  // checked with the config
      capture_settings.client = net;
    }
  }
  if ((!cfg.capture_file.empty() && !capture.open(capture_settings, error)) ||
      (keylog_ptr && !keylog.open(cfg.tls_keylog, error)) || !log->open(error)) {
    err << "wsinspect proxy: " << error << '\n';
    server.force_shutdown();
    if (back) back->force_shutdown();
    if (brackets) brackets->close();
    echo.close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 1;
  }
  if (!cfg.capture_file.empty()) {
    server.set_capture(&capture);
    std::string what = "capturing both legs of ";
    what +=
        cfg.capture_path.empty() ? "every connection" : "connections to " + cfg.capture_path + "*";
    if (!cfg.capture_client.empty()) what += " from " + cfg.capture_client;
    what += " to " + cfg.capture_file + " (pcap, readable by its owner only: it holds secrets";
    what +=
        server.listener_tls() || server.upstream_tls().ctx ? "; the plaintext of TLS legs)" : ")";
    notes.push_back(what);
  }
  if (cfg.forward)
    notes.push_back(intercepting
                        ? "forward proxy: TLS after CONNECT is intercepted with the CA in " +
                              cfg.ca_dir
                        : "forward proxy: TLS after CONNECT is tunnelled without inspection "
                          "(give --ca DIR to intercept it)");
  // The admin endpoint: its counters and connection table are taps of the
  // main listener's events (in bracket mode the far side's are not counted).
  MetricsTap metrics(cfg.max_reports_per_rule);
  ConnectionTable connection_table(cfg.log_secrets);
  std::unique_ptr<AdminServer> admin;
  if (!cfg.admin_listen.empty()) {
    server.add_tap(metrics);
    server.add_tap(connection_table);
    admin = std::make_unique<AdminServer>(&loop, server, *log, metrics, connection_table);
    if (!admin->listen(cfg.admin_listen, error)) {
      err << "wsinspect proxy: " << error << '\n';
      admin->close();
      server.force_shutdown();
      if (back) back->force_shutdown();
      if (brackets) brackets->close();
      echo.close();
      uv_run(&loop, UV_RUN_DEFAULT);
      uv_loop_close(&loop);
      return 1;
    }
    notes.push_back("admin endpoint on http://" + admin->bound_address() +
                    "/ (/metrics, /healthz, /connections)");
  }
  const std::string upstream_name = builtin       ? std::string("builtin:echo")
                                    : cfg.forward ? std::string("forward")
                                                  : server.upstream_label();
  server.report_listening(upstream_name, notes);
  if (back)
    back->report_listening(back->upstream_label(),
                           {"bracket mode: point the intermediary here; its connections are "
                            "matched with those of " +
                            server.bound_address() + " and compared (hop_diff events)"});

  SignalState st;
  st.server = &server;
  st.back = back.get();
  st.log = log.get();
  st.keylog = keylog_ptr;
  st.keylog_path = cfg.tls_keylog;
  st.capture = cfg.capture_file.empty() ? nullptr : &capture;
  uv_signal_t sigint, sigterm, sighup;
  uv_signal_init(&loop, &sigint);
  uv_signal_init(&loop, &sigterm);
  uv_signal_init(&loop, &sighup);
  sigint.data = sigterm.data = sighup.data = &st;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_start(&sighup, on_hangup, SIGHUP);

  // Buffered log lines go out every few milliseconds, and the log budget
  // is refilled then; the timer does not keep the loop alive by itself.
  uv_timer_t flusher;
  uv_timer_init(&loop, &flusher);
  flusher.data = &server;
  uv_timer_start(
      &flusher, [](uv_timer_t* t) { static_cast<Server*>(t->data)->log_tick(); },
      EventLog::kFlushIntervalMs, EventLog::kFlushIntervalMs);
  uv_unref(reinterpret_cast<uv_handle_t*>(&flusher));

  int running = back ? 2 : 1;
  auto stopped = [&] {
    if (--running > 0) return;
    if (brackets) brackets->close();
    if (admin) admin->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&flusher), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sighup), nullptr);
    echo.close();
    if (hooks.on_stopped) hooks.on_stopped();
  };
  server.on_stopped = stopped;
  if (back) back->on_stopped = stopped;
  if (hooks.on_ready) hooks.on_ready(&loop, server);

  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  log->flush();
  return st.forced ? 3 : 0;
}

}  // namespace wsi
