// A narrow C++ wrapper around llhttp for one direction of an HTTP/1.1
// connection. The caller owns the bytes and feeds them in any pieces; the
// parser stops at every event (head complete, message complete, upgrade,
// error) and says how many bytes of the piece it consumed, so the caller can
// relay keep-alive messages one by one and knows exactly where the bytes of
// an upgraded protocol begin.
//
// Driving loop:
//
//   std::span<const uint8_t> rest = piece;
//   for (;;) {
//     HttpFeedResult r = parser.feed(rest);
//     rest = rest.subspan(r.consumed);
//     if (r.event == HttpEvent::need_more) break;       // rest is empty
//     if (r.event == HttpEvent::head_complete) ...      // parser.head() is valid
//     if (r.event == HttpEvent::upgrade) ...            // rest is not HTTP
//     if (r.event == HttpEvent::error) ...              // parser.error()
//   }
//
// Call feed() again with the rest of the piece, even when it is empty, until it
// returns need_more, upgrade or error: a message without a body ends at the
// same byte as its head, and its message_complete or upgrade then comes on the
// next call with consumed == 0. After upgrade, feed() keeps answering upgrade
// with consumed == 0 until resume_after_upgrade(); after error, error.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct llhttp__internal_s;  // llhttp_t; llhttp.h stays out of this header

namespace wsi {

enum class HttpMode : uint8_t { request, response };

enum class HttpEvent : uint8_t {
  need_more,         // every byte of the piece was consumed and nothing else happened
  head_complete,     // the start line and headers of a message are parsed: head() is valid
  message_complete,  // the message (head and body) ended; the next bytes start a new message
  upgrade,           // the message ended and the connection switched protocol (101, an
                     // Upgrade request, CONNECT): the bytes after `consumed` are not HTTP
  error,             // the stream is not HTTP/1.x: error() says why and where; final
};

std::string_view http_event_name(HttpEvent event);

struct HttpFeedResult {
  HttpEvent event;
  size_t consumed;  // bytes of the piece up to and including the event
};

struct HttpHeader {
  std::string name;   // as sent
  std::string value;  // assembled across pieces, surrounding whitespace removed
  uint64_t offset;    // absolute stream offset of the name's first byte
};

struct HttpHead {
  std::string method;  // request: as sent, e.g. "GET"; response: empty
  std::string target;  // request-target as sent
  uint8_t http_major = 0;
  uint8_t http_minor = 0;
  uint16_t status = 0;  // response status code
  std::string reason;   // response reason phrase
  std::vector<HttpHeader> headers;
  uint64_t start_offset = 0;    // first byte of the start line
  uint64_t version_offset = 0;  // first byte of "HTTP/" in the start line
  uint64_t end_offset = 0;      // one past the empty line that ends the head
  bool keep_alive = false;      // the connection stays open after this message

  // The first header with this name (ASCII case-insensitive), or nullptr.
  const HttpHeader* find(std::string_view name) const;
  size_t count(std::string_view name) const;
};

struct HttpError {
  std::string name;     // llhttp's error name, e.g. "HPE_INVALID_METHOD"
  std::string reason;   // llhttp's reason, e.g. "Invalid method encountered"
  uint64_t offset = 0;  // absolute stream offset of the offending byte
};

// Bounds on what a peer can make us store for one message head.
struct HttpLimits {
  size_t max_head_bytes = 64 * 1024;  // start line and header text, trailers included
  size_t max_headers = 128;
};

class HttpParser {
 public:
  explicit HttpParser(HttpMode mode, HttpLimits limits = {});
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;
  // llhttp keeps a pointer back to this object, so it stays where it is built.
  HttpParser(HttpParser&&) = delete;
  HttpParser& operator=(HttpParser&&) = delete;

  // Parses from the start of `piece` up to the next event.
  HttpFeedResult feed(std::span<const uint8_t> piece);

  // The peer closed its side. Returns message_complete when the close ends a
  // body that runs to end of stream, need_more when the stream ended between
  // messages or after an upgrade, error (HPE_INVALID_EOF_STATE) when it ended
  // inside a message. Call again until need_more or error; later feed() calls
  // with bytes are an error.
  HttpFeedResult finish();

  // Response mode: the method of the next request this direction answers, in
  // request order. A response to HEAD has no body; a 2xx to CONNECT starts a
  // tunnel. Responses without a queued method are taken as answers to GET.
  void expect_response_to(std::string_view method);

  // After an upgrade event: the other side refused the switch (e.g. a 400 to
  // an Upgrade request), so the stream goes on as HTTP with the next message.
  // Returns false when the parser is not stopped at an upgrade.
  bool resume_after_upgrade();

  HttpMode mode() const { return mode_; }
  // The current message's head. Valid from head_complete until the feed()
  // that starts the next message.
  const HttpHead& head() const { return head_; }
  const std::vector<HttpHeader>& trailers() const { return trailers_; }
  uint64_t body_bytes() const { return body_bytes_; }  // current message, decoded
  const HttpError& error() const { return error_; }
  uint64_t offset() const { return offset_; }  // bytes consumed since construction
  uint64_t messages_completed() const { return messages_; }

 private:
  friend struct HttpParserCallbacks;
  enum class State : uint8_t { parsing, upgraded, failed, finished };
  enum class Pause : uint8_t { none, head, message };
  enum class RequestKind : uint8_t { other, head, connect };

  HttpFeedResult run(const char* data, size_t size, bool eof);
  HttpFeedResult fail(uint64_t offset, size_t consumed);
  void begin_message();
  uint64_t abs_offset(const char* at) const;
  bool charge(const char* at, size_t n);  // false once the head exceeds the limits
  std::vector<HttpHeader>& header_list() { return headers_done_ ? trailers_ : head_.headers; }

  HttpMode mode_;
  HttpLimits limits_;
  std::unique_ptr<llhttp__internal_s> parser_;
  State state_ = State::parsing;
  std::optional<HttpEvent> deferred_;  // an event at the same byte as the last one reported
  std::deque<RequestKind> requests_;   // response mode: the requests awaiting an answer

  // Where the piece being parsed sits in the stream, for callbacks.
  const char* piece_ = nullptr;
  uint64_t piece_offset_ = 0;
  uint64_t offset_ = 0;

  // The current message.
  HttpHead head_;
  std::vector<HttpHeader> trailers_;
  uint64_t body_bytes_ = 0;
  size_t head_bytes_ = 0;
  bool field_open_ = false;    // a header name is being assembled
  bool headers_done_ = false;  // later header callbacks are trailers
  bool head_reported_ = false;
  bool start_seen_ = false;
  bool version_seen_ = false;
  Pause pause_ = Pause::none;
  std::optional<uint64_t> limit_offset_;  // where the limits were exceeded

  uint64_t messages_ = 0;
  HttpError error_;
};

bool iequals(std::string_view a, std::string_view b);

}  // namespace wsi
