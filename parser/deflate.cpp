#include "parser/deflate.h"

#include <zlib.h>

#include <cstring>

namespace wsi {
namespace {

constexpr uint8_t kTail[4] = {0x00, 0x00, 0xff, 0xff};
constexpr size_t kOutWindow = 16 * 1024;
thread_local uint8_t out_window[kOutWindow];

}  // namespace

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

MessageDeflater::MessageDeflater(uint8_t window_bits, bool no_context_takeover, int level)
    : window_bits_(window_bits), no_context_takeover_(no_context_takeover), level_(level) {}

MessageDeflater::~MessageDeflater() {
  release();
}

void MessageDeflater::release() {
  if (!stream_) return;
  deflateEnd(stream_);
  delete stream_;
  stream_ = nullptr;
}

bool MessageDeflater::ensure() {
  if (stream_) return true;
  stream_ = new z_stream{};
  // zlib refuses a raw 8-bit window; 9 keeps every distance under 256.
  const int bits = window_bits_ < 9 ? 9 : window_bits_ > 15 ? 15 : window_bits_;
  if (deflateInit2(stream_, level_, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    error_ = "zlib could not allocate a deflate state";
    delete stream_;
    stream_ = nullptr;
    return false;
  }
  return true;
}

bool MessageDeflater::run(const uint8_t* p, size_t n, int flush, std::string& out) {
  if (!ensure()) return false;
  stream_->next_in = const_cast<Bytef*>(p);
  stream_->avail_in = static_cast<uInt>(n);
  uint8_t buf[kOutWindow];
  for (;;) {
    stream_->next_out = buf;
    stream_->avail_out = sizeof buf;
    const int rc = deflate(stream_, flush);
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      error_ = stream_->msg ? stream_->msg : "deflate failed";
      release();
      return false;
    }
    const size_t got = sizeof buf - stream_->avail_out;
    if (got > 0) {
      // Give out everything but the last 4 bytes produced so far.
      const size_t total = held_len_ + got;
      const size_t give = total > sizeof held_ ? total - sizeof held_ : 0;
      const size_t from_held = give < held_len_ ? give : held_len_;
      out.append(reinterpret_cast<const char*>(held_), from_held);
      out.append(reinterpret_cast<const char*>(buf), give - from_held);
      uint8_t keep[sizeof held_];
      size_t k = 0;
      for (size_t i = from_held; i < held_len_; ++i) keep[k++] = held_[i];
      for (size_t i = give - from_held; i < got; ++i) keep[k++] = buf[i];
      std::memcpy(held_, keep, k);
      held_len_ = k;
    }
    // Done when zlib had room to spare: all input taken and all output out.
    if (stream_->avail_out != 0 && stream_->avail_in == 0) return true;
  }
}

bool MessageDeflater::feed(const uint8_t* p, size_t n, std::string& out) {
  if (n == 0) return true;
  return run(p, n, Z_NO_FLUSH, out);
}

bool MessageDeflater::end_message(std::string& out) {
  static const uint8_t none = 0;
  if (!run(&none, 0, Z_SYNC_FLUSH, out)) return false;
  // A sync flush always ends with an empty stored block: 00 00 ff ff.
  if (held_len_ != 4 || std::memcmp(held_, kTail, 4) != 0)
    out.append(reinterpret_cast<const char*>(held_), held_len_);
  held_len_ = 0;
  if (no_context_takeover_) release();
  return true;
}

}  // namespace wsi
