// The WebSocket opening handshake (RFC 6455 §4, RFC 7692 §5-7): checks the
// client's upgrade request and the server's answer, and records what they
// negotiated for the frame inspectors.
//
// Two layers: analyze_request() and analyze_response() are pure functions over
// heads that an HttpParser has collected (a proxy relaying HTTP calls them at
// head_complete); HandshakeAnalyzer drives both directions of one exchange
// from arbitrary pieces, and analyze_handshake() does it offline.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parser/deflate.h"
#include "parser/http_parser.h"
#include "parser/rules.h"

namespace wsi {

struct Finding {
  Rule rule;
  std::string detail;  // printable ASCII, never the Sec-WebSocket-Key value
  // Absolute offset in the stream the rule names (request_*: client to
  // server, response_*: server to client): the start line for the method,
  // version or status, the header line for a bad or repeated header, the end
  // of the head for a missing one, the offending byte for malformed HTTP.
  uint64_t offset;
};

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 §4.2.2.
std::string websocket_accept(std::string_view key);

// Exactly 24 characters of canonical base64 decoding to 16 bytes (RFC 6455 §4.1).
bool is_valid_websocket_key(std::string_view key);

// One element of a Sec-WebSocket-Extensions list (RFC 6455 §9.1).
struct ExtensionParam {
  std::string name;
  std::optional<std::string> value;  // quoted-string values are unquoted
};

struct Extension {
  std::string name;
  std::vector<ExtensionParam> params;
  std::string syntax_error;  // empty when the element follows the grammar
  uint64_t offset = 0;       // the header line that carries it
};

// Every Sec-WebSocket-Extensions header of `head`, in order.
std::vector<Extension> parse_extensions(const HttpHead& head);

// Parses the parameters of an accepted permessage-deflate extension, with the
// rules a response must follow, e.g.
// "client_no_context_takeover; server_max_window_bits=10" (the extension name
// itself may lead). False with `error` set when a parameter is unknown,
// repeated, out of range or given a value it may not have.
bool parse_deflate_params(std::string_view text, DeflateParams& out, std::string& error);

// The client's request, as far as the handshake is concerned.
//
// Secrets: `key` holds the Sec-WebSocket-Key value, kept only for the accept
// check. Any logger must redact the values of Sec-WebSocket-Key,
// Authorization, Proxy-Authorization and Cookie (Set-Cookie in responses).
// `path` has already lost the query string, which often carries tokens.
struct HandshakeRequest {
  bool complete = false;              // a request head has been analysed
  bool is_websocket_upgrade = false;  // Upgrade lists the token "websocket"
  bool attempts_websocket = false;    // that, or a Sec-WebSocket-* header: findings apply
  std::string method;
  std::string path;  // request-target without query, fragment or userinfo
  std::string host;
  uint8_t http_major = 0;
  uint8_t http_minor = 0;
  std::string key;  // secret, see above
  bool key_valid = false;
  std::vector<std::string> offered_subprotocols;
  std::vector<Extension> offered_extensions;
  std::string extensions_header;  // the Sec-WebSocket-Extensions values, joined with ", "
  uint64_t head_end = 0;
};

// What the server's response settled, for the frame inspectors and the logs.
struct Negotiated {
  bool complete = false;  // a final (non-1xx, or 101) response head has been analysed
  uint16_t status = 0;
  bool switched = false;   // 101: the bytes after the response head are not HTTP
  bool websocket = false;  // switched, answering a WebSocket request: they are frames
  bool deflate = false;    // permessage-deflate accepted
  DeflateParams deflate_params;
  std::string subprotocol;                       // empty: none selected
  std::vector<std::string> extensions_selected;  // extension names, in response order
  std::string extensions;  // the response's Sec-WebSocket-Extensions values, joined with ", "
  uint64_t head_end = 0;
};

// Checks a complete request head. Findings are added only when the request
// attempts a WebSocket upgrade: plain HTTP passes without any.
HandshakeRequest analyze_request(const HttpHead& head, std::vector<Finding>& findings);

// Checks a complete final response head against the request it answers.
Negotiated analyze_response(const HttpHead& head, const HandshakeRequest& request,
                            std::vector<Finding>& findings);

// The finding for a stream that stopped parsing as HTTP (`e`): request- or
// response-malformed, or, for a server's stream answering a WebSocket
// request that does not begin with "HTTP/", response-data-before-upgrade
// (saying so when it opens a TLS record). `stream_start`: the first bytes of
// that stream (kStreamStartBytes are enough).
inline constexpr size_t kStreamStartBytes = 8;
Finding malformed_http_finding(bool client, const HttpError& e, std::string_view stream_start,
                               const HandshakeRequest& request);

enum class HandshakeStatus : uint8_t {
  need_more,  // every byte so far belongs to the message: feed more
  done,       // the message ended; bytes after `consumed` follow it (after a 101
              // response: the first WebSocket bytes)
  malformed,  // not HTTP: a *_malformed or response_data_before_upgrade finding says where
};

struct HandshakeFeedResult {
  HandshakeStatus status;
  size_t consumed;  // bytes of the piece that belong to the message
};

// One request/response exchange, fed from both directions in any pieces. The
// request side is done when the first request ends; the response side when a
// 101 head ends or a final response (body included) ends. Interim 1xx
// responses are skipped. Once a side is done or malformed, feeding it returns
// that status with consumed == 0.
class HandshakeAnalyzer {
 public:
  explicit HandshakeAnalyzer(HttpLimits limits = {});

  HandshakeFeedResult feed_request(std::span<const uint8_t> piece);
  HandshakeFeedResult finish_request();  // the client closed its side
  // Analysed against the request as far as it is known: feed the request first.
  HandshakeFeedResult feed_response(std::span<const uint8_t> piece);
  HandshakeFeedResult finish_response();  // the server closed its side

  const HandshakeRequest& request() const { return request_; }
  const Negotiated& negotiated() const { return negotiated_; }
  const std::vector<Finding>& findings() const { return findings_; }

 private:
  HandshakeFeedResult step(bool client, std::span<const uint8_t> piece, bool eof);

  HttpParser request_parser_;
  HttpParser response_parser_;
  HandshakeStatus request_status_ = HandshakeStatus::need_more;
  HandshakeStatus response_status_ = HandshakeStatus::need_more;
  bool interim_ = false;        // the response being parsed is a 1xx other than 101
  std::string response_start_;  // the first bytes of the server's stream
  HandshakeRequest request_;
  Negotiated negotiated_;
  std::vector<Finding> findings_;
};

struct HandshakeReport {
  HandshakeRequest request;
  Negotiated negotiated;
  std::vector<Finding> findings;
  HandshakeStatus request_status = HandshakeStatus::need_more;
  HandshakeStatus response_status = HandshakeStatus::need_more;
  size_t request_consumed = 0;   // bytes of `request` that belong to the request
  size_t response_consumed = 0;  // bytes of `response` that belong to the response
};

// Both directions of a recorded exchange, each given whole and ended.
HandshakeReport analyze_handshake(std::span<const uint8_t> request,
                                  std::span<const uint8_t> response);

}  // namespace wsi
