#include "parser/rules.h"

#include <array>
#include <cassert>

namespace wsi {
namespace {

constexpr Severity kError = Severity::error;
constexpr Severity kWarning = Severity::warning;

// Close code a client application reports when the handshake fails: the client
// drops TCP without a close frame (RFC 6455 §4.1, §7.1.5).
constexpr uint16_t kNoCloseFrame = 1006;

// The catalogue, in enum order. Every finding is read by someone looking for
// the side and the hop that broke the protocol, so each fix says where to look.
constexpr std::array kRules = std::to_array<RuleInfo>({
    // Frame and stream rules.
    {Rule::reserved_bits_set, "reserved-bits-set", 1002, 0, kError, "RFC 6455 §5.2",
     "RSV2 or RSV3 is set, but no negotiated extension gives those bits a meaning.",
     "No extension in common use defines RSV2 or RSV3, so a set bit usually means a damaged "
     "header or a reader out of sync with the stream; compare the frame where it leaves the "
     "sender with what arrives after each hop in this direction."},
    {Rule::rsv1_without_extension, "rsv1-without-extension", 1002, 0, kError, "RFC 6455 §5.2",
     "RSV1 is set, but permessage-deflate (or another extension using RSV1) was not negotiated.",
     "The sender compresses although the handshake the receiver saw agreed no compression; "
     "compare Sec-WebSocket-Extensions on both sides of every hop, since a proxy that rewrites "
     "or strips it leaves the two endpoints disagreeing."},
    {Rule::rsv1_on_continuation, "rsv1-on-continuation", 1002, 0, kError, "RFC 7692 §6",
     "RSV1 is set on a continuation frame; only the first frame of a compressed message may "
     "carry it.",
     "Check the sender's compressor, and any intermediary that re-fragments messages and copies "
     "the first frame's header bits onto every piece; frame sizes that differ from what the "
     "sender wrote point at such a hop."},
    {Rule::rsv1_on_control, "rsv1-on-control", 1002, 0, kError, "RFC 7692 §6",
     "RSV1 is set on a close, ping or pong frame; control frames are never compressed.",
     "Look at the sender's compression code or at an intermediary that compresses every frame "
     "it forwards: control frames must pass with RSV1 clear."},
    {Rule::reserved_opcode, "reserved-opcode", 1002, 0, kError, "RFC 6455 §5.2",
     "The opcode is 0x3-0x7 or 0xB-0xF, values RFC 6455 reserves and no negotiated extension "
     "defines.",
     "A reserved opcode in an otherwise healthy stream usually means the reader lost frame sync "
     "because an earlier length was wrong or bytes were dropped or inserted; check the previous "
     "frame and any hop in this direction that buffers or rewrites payloads."},
    {Rule::continuation_without_start, "continuation-without-start", 1002, 0, kError,
     "RFC 6455 §5.4",
     "A continuation frame (opcode 0) arrived while no fragmented message was open.",
     "Either the sender set FIN too early or the first fragment was lost; compare the frame "
     "sequence on both sides of each intermediary that splits, merges or drops frames."},
    {Rule::data_frame_during_fragmented_message, "data-frame-during-fragmented-message", 1002, 0,
     kError, "RFC 6455 §5.4",
     "A text or binary frame started a new message while a fragmented message was still open.",
     "Messages must not interleave: look for a sender with two writers on one connection and no "
     "lock, or a multiplexing intermediary, and check the previous message's last fragment for a "
     "missing FIN."},
    {Rule::fragmented_control_frame, "fragmented-control-frame", 1002, 0, kError, "RFC 6455 §5.5",
     "A close, ping or pong frame has FIN=0; control frames must not be fragmented.",
     "Check the sender's control-frame writer and any intermediary that cuts frames to a fixed "
     "size: control frames must cross every hop whole."},
    {Rule::control_frame_too_long, "control-frame-too-long", 1002, 0, kError, "RFC 6455 §5.5",
     "A control frame's payload is longer than 125 bytes.",
     "Keep ping payloads within 125 bytes and close reasons within 123 bytes after the 2-byte "
     "code; if the sender never writes such frames, an intermediary merged or padded them."},
    {Rule::close_payload_length_1, "close-payload-length-1", 1002, 0, kError, "RFC 6455 §5.5.1",
     "A close frame carries exactly one byte of payload; a close body is either empty or starts "
     "with a 2-byte status code.",
     "The sender wrote a one-byte code or cut the body short; send no body at all, or a full "
     "2-byte code followed by an optional UTF-8 reason."},
    {Rule::invalid_close_code, "invalid-close-code", 1002, 0, kError, "RFC 6455 §7.4.1, §7.4.2",
     "A close frame carries a code that may not appear on the wire: 0-999, 1004, 1005, 1006, "
     "1015, 1016-2999 or 5000 and above.",
     "1005, 1006 and 1015 exist only for local reporting, and an application that passes a "
     "status it was given (often 1006) back into close() is the usual culprit; send 1000-1003, "
     "1007-1014 or a code in 3000-4999 (`wsinspect explain CODE` describes each)."},
    {Rule::invalid_utf8_close_reason, "invalid-utf8-close-reason", 1007, 0, kError,
     "RFC 6455 §5.5.1, §8.1", "The reason text of a close frame is not valid UTF-8.",
     "Senders often cut a reason to fit the 123-byte limit in the middle of a multi-byte "
     "character; cut on character boundaries, and if the sender's bytes were valid, find the hop "
     "that altered the payload."},
    {Rule::invalid_utf8_text, "invalid-utf8-text", 1007, 0, kError, "RFC 6455 §5.6, §8.1",
     "A text message, reassembled and decompressed, is not valid UTF-8 (a character may "
     "legitimately span two frames).",
     "Send bytes that are not UTF-8 as binary messages, or fix the sender's encoding; if the "
     "sender's output is valid, a hop that transcodes, trims or re-chunks payloads broke it."},
    {Rule::unmasked_client_frame, "unmasked-client-frame", 1002, 0, kError, "RFC 6455 §5.1",
     "A frame from the client to the server has MASK=0; every client frame must be masked.",
     "Either the client library skips masking or an intermediary unmasks frames and forwards "
     "them that way; find the first hop whose outbound client-to-server bytes lose the mask "
     "bit."},
    {Rule::masked_server_frame, "masked-server-frame", 1002, 0, kError, "RFC 6455 §5.1",
     "A frame from the server to the client has MASK=1; servers must not mask.",
     "Usually a client library is being used in the server role, or a relay copies masked client "
     "frames toward other clients without re-framing them; find the hop whose output first "
     "carries the mask bit."},
    {Rule::length_msb_set, "length-msb-set", 1002, 0, kError, "RFC 6455 §5.2",
     "The 64-bit extended payload length has its most significant bit set.",
     "No real message is 2^63 bytes long, so the header is corrupt or the reader is out of sync; "
     "check the previous frame's length against the bytes that followed it. The RFC makes it a "
     "protocol error (1002), but `ws` and Python `websockets` both answer 1009, since the length "
     "exceeds any limit they accept."},
    {Rule::non_minimal_length, "non-minimal-length", 1002, 0, kError, "RFC 6455 §5.2",
     "The payload length uses a longer form than needed (the 16-bit form below 126, or the "
     "64-bit form below 65536); Chromium fails any such frame from a server with 1002, `ws` any "
     "such control frame.",
     "RFC 6455 says the shortest form MUST be used. `ws` accepts data frames in a longer form "
     "and Python `websockets` accepts every frame, so a sender tested only against them can "
     "still fail in a browser, or against `ws` with a close, ping or pong (\"invalid payload "
     "length 126\"); make the sender's frame writer, or the hop that rebuilds frame headers, use "
     "the 7-bit form up to 125 bytes and the 16-bit form up to 65535."},
    {Rule::message_too_big, "message-too-big", 1009, 0, kError, "RFC 6455 §7.4.1, §10.4",
     "A message, after decompression, is larger than the configured limit.",
     "Raise the receiver's maximum message size or send smaller messages, remembering that with "
     "permessage-deflate the limit applies to the inflated size; every proxy or gateway that "
     "parses frames may enforce a smaller limit of its own."},
    {Rule::inflate_error, "inflate-error", 1007, 0, kError, "RFC 7692 §7.2.2",
     "A compressed message is not a valid DEFLATE stream; `ws` closes with 1007, Python "
     "`websockets` with 1002.",
     "The two sides disagree on the compression context (a hop changed context-takeover or "
     "window-bits parameters in the handshake) or a hop altered the compressed bytes; compare "
     "Sec-WebSocket-Extensions and the payload on both sides of each hop."},
    {Rule::frame_after_close, "frame-after-close", 0, 0, kWarning, "RFC 6455 §5.5.1",
     "A frame arrived after its sender had already sent a close frame; the receiver discards it.",
     "The peer ignores such frames, so whatever they carried is lost; make the sender flush its "
     "messages before it sends close and stop writing afterwards."},
    {Rule::stream_ended_mid_frame, "stream-ended-mid-frame", 1006, 0, kWarning, "RFC 6455 §7.1.5",
     "The TCP stream ended in the middle of a frame, so that frame was never completed.",
     "The sender or a hop in this direction closed or reset TCP with a frame in flight, and the "
     "applications will report 1006; check idle and maximum-duration timeouts, size limits and "
     "restarts along the path."},

    // Handshake: the client's upgrade request.
    {Rule::request_malformed, "request-malformed", kNoCloseFrame, 400, kError, "RFC 6455 §4.2.1",
     "The client's opening handshake is not a valid HTTP/1.1 request.",
     "Check the raw request for bad line endings, broken header syntax or a stray body; if the "
     "client's own bytes are correct, an intermediary rewrote the request."},
    {Rule::request_not_get, "request-not-get", kNoCloseFrame, 400, kError, "RFC 6455 §4.2.1",
     "The upgrade request uses a method other than GET.",
     "Only a GET request can be upgraded to WebSocket over HTTP/1.1; check the client and any "
     "gateway that translates requests between HTTP versions."},
    {Rule::request_http_version, "request-http-version", kNoCloseFrame, 400, kError,
     "RFC 6455 §4.2.1", "The upgrade request is not HTTP/1.1 or later.",
     "HTTP/1.0 has no upgrade mechanism; a proxy that talks HTTP/1.0 to its upstream (nginx "
     "does unless `proxy_http_version 1.1` is set) must be switched to 1.1."},
    {Rule::request_missing_host, "request-missing-host", kNoCloseFrame, 400, kError,
     "RFC 6455 §4.2.1", "The upgrade request has no Host header.",
     "Every HTTP/1.1 request needs Host; check the client and any hop that rebuilds request "
     "headers."},
    {Rule::request_missing_upgrade, "request-missing-upgrade", kNoCloseFrame, 400, kError,
     "RFC 6455 §4.2.1",
     "The request has no Upgrade header containing the token \"websocket\" (in any case).",
     "Upgrade is a hop-by-hop header that proxies drop unless told to forward it (in nginx, "
     "`proxy_set_header Upgrade $http_upgrade`); find the first hop whose outbound request "
     "lacks it."},
    {Rule::request_missing_connection_upgrade, "request-missing-connection-upgrade", kNoCloseFrame,
     400, kError, "RFC 6455 §4.2.1",
     "The request's Connection header is missing or lacks the token \"upgrade\".",
     "Connection is hop-by-hop and proxies replace it, often with keep-alive or close; configure "
     "each proxy to send `Connection: upgrade` to its upstream."},
    {Rule::request_missing_key, "request-missing-key", kNoCloseFrame, 400, kError,
     "RFC 6455 §4.2.1", "The request has no Sec-WebSocket-Key header.",
     "Check the client; if it does send the key, a hop between it and the server filters "
     "Sec-WebSocket-* headers."},
    {Rule::request_invalid_key, "request-invalid-key", kNoCloseFrame, 400, kError,
     "RFC 6455 §4.2.1", "Sec-WebSocket-Key is not the base64 encoding of exactly 16 bytes.",
     "A valid key is 24 base64 characters ending in \"==\"; check the client's key generation and "
     "any hop that trims, folds or re-encodes header values."},
    {Rule::request_missing_version, "request-missing-version", kNoCloseFrame, 400, kError,
     "RFC 6455 §4.2.1", "The request has no Sec-WebSocket-Version header.",
     "Clients must send `Sec-WebSocket-Version: 13`; check the client and any hop that filters "
     "headers."},
    {Rule::request_unsupported_version, "request-unsupported-version", kNoCloseFrame, 426, kError,
     "RFC 6455 §4.2.2, §4.4",
     "Sec-WebSocket-Version is not 13; the server answers 426 Upgrade Required with "
     "`Sec-WebSocket-Version: 13`.",
     "Move the client to RFC 6455 (version 13): the draft versions it may be sending are "
     "obsolete, and a hop that rewrote the header would show a different value on each side."},
    {Rule::request_duplicate_header, "request-duplicate-header", kNoCloseFrame, 400, kError,
     "RFC 6455 §11.3.1, §11.3.5",
     "Sec-WebSocket-Key, Sec-WebSocket-Version or Upgrade appears more than once in the request.",
     "A duplicate usually comes from a proxy that sets the header while also forwarding the "
     "client's copy; make each hop either pass the header through or set it, never both."},
    // llhttp (lenient build) accepts "Name : value" and hands on "Name " as
    // the name; strict servers refuse it, and a name matched as sent misses
    // the header.
    {Rule::request_header_name_whitespace, "request-header-name-whitespace", kNoCloseFrame, 400,
     kError, "RFC 9112 §5.1",
     "A header field name is followed by whitespace before its colon (\"Authorization : ...\"); "
     "a server must reject the request with 400.",
     "Remove the whitespace in the client (or the hop that writes the header): some servers "
     "answer 400, others read a different header name, so the header is lost or duplicated "
     "depending on the hop."},
    // RFC 7692 §7: a server declines a bad offer (answers 101 without the
    // extension) rather than refusing the upgrade, so neither status nor close.
    {Rule::request_deflate_offer_malformed, "request-deflate-offer-malformed", 0, 0, kWarning,
     "RFC 7692 §7, §7.1",
     "The permessage-deflate offer has an unknown or repeated parameter, window bits outside "
     "8..15, or a value on a parameter that takes none; the server must decline it.",
     "A conforming server then accepts the upgrade without compression, so the connection works "
     "uncompressed; fix the client's offer, or find the hop that rewrote "
     "Sec-WebSocket-Extensions."},

    // Handshake: the server's response.
    {Rule::response_malformed, "response-malformed", kNoCloseFrame, 0, kError, "RFC 6455 §4.1",
     "The server's response to the upgrade is not a valid HTTP/1.1 response.",
     "Check the raw response for a broken status line or header syntax; if the server's own "
     "bytes are correct, a hop between it and the client rewrote them."},
    {Rule::response_not_101, "response-not-101", kNoCloseFrame, 0, kWarning, "RFC 6455 §4.1",
     "The server answered the upgrade with a status other than 101 Switching Protocols.",
     "Refusing is legitimate HTTP, but the client application reports 1006; the status and body "
     "show which hop refused (400 or 426 from the server, 401 or 403 from authentication, 502, "
     "504 or an HTML error page from a proxy that cannot reach or does not upgrade upstream)."},
    {Rule::response_missing_upgrade, "response-missing-upgrade", kNoCloseFrame, 0, kError,
     "RFC 6455 §4.1", "The 101 response has no Upgrade header with the token \"websocket\".",
     "The client fails the connection; find the hop whose response to the client loses the "
     "header, typically a proxy that treats Upgrade as hop-by-hop and does not send it back."},
    {Rule::response_missing_connection_upgrade, "response-missing-connection-upgrade",
     kNoCloseFrame, 0, kError, "RFC 6455 §4.1",
     "The 101 response's Connection header is missing or lacks the token \"upgrade\".",
     "The client fails the connection; check the server and each proxy on the way back, since "
     "proxies often replace Connection with keep-alive or close."},
    {Rule::response_missing_accept, "response-missing-accept", kNoCloseFrame, 0, kError,
     "RFC 6455 §4.1", "The 101 response has no Sec-WebSocket-Accept header.",
     "The client fails the connection; check whether the server produced the header and which "
     "hop removed it on the way back."},
    {Rule::response_accept_mismatch, "response-accept-mismatch", kNoCloseFrame, 0, kError,
     "RFC 6455 §4.1",
     "Sec-WebSocket-Accept is not base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")) "
     "of the key this client sent.",
     "The classic cause is an intermediary that sent its own Sec-WebSocket-Key upstream but "
     "passed the upstream's Accept back unchanged; compare the key and the accept on each side "
     "of every hop."},
    {Rule::response_duplicate_header, "response-duplicate-header", kNoCloseFrame, 0, kError,
     "RFC 6455 §11.3.3",
     "Sec-WebSocket-Accept or Upgrade appears more than once in the 101 response.",
     "Typically both the server and a proxy in front of it add the header; make only one hop "
     "produce the handshake headers."},
    {Rule::response_extension_not_offered, "response-extension-not-offered", kNoCloseFrame, 0,
     kError, "RFC 6455 §4.1, §9.1",
     "The response accepts an extension, or a permessage-deflate parameter set, that the request "
     "never offered.",
     "This is the tell-tale of an intermediary rewriting Sec-WebSocket-Extensions in one "
     "direction only; compare the offer and the answer on both sides of every hop."},
    {Rule::response_deflate_params_malformed, "response-deflate-params-malformed", kNoCloseFrame, 0,
     kError, "RFC 7692 §7, §7.1.2.2",
     "The accepted permessage-deflate has an unknown or repeated parameter, window bits outside "
     "8..15, or a value where none is allowed (a parameter the client did not offer is "
     "response-extension-not-offered).",
     "The client must fail the connection; fix the server's extension negotiation, or find the "
     "hop that edited Sec-WebSocket-Extensions in the response."},
    {Rule::response_subprotocol_not_offered, "response-subprotocol-not-offered", kNoCloseFrame, 0,
     kError, "RFC 6455 §4.1", "The response selects a subprotocol the client did not offer.",
     "Check the server's subprotocol selection and any gateway that sets Sec-WebSocket-Protocol "
     "itself, some of which inject a default value."},
    {Rule::response_multiple_subprotocols, "response-multiple-subprotocols", kNoCloseFrame, 0,
     kError, "RFC 6455 §4.2.2, §11.3.4",
     "The response selects more than one subprotocol, as a list or as repeated headers.",
     "The server must echo exactly one offered value; a server that copies the client's whole "
     "list back, or a proxy that adds its own header beside the server's, causes this."},
    {Rule::response_no_subprotocol_selected, "response-no-subprotocol-selected", kNoCloseFrame, 0,
     kWarning, "RFC 6455 §4.2.2, §4.1",
     "The client offered subprotocols and the 101 selects none. RFC 6455 allows it, but many "
     "clients fail the connection: Node ws (\"Server sent no subprotocol\") and browsers, whose "
     "application then sees 1006.",
     "Make the server select one of the offered subprotocols, or make the client offer none if "
     "it can work without; check that no hop strips Sec-WebSocket-Protocol from the response."},
    {Rule::response_data_before_upgrade, "response-data-before-upgrade", kNoCloseFrame, 0, kError,
     "RFC 6455 §4.1",
     "Before or instead of a 101 response, the server side sent bytes that are not a valid HTTP "
     "response.",
     "Look for a server that writes frames before its handshake response, a TLS or PROXY-protocol "
     "mismatch between two hops, or a non-HTTP service listening on the upstream port."},
});

