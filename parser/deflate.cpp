#include "parser/deflate.h"

#include <zlib.h>

#include <cstring>

#include "parser/handshake.h"

namespace wsi {
namespace {

constexpr uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};
constexpr size_t kOutWindow = 16 * 1024;
thread_local uint8_t out_window[kOutWindow];

bool parse_bits(const std::optional<std::string>& v, uint8_t& out) {
  if (!v || v->empty() || v->size() > 2) return false;
  int n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n < 8 || n > 15) return false;
  out = static_cast<uint8_t>(n);
  return true;
}

}  // namespace

bool parse_deflate_params(std::string_view text, DeflateParams& out, std::string& error) {
  // Reuse the Sec-WebSocket-Extensions grammar of the handshake analysis.
  HttpHead head;
  std::string value(text);
  if (value.rfind("permessage-deflate", 0) != 0)
    value = "permessage-deflate" + std::string(value.empty() ? "" : "; ") + value;
  head.headers.push_back({"Sec-WebSocket-Extensions", value, 0});
  const std::vector<Extension> exts = parse_extensions(head);
  if (exts.size() != 1 || exts[0].name != "permessage-deflate") {
    error = "expected one permessage-deflate parameter list";
    return false;
  }
  if (!exts[0].syntax_error.empty()) {
    error = exts[0].syntax_error;
    return false;
  }
  DeflateParams p;
  bool seen[4] = {false, false, false, false};
  for (const ExtensionParam& param : exts[0].params) {
    int which = -1;
    bool ok = true;
    if (param.name == "server_no_context_takeover") {
      which = 0;
      ok = !param.value;
      p.server_no_context_takeover = true;
    } else if (param.name == "client_no_context_takeover") {
      which = 1;
      ok = !param.value;
      p.client_no_context_takeover = true;
    } else if (param.name == "server_max_window_bits") {
      which = 2;
      ok = parse_bits(param.value, p.server_max_window_bits);
    } else if (param.name == "client_max_window_bits") {
      which = 3;
      ok = parse_bits(param.value, p.client_max_window_bits);
    } else {
      error = "unknown parameter '" + param.name + "'";
      return false;
    }
    if (seen[which]) {
      error = "parameter '" + param.name + "' given twice";
      return false;
    }
    seen[which] = true;
    if (!ok) {
      error = "bad value for '" + param.name +
              "' (the *_no_context_takeover parameters take "
              "none; window bits are 8 to 15)";
      return false;
    }
  }
  out = p;
  return true;
}

MessageInflater::MessageInflater(uint8_t window_bits, bool no_context_takeover)
    : window_bits_(window_bits), no_context_takeover_(no_context_takeover) {}

MessageInflater::~MessageInflater() {
  release();
}

void MessageInflater::release() {
  if (!stream_) return;
  inflateEnd(stream_);
  delete stream_;
  stream_ = nullptr;
}

void MessageInflater::begin_message() {
  produced_ = 0;
  stopped_ = false;
  error_.clear();
  if (broken_) {
    stopped_ = true;
    return;
  }
  if (stream_) return;  // context carries over
  stream_ = new z_stream{};
  // zlib's raw inflate takes 8 as 9: a window of 256 bytes is not supported,
  // and 9 accepts every stream a conforming 8-bit sender produces.
  const int bits = window_bits_ < 9 ? 9 : window_bits_;
  if (inflateInit2(stream_, -bits) != Z_OK) {
    error_ = "zlib could not allocate an inflate state";
    delete stream_;
    stream_ = nullptr;
    stopped_ = true;
  }
}

bool MessageInflater::run(const uint8_t* p, size_t n, Sink sink, void* ctx) {
  if (stopped_ || !stream_) return error_.empty();
  stream_->next_in = const_cast<Bytef*>(p);
  stream_->avail_in = static_cast<uInt>(n);
  do {
    stream_->next_out = out_window;
    stream_->avail_out = kOutWindow;
    const int rc = inflate(stream_, Z_SYNC_FLUSH);
    const size_t got = kOutWindow - stream_->avail_out;
    produced_ += got;
    if (got && !sink(ctx, out_window, got)) {
      stopped_ = true;
      return true;
    }
    if (rc == Z_STREAM_END) {
      // A final block (BFINAL) ends the stream: the sender reset its
      // compressor. Further input for this message would be an error.
      inflateReset(stream_);
      if (stream_->avail_in) continue;
      return true;
    }
    if (rc == Z_BUF_ERROR) return true;  // no progress possible: needs more input
    if (rc != Z_OK) {
      error_ = stream_->msg ? stream_->msg : "invalid DEFLATE data";
      stopped_ = true;
      if (!no_context_takeover_) broken_ = true;
      release();  // the window is unusable now
      return false;
    }
  } while (stream_->avail_in > 0 || stream_->avail_out == 0);
  return true;
}

bool MessageInflater::feed(const uint8_t* p, size_t n, Sink sink, void* ctx) {
  return run(p, n, sink, ctx);
}

bool MessageInflater::end_message(Sink sink, void* ctx) {
  const bool cut_short = stopped_;
  const bool ok = run(kTail, sizeof kTail, sink, ctx);
  if (!no_context_takeover_ && (cut_short || !ok)) broken_ = true;
  if (no_context_takeover_ || broken_) release();
  return ok;
}

}  // namespace wsi
