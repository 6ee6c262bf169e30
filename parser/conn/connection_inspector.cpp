#include "parser/conn/connection_inspector.h"

#include "parser/mask.h"

#include <algorithm>
#include <cstring>

namespace wsi {

// One request awaiting its response, in order.
struct ConnectionInspector::PendingRequest {
  std::string method;
  bool websocket = false;  // attempts a WebSocket upgrade
  bool first = false;      // the connection's first request
  HandshakeRequest request;
  std::vector<Finding> findings;
  std::vector<HttpHeader> headers;  // kept for the handshake event only
};

ConnectionInspector::ConnectionInspector(const ConnConfig& cfg, ConnSink& sink, uint64_t conn_id,
                                         uint64_t start_ms)
    : cfg_(cfg), sink_(sink), id_(conn_id), start_ms_(start_ms), now_(start_ms) {}

ConnectionInspector::~ConnectionInspector() = default;

const StreamInspector* ConnectionInspector::inspector(Direction d) const {
  return std::get_if<StreamInspector>(&frames_[dir_index(d)]);
}

size_t ConnectionInspector::pending() const {
  return requests_ ? requests_->size() : 0;
}

void ConnectionInspector::finish_frames(size_t i) {
  if (auto* insp = std::get_if<StreamInspector>(&frames_[i])) insp->finish();
}

bool ConnectionInspector::holding() const {
  return awaiting_upgrade_ || pending() >= cfg_.max_pending_requests;
}

size_t ConnectionInspector::room(Direction from) const {
  if (from == Direction::server_to_client || phase_ != Phase::http || request_opaque_ || gap_[0])
    return SIZE_MAX;
  return held_room();
}

size_t ConnectionInspector::held_room() const {
  return cfg_.max_held_bytes - std::min(cfg_.max_held_bytes, held_.size());
}

bool ConnectionInspector::at_frame_boundary(Direction dir) const {
  const size_t i = dir_index(dir);
  if (phase_ != Phase::websocket || gap_[i]) return false;
  if (const auto* insp = std::get_if<StreamInspector>(&frames_[i])) return !insp->mid_frame();
  const auto* track = std::get_if<BoundaryTracker>(&frames_[i]);
  return track && !track->decoder.mid_frame();
}

HttpWait ConnectionInspector::http_wait() const {
  if (phase_ != Phase::http || request_opaque_ || response_opaque_ || gap_[0] || gap_[1] ||
      finished_)
    return HttpWait::none;
  if (response_in_message_) return HttpWait::response_body;
  if (request_in_message_)
    return request_head_done_ ? HttpWait::request_body : HttpWait::request_head;
  if (pending()) return HttpWait::response_head;
  return HttpWait::request_head;
}

// ---- input -----------------------------------------------------------------

void ConnectionInspector::feed(Direction from, std::span<const uint8_t> bytes, uint64_t now_ms) {
  const size_t i = dir_index(from);
  now_ = std::max(now_, now_ms);
  // A client whose stream opens with a TLS handshake record speaks TLS to a
  // plain HTTP hop.
  if (i == 0 && bytes_[0] == 0 && !bytes.empty()) client_starts_tls_ = bytes[0] == 0x16;
  bytes_[i] += bytes.size();
  if (!bytes.empty() && !finished_) last_data_ms_[i] = now_;
  if (bytes.empty() || gap_[i] || finished_) return;
  fed_end_ = bytes_[i];
  if (phase_ == Phase::websocket) {
    feed_frames(from, bytes);
    return;
  }
  if (phase_ == Phase::tunnel) return;
  if (from == Direction::client_to_server)
    feed_client_http(bytes);
  else
    feed_server_http(bytes);
}

void ConnectionInspector::feed_frames(Direction d, std::span<const uint8_t> bytes) {
  const size_t i = dir_index(d);
  if (auto* insp = std::get_if<StreamInspector>(&frames_[i]))
    insp->feed(bytes);
  else if (auto* track = std::get_if<BoundaryTracker>(&frames_[i]))
    track->decoder.feed(bytes.data(), bytes.size(), *track);
}

void ConnectionInspector::end_stream(Direction from, StreamEnd how, uint64_t now_ms) {
  const size_t i = dir_index(from);
  now_ = std::max(now_, now_ms);
  if (finished_) return;
  const bool client = from == Direction::client_to_server;
  if (how == StreamEnd::reset) {
    if (end_cause_ == EndCause::none || end_cause_ == EndCause::client_fin ||
        end_cause_ == EndCause::server_fin)
      end_cause_ = client ? EndCause::client_reset : EndCause::server_reset;
  } else if (end_cause_ == EndCause::none) {
    end_cause_ = client ? EndCause::client_fin : EndCause::server_fin;
  }
  if (ended_[i]) return;
  ended_[i] = true;
  end_ms_[i] = now_;
  end_how_[i] = how;
  if (phase_ == Phase::websocket && !gap_[i]) finish_frames(i);
}

void ConnectionInspector::skip(Direction from, uint64_t n, std::string_view reason,
                               uint64_t now_ms) {
  const size_t i = dir_index(from);
  now_ = std::max(now_, now_ms);
  if (!gap_[i] && !finished_) gap(from, bytes_[i], reason);
  bytes_[i] += n;
}

void ConnectionInspector::assume_websocket(uint64_t now_ms) {
  now_ = std::max(now_, now_ms);
  if (phase_ != Phase::http || any_request_) return;
  phase_ = Phase::websocket;
  upgraded_ = true;
  start_frames(nullptr);  // the extensions are unknown
}

// Both directions' frame readers once the connection is WebSocket: the
// inspectors (with what the handshake negotiated, when it was seen), or,
// without inspection, trackers of frame boundaries only.
void ConnectionInspector::start_frames(const Negotiated* n) {
  if (!cfg_.inspect) {
    frames_[0].emplace<BoundaryTracker>();
    frames_[1].emplace<BoundaryTracker>();
    return;
  }
  InspectorConfig base;
  if (n) {
    base.deflate_negotiated = n->deflate;
    base.deflate = n->deflate_params;
  }
  base.max_message_size = cfg_.max_message_size;
  base.max_reports_per_rule = cfg_.max_reports_per_rule;
  base.want_payload = cfg_.digests != nullptr;
  base.want_message_data = cfg_.preview > 0 || cfg_.digests;
  if (cfg_.preview)
    preview_.reset(new PreviewBuffer[2]{PreviewBuffer(cfg_.preview), PreviewBuffer(cfg_.preview)});
  if (cfg_.digests) digesters_ = std::make_unique<Digesters>(*cfg_.digests);
  base.sender = Sender::client;
  frames_[0].emplace<StreamInspector>(base, static_cast<InspectorSink&>(*this));
  base.sender = Sender::server;
  frames_[1].emplace<StreamInspector>(base, static_cast<InspectorSink&>(*this));
}

void ConnectionInspector::gap(Direction d, uint64_t from, std::string_view reason) {
  gap_[dir_index(d)] = true;
  if (cfg_.inspect) sink_.on_gap(ctx(), GapEvent{d, from, reason});
}

// ---- HTTP phase --------------------------------------------------------------

void ConnectionInspector::hold(std::span<const uint8_t> bytes) {
  const size_t take = std::min(held_room(), bytes.size());
  if (held_.empty() && take) held_at_ms_ = now_;
  held_.insert(held_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
  if (take < bytes.size()) {
    // More than can be held: the rest is not inspected, and said so.
    // The gap runs to the end of the stream (conn_close gives its length).
    const uint64_t from = fed_end_ - (bytes.size() - take);
    gap(Direction::client_to_server, from,
        "client bytes beyond the hold limit while waiting for the server's answer");
    held_.clear();
    held_.shrink_to_fit();
  }
}

void ConnectionInspector::feed_client_http(std::span<const uint8_t> rest) {
  if (request_opaque_) return;
  if (holding()) {
    hold(rest);
    return;
  }
  if (!request_parser_) request_parser_ = std::make_unique<HttpParser>(HttpMode::request);
  // The request that ended is the latest one; when it was answered before
  // its end (and so dequeued), every earlier one was too.
  const auto request_ended = [this] {
    if (pending() && requests_->back().request.end == 0)
      requests_->back().request.end = request_parser_->offset();
  };
  for (;;) {
    const HttpFeedResult r = request_parser_->feed(rest);
    rest = rest.subspan(r.consumed);
    if (r.consumed) request_in_message_ = true;
    switch (r.event) {
      case HttpEvent::need_more:
        return;
      case HttpEvent::head_complete:
        request_head_done_ = true;
        on_request_head(*request_parser_);
        if (holding()) {
          hold(rest);  // too many requests await answers: parse the rest later
          return;
        }
        break;
      case HttpEvent::message_complete:
        request_ended();
        request_in_message_ = request_head_done_ = false;
        break;
      case HttpEvent::upgrade:
        request_ended();
        request_in_message_ = request_head_done_ = false;
        // The request asks to switch protocols: what follows depends on the answer.
        awaiting_upgrade_ = true;
        hold(rest);
        return;
      case HttpEvent::error:
        request_opaque_ = true;
        held_.clear();
        if (cfg_.inspect)
          sink_.on_http_error(
              ctx(), {Direction::client_to_server, request_parser_->error(), client_starts_tls_});
        return;
    }
  }
}

void ConnectionInspector::release_held() {
  if (holding() || gap_[0] || request_opaque_ || !request_parser_) return;
  std::vector<uint8_t> held;
  held.swap(held_);
  // Held bytes are the latest the client sent: they end where its stream is
  // now. Fed even when empty, for an event the parser deferred.
  const uint64_t saved = fed_end_;
  fed_end_ = bytes_[0];
  feed_client_http(held);
  fed_end_ = saved;
}

void ConnectionInspector::on_request_head(HttpParser& parser) {
  const HttpHead& head = parser.head();
  PendingRequest req;
  req.method = head.method;
  req.request = analyze_request(head, req.findings);
  req.websocket = req.request.attempts_websocket;
  req.first = !any_request_;
  any_request_ = true;
  if (req.websocket && cfg_.inspect) req.headers = head.headers;
  if (!response_parser_) response_parser_ = std::make_unique<HttpParser>(HttpMode::response);
  response_parser_->expect_response_to(head.method);
  if (!requests_) requests_ = std::make_unique<std::deque<PendingRequest>>();
  requests_->push_back(std::move(req));
}

void ConnectionInspector::feed_server_http(std::span<const uint8_t> rest) {
  if (response_opaque_) return;
  response_started_ = true;
  if (response_start_len_ < kStreamStartBytes) {
    const size_t take = std::min(rest.size(), kStreamStartBytes - response_start_len_);
    std::memcpy(response_start_ + response_start_len_, rest.data(), take);
    response_start_len_ += static_cast<uint8_t>(take);
  }
  if (!response_parser_) response_parser_ = std::make_unique<HttpParser>(HttpMode::response);
  for (;;) {
    const HttpFeedResult r = response_parser_->feed(rest);
    rest = rest.subspan(r.consumed);
    if (r.consumed) response_in_message_ = true;
    switch (r.event) {
      case HttpEvent::need_more:
        return;
      case HttpEvent::head_complete:
        on_response_head(response_parser_->head());
        break;
      case HttpEvent::message_complete:
        response_in_message_ = false;
        break;
      case HttpEvent::upgrade:
        if (upgraded_) {
          switch_to_websocket(rest);
        } else {
          phase_ = Phase::tunnel;  // a 101 to something other than WebSocket, or CONNECT
          held_.clear();
        }
        return;
      case HttpEvent::error:
        response_opaque_ = true;
        if (cfg_.inspect)
          sink_.on_http_error(ctx(), {Direction::server_to_client, response_parser_->error()});
        // The upgrade that awaited this response fails on it: say how.
        if (pending() && requests_->front().websocket) {
          const PendingRequest req = std::move(requests_->front());
          requests_->pop_front();
          report_handshake(
              req, nullptr, nullptr,
              {malformed_http_finding(false, response_parser_->error(),
                                      {response_start_, response_start_len_}, req.request)});
        }
        return;
    }
  }
}

void ConnectionInspector::on_response_head(const HttpHead& head) {
  if (head.status >= 100 && head.status < 200 && head.status != 101) return;  // interim
  if (!pending()) {
    // A response nobody asked for: report it once, keep relaying.
    PendingRequest none;
    none.method = "?";
    if (!requests_) requests_ = std::make_unique<std::deque<PendingRequest>>();
    requests_->push_back(std::move(none));
  }
  PendingRequest req = std::move(requests_->front());
  requests_->pop_front();

  if (req.websocket) {
    std::vector<Finding> response_findings;
    const Negotiated n = analyze_response(head, req.request, response_findings);
    report_handshake(req, &head, &n, response_findings);
    if (head.status == 101) {
      // A 101 the client rejects (its rule's endpoints drop TCP): the 1006
      // that follows comes from it.
      for (const Finding& f : response_findings) {
        if (rule_info(f.rule).close_code != 1006) continue;
        handshake_abort_ = CloseCause{f.rule, Direction::server_to_client, f.offset, 0, 0, true};
        handshake_abort_->ms_before = now_;  // the time found; made relative when reported
        break;
      }
      upgraded_ = n.websocket;
      if (upgraded_) start_frames(&n);
      return;
    }
  } else if (cfg_.inspect) {
    sink_.on_http(ctx(), {req.method, req.request.path, head.status, req.request.query});
  }
  if (awaiting_upgrade_ && head.status != 101) {
    // The upgrade was refused: the client's stream goes on as HTTP.
    awaiting_upgrade_ = false;
    if (!request_parser_->resume_after_upgrade()) request_opaque_ = true;
  }
  release_held();
}

void ConnectionInspector::switch_to_websocket(std::span<const uint8_t> first_server_bytes) {
  phase_ = Phase::websocket;
  awaiting_upgrade_ = false;
  request_parser_.reset();
  response_parser_.reset();
  requests_.reset();
  // Wire order: the held client bytes were received before this read of
  // the server's, so the server may already be answering them.
  std::vector<uint8_t> held;
  held.swap(held_);
  if (!held.empty()) {
    // Judged as of when they arrived, so a close is timed against them.
    const uint64_t now = now_;
    now_ = held_at_ms_;
    feed_frames(Direction::client_to_server, held);
    now_ = now;
  }
  // A client that ended its stream while its bytes were held ended it
  // before these server bytes arrived.
  if (ended_[0]) finish_frames(0);
  if (!first_server_bytes.empty()) feed_frames(Direction::server_to_client, first_server_bytes);
}

// ---- reports -------------------------------------------------------------------

void ConnectionInspector::report_handshake(const PendingRequest& req, const HttpHead* response,
                                           const Negotiated* n,
                                           const std::vector<Finding>& response_findings) {
  if (!cfg_.inspect) return;
  // A client can repeat refused upgrades on a keep-alive connection without
  // end: as many are reported as of one rule, and the rest counted. The
  // handshake answered with 101 (at most one) is always reported.
  if (!(n && n->switched)) {
    if (handshake_events_ >= cfg_.max_reports_per_rule) {
      ++handshakes_unreported_;
      return;
    }
    ++handshake_events_;
  }
  Digest key;
  if (cfg_.digests && !req.request.key.empty()) key = digest_of(*cfg_.digests, req.request.key);
  sink_.on_handshake(
      ctx(), HandshakeEvent{req.request, req.headers, req.findings, response, n, response_findings,
                            tls_[0], tls_[1], req.first ? cfg_.forwarded_host : std::string_view(),
                            cfg_.digests && !req.request.key.empty() ? &key : nullptr});
}

struct ConnectionInspector::Digesters {
  explicit Digesters(const DigestKey& k)
      : frame{PayloadDigester(k), PayloadDigester(k)},
        message{PayloadDigester(k), PayloadDigester(k)} {}
  PayloadDigester frame[2];
  PayloadDigester message[2];
};

void ConnectionInspector::on_frame(Direction dir, const FrameHeader& h) {
  if (!h.is_control()) attribution_.note_frame(dir, h, now_);
  const size_t i = dir_index(dir);
  const bool message_starts = opcode::is_data(h.opcode);
  if (digesters_) {
    digesters_->frame[i].start();
    if (message_starts) digesters_->message[i].start();
  }
  if (preview_ && message_starts) preview_[i].start();
  sink_.on_frame(ctx(), dir, h);
}

void ConnectionInspector::on_frame_end(Direction dir, const FrameHeader& h) {
  if (!digesters_) return;
  const Digest d = digesters_->frame[dir_index(dir)].done();
  sink_.on_frame_digest(ctx(), FrameDigestEvent{dir, h, d});
}

void ConnectionInspector::on_message_data(Direction dir, const uint8_t* data, size_t n) {
  if (digesters_) digesters_->message[dir_index(dir)].add(data, n);
  if (preview_) preview_[dir_index(dir)].add(data, n);
}

void ConnectionInspector::on_message(const MessageInfo& m) {
  attribution_.note_message(m, now_);
  sink_.on_message(ctx(), m);
  if (preview_) {
    sink_.on_preview(ctx(), PreviewEvent{m, preview_[dir_index(m.dir)].kept()});
  }
  if (!digesters_) return;
  const Digest d = digesters_->message[dir_index(m.dir)].done();
  sink_.on_message_digest(ctx(), MessageDigestEvent{m, d});
}

void ConnectionInspector::on_violation(const Violation& v) {
  attribution_.record(v, now_);
  sink_.on_violation(ctx(), v);
}

void ConnectionInspector::on_close(const CloseFrame& c) {
  const CloseAttribution::Verdict v = attribution_.judge(c, now_);
  // A peer can repeat close frames without end: each direction reports as
  // many as it reports of one rule, and counts the rest.
  const size_t i = dir_index(c.dir);
  if (close_events_[i] >= cfg_.max_reports_per_rule) {
    ++closes_unreported_[i];
    return;
  }
  ++close_events_[i];
  sink_.on_close(ctx(),
                 CloseEvent{c, v.in_reply, v.cause ? &*v.cause : nullptr, v.unseen_corruption});
}

void ConnectionInspector::on_payload(Direction dir, const FrameHeader& h, const uint8_t* data,
                                     size_t n, uint64_t at) {
  if (digesters_) {
    PayloadDigester& d = digesters_->frame[dir_index(dir)];
    if (!h.masked) {
      d.add(data, n);
    } else {
      uint8_t block[1024];
      for (size_t done = 0; done < n;) {
        const size_t len = std::min(n - done, sizeof block);
        unmask_copy(block, data + done, len, h.mask, at + done);
        d.add(block, len);
        done += len;
      }
    }
  }
}

void ConnectionInspector::own_close_sent(Direction dir, uint64_t now_ms) {
  now_ = std::max(now_, now_ms);
  const size_t i = dir_index(dir);
  if (own_close_[i] || finished_) return;
  own_close_[i] = true;
  if (cfg_.inspect)
    sink_.on_synthesized_close(ctx(), SynthesizedCloseEvent{dir, 1001, EndCause::proxy_shutdown});
}

void ConnectionInspector::report_synthesized_closes() {
  if (!upgraded_ || phase_ != Phase::websocket) return;
  if (attribution_.both_closed()) {
    end_cause_ = EndCause::close_handshake;
    return;
  }
  // Still open when a capture ended: no endpoint has reported anything yet.
  if (!cfg_.inspect || end_cause_ == EndCause::capture_ended) return;
  std::optional<CloseCause> abort = handshake_abort_;
  // Only while the client has sent no close frame: one that did had not failed the connection.
  if (abort && attribution_.close_seen(Direction::client_to_server)) abort.reset();
  if (abort) abort->ms_before = now_ >= abort->ms_before ? now_ - abort->ms_before : 0;
  for (Direction d : {Direction::server_to_client, Direction::client_to_server}) {
    if (attribution_.close_seen(d) || own_close_[dir_index(d)]) continue;
    sink_.on_synthesized_close(
        ctx(), SynthesizedCloseEvent{d, 1006, end_cause_, abort ? &*abort : nullptr});
  }
}

void ConnectionInspector::finish(EndCause cause, uint64_t now_ms) {
  if (finished_) return;
  now_ = std::max(now_, now_ms);
  if (cause != EndCause::none) end_cause_ = cause;
  for (size_t k = 0; k < pending() && cfg_.inspect; ++k) {
    const PendingRequest& req = (*requests_)[k];
    if (req.websocket) {
      report_handshake(req, nullptr, nullptr, {});
    } else if (unanswered_events_ >= cfg_.max_reports_per_rule) {
      ++unanswered_unreported_;  // up to max_pending_requests of them
    } else {
      ++unanswered_events_;
      sink_.on_http(ctx(), {req.method, req.request.path, 0, req.request.query});
    }
  }
  requests_.reset();
  report_synthesized_closes();
  finished_ = true;
  ConnCloseEvent e{now_ - std::min(now_, start_ms_), end_cause_, upgraded_, {}};
  for (size_t i = 0; i < 2; ++i) {
    e.dir[i].bytes = bytes_[i];
    e.dir[i].ended = ended_[i];
    e.dir[i].how = end_how_[i];
    e.dir[i].end_ms = end_ms_[i];
    e.dir[i].last_data_ms = last_data_ms_[i];
    e.dir[i].closes_unreported = closes_unreported_[i];
    const StreamInspector* insp = std::get_if<StreamInspector>(&frames_[i]);
    e.dir[i].stats = insp ? &insp->stats() : nullptr;
  }
  e.handshakes_unreported = handshakes_unreported_;
  e.unanswered_unreported = unanswered_unreported_;
  sink_.on_conn_close(ctx(), e);
}

}  // namespace wsi
