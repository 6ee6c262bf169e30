// ConnectionInspector: the whole of one connection as seen from a vantage
// point between its client and its server, with no I/O. It is fed each
// sender's bytes in the order they were received, each stream's end (FIN or
// reset) and the time of every observation; it follows the HTTP exchange in
// both directions (keep-alive, pipelining, chunked bodies, refused upgrades),
// analyses the opening handshake, switches to frame inspection at the exact
// byte after a 101, inspects both directions with permessage-deflate as
// negotiated, links closes to their causes and summarises the connection.
// Everything it finds goes to a ConnSink as typed events, in wire order.
//
// The live proxy, `decode`, the vector tests and the fuzzers all drive it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "parser/conn/close_attribution.h"
#include "parser/conn/events.h"
#include "parser/frame_decoder.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/preview.h"
#include "parser/stream_inspector.h"

namespace wsi {

// What the HTTP phase of a connection is waiting for, for a caller's
// timeouts: a head is bounded by a head timeout, a message in progress by an
// inactivity timeout; after an upgrade (or when a direction stopped parsing
// as HTTP) nothing is awaited.
enum class HttpWait : uint8_t {
  none,
  request_head,   // the next request's head, begun or not
  request_body,   // a request's body is arriving
  response_head,  // every request byte is in: the answer's first byte is awaited
  response_body,  // a response is arriving
};

struct ConnConfig {
  // false: only the HTTP phase and frame boundaries are followed (so a
  // caller can still find a frame boundary); the only event is conn_close.
  bool inspect = true;
  uint64_t max_message_size = 0;       // 0: no limit; above it: message-too-big (1009)
  uint32_t max_reports_per_rule = 10;  // per direction
  uint32_t preview = 0;                // content bytes per data message shown in preview events
  // Client bytes that wait, uninspected, for the server: those after an
  // upgrade request until its answer, and requests beyond max_pending_requests
  // until earlier ones are answered. room() tells a caller to stop reading.
  size_t max_held_bytes = 256 * 1024;
  size_t max_pending_requests = 1024;
  // The Host value the relay forwards the first request with (empty: the
  // client's own), reported in its handshake event.
  std::string forwarded_host;
  // Non-null: keyed digests of every frame and message (frame_digest and
  // message_digest events) and of the handshake's key. Outlives the inspector.
  const DigestKey* digests = nullptr;
};

class ConnectionInspector final : private InspectorSink {
 public:
  // `cfg` is kept by reference: it outlives the inspector (the proxy's
  // connections share one).
  ConnectionInspector(const ConnConfig& cfg, ConnSink& sink, uint64_t conn_id = 0,
                      uint64_t start_ms = 0);
  ConnectionInspector(const ConnConfig&&, ConnSink&, uint64_t = 0, uint64_t = 0) = delete;
  ~ConnectionInspector() override;
  ConnectionInspector(const ConnectionInspector&) = delete;
  ConnectionInspector& operator=(const ConnectionInspector&) = delete;

  // Bytes `from`'s sender sent, in the order received.
  void feed(Direction from, std::span<const uint8_t> bytes, uint64_t now_ms);
  // `from`'s sender ended its stream.
  void end_stream(Direction from, StreamEnd how, uint64_t now_ms);
  // `n` bytes of `from`'s sender were never seen (a capture lost them): a
  // gap from where that stream is, after which it is only counted.
  void skip(Direction from, uint64_t n, std::string_view reason, uint64_t now_ms);
  // The connection was first seen after its handshake (a capture that began
  // in the middle): both directions are inspected as frames from the next
  // byte fed, without extensions, since none were seen negotiated.
  void assume_websocket(uint64_t now_ms);
  // A close frame of the vantage point's own (a proxy shutting down) was
  // written in direction `dir`: that endpoint reports 1001, not 1006.
  void own_close_sent(Direction dir, uint64_t now_ms);
  // The connection is over: reports requests that got no answer, the closes
  // endpoints will report without a close frame, and the summary. `cause`
  // overrides what the streams showed (none: derived from them). Once.
  void finish(EndCause cause, uint64_t now_ms);

  // How many more bytes from `from`'s sender can be inspected now; 0 means
  // stop reading that sender until the other side has answered. Bytes fed
  // beyond it are reported as a gap and that direction is only counted.
  size_t room(Direction from) const;
  // The WebSocket phase, and `dir`'s stream is between two frames.
  bool at_frame_boundary(Direction dir) const;
  bool websocket() const { return phase_ == Phase::websocket; }
  bool upgraded() const { return upgraded_; }
  bool close_seen(Direction d) const { return attribution_.close_seen(d); }
  // From now on the bytes are only counted: a tunnel whose content is not
  // inspected (TLS relayed without interception).
  void opaque() { phase_ = Phase::tunnel; }
  // Both endpoints sent a close frame.
  bool close_handshake_done() const {
    return close_seen(Direction::client_to_server) && close_seen(Direction::server_to_client);
  }
  // The TLS leg the bytes of `from` arrive on (the client's or the server's),
  // reported in the handshake event; the summary must outlive the inspector.
  void set_tls(Direction from, const TlsSummary* tls) { tls_[dir_index(from)] = tls; }
  bool response_started() const { return response_started_; }
  HttpWait http_wait() const;
  bool finished() const { return finished_; }
  uint64_t bytes(Direction d) const { return bytes_[dir_index(d)]; }
  EndCause end_cause() const { return end_cause_; }
  const StreamInspector* inspector(Direction d) const;

