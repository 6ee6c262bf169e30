// libFuzzer target: TLS records from a client, as the listener's TLS layer
// (TlsTransport, server role) takes them, over a real TcpTransport on one end
// of a socketpair, so the server's records and its 400 answer are written
// for real. The contexts are the proxy's own, made at start: the listener's
// with a self-signed certificate, and the forward proxy's interception
// context with a CA made and loaded at start (every leaf is signed for the
// SNI the input sends).
//
// Input:
//   byte 0   options: bit 0 interception context (else self-signed);
//            bit 1 an OpenSSL client completes a handshake first;
//            bit 2 (with bit 1) the rest is raw records after the handshake,
//            else application data the client encrypts;
//            bits 3-4 the end: 0 none (the handshake times out if pending),
//            1 close_notify then FIN, 2 TCP FIN;
//            bits 5-6 the handler's read limit (unlimited, 1, 7, 1000 bytes);
//            bit 7 the handler stops reading after each read
//   byte 1   seed of where the bytes are cut into the pieces fed to TLS
//            (and, for application data, into the client's writes)
//   then     the client's bytes
//
// Oracle: a handshake ends exactly once, completed or failed; a failure is
// explained (an id and an explanation, formatted by the JSON sink as one
// JSON object), plain HTTP is answered with 400; after a handshake, the
// handler receives exactly the application bytes the client wrote, however
// the records were cut and however it reads, then one end: close_notify
// when the client sent it, a truncation on a bare FIN.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <nlohmann/json.hpp>

#include "proxy/net/cert_authority.h"
#include "proxy/net/tcp_transport.h"
#include "proxy/net/tls_context.h"
#include "proxy/net/tls_transport.h"
#include "proxy/report/report_sink.h"

namespace {

using wsi::StreamEnd;
using wsi::TlsTransport;
using wsi::Transport;

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fuzz_tls: %s\n%s\n", what, detail.c_str());
  std::abort();
}

namespace opt {
constexpr uint8_t intercept = 0x01;
constexpr uint8_t handshake = 0x02;
constexpr uint8_t raw_after = 0x04;
constexpr int kEndShift = 3;
constexpr int kLimitShift = 5;
constexpr uint8_t pause = 0x80;
}  // namespace opt

enum class End : uint8_t { none, close_notify, fin };

struct World {
  uv_loop_t loop;
  char read_buf[64 * 1024];
  std::unique_ptr<wsi::CertAuthority> ca;
  std::unique_ptr<wsi::TlsContext> listener;
  std::unique_ptr<wsi::TlsContext> intercept;
  std::unique_ptr<wsi::TlsContext> client;

  World() {
    if (uv_loop_init(&loop) != 0) fail("uv_loop_init");
    std::string error;
    wsi::TlsListenSettings s;
    s.self_signed = true;
    s.self_signed_names = {"localhost", "127.0.0.1", "::1"};
    listener = wsi::TlsContext::for_listener(s, nullptr, error);
    if (!listener) fail("listener context", error);
    // The CA lives on disk only while it is made and loaded.
    char dir[] = "/tmp/fuzz_tls_ca.XXXXXX";
    if (!mkdtemp(dir)) fail("mkdtemp");
    if (!wsi::create_ca(dir, error)) fail("create_ca", error);
    ca = wsi::CertAuthority::load(dir, error);
    std::filesystem::remove_all(dir);
    if (!ca) fail("CertAuthority::load", error);
    intercept = wsi::TlsContext::for_interception(*ca, nullptr, error);
    if (!intercept) fail("interception context", error);
    wsi::TlsUpstreamSettings u;
    u.insecure = true;
    client = wsi::TlsContext::for_upstream(u, nullptr, error);
    if (!client) fail("client context", error);
  }
};

World& world() {
  static World w;
  return w;
}

// Where bytes are cut: a small generator seeded from the input.
struct Cuts {
  uint32_t state;
  size_t max;  // 0: whole
  explicit Cuts(uint8_t seed) : state(seed * 2654435761u + 1), max(seed % 5 == 0 ? 0 : seed % 97) {}
  size_t next(size_t left) {
    if (max == 0) return left;
    state = state * 1103515245u + 12345u;
    const size_t n = 1 + (state >> 16) % max;
    return n < left ? n : left;
  }
};

