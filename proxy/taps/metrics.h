// MetricsTap: the proxy's counters for Prometheus, as a tap of every event
// (Server::add_tap), rendered in the text exposition format 0.0.4 when the
// admin endpoint is scraped (proxy/taps/admin.h).
//
// Every label value comes from a catalogue (end causes, rules, close codes,
// opcodes, directions, the upstream's stages), never from a connection, so
// the number of series is fixed whatever peers send: a close code a peer
// chose is its own label only when it is registered, otherwise its range
// ("4000-4999") or "invalid". Every series of every family is written, zero
// or not, so rate() and absent() work from the first scrape and the set of
// series never depends on the traffic.
//
// The text is written here rather than with prometheus-cpp: Debian's
// libprometheus-cpp core would build it without a thread, but it is one more
// build and image dependency for a format of a few lines, its counters are
// atomic doubles for a loop with one thread, and its families look series up
// by label map on each increment where fixed arrays index them here.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "parser/close_codes.h"
#include "parser/rules.h"
#include "proxy/report/report_sink.h"

namespace wsi {

// What the events alone do not say, read from the proxy when a scrape comes.
struct MetricsLive {
  bool draining = false;
  uint64_t refused = 0;  // connections refused over the limit
  uint64_t connection_limit = 0;
  uint64_t log_dropped = 0;
  // Wire bytes of the connections still open, so far, per direction: with
  // those of the ended connections they make the byte counters current.
  uint64_t open_bytes[2] = {0, 0};
  bool capture = false;
  uint64_t capture_packets = 0;
  uint64_t capture_dropped = 0;
};

// ---- label values, bounded by the catalogues ----

// The label of a close frame's code: the code of a registered one ("1000",
// "3003"; an empty close frame is "1005", as endpoints report it), the range
// of an unregistered code that may be sent ("3000-3999", "4000-4999"), and
// "invalid" for every other code and for a 1-byte close payload.
std::string_view close_code_label(bool has_code, uint16_t code, bool length_valid);
inline std::string_view close_code_label(const CloseFrame& c) {
  return close_code_label(c.has_code, c.code, c.length_valid);
}
// Every value close_code_label() can return, in catalogue order.
std::span<const std::string_view> close_code_labels();

// The opcode label: opcode::name(), every reserved opcode being "reserved".
inline constexpr size_t kOpcodeLabels = 7;
size_t opcode_label_index(uint8_t op);
std::string_view opcode_label(size_t index);

// Every end cause, in enum order.
std::span<const EndCause> all_end_causes();

// The stages an upstream error is reported at; any other is "other".
std::span<const std::string_view> upstream_stages();

// ---- the tap ----

class MetricsTap final : public ReportSink {
 public:
  // The per-connection report cap (--max-reports): violations beyond it are
  // not events, and are added from the connection's summary at its end.
  explicit MetricsTap(uint32_t max_reports_per_rule);

  void on_conn_open(const EventContext&, std::string_view) override { opened_++; }
  void on_conn_close(const EventContext&, const ConnCloseEvent& e) override;
  void on_handshake(const EventContext&, const HandshakeEvent& e) override;
  void on_http(const EventContext&, const HttpExchangeEvent& e) override;
  void on_http_error(const EventContext&, const HttpErrorEvent& e) override;
  void on_frame(const EventContext&, Direction d, const FrameHeader& h) override;
  void on_message(const EventContext&, const MessageInfo& m) override;
  void on_violation(const EventContext&, const Violation& v) override;
  void on_close(const EventContext&, const CloseEvent& e) override;
  void on_synthesized_close(const EventContext&, const SynthesizedCloseEvent& e) override;
  void on_upstream_error(const EventContext&, const UpstreamErrorEvent& e) override;
  void on_tls_error(const EventContext&, const TlsErrorEvent& e) override;

  uint64_t open_connections() const { return opened_ - closed_; }
  // Room for close_code_labels() (a test checks it is enough).
  static constexpr size_t kCodeLabels = 32;

  // The whole exposition text. Content-Type: kMetricsContentType.
  std::string render(const MetricsLive& live) const;

 private:
  static constexpr size_t kEndCauses = static_cast<size_t>(EndCause::forward_refused) + 1;
  static constexpr size_t kStages = 6;  // upstream_stages() and "other"
  enum Outcome : size_t { upgraded, refused, no_response, unreported, kOutcomes };

  uint32_t report_cap_;
  uint64_t opened_ = 0;
  uint64_t closed_ = 0;
  std::array<uint64_t, kEndCauses> ended_{};
  std::array<uint64_t, kOutcomes> handshakes_{};
  std::array<uint64_t, kRuleCount> findings_{};
  uint64_t http_answered_ = 0;
  uint64_t http_unanswered_ = 0;
  uint64_t http_errors_[2] = {0, 0};
  uint64_t closed_bytes_[2] = {0, 0};
  std::array<uint64_t, kOpcodeLabels> frames_[2]{};
  std::array<uint64_t, kOpcodeLabels> frame_bytes_[2]{};
  std::array<uint64_t, kOpcodeLabels> messages_[2]{};
  std::array<uint64_t, kOpcodeLabels> message_bytes_[2]{};
  std::array<uint64_t, kRuleCount> violations_[2]{};
  std::array<uint64_t, kCodeLabels> closes_[2]{};
  uint64_t closes_unreported_[2] = {0, 0};
  // Synthesized closes: 1006 by end cause, and the 1001 the proxy sent.
  std::array<uint64_t, kEndCauses> abnormal_[2]{};
  uint64_t going_away_[2] = {0, 0};
  std::array<uint64_t, kStages> upstream_errors_{};
  uint64_t tls_errors_[2] = {0, 0};  // client's leg, upstream's
};

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace wsi
