#include "parser/close_codes.h"

#include <array>

namespace wsi {
namespace {

constexpr CodeSender kEither = CodeSender::either;
constexpr CodeSender kServer = CodeSender::server;
constexpr CodeSender kClient = CodeSender::client;
constexpr CodeSender kApplication = CodeSender::application;
constexpr CodeSender kNobody = CodeSender::nobody;

// Registered codes and ranges, ordered by first code. The range 3000-3999 comes
// before the registered codes inside it; lookup prefers an exact entry.
// Each description starts with one sentence that can stand alone: the explain
// command quotes it in comparisons.
constexpr std::array kCodes = std::to_array<CloseCodeInfo>({
    {0, 999, "Not Used", false, false, kNobody,
     "Codes below 1000 are not used by the WebSocket protocol. RFC 6455 leaves the range empty "
     "and IANA registers nothing in it, so a close frame carrying such a code is itself a "
     "protocol violation.",
     "A close frame with a code below 1000 usually comes from an application that passed an "
     "HTTP status (400, 500) or an internal error number to close(), or from a close frame whose "
     "two code bytes were corrupted on the way. Some libraries also report 0 locally when they "
     "have no code at all.",
     "Map application failures to a real close code: 1008 or 1011 for generic errors, or a code "
     "of your own between 4000 and 4999. A conforming receiver answers such a frame with 1002, "
     "so expect the other side to log a protocol error. If the sender never chose this code, "
     "inspect the close frame bytes in wsinspect's log for corruption by an intermediary."},
    {1000, 1000, "Normal Closure", true, true, kEither,
     "The connection did what it was opened for and is being closed on purpose. It is the "
     "ordinary, successful end of a WebSocket session, and the peer is expected to answer with "
     "a close frame of its own.",
     "A user logs out or leaves a page element that held the connection, a client finishes its "
     "batch of requests, or a server ends a stream that has nothing more to send. Many libraries "
     "send 1000 by default when the application calls close() without a code.",
     "Nothing is broken. If the closures are unexpected, find which side sent the first close "
     "frame (wsinspect logs the direction) and look in that application for the code path that "
     "calls close(). If an idle timer in the application closes quiet connections with 1000, "
     "lengthen it or keep the connection busy with pings."},
    {1001, 1001, "Going Away", true, true, kEither,
     "The endpoint is going away: a server is shutting down or a browser is leaving the page "
     "that opened the connection. The closure is clean, but the session will not continue on "
     "this connection.",
     "Rolling deployments and restarts that drain connections, a browser tab being closed or "
     "reloaded, or a mobile app being sent to the background. Some proxies and load balancers "
     "send 1001 to both sides when they shut down or reload their configuration.",
     "Treat it as expected and reconnect, with a randomised back-off so that a fleet of clients "
     "does not return at the same moment after a deployment. If it arrives often without any "
     "deployment, find which hop sends it (wsinspect shows the direction): a proxy reloading, "
     "an autoscaler removing instances, or an idle timeout that chose 1001."},
    {1002, 1002, "Protocol Error", true, true, kEither,
     "The endpoint received data that breaks the WebSocket protocol itself and is failing the "
     "connection. The problem is in the framing, not in the application's messages: a reserved "
     "bit or opcode, a wrong mask, a broken fragment sequence, an oversized control frame or an "
     "invalid close frame.",
     "A hand-written client or server gets the framing wrong, an endpoint sets RSV1 because it "
     "believes compression was negotiated when the peer did not agree, or a proxy, load balancer "
     "or other middlebox corrupts, re-frames or truncates frames on the way. A reader that loses "
     "sync with the stream after one bad length field also reports 1002 on the next header it "
     "misreads.",
     "wsinspect's violation log names the rule that broke, the direction (client to server or "
     "server to client) and the byte offset, which tells you which side produced the bad frame. "
     "Capture on both sides of every intermediary: if a frame is correct where it leaves the "
     "sender and wrong after a hop, that hop corrupts frames. Otherwise fix the sender's framing "
     "code, and check that both ends agree on the extensions negotiated in the handshake."},
    {1003, 1003, "Unsupported Data", true, true, kEither,
     "The endpoint received a type of message it cannot accept. The usual case is a binary "
     "message on a connection that only handles text, or the reverse.",
     "A client sends binary frames to a server that expects JSON text, or a server pushes text "
     "to a client that only decodes binary. A subprotocol that fixes one message type and a peer "
     "that uses the other produce it too.",
     "Make both sides agree on the message type: text frames for UTF-8 content, binary frames "
     "for everything else, and whatever the subprotocol prescribes. The opcode of the last "
     "message before the close, in wsinspect's log, shows what was actually sent."},
    {1004, 1004, "Reserved", false, true, kNobody,
     "The code is reserved by RFC 6455 for a meaning that may be defined later. No meaning is "
     "assigned today, and it must not appear in a close frame.",
     "Only a buggy or confused peer sends it, or a close frame was corrupted on the way. A "
     "receiver that follows the RFC treats it as a protocol error.",
     "Do not send it: use 1000 for a normal end, 1008 or 1011 for failures, or an application "
     "code between 4000 and 4999. A conforming receiver answers a close frame carrying 1004 "
     "with 1002."},
    {1005, 1005, "No Status Received", false, true, kNobody,
     "The close frame carried no status code. 1005 never travels on the wire: a WebSocket stack "
     "reports it to its application when a close frame arrived with an empty body.",
     "An endpoint called close() without a code, which most libraries allow, so its close frame "
     "had no payload. The closing handshake itself was clean: a close frame was exchanged, it "
     "simply gave no reason.",
     "Nothing is broken at the protocol level. If the application needs to know why, make the "
     "closing side send a code (1000 for a normal end) and, if useful, a short reason. Never "
     "send 1005 in a close frame: it is invalid there and a conforming peer answers it with "
     "1002."},
    {1006, 1006, "Abnormal Closure", false, true, kNobody,
     "The connection ended without a close frame. 1006 never travels on the wire: a WebSocket "
     "stack reports it to its application when the TCP connection closed or broke before any "
     "close frame arrived, so the peer gave neither a status code nor a reason. The WebSocket "
     "layer cannot tell why; what happened on TCP explains it.",
     "A server process crashed or was killed, a proxy or load balancer hit its idle or maximum "
     "connection time and closed TCP, a NAT or firewall dropped the flow, or the network went "
     "away. Browsers also report 1006 when the opening handshake fails, because a client that "
     "rejects the server's response drops TCP without a close frame.",
     "Find which side ended TCP and how: wsinspect records a FIN or a reset per direction, idle "
     "timeouts, its own shutdown and upstreams it could not reach. If an intermediary closed "
     "the connection, raise its idle timeout or send pings more often than the shortest timeout "
     "on the path. If the server did, look in its logs for a crash or restart. Clients should "
     "reconnect with a randomised exponential back-off."},
    {1007, 1007, "Invalid Frame Payload Data", true, true, kEither,
     "The endpoint received data inside a message that does not match the message's type. The "
     "common case is a text message that is not valid UTF-8; some stacks also use it for a "
     "compressed message that does not decompress.",
     "A sender puts raw bytes or Latin-1 text in a text frame, cuts a string in the middle of a "
     "multi-byte character, or sends a close reason that is not UTF-8. The Node.js `ws` library "
     "sends 1007 when a permessage-deflate payload cannot be inflated, where Python "
     "`websockets` sends 1002.",
     "Send arbitrary bytes as binary messages and encode text as UTF-8 before it is framed. If "
     "the sender's output is valid, compare the payload on both sides of each hop: an "
     "intermediary that transcodes, trims or re-chunks payloads can break UTF-8, and a hop that "
     "edits the permessage-deflate parameters breaks decompression. wsinspect's log gives the "
     "direction, frame and offset of the message that failed."},
    {1008, 1008, "Policy Violation", true, true, kEither,
     "The endpoint received a message that violates its policy and is closing the connection. "
     "It is a deliberately generic code, used when nothing more specific such as 1003 or 1009 "
     "fits, or when the endpoint prefers not to reveal which rule was broken.",
     "A server rejects a client that failed authorization, whose token expired, that exceeded a "
     "rate limit, or whose message failed the application's validation or an origin check. API "
     "gateways and web application firewalls also use it for messages they block.",
     "The policy belongs to the application, not to the protocol: read the close reason, if "
     "any, and the logs of the side that sent the close (wsinspect shows the direction). Check "
     "token lifetimes, message rates and content or size rules. If a gateway or firewall closed "
     "the connection rather than the server, review that intermediary's rules."},
    {1009, 1009, "Message Too Big", true, true, kEither,
     "The endpoint received a message larger than it is willing to process. The limit is the "
     "receiver's own setting; with compression it usually applies to the size after "
     "decompression.",
     "A client uploads a file or document as one message, a server pushes a large snapshot, or "
     "a compressed message inflates beyond the limit. The Node.js `ws` library also answers "
     "1009 to a frame whose 64-bit length exceeds 2^53 - 1.",
     "Raise the receiver's maximum message size (maxPayload in `ws`, max_size in Python "
     "`websockets`, the frame or message limit of a gateway) or split the data into smaller "
     "messages. Every hop that parses frames may have its own limit, so look first at the one "
     "on the side that sent the close."},
    {1010, 1010, "Mandatory Extension", true, true, kClient,
     "The client is closing because it needs an extension the server did not agree to in its "
     "handshake response. The close reason should name the missing extensions; servers never "
     "send this code, since they can refuse the handshake instead.",
     "A client that requires permessage-deflate or another extension connects to a server that "
     "lacks it, or to one behind a proxy that removed Sec-WebSocket-Extensions from the request "
     "or from the response.",
     "Enable the extension on the server, or make it optional in the client. If the server does "
     "support it, compare Sec-WebSocket-Extensions on both sides of each intermediary: a proxy "
     "that strips or rewrites the header is a frequent cause."},
    {1011, 1011, "Internal Error", true, true, kEither,
     "The endpoint met an unexpected condition that stopped it from fulfilling the request. It "
     "is the WebSocket counterpart of HTTP 500, sent mostly by servers.",
     "An unhandled exception in a message handler, a failed database or backend call, or "
     "resource exhaustion such as memory or file descriptors. Some clients send it for their "
     "own internal failures too.",
     "Look in the logs of the side that sent the close (usually the server) at the moment of "
     "the close for the exception or failed call. Clients should retry with back-off; servers "
     "should catch errors in handlers and send a more specific code when one fits."},
    {1012, 1012, "Service Restart", true, true, kServer,
     "The server is restarting and closes the connection for that reason. The client may "
     "reconnect, but should wait a little before it does.",
     "Planned restarts, deployments and configuration reloads of the server, or of a WebSocket "
     "gateway in front of it.",
     "Reconnect with a randomised back-off (a first delay of a few seconds, growing on each "
     "failure) so that all clients do not return at once. If restarts are frequent, look at the "
     "server's deployment, health-check and crash-restart settings."},
    {1013, 1013, "Try Again Later", true, true, kServer,
     "The server cannot handle the connection right now, for example because it is overloaded, "
     "and asks the client to come back later. It is a temporary condition, not a rejection of "
     "the client.",
     "A server at its connection limit or shedding load, a backend it depends on being "
     "temporarily unavailable, or a rate limiter at a gateway.",
     "Retry with exponential back-off and jitter, never immediately: clients that reconnect at "
     "once keep the server overloaded. On the server side, check capacity, connection limits "
     "and the health of the backends it relies on."},
    {1014, 1014, "Bad Gateway", true, true, kServer,
     "A server acting as a gateway or proxy received an invalid response from the upstream it "
     "needed. It is the WebSocket counterpart of HTTP 502.",
     "A WebSocket gateway whose upstream refused or botched the handshake, closed unexpectedly, "
     "or sent frames the gateway could not accept.",
     "Look behind the gateway: its logs and its connection to the upstream. Running wsinspect "
     "between the gateway and the upstream shows whether the upstream's handshake or frames are "
     "at fault. Clients should retry with back-off."},
    {1015, 1015, "TLS Handshake", false, true, kNobody,
     "The connection could not be set up because the TLS handshake failed. 1015 never travels "
     "on the wire: a WebSocket stack reports it to its application, for example when the "
     "server's certificate could not be verified.",
     "An expired, self-signed or wrong-host certificate, a missing intermediate certificate, no "
     "TLS version or cipher in common, or a TLS-intercepting middlebox whose certificate the "
     "client does not trust.",
     "Check the certificate chain and name the server presents (`openssl s_client -connect "
     "HOST:443 -servername HOST`), the TLS versions enabled on both sides, and whether a "
     "corporate proxy intercepts TLS. Never send 1015 in a close frame."},
    {1016, 2999, "Unassigned", false, false, kNobody,
     "Codes from 1016 to 2999 are reserved for the WebSocket protocol, its future revisions and "
     "extensions published as open specifications. None of them is assigned today, so none may "
     "appear in a close frame.",
     "A close frame with such a code comes from an application that picked an arbitrary number, "
     "from a library that assumed a code of its own, or from corruption of the two code bytes. "
     "A receiver that follows the RFC fails the connection with 1002.",
     "Pick a code between 4000 and 4999 for application-specific reasons, or register one "
     "between 3000 and 3999 for a library. If the sender did not choose the code, inspect the "
     "close frame bytes in wsinspect's log for corruption by an intermediary."},
    {3000, 3999, "Library and Framework Codes", true, false, kApplication,
     "Codes from 3000 to 3999 are registered with IANA, first come first served, for libraries, "
     "frameworks and applications. The protocol gives them no meaning of their own; each "
     "registration defines one, and they may appear in close frames.",
     "A framework or platform signals a condition of its own, such as an authentication failure "
     "or a timeout. The IANA WebSocket close code registry and the documentation of the "
     "software on the sending side say what a particular code means.",
     "Find out which library on the sending side uses the code and read its documentation; the "
     "close reason often helps. wsinspect's log shows which direction the close frame came "
     "from, which narrows down the software that chose it."},
    {3000, 3000, "Unauthorized", true, true, kServer,
     "The endpoint is not authorized for this connection or action. It is the WebSocket "
     "counterpart of HTTP 401, registered for libraries and applications, so its exact use "
     "depends on the software that sends it.",
     "A server closes the connection because a credential sent after the handshake was missing, "
     "invalid or expired, or because a session token expired while the connection was open.",
     "Authenticate again: obtain a fresh token and reconnect, sending it the way the server "
     "expects (header, query parameter or first message). On the server side, handle token "
     "expiry and clock skew, and put what was missing in the close reason."},
    {3003, 3003, "Forbidden", true, true, kServer,
     "The endpoint is authenticated but not allowed to do what it asked. It is the WebSocket "
     "counterpart of HTTP 403, registered for libraries and applications.",
     "A client subscribes to a channel, room or topic it has no rights to, or its account lacks "
     "a role the server requires after the connection is open.",
     "Check the permissions of the account or token the client uses, and the access rules of "
     "the resource it asked for. A close reason from the server usually names the refused "
     "action."},
    {3008, 3008, "Timeout", true, true, kEither,
     "The endpoint gave up waiting for something it needed: a message, a reply or an "
     "authentication step. It is the WebSocket counterpart of HTTP 408, registered for "
     "libraries and applications.",
     "A server requires an initial message (often authentication) within a deadline and did not "
     "get it, or an application-level heartbeat went unanswered for too long.",
     "Check the application's deadlines and whether the peer sends its required messages and "
     "heartbeats on time; a blocked event loop or a congested link delays them. Lengthen a "
     "deadline that is tighter than the network allows."},
    {4000, 4999, "Private Use", true, false, kApplication,
     "Codes from 4000 to 4999 are for private use: applications agree on their meaning among "
     "themselves and they cannot be registered. They are valid in close frames, and the "
     "protocol says nothing about what they mean.",
     "Application-defined reasons such as a session replaced by a newer one, a room closed, a "
     "user removed by a moderator or a custom authentication failure. Subprotocols built on "
     "WebSocket, such as GraphQL over WebSocket, and many chat and game gateways define their "
     "own codes here.",
     "Look the code up in the documentation or source of the application or subprotocol that "
     "sent it; the close reason often explains it. wsinspect's log shows which side sent the "
     "close frame, and so whose documentation to read."},
    {5000, 65535, "Out of Range", false, false, kNobody,
     "Codes of 5000 and above are outside every range RFC 6455 defines. They may not appear in "
     "a close frame, and a receiver that gets one must fail the connection.",
     "An application that passes an arbitrary error number to close(), arithmetic on close "
     "codes gone wrong, or a close frame whose code bytes were corrupted.",
     "Use a code between 4000 and 4999 for application-defined reasons. If the sender did not "
     "choose the code, inspect the close frame bytes in wsinspect's log for corruption by an "
     "intermediary."},
});

constexpr bool ordered_and_well_formed() {
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i].first > kCodes[i].last) return false;
    if (kCodes[i].registered && kCodes[i].first != kCodes[i].last) return false;
    if (i > 0 && kCodes[i - 1].first > kCodes[i].first) return false;
  }
  return true;
}
static_assert(ordered_and_well_formed(), "close-code entries must be sorted ranges");

