// libFuzzer target: the HTTP/1.1 wrapper (HttpParser) on arbitrary streams.
// Byte 0 picks the piece size (1..64); the rest is one stream, parsed once as
// requests and once as responses (to GET, HEAD and CONNECT, then GET).
// Oracles: feeding in pieces gives exactly the events, offsets, heads and
// errors that feeding whole gives; a head is reported where it ends; no feed
// consumes more than its piece, and need_more leaves nothing of it.
//
// The opening-handshake analysis is fuzzed where it runs, in the connection
// core: fuzz_connection.cpp checks its findings, details and negotiated
// values as well as the events.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "parser/http_parser.h"

namespace {

using Bytes = std::span<const uint8_t>;
constexpr size_t kWhole = static_cast<size_t>(-1);

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
  if (size < 1) return 0;
  const size_t piece = data[0] % 64 + 1;
  const Bytes in(data + 1, size - 1);
  for (const wsi::HttpMode mode : {wsi::HttpMode::request, wsi::HttpMode::response}) {
    if (run_http(mode, in, piece) != run_http(mode, in, kWhole)) std::abort();
  }
  return 0;
}
