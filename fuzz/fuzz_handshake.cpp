// libFuzzer target: the opening-handshake analysis and the HTTP/1.1 wrapper on
// arbitrary exchanges. Bytes 0-1 (big-endian, modulo the rest's size + 1) pick
// where the rest splits into the client's and the server's stream; byte 2 the
// piece size (1..64).
// Oracles: feeding in pieces gives exactly what feeding whole gives (findings
// with offsets and details, consumed bytes, negotiated values, HttpParser
// events in both modes); details are printable ASCII and never hold a valid
// Sec-WebSocket-Key.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "parser/handshake.h"
#include "parser/http_parser.h"

namespace {

using Bytes = std::span<const uint8_t>;
constexpr size_t kWhole = static_cast<size_t>(-1);

const char* status_name(wsi::HandshakeStatus s) {
  switch (s) {
    case wsi::HandshakeStatus::need_more:
      return "more";
    case wsi::HandshakeStatus::done:
      return "done";
    case wsi::HandshakeStatus::malformed:
      return "malformed";
  }
  return "?";
}

template <class Feed, class Finish>
void drive(Bytes stream, size_t piece, Feed feed, Finish finish, std::string& log) {
  for (size_t at = 0; at < stream.size();) {
    const size_t n = std::min(piece, stream.size() - at);
    const wsi::HandshakeFeedResult r = feed(stream.subspan(at, n));
    if (r.status != wsi::HandshakeStatus::need_more) {
      if (r.consumed > n) std::abort();
      log += std::string(status_name(r.status)) + "@" + std::to_string(at + r.consumed) + ";";
      return;
    }
    if (r.consumed != n) std::abort();
    at += n;
  }
  log += std::string("eof:") + status_name(finish().status) + ";";
}

std::string run_analyzer(Bytes request, Bytes response, size_t piece) {
  wsi::HandshakeAnalyzer a;
  std::string log;
  drive(
      request, piece, [&](Bytes b) { return a.feed_request(b); },
      [&] { return a.finish_request(); }, log);
  drive(
      response, piece, [&](Bytes b) { return a.feed_response(b); },
      [&] { return a.finish_response(); }, log);
  const wsi::HandshakeRequest& rq = a.request();
  for (const wsi::Finding& f : a.findings()) {
    for (const char c : f.detail) {
      if (c < 0x20 || c > 0x7e) std::abort();
    }
    if (rq.key_valid && f.detail.find(rq.key) != std::string::npos) std::abort();
    log += std::to_string(static_cast<int>(f.rule)) + "@" + std::to_string(f.offset) + ":" +
           f.detail + ";";
  }
  const wsi::Negotiated& n = a.negotiated();
  const wsi::DeflateParams& d = n.deflate_params;
  log += rq.path + "|" + rq.host + "|" + rq.extensions_header + "|" +
         std::to_string(rq.is_websocket_upgrade) + std::to_string(rq.attempts_websocket) + "|" +
         std::to_string(n.status) + std::to_string(n.switched) + std::to_string(n.deflate) +
         std::to_string(d.server_no_context_takeover) +
         std::to_string(d.client_no_context_takeover) + std::to_string(d.server_max_window_bits) +
         "/" + std::to_string(d.client_max_window_bits) + "|" + n.subprotocol + "|" + n.extensions;
  if (d.server_max_window_bits < 8 || d.server_max_window_bits > 15) std::abort();
  if (d.client_max_window_bits < 8 || d.client_max_window_bits > 15) std::abort();
  return log;
}

std::string run_http(wsi::HttpMode mode, Bytes stream, size_t piece) {
  wsi::HttpParser p(mode, wsi::HttpLimits{.max_head_bytes = 4096, .max_headers = 32});
  p.expect_response_to("GET");
  p.expect_response_to("HEAD");
  p.expect_response_to("CONNECT");
  std::string log;
  auto note = [&](const wsi::HttpFeedResult& r) {
    log += std::string(wsi::http_event_name(r.event)) + "@" + std::to_string(p.offset());
    if (r.event == wsi::HttpEvent::head_complete) {
      const wsi::HttpHead& h = p.head();
      log += "(" + h.method + " " + h.target + " " + std::to_string(h.status) + " " +
             std::to_string(h.headers.size()) + " " + std::to_string(h.end_offset) + ")";
      if (h.end_offset != p.offset()) std::abort();
    }
    if (r.event == wsi::HttpEvent::error) log += "(" + p.error().name + ")";
    log += ";";
  };
  bool stopped = false;
  for (size_t at = 0; at < stream.size() && !stopped; at += piece) {
    Bytes rest = stream.subspan(at, std::min(piece, stream.size() - at));
    for (;;) {
      const wsi::HttpFeedResult r = p.feed(rest);
      if (r.consumed > rest.size()) std::abort();
      rest = rest.subspan(r.consumed);
      if (r.event == wsi::HttpEvent::need_more) {
        if (!rest.empty()) std::abort();
        break;
      }
      note(r);
      if (r.event == wsi::HttpEvent::error) {
        stopped = true;
        break;
      }
      // Go on as if the upgrade had been refused, to reach what follows.
      if (r.event == wsi::HttpEvent::upgrade && !p.resume_after_upgrade()) std::abort();
    }
  }
  while (!stopped) {
    const wsi::HttpFeedResult r = p.finish();
    if (r.event == wsi::HttpEvent::need_more) break;
    note(r);
    if (r.event == wsi::HttpEvent::error || r.event == wsi::HttpEvent::upgrade) break;
  }
  return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const Bytes in(data + 3, size - 3);
  const size_t cut = ((size_t{data[0]} << 8) | data[1]) % (in.size() + 1);
  const size_t piece = data[2] % 64 + 1;
  const Bytes request = in.first(cut);
  const Bytes response = in.subspan(cut);

  if (run_analyzer(request, response, piece) != run_analyzer(request, response, kWhole)) {
    std::abort();
  }
  for (const wsi::HttpMode mode : {wsi::HttpMode::request, wsi::HttpMode::response}) {
    if (run_http(mode, in, piece) != run_http(mode, in, kWhole)) std::abort();
  }
  const wsi::HandshakeReport report = wsi::analyze_handshake(request, response);
  if (report.request_consumed > request.size() || report.response_consumed > response.size()) {
    std::abort();
  }
  return 0;
}
