// Session: following the HTTP exchange in both directions (keep-alive,
// pipelining, chunked bodies, refused upgrades) and switching to frame
// inspection at the exact byte after a 101 response's headers.
#include "proxy/event_format.h"
#include "proxy/proxy_server.h"
#include "proxy/session.h"

namespace wsi {
namespace {

// Client bytes held for inspection while an upgrade request awaits its answer.
constexpr size_t kMaxHeldClientBytes = 256 * 1024;

}  // namespace

void Session::inspect_client(const uint8_t* data, size_t len) {
  if (phase_ == Phase::websocket) {
    client_insp_->feed({data, len});
    return;
  }
  if (phase_ == Phase::tunnel || request_opaque_) return;
  if (awaiting_upgrade_) {
    const size_t room =
        kMaxHeldClientBytes - std::min(kMaxHeldClientBytes, held_client_bytes_.size());
    held_client_bytes_.insert(held_client_bytes_.end(), data, data + std::min(room, len));
    return;
  }
  feed_request_bytes({data, len});
}

void Session::feed_request_bytes(std::span<const uint8_t> rest) {
  if (!request_parser_) request_parser_ = std::make_unique<HttpParser>(HttpMode::request);
  for (;;) {
    const HttpFeedResult r = request_parser_->feed(rest);
    rest = rest.subspan(r.consumed);
    switch (r.event) {
      case HttpEvent::need_more:
        return;
      case HttpEvent::head_complete:
        on_request_head(request_parser_->head());
        break;
      case HttpEvent::message_complete:
        break;
      case HttpEvent::upgrade:
        // The request asks to switch protocols: what follows depends on the answer.
        awaiting_upgrade_ = true;
        held_client_bytes_.assign(rest.begin(), rest.end());
        return;
      case HttpEvent::error:
        request_opaque_ = true;
        log_http_error(Direction::client_to_server, request_parser_->error());
        return;
    }
  }
}

void Session::on_request_head(const HttpHead& head) {
  PendingRequest req;
  req.method = head.method;
  req.request = analyze_request(head, req.findings);
  req.path = req.request.path;
  req.websocket = req.request.attempts_websocket;
  if (req.websocket) {
    const bool show = server_.config().log_secrets;
    for (const HttpHeader& h : head.headers)
      req.headers.emplace_back(escape_text(h.name), !show && is_secret_header(h.name)
                                                        ? "[redacted]"
                                                        : escape_text(h.value));
  }
  if (!response_parser_) response_parser_ = std::make_unique<HttpParser>(HttpMode::response);
  response_parser_->expect_response_to(head.method);
  requests_.push_back(std::move(req));
}

void Session::inspect_server(const uint8_t* data, size_t len) {
  if (phase_ == Phase::websocket) {
    server_insp_->feed({data, len});
    return;
  }
  if (phase_ == Phase::tunnel || response_opaque_) return;
  if (!response_parser_) response_parser_ = std::make_unique<HttpParser>(HttpMode::response);
  std::span<const uint8_t> rest(data, len);
  for (;;) {
    const HttpFeedResult r = response_parser_->feed(rest);
    rest = rest.subspan(r.consumed);
    switch (r.event) {
      case HttpEvent::need_more:
        return;
      case HttpEvent::head_complete:
        on_response_head(response_parser_->head());
        break;
      case HttpEvent::message_complete:
        break;
      case HttpEvent::upgrade:
        if (upgraded_) {
          switch_to_websocket(rest);
        } else {
          phase_ = Phase::tunnel;  // a 101 to something other than WebSocket, or CONNECT
        }
        return;
      case HttpEvent::error:
        response_opaque_ = true;
        log_http_error(Direction::server_to_client, response_parser_->error());
        return;
    }
  }
}

void Session::on_response_head(const HttpHead& head) {
  if (!first_response_seen_) {
    first_response_seen_ = true;
    arm_timer();
  }
  if (head.status >= 100 && head.status < 200 && head.status != 101) return;  // interim
  if (requests_.empty()) {
    // A response nobody asked for: report it once, keep relaying.
    PendingRequest none;
    none.method = "?";
    requests_.push_back(std::move(none));
  }
  PendingRequest req = std::move(requests_.front());
  requests_.erase(requests_.begin());

  if (req.websocket) {
    std::vector<Finding> response_findings;
    const Negotiated n = analyze_response(head, req.request, response_findings);
    log_handshake(req, &head, &n, response_findings);
    if (head.status == 101) {
      upgraded_ = n.websocket;
      if (upgraded_) {
        InspectorConfig base;
        base.deflate_negotiated = n.deflate;
        base.deflate = n.deflate_params;
        base.max_message_size = server_.config().max_message_size;
        base.max_reports_per_rule = server_.config().max_reports_per_rule;
        base.want_payload = server_.config().preview > 0;
        if (base.want_payload) preview_ = std::make_unique<std::string[]>(2);
        base.sender = Sender::client;
        client_insp_ = std::make_unique<StreamInspector>(base, *this);
        base.sender = Sender::server;
        server_insp_ = std::make_unique<StreamInspector>(base, *this);
      }
      return;
    }
  } else {
    log_http(req, head.status);
  }
  if (awaiting_upgrade_ && head.status != 101) {
    // The upgrade was refused: the client's stream goes on as HTTP.
    awaiting_upgrade_ = false;
    if (request_parser_->resume_after_upgrade()) {
      std::vector<uint8_t> held;
      held.swap(held_client_bytes_);
      feed_request_bytes(held);
    }
  }
}

void Session::switch_to_websocket(std::span<const uint8_t> first_server_bytes) {
  phase_ = Phase::websocket;
  awaiting_upgrade_ = false;
  request_parser_.reset();
  response_parser_.reset();
  std::vector<PendingRequest>().swap(requests_);  // frees its memory
  if (!first_server_bytes.empty()) server_insp_->feed(first_server_bytes);
  if (!held_client_bytes_.empty()) {
    std::vector<uint8_t> held;
    held.swap(held_client_bytes_);
    client_insp_->feed(held);
  }
}

void Session::log_http_error(Direction dir, const HttpError& e) {
  nlohmann::ordered_json j = {{"event", "http_error"},
                              {"dir", direction_name(dir)},
                              {"error", e.name},
                              {"reason", escape_text(e.reason)},
                              {"offset", e.offset}};
  server_.log().emit(EventLevel::warn, id_, j,
                     std::string(direction_arrow(dir)) + " not HTTP at offset " +
                         std::to_string(e.offset) + ": " + e.name + " (" + escape_text(e.reason) +
                         "); relaying this direction unparsed from here on");
}

}  // namespace wsi
