#include "proxy/taps/connections.h"

#include <algorithm>
#include <vector>

#include "proxy/event_format.h"
#include "proxy/proxy_server.h"
#include "proxy/report/json_writer.h"
#include "proxy/session.h"

namespace wsi {
namespace {

std::string_view state_of(const Session& s) {
  if (s.ending()) return "ending";
  if (!s.upstream_ready()) return "connecting";
  const ConnectionInspector& core = s.core();
  if (core.websocket()) {
    return core.close_seen(Direction::client_to_server) ||
                   core.close_seen(Direction::server_to_client)
               ? "closing"
               : "websocket";
  }
  return "http";
}

void direction_json(JsonWriter& w, const ConnectionInspector& core, Direction d) {
  const StreamInspector* in = core.inspector(d);
  w.key(direction_name(d))
      .begin_object()
      .field("bytes", core.bytes(d))
      .field("frames", in ? in->stats().frames : 0)
      .field("messages", in ? in->stats().messages : 0)
      .end_object();
}

}  // namespace

void ConnectionTable::on_conn_open(const EventContext& c, std::string_view client) {
  Entry& e = open_[c.conn];
  e.client = client;
  e.opened_ms = c.time_ms;
}

void ConnectionTable::on_handshake(const EventContext& c, const HandshakeEvent& e) {
  set_path(c.conn, e.request.path);
}

void ConnectionTable::on_http(const EventContext& c, const HttpExchangeEvent& e) {
  set_path(c.conn, e.path);
}

void ConnectionTable::set_path(uint64_t conn, std::string_view path) {
  const auto it = open_.find(conn);
  if (it == open_.end()) return;
  std::string shown = show_secrets_ ? std::string(path) : redact_url(path);
  it->second.path = escape_text(shown, kMaxPath);
}

std::string ConnectionTable::render(const Server& server, uint64_t now_ms, size_t& total) const {
  std::vector<const Session*> open;
  open.reserve(open_.size());
  for (const Session* s : server.sessions()) {
    if (!s->refused() && !s->core().finished() && open_.count(s->id())) open.push_back(s);
  }
  std::sort(open.begin(), open.end(),
            [](const Session* a, const Session* b) { return a->id() < b->id(); });
  total = open.size();
  if (open.size() > kMaxListed) open.resize(kMaxListed);
  std::string out;
  JsonWriter w(out);
  w.begin_array();
  for (const Session* s : open) {
    const Entry& e = open_.at(s->id());
    w.begin_object()
        .field("id", s->id())
        .field("client", e.client)
        .field("path", e.path)
        .field("state", state_of(*s))
        .field("age_ms", now_ms >= e.opened_ms ? now_ms - e.opened_ms : 0);
    direction_json(w, s->core(), Direction::client_to_server);
    direction_json(w, s->core(), Direction::server_to_client);
    w.end_object();
  }
  w.end_array();
  out += '\n';
  return out;
}

}  // namespace wsi
