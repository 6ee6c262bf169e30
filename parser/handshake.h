// The WebSocket opening handshake (RFC 6455 §4, RFC 7692 §5-7): checks the
// client's upgrade request and the server's answer, and records what they
// negotiated for the frame inspectors.
//
// analyze_request() and analyze_response() are pure functions over heads that
// an HttpParser has collected; the connection core (ConnectionInspector)
// calls them at each head_complete and is what follows the streams.
#pragma once

#include <cstdint>
#include <optional>
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
// The parameters in force from one permessage-deflate element: a 101's
// answer (`response`), or an offer as a server that accepts it unchanged
// would answer it (a bare client_max_window_bits, a hint, leaves the
// client's window at 15). False with `error` when the element breaks the
// rules of its side: a server must decline such an offer.
bool deflate_params_of(const Extension& e, bool response, DeflateParams& out, std::string& error);

// One subprotocol token with its credential part replaced, keeping the
// non-secret prefix: "base64url.bearer.authorization.k8s.io.[redacted]",
// "bearer.[redacted]", "access_token.[redacted]"; a JWT becomes
// "[redacted]". `after_marker`: the token follows an element that announces
// a credential ("access_token", "bearer", "token", "authorization"), so it is
// one. Other tokens are returned unchanged.
std::string redact_subprotocol(std::string_view token, bool after_marker = false);
// Each element of a list of subprotocol tokens, as above.
std::vector<std::string> redact_subprotocols(const std::vector<std::string>& tokens);

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
  std::string path;   // request-target without query, fragment or userinfo
  std::string query;  // "?..." and "#..." of the request-target: logged only with --show-secrets
  std::string host;
  uint8_t http_major = 0;
  uint8_t http_minor = 0;
  std::string key;  // secret, see above
  bool key_valid = false;
  std::vector<std::string> offered_subprotocols;
  std::vector<Extension> offered_extensions;
  std::string extensions_header;  // the Sec-WebSocket-Extensions values, joined with ", "
  uint64_t head_end = 0;
  // One past the request's last byte, its body included: after a 101, the
  // client's first WebSocket byte (Negotiated::head_end is the server's).
  // The head alone does not tell, so the stream's driver sets it when the
  // request ends; 0 until then.
  uint64_t end = 0;
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

}  // namespace wsi
