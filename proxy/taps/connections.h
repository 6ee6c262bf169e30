// ConnectionTable: the open connections for the admin endpoint's
// /connections, as a tap of the events. It keeps what a session does not
// (the client's address, the path of its latest request); the state and the
// counters are read from the sessions themselves when the list is asked for.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/report/report_sink.h"

namespace wsi {

class Server;

class ConnectionTable final : public ReportSink {
 public:
  // show_secrets: paths as requested; otherwise credential parameters are
  // redacted, as in the log.
  explicit ConnectionTable(bool show_secrets) : show_secrets_(show_secrets) {}

  void on_conn_open(const EventContext& c, std::string_view client) override;
  void on_handshake(const EventContext& c, const HandshakeEvent& e) override;
  void on_http(const EventContext& c, const HttpExchangeEvent& e) override;
  void on_conn_close(const EventContext& c, const ConnCloseEvent&) override { open_.erase(c.conn); }

  size_t size() const { return open_.size(); }

  // A JSON array of `server`'s open connections, oldest first, at most
  // kMaxListed of them; `total` gets how many are open.
  std::string render(const Server& server, uint64_t now_ms, size_t& total) const;
  static constexpr size_t kMaxListed = 1000;
  // Longer paths are cut, so that a table entry stays small.
  static constexpr size_t kMaxPath = 256;

 private:
  struct Entry {
    std::string client;
    std::string path;
    uint64_t opened_ms = 0;
  };
  void set_path(uint64_t conn, std::string_view path);

  bool show_secrets_;
  std::unordered_map<uint64_t, Entry> open_;
};

}  // namespace wsi
