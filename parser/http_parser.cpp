#include "parser/http_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cstddef>

namespace wsi {
namespace {

// llhttp wants a valid pointer even for an empty piece.
constexpr char kEmpty[1] = {0};

constexpr int kPaused = HPE_PAUSED;
constexpr int kUserError = HPE_USER;
// on_headers_complete: "no body", and "no body, then HPE_PAUSED_UPGRADE".
constexpr int kSkipBody = 1;
constexpr int kSkipBodyAndUpgrade = 2;

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

void trim_ows(std::string& s) {
  size_t end = s.size();
  while (end > 0 && is_ows(s[end - 1])) --end;
  size_t begin = 0;
  while (begin < end && is_ows(s[begin])) ++begin;
  s.erase(end);
  s.erase(0, begin);
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view http_event_name(HttpEvent event) {
  switch (event) {
    case HttpEvent::need_more:
      return "need_more";
    case HttpEvent::head_complete:
      return "head_complete";
    case HttpEvent::message_complete:
      return "message_complete";
    case HttpEvent::upgrade:
      return "upgrade";
    case HttpEvent::error:
      return "error";
  }
  return "?";
}

const HttpHeader* HttpHead::find(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

size_t HttpHead::count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(
      headers.begin(), headers.end(), [&](const HttpHeader& h) { return iequals(h.name, name); }));
}

// The llhttp callbacks. llhttp's `data` points at the HttpParser. Data
// callbacks may see any part of a span; the *_complete callbacks close them.
struct HttpParserCallbacks {
  static HttpParser& self(llhttp_t* p) { return *static_cast<HttpParser*>(p->data); }

  static int on_message_begin(llhttp_t* p) {
    self(p).begin_message();
    return 0;
  }

  static int on_method(llhttp_t* p, const char* at, size_t n) {
    HttpParser& s = self(p);
    if (!s.start_seen_) {
      s.start_seen_ = true;
      s.head_.start_offset = s.abs_offset(at);
    }
    if (!s.charge(at, n)) return kUserError;
    s.head_.method.append(at, n);
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, size_t n) {
    HttpParser& s = self(p);
    if (!s.charge(at, n)) return kUserError;
    s.head_.target.append(at, n);
    return 0;
  }

  // The span holds the digits after "HTTP/", in a request line and a status line alike.
  static int on_version(llhttp_t* p, const char* at, size_t n) {
    HttpParser& s = self(p);
    if (!s.version_seen_) {
      s.version_seen_ = true;
      s.head_.version_offset = s.abs_offset(at) - 5;
      if (!s.start_seen_) {
        s.start_seen_ = true;
        s.head_.start_offset = s.head_.version_offset;
      }
    }
    return s.charge(at, n) ? 0 : kUserError;
  }

  static int on_status(llhttp_t* p, const char* at, size_t n) {
    HttpParser& s = self(p);
    if (!s.charge(at, n)) return kUserError;
    s.head_.reason.append(at, n);
    return 0;
  }

  static int on_header_field(llhttp_t* p, const char* at, size_t n) {
    HttpParser& s = self(p);
    std::vector<HttpHeader>& list = s.header_list();
    if (!s.field_open_) {
      if (s.head_.headers.size() + s.trailers_.size() >= s.limits_.max_headers) {
        s.limit_offset_ = s.abs_offset(at);
        llhttp_set_error_reason(p, "too many header fields");
        return kUserError;
      }
      list.push_back({{}, {}, s.abs_offset(at)});
      s.field_open_ = true;
    }
    if (!s.charge(at, n)) return kUserError;
    list.back().name.append(at, n);
    return 0;
  }