// Sorted by first code, so a sweep proves that no 16-bit code falls in a gap.
constexpr bool covers_every_code() {
  uint32_t next = 0;  // lowest code not yet covered
  for (const CloseCodeInfo& info : kCodes) {
    if (info.first > next) return false;
    if (info.last + 1u > next) next = info.last + 1u;
  }
  return next == 65536;
}
static_assert(covers_every_code(), "every 16-bit code must fall in an entry");

constexpr const CloseCodeInfo& find(uint32_t code) {
  const CloseCodeInfo* range = nullptr;
  for (const CloseCodeInfo& info : kCodes) {
    if (code < info.first || code > info.last) continue;
    if (info.first == info.last) return info;  // a registered code wins over its range
    if (range == nullptr) range = &info;
  }
  return range != nullptr ? *range : kCodes.back();  // above 65535: outside every range
}

static_assert(find(1002).name == "Protocol Error");
static_assert(find(3003).name == "Forbidden");
static_assert(find(3001).name == "Library and Framework Codes");
static_assert(find(70000).name == "Out of Range");

}  // namespace

const CloseCodeInfo& close_code_info(uint32_t code) {
  return find(code);
}

bool close_code_valid_on_wire(uint32_t code) {
  return code <= 65535 && find(code).allowed_on_wire;
}

std::span<const CloseCodeInfo> all_close_codes() {
  return kCodes;
}

std::string_view code_sender_name(CodeSender s) {
  switch (s) {
    case CodeSender::either:
      return "either endpoint";
    case CodeSender::server:
      return "the server";
    case CodeSender::client:
      return "the client";
    case CodeSender::application:
      return "the application on either side";
    case CodeSender::nobody:
      return "no one (never valid in a close frame)";
  }
  return "unknown";
}

}  // namespace wsi