class Handler final : public wsi::TransportHandler {
 public:
  TlsTransport* tls = nullptr;
  size_t limit = SIZE_MAX;
  bool pause = false;
  int connected = 0;  // on_connected calls with a final status
  int status = 0;
  std::string received;
  int ends = 0;
  StreamEnd how = StreamEnd::fin;
  size_t received_at_end = 0;
  bool closed = false;

  void on_connected(Transport&, int s) override {
    if (s == wsi::kTransportHandshaking) return;
    ++connected;
    status = s;
    if (s == 0 && tls) tls->start_reading();
  }
  void on_read(Transport& t, std::span<const uint8_t> bytes) override {
    if (ends) fail("bytes after the end");
    if (bytes.size() > limit) fail("a read larger than the read limit");
    received.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (pause) t.stop_reading();
  }
  void on_end(Transport&, StreamEnd h, int) override {
    ++ends;
    how = h;
    received_at_end = received.size();
  }
  void on_closed(Transport&) override { closed = true; }
  size_t read_limit(const Transport&) const override { return limit; }
};

// What the server wrote to the client so far.
std::string drain(int fd) {
  std::string out;
  char buf[16 * 1024];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

void feed(TlsTransport& tls, Handler& h, const std::string& bytes, Cuts& cuts) {
  for (size_t at = 0; at < bytes.size() && h.status == 0 && h.ends == 0;) {
    const size_t n = cuts.next(bytes.size() - at);
    tls.feed_records({reinterpret_cast<const uint8_t*>(bytes.data()) + at, n});
    at += n;
    if (h.pause && h.connected) tls.start_reading();
  }
}

// Moves the client's pending records to `out`.
void take(BIO* wbio, std::string& out) {
  char buf[16 * 1024];
  for (int n; (n = BIO_read(wbio, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
}

class LineSink final : public wsi::LineOut {
 public:
  std::vector<std::string> lines;
  bool enabled(wsi::EventLevel) const override { return true; }
  void write(wsi::EventLevel, const std::string& line) override { lines.push_back(line); }
};

void check_failure(const TlsTransport& tls) {
  const wsi::TlsFailure& f = tls.failure();
  if (f.id.empty() || f.explanation.empty()) fail("a failed handshake without an explanation");
  LineSink out;
  wsi::ReportOptions ro;
  const std::unique_ptr<wsi::ReportSink> json = wsi::make_json_sink(out, ro);
  json->on_tls_error({1, 0}, {"client", f});
  for (const std::string& line : out.lines) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail("a tls_error line is not a JSON object", line);
  }
}

void run(const uint8_t* data, size_t size) {
  World& w = world();
  const uint8_t options = size > 0 ? data[0] : 0;
  Cuts cuts(size > 1 ? data[1] : 0);
  const std::string payload(reinterpret_cast<const char*>(data) + (size > 2 ? 2 : size),
                            size > 2 ? size - 2 : 0);
  const End end = static_cast<End>((options >> opt::kEndShift) & 3);
  static const size_t kLimits[] = {SIZE_MAX, 1, 7, 1000};

  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    fail("socketpair");
  Handler h;
  h.limit = kLimits[(options >> opt::kLimitShift) & 3];
  h.pause = options & opt::pause;
  const wsi::ReadBuffer buf{w.read_buf, sizeof w.read_buf};
  wsi::TcpTransport tcp(&w.loop, buf, h);
  tcp.init();
  if (uv_tcp_open(tcp.tcp(), fds[0]) != 0) fail("uv_tcp_open");
  {
    const wsi::TlsContext& ctx = (options & opt::intercept) ? *w.intercept : *w.listener;
    TlsTransport tls(tcp, ctx, wsi::TlsRole::server, buf, h);
    h.tls = &tls;
    tls.set_fallback_name("fallback.example");
    tls.start_server();

    std::string sent_app;  // what the client encrypted
    bool client_done = false;
    SSL* client = nullptr;
    BIO* c_in = nullptr;
    BIO* c_out = nullptr;
    if (options & opt::handshake) {
      client = SSL_new(w.client->ctx());
      c_in = BIO_new(BIO_s_mem());
      c_out = BIO_new(BIO_s_mem());
      SSL_set_bio(client, c_in, c_out);
      SSL_set_connect_state(client);
      SSL_set_tlsext_host_name(client, "localhost");
      for (int round = 0; round < 8 && !(client_done && h.connected); ++round) {
        ERR_clear_error();
        client_done = SSL_do_handshake(client) == 1;
        std::string records;
        take(c_out, records);
        feed(tls, h, records, cuts);
        uv_run(&w.loop, UV_RUN_NOWAIT);
        const std::string answer = drain(fds[1]);
        BIO_write(c_in, answer.data(), static_cast<int>(answer.size()));
      }
      if (!client_done || h.connected != 1 || h.status != 0)
        fail("an OpenSSL client could not complete a handshake", tls.failure().reason);
      if (tls.summary().version.empty() || tls.summary().cipher.empty())
        fail("a completed handshake without its summary");
      std::string records;
      if (options & opt::raw_after) {
        records = payload;
      } else {
        for (size_t at = 0; at < payload.size();) {
          const size_t n = cuts.next(payload.size() - at);
          size_t written = 0;
          if (SSL_write_ex(client, payload.data() + at, n, &written) != 1 || written != n)
            fail("the client cannot write");
          at += n;
        }
        sent_app = payload;
        take(c_out, records);
      }
      if (end == End::close_notify) {
        SSL_shutdown(client);
        take(c_out, records);
      }
      feed(tls, h, records, cuts);
    } else {
      feed(tls, h, payload, cuts);
      if (!payload.empty() && payload[0] >= 'A' && payload[0] <= 'Z') {
        if (tls.failure().id != "plain-http-to-tls-listener")
          fail("plain HTTP not recognised", tls.failure().id);
        if (drain(fds[1]).rfind("HTTP/1.1 400 ", 0) != 0) fail("plain HTTP got no 400");
      }
    }

    // A handler that paused takes what waits decrypted, one read at a time.
    for (size_t before = SIZE_MAX; h.pause && h.connected && before != h.received.size();) {
      before = h.received.size();
      tls.start_reading();
    }
    if (end != End::none) shutdown(fds[1], SHUT_WR);
    for (int i = 0; i < 4 && h.ends == 0 && !(h.connected && h.status != 0); ++i) {
      if (h.pause && h.connected) tls.start_reading();
      uv_run(&w.loop, UV_RUN_NOWAIT);
    }
    if (!tls.handshake_done() && h.connected == 0) {
      if (end != End::none) fail("the stream ended and the handshake neither completed nor failed");
      tls.fail_timeout();
      if (tls.failure().id != "client-tls-handshake-timeout")
        fail("a timed-out handshake not explained as one", tls.failure().id);
    }
    if (h.connected != 1) fail("the handshake ended other than once", std::to_string(h.connected));
    if (h.status != 0) check_failure(tls);

    if (client && !(options & opt::raw_after)) {
      if (h.received != sent_app)
        fail("the application bytes received differ from those sent",
             std::to_string(h.received.size()) + " of " + std::to_string(sent_app.size()));
      if (end == End::close_notify && (h.ends != 1 || !tls.close_notify_received()))
        fail("close_notify not reported as the end");
      if (end == End::fin && (h.ends != 1 || !tls.truncated() || h.how != StreamEnd::fin))
        fail("a FIN without close_notify not reported as a truncation");
    }
    if (h.ends > 1) fail("more than one end");
    if (h.ends && h.received_at_end != h.received.size()) fail("bytes after the end");

    tls.close(false);
    close(fds[1]);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    if (!h.closed) fail("the transport did not close");
    SSL_free(client);
    ERR_clear_error();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size);
  return 0;
}