  static int on_header_field_complete(llhttp_t* p) {
    self(p).field_open_ = false;
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, size_t n) {
    HttpParser& s = self(p);
    std::vector<HttpHeader>& list = s.header_list();
    if (!s.charge(at, n)) return kUserError;
    if (!list.empty()) list.back().value.append(at, n);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    std::vector<HttpHeader>& list = self(p).header_list();
    if (!list.empty()) trim_ows(list.back().value);
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    HttpParser& s = self(p);
    s.headers_done_ = true;
    s.field_open_ = false;
    s.head_.http_major = llhttp_get_http_major(p);
    s.head_.http_minor = llhttp_get_http_minor(p);
    s.head_.keep_alive = llhttp_should_keep_alive(p) != 0;
    if (s.mode_ == HttpMode::request) {
      s.pause_ = HttpParser::Pause::head;
      return kPaused;
    }

    const int status = llhttp_get_status_code(p);
    s.head_.status = static_cast<uint16_t>(status);
    // An interim 1xx answers no request; 101 is final for HTTP on this connection.
    const bool interim = status >= 100 && status < 200 && status != 101;
    HttpParser::RequestKind kind = HttpParser::RequestKind::other;
    if (!interim && !s.requests_.empty()) {
      kind = s.requests_.front();
      s.requests_.pop_front();
    }
    // These messages end at their head, which is then reported when they end:
    // llhttp cannot both pause here and be told to skip the body.
    if (status == 101) return kSkipBodyAndUpgrade;
    if (kind == HttpParser::RequestKind::connect && status / 100 == 2) return kSkipBodyAndUpgrade;
    if (kind == HttpParser::RequestKind::head) return kSkipBody;
    s.pause_ = HttpParser::Pause::head;
    return kPaused;
  }

  static int on_body(llhttp_t* p, const char*, size_t n) {
    self(p).body_bytes_ += n;
    return 0;
  }

  static int on_message_complete(llhttp_t* p) {
    HttpParser& s = self(p);
    ++s.messages_;
    s.head_.keep_alive = llhttp_should_keep_alive(p) != 0;
    s.pause_ = HttpParser::Pause::message;
    // For an upgrade llhttp stops by itself, with HPE_PAUSED_UPGRADE, right here.
    return llhttp_get_upgrade(p) != 0 ? 0 : kPaused;
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t instance = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);
      st.on_message_begin = on_message_begin;
      st.on_method = on_method;
      st.on_url = on_url;
      st.on_version = on_version;
      st.on_status = on_status;
      st.on_header_field = on_header_field;
      st.on_header_field_complete = on_header_field_complete;
      st.on_header_value = on_header_value;
      st.on_header_value_complete = on_header_value_complete;
      st.on_headers_complete = on_headers_complete;
      st.on_body = on_body;
      st.on_message_complete = on_message_complete;
      return st;
    }();
    return instance;
  }
};

HttpParser::HttpParser(HttpMode mode, HttpLimits limits)
    : mode_(mode), limits_(limits), parser_(std::make_unique<llhttp_t>()) {
  llhttp_init(parser_.get(), mode == HttpMode::request ? HTTP_REQUEST : HTTP_RESPONSE,
              &HttpParserCallbacks::settings());
  parser_->data = this;
}

HttpParser::~HttpParser() = default;

void HttpParser::begin_message() {
  head_ = HttpHead{};
  trailers_.clear();
  body_bytes_ = 0;
  head_bytes_ = 0;
  field_open_ = false;
  headers_done_ = false;
  head_reported_ = false;
  start_seen_ = false;
  version_seen_ = false;
}

uint64_t HttpParser::abs_offset(const char* at) const {
  return piece_offset_ + static_cast<uint64_t>(at - piece_);
}

bool HttpParser::charge(const char* at, size_t n) {
  if (limit_offset_) return false;
  const size_t allowance = limits_.max_head_bytes - head_bytes_;
  if (n > allowance) {
    limit_offset_ = abs_offset(at) + allowance;
    llhttp_set_error_reason(parser_.get(), "header block exceeds the size limit");
    return false;
  }
  head_bytes_ += n;
  return true;
}