 private:
  struct PendingRequest;
  enum class Phase : uint8_t { http, websocket, tunnel };

  EventContext ctx() const { return {id_, now_}; }
  void feed_client_http(std::span<const uint8_t> bytes);
  void feed_server_http(std::span<const uint8_t> bytes);
  void hold(std::span<const uint8_t> bytes);
  void release_held();
  void start_frames(const Negotiated* n);
  void on_request_head(HttpParser& parser);
  void on_response_head(const HttpHead& head);
  void switch_to_websocket(std::span<const uint8_t> first_server_bytes);
  void feed_frames(Direction d, std::span<const uint8_t> bytes);
  void gap(Direction d, uint64_t from, std::string_view reason);
  void report_handshake(const PendingRequest& req, const HttpHead* response, const Negotiated* n,
                        const std::vector<Finding>& response_findings);
  void report_synthesized_closes();
  bool holding() const;
  size_t pending() const;        // requests awaiting their answer
  void finish_frames(size_t i);  // the stream ended: flags a frame cut short
  size_t held_room() const;      // bytes held_ can still take

  // InspectorSink (both directions).
  void on_frame(Direction dir, const FrameHeader& h) override;
  void on_violation(const Violation& v) override;
  void on_close(const CloseFrame& c) override;
  void on_message(const MessageInfo& m) override;
  void on_payload(Direction dir, const FrameHeader& h, const uint8_t* data, size_t n,
                  uint64_t at) override;
  void on_frame_end(Direction dir, const FrameHeader& h) override;
  void on_message_data(Direction dir, const uint8_t* data, size_t n) override;

  // Frame boundaries only (inspect = false).
  struct BoundaryTracker {
    FrameDecoder decoder;
    void on_frame_header(const FrameHeader&) {}
    void on_frame_payload(const FrameHeader&, const uint8_t*, size_t, uint64_t) {}
    void on_frame_end(const FrameHeader&) {}
  };

  const ConnConfig& cfg_;
  ConnSink& sink_;
  uint64_t id_;
  uint64_t start_ms_;
  uint64_t now_ = 0;
  uint64_t bytes_[2] = {0, 0};
  uint64_t fed_end_ = 0;  // the stream offset one past the bytes being fed
  bool gap_[2] = {false, false};
  bool ended_[2] = {false, false};
  bool finished_ = false;
  EndCause end_cause_ = EndCause::none;
  const TlsSummary* tls_[2] = {nullptr, nullptr};  // client's leg, server's leg
  bool any_request_ = false;
  uint32_t close_events_[2] = {0, 0};
  uint64_t closes_unreported_[2] = {0, 0};
  uint32_t handshake_events_ = 0;  // reported, of those that did not upgrade
  uint64_t handshakes_unreported_ = 0;
  uint32_t unanswered_events_ = 0;
  uint64_t unanswered_unreported_ = 0;
  bool client_starts_tls_ = false;
  bool request_in_message_ = false;   // a request has begun and not ended
  bool request_head_done_ = false;    // ... and its head is complete
  bool response_in_message_ = false;  // the client's first byte is 0x16 (a TLS record)

  // HTTP phase.
  Phase phase_ = Phase::http;
  std::unique_ptr<HttpParser> request_parser_;
  std::unique_ptr<HttpParser> response_parser_;
  bool request_opaque_ = false;   // the client's stream stopped parsing as HTTP
  bool response_opaque_ = false;  // the server's stream stopped parsing as HTTP
  bool response_started_ = false;
  // The server's first bytes, for malformed_http_finding.
  char response_start_[kStreamStartBytes];
  uint8_t response_start_len_ = 0;
  bool awaiting_upgrade_ = false;  // the request parser stopped at an upgrade request
  std::vector<uint8_t> held_;      // client bytes not yet parsed, in order
  uint64_t held_at_ms_ = 0;        // when the first of them arrived
  // Allocated at the first request head, freed at the switch to frames.
  std::unique_ptr<std::deque<PendingRequest>> requests_;
  bool upgraded_ = false;

  // WebSocket phase.
  // Per direction: nothing before the upgrade, then an inspector, or (with
  // inspect = false) only a frame-boundary tracker.
  std::variant<std::monostate, StreamInspector, BoundaryTracker> frames_[2];
  CloseAttribution attribution_;
  bool own_close_[2] = {false, false};
  std::unique_ptr<PreviewBuffer[]> preview_;  // one per direction, with cfg.preview
  // With cfg.digests: per direction, the frame's and the message's digests.
  struct Digesters;
  std::unique_ptr<Digesters> digesters_;
  // A finding in the 101 that makes clients fail the connection.
  std::optional<CloseCause> handshake_abort_;
  uint64_t last_data_ms_[2] = {0, 0};
  uint64_t end_ms_[2] = {0, 0};
  StreamEnd end_how_[2] = {StreamEnd::fin, StreamEnd::fin};
};

}  // namespace wsi
