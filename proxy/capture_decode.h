// `wsinspect decode FILE.pcap`: every TCP connection of a capture put back
// together, the HTTP/WebSocket ones run through the connection core, and
// their events reported as the live proxy reports them, each line labelled
// with the connection's client and server addresses. Packets are handed in
// one at a time; memory is bounded by the connections open at once (each
// direction's out-of-order buffer is bounded, and beyond it is a gap).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parser/conn/connection_inspector.h"
#include "parser/net/packet.h"
#include "parser/net/tcp_reassembly.h"
#include "proxy/report/report_sink.h"

namespace wsi {

struct CaptureDecodeOptions {
  bool json = false;
  uint64_t max_message_size = 0;
  uint32_t preview = 0;  // ConnConfig::preview: content bytes shown per data message
  ReassemblyLimits limits;
  // `compare`: another sink every core event also goes to, keyed digests of
  // frames and messages, and each connection's addresses as they are known.
  ReportSink* also = nullptr;
  const DigestKey* digests = nullptr;
  std::function<void(uint64_t conn, const std::string& client, const std::string& server)>
      on_addresses;
};

struct CaptureTotals {
  uint64_t packets = 0;
  uint64_t not_tcp = 0;    // other protocols, and IP fragments
  uint64_t malformed = 0;  // headers that did not parse, unsupported link types
  uint64_t connections = 0;
  uint64_t websocket = 0;  // upgraded (or resynchronised mid-stream)
  uint64_t http = 0;       // HTTP only
  uint64_t midstream = 0;  // of the WebSocket ones, first seen after the handshake
  uint64_t skipped = 0;    // neither HTTP nor WebSocket
  uint64_t gaps = 0;       // byte ranges missing from the capture
  uint64_t conflicts = 0;  // retransmitted copies that differed from the first
  uint64_t open_at_end = 0;
};

class CaptureDecoder {
 public:
  CaptureDecoder(const CaptureDecodeOptions& opts, LineOut& out);
  ~CaptureDecoder();
  CaptureDecoder(const CaptureDecoder&) = delete;
  CaptureDecoder& operator=(const CaptureDecoder&) = delete;

  void packet(uint64_t time_us, int link, std::span<const uint8_t> data);
  // The capture is over: open connections are flushed and finished, then
  // the capture_summary line.
  void finish();

  bool error_seen() const;  // an error-severity violation or handshake finding
  const CaptureTotals& totals() const { return totals_; }
  size_t open() const { return flows_.size(); }

  struct Flow;

 private:
  struct Key {
    Endpoint lo, hi;
    bool operator<(const Key& o) const;
  };
  class Labelled;
  class ErrorSeen;

  // One line of the decoder's own (tcp_conflict, resync, capture_summary).
  template <class Json, class Text>
  void emit(EventLevel level, Json json, Text text);
  void close_flow(std::map<Key, std::unique_ptr<Flow>>::iterator it, uint64_t now_ms, bool at_end);
  void remember_closed(const Key& k);

  CaptureDecodeOptions opts_;
  std::unique_ptr<Labelled> labelled_;
  std::unique_ptr<ReportSink> format_;
  std::unique_ptr<ErrorSeen> seen_;
  FanOutSink sink_;
  ConnConfig core_cfg_;
  std::map<Key, std::unique_ptr<Flow>> flows_;
  std::vector<Key> closed_;  // recently closed connections, as a ring
  size_t closed_next_ = 0;
  CaptureTotals totals_;
  uint64_t next_id_ = 1;
  uint64_t last_ms_ = 0;
};

}  // namespace wsi