HttpFeedResult HttpParser::fail(uint64_t offset, size_t consumed) {
  state_ = State::failed;
  error_.offset = offset;
  offset_ += consumed;
  return {HttpEvent::error, consumed};
}

HttpFeedResult HttpParser::feed(std::span<const uint8_t> piece) {
  if (deferred_) {
    const HttpEvent event = *deferred_;
    deferred_.reset();
    if (event == HttpEvent::upgrade) state_ = State::upgraded;
    return {event, 0};
  }
  switch (state_) {
    case State::parsing:
      break;
    case State::upgraded:
      return {HttpEvent::upgrade, 0};
    case State::failed:
      return {HttpEvent::error, 0};
    case State::finished:
      if (piece.empty()) return {HttpEvent::need_more, 0};
      error_.name = "HPE_CLOSED_CONNECTION";
      error_.reason = "bytes after the end of the stream";
      return fail(offset_, 0);
  }
  return run(piece.empty() ? kEmpty : reinterpret_cast<const char*>(piece.data()), piece.size(),
             false);
}

HttpFeedResult HttpParser::finish() {
  if (!deferred_ && state_ == State::upgraded) return {HttpEvent::need_more, 0};
  if (deferred_ || state_ != State::parsing) return feed({});
  // Let a paused parser run up to where the end of the stream applies.
  HttpFeedResult r = feed({});
  if (r.event != HttpEvent::need_more) return r;
  return run(kEmpty, 0, true);
}

HttpFeedResult HttpParser::run(const char* data, size_t size, bool eof) {
  llhttp_t* p = parser_.get();
  if (llhttp_get_errno(p) == HPE_PAUSED) llhttp_resume(p);
  piece_ = data;
  piece_offset_ = offset_;
  pause_ = Pause::none;

  const llhttp_errno_t err = eof ? llhttp_finish(p) : llhttp_execute(p, data, size);
  if (eof && state_ == State::parsing) state_ = State::finished;

  size_t consumed = size;
  if (err != HPE_OK && !eof) {
    const char* pos = llhttp_get_error_pos(p);
    consumed = pos == nullptr
                   ? 0
                   : std::min(size, static_cast<size_t>(std::max<ptrdiff_t>(pos - data, 0)));
  }

  switch (err) {
    case HPE_OK:
      offset_ += size;
      return {HttpEvent::need_more, size};
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE: {
      offset_ += consumed;
      const bool upgrade = err == HPE_PAUSED_UPGRADE;
      if (!head_reported_) {
        // The head and the end of the message are at the same byte.
        head_reported_ = true;
        head_.end_offset = offset_;
        if (pause_ != Pause::head)
          deferred_ = upgrade ? HttpEvent::upgrade : HttpEvent::message_complete;
        return {HttpEvent::head_complete, consumed};
      }
      if (upgrade) {
        state_ = State::upgraded;
        return {HttpEvent::upgrade, consumed};
      }
      return {HttpEvent::message_complete, consumed};
    }
    default: {
      error_.name = llhttp_errno_name(err);
      const char* reason = llhttp_get_error_reason(p);
      error_.reason = reason != nullptr ? reason : "";
      if (limit_offset_) {
        const uint64_t at = *limit_offset_;
        return fail(at, static_cast<size_t>(std::min<uint64_t>(at - piece_offset_, size)));
      }
      return fail(piece_offset_ + consumed, consumed);
    }
  }
}

void HttpParser::expect_response_to(std::string_view method) {
  RequestKind kind = RequestKind::other;
  if (method == "HEAD") kind = RequestKind::head;
  if (method == "CONNECT") kind = RequestKind::connect;
  requests_.push_back(kind);
}

bool HttpParser::resume_after_upgrade() {
  if (deferred_ == HttpEvent::upgrade) {
    deferred_.reset();
  } else if (state_ != State::upgraded) {
    return false;
  }
  llhttp_resume_after_upgrade(parser_.get());
  state_ = State::parsing;
  return true;
}

}  // namespace wsi
