// The events of one whole connection, as the connection core reports them:
// typed values handed to a sink, never preformatted text. The proxy's JSON
// and text logs, `decode`, the tests and the counters are sinks of the same
// events, so each event is built in one place and formatted in one place.
//
// Every view and reference in an event is valid during the call only.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "parser/conn/digest.h"
#include "parser/conn/tls_summary.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/stream_inspector.h"

namespace wsi {

// How a connection (or one direction of it) ended, as seen at the vantage point.
enum class EndCause : uint8_t {
  none,
  close_handshake,
  client_fin,
  server_fin,
  client_reset,
  server_reset,
  idle_timeout,
  handshake_timeout,
  proxy_shutdown,
  upstream_unreachable,
  tls_handshake_failed,  // the client's TLS handshake with the proxy failed
  http_inactivity,       // an HTTP message stalled mid-way
  capture_ended,         // a capture file ended with the connection still open
  forward_refused,       // the forward proxy refused the client's proxy request
};
std::string_view end_cause_id(EndCause c);

// How one sender's byte stream ended.
enum class StreamEnd : uint8_t { fin, reset };

// What every event carries: the connection and the time it was observed
// (milliseconds on the caller's clock; the core never reads a clock).
struct EventContext {
  uint64_t conn = 0;
  uint64_t time_ms = 0;
};

struct HttpErrorEvent {
  Direction dir;
  const HttpError& error;
  // The stream opens with a TLS handshake record: TLS sent to a plain hop.
  bool starts_with_tls = false;
};

// One WebSocket opening handshake: the request, and the response when one
// came (response == nullptr: the connection ended first).
struct HandshakeEvent {
  const HandshakeRequest& request;
  const std::vector<HttpHeader>& headers;  // as received; sinks redact secrets
  const std::vector<Finding>& request_findings;
  const HttpHead* response;
  const Negotiated* negotiated;
  const std::vector<Finding>& response_findings;
  // Over TLS, what each leg negotiated (null: plain TCP on that leg).
  const TlsSummary* tls_client = nullptr;
  const TlsSummary* tls_server = nullptr;
  // The Host header the request was forwarded with, when the relay rewrote it.
  std::string_view forwarded_host = {};
  // With digests on (ConnConfig::digests): the keyed digest of the request's
  // Sec-WebSocket-Key, which names the connection at every hop without
  // showing the key.
  const Digest* key_digest = nullptr;
};

// One plain HTTP exchange; status 0: no response came.
struct HttpExchangeEvent {
  std::string_view method;
  std::string_view path;
  uint16_t status;
  std::string_view query = {};  // see HandshakeRequest::query
};

// The violation a close is linked to.
struct CloseCause {
  Rule rule;
  Direction dir;  // the direction it was flagged in: what the closing endpoint received
  uint64_t offset;
  uint64_t frame_index;
  uint64_t ms_before;
  // A finding of the opening handshake (offset in the response), not of a frame.
  bool handshake = false;
  // For a 1009 no violation explains: the size of the message it answers
  // (the largest received, or the declared size of one in progress).
  uint64_t message_size = 0;
};

struct CloseEvent {
  const CloseFrame& frame;
  bool in_reply;                // the closing endpoint had received the other's close first
  const CloseCause* caused_by;  // null: no violation explains it
  // A 1002/1007 close with nothing flagged in what the endpoint received:
  // the corruption happened between the vantage point and that endpoint.
  bool unseen_corruption;
};

// A close no frame carried: what an endpoint's application reports when the
// connection ends without a close frame towards it (1006), or the 1001 the
// proxy itself sent while shutting down.
struct SynthesizedCloseEvent {
  Direction dir;  // towards the endpoint that reports it
  uint16_t code;  // 1006, or 1001 sent by the proxy
  EndCause cause;
  // A handshake finding that makes clients fail the connection (a 101 the
  // client rejects): why the client dropped TCP without a close frame.
  const CloseCause* caused_by = nullptr;
};

// From `from` on, the bytes of one direction are not inspected, to the end
// of the stream (whose length conn_close gives): only counted, never judged.
struct GapEvent {
  Direction dir;
  uint64_t from;
  std::string_view reason;
};

// With a preview limit (ConnConfig::preview): a complete data message, just
// after its message event, with the first bytes of its content as the
// application gets it (unmasked, inflated when compressed).
struct PreviewEvent {
  const MessageInfo& message;
  std::string_view content;  // at most ConnConfig::preview bytes
};

struct DirectionSummary {
  uint64_t bytes = 0;
  // How and when (caller's clock) the sender ended its stream; `ended`
  // false: it had not when the connection was finished.
  bool ended = false;
  StreamEnd how = StreamEnd::fin;
  uint64_t end_ms = 0;
  uint64_t last_data_ms = 0;              // the sender's last bytes (0: none)
  const InspectorStats* stats = nullptr;  // null: never inspected as frames
  // Close frames beyond the per-connection cap (max_reports_per_rule per
  // direction) that got no close event; stats->closes counts them all.
  uint64_t closes_unreported = 0;
};

struct ConnCloseEvent {
  uint64_t duration_ms;
  EndCause ended_by;
  bool upgraded;
  DirectionSummary dir[2];  // [0] client to server, [1] server to client
  // Beyond the per-connection cap (max_reports_per_rule), events a peer can
  // repeat on a keep-alive connection are counted, not reported: opening
  // handshakes that did not upgrade, and requests that got no response.
  uint64_t handshakes_unreported = 0;
  uint64_t unanswered_unreported = 0;
};

// With digests on (ConnConfig::digests): a complete frame, with the keyed
// digest of its unmasked payload as it is on the wire.
struct FrameDigestEvent {
  Direction dir;
  const FrameHeader& header;
  const Digest& payload;
};

// With digests on: a complete data message, with the keyed digest of its
// content as the receiving application gets it (inflated when compressed).
struct MessageDigestEvent {
  const MessageInfo& message;
  const Digest& content;
};

class ConnSink {
 public:
  virtual ~ConnSink() = default;
  virtual void on_http_error(const EventContext&, const HttpErrorEvent&) {}
  virtual void on_handshake(const EventContext&, const HandshakeEvent&) {}
  virtual void on_http(const EventContext&, const HttpExchangeEvent&) {}
  virtual void on_frame(const EventContext&, Direction, const FrameHeader&) {}
  virtual void on_message(const EventContext&, const MessageInfo&) {}
  virtual void on_frame_digest(const EventContext&, const FrameDigestEvent&) {}
  virtual void on_message_digest(const EventContext&, const MessageDigestEvent&) {}
  virtual void on_preview(const EventContext&, const PreviewEvent&) {}
  virtual void on_violation(const EventContext&, const Violation&) {}
  virtual void on_close(const EventContext&, const CloseEvent&) {}
  virtual void on_synthesized_close(const EventContext&, const SynthesizedCloseEvent&) {}
  virtual void on_gap(const EventContext&, const GapEvent&) {}
  virtual void on_conn_close(const EventContext&, const ConnCloseEvent&) {}
};

inline constexpr size_t dir_index(Direction d) {
  return d == Direction::client_to_server ? 0 : 1;
}

}  // namespace wsi