static_assert(kRules.size() == kRuleCount, "one RuleInfo per Rule");

constexpr bool in_enum_order() {
  for (size_t i = 0; i < kRules.size(); ++i) {
    if (kRules[i].rule != static_cast<Rule>(i)) return false;
  }
  return true;
}
static_assert(in_enum_order(), "kRules must list the rules in enum order");

constexpr bool is_kebab_case(std::string_view id) {
  if (id.empty() || id.front() == '-' || id.back() == '-') return false;
  char prev = 0;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (c == '-' && prev == '-')) return false;
    prev = c;
  }
  return true;
}

constexpr bool ids_kebab_and_unique() {
  for (size_t i = 0; i < kRules.size(); ++i) {
    if (!is_kebab_case(kRules[i].id)) return false;
    for (size_t j = i + 1; j < kRules.size(); ++j) {
      if (kRules[i].id == kRules[j].id) return false;
    }
  }
  return true;
}
static_assert(ids_kebab_and_unique(), "rule ids must be unique kebab-case");

}  // namespace

std::span<const RuleInfo> all_rules() {
  return kRules;
}

const RuleInfo& rule_info(Rule rule) {
  size_t i = static_cast<size_t>(rule);
  // Rule::count_ or an out-of-range cast is our own bug, never a peer's.
  assert(i < kRules.size());
  return kRules[i < kRules.size() ? i : 0];
}

std::optional<Rule> rule_from_id(std::string_view id) {
  for (const RuleInfo& info : kRules) {
    if (info.id == id) return info.rule;
  }
  return std::nullopt;
}

}  // namespace wsi
