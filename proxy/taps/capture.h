// Captures (--capture FILE): both legs of every connection as a pcap file
// that Wireshark and tshark open. The proxy sees bytes, not packets, so each
// leg is written as the TCP connection it is (parser/net/tcp_synth.h): the
// client's leg between the client and the listen address, the upstream's
// between wsinspect's local address and the upstream. Under TLS the bytes
// are the plaintext as relayed. libpcap writes the file (LINKTYPE_RAW);
// it is created readable by its owner only, since it holds every secret
// that crossed the proxy.
//
//   CaptureFile   the file: a writer thread, rotation at a size, reopening
//                 on SIGHUP
//   CaptureConn   one connection's packets, held until its filter is decided
//   CaptureTap    a Transport over a leg's transport that records its bytes
#pragma once

#include <pcap/pcap.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "parser/net/tcp_synth.h"
#include "proxy/net/tcp_transport.h"

namespace wsi {

// --capture-client: an address with an optional prefix length.
struct CaptureNet {
  bool v6 = false;
  uint8_t addr[16] = {};
  int bits = 0;
  bool contains(const IpEndpoint& e) const;
};
bool parse_capture_net(std::string_view text, CaptureNet& out, std::string& why);
bool check_capture_net(std::string_view text, std::string& why);

struct CaptureSettings {
  std::string path;
  uint64_t max_size = 100ull << 20;  // per file; then the file rotates
  uint32_t max_files = 4;            // FILE, FILE.1, ... FILE.(max_files - 1)
  std::string path_prefix;           // only requests whose path starts with it
  std::optional<CaptureNet> client;  // only clients in this network
};

IpEndpoint ip_endpoint(const sockaddr* sa);

// The loop never waits for the disk: packets are gathered in chunks that a
// writer thread of the file's own writes with libpcap. When the disk falls
// behind by more than kQueueLimit, chunks are dropped and counted (as a
// capture on a busy interface drops packets); the relay goes on unslowed.
class CaptureFile final : public PacketOut {
 public:
  static constexpr size_t kChunk = 256 * 1024;          // handed to the writer when full
  static constexpr size_t kQueueLimit = 64u << 20;      // bytes waiting for the disk at most
  static constexpr uint64_t kHandOffEveryUs = 100'000;  // and at least this often

  CaptureFile() = default;
  ~CaptureFile() override;
  CaptureFile(const CaptureFile&) = delete;
  CaptureFile& operator=(const CaptureFile&) = delete;

  // Creates (truncates) the file, mode 0600, with its pcap header, and
  // starts the writer.
  bool open(const CaptureSettings& s, std::string& error);
  // SIGHUP: a new file at the same path (logrotate moved the old one); the
  // packets captured before go to the old file, those after to the new one.
  bool reopen(std::string& error);
  // What is gathered goes to the writer, which writes it out.
  void flush();
  // Everything handed over is written; the writer stops.
  void close();

  const CaptureSettings& settings() const { return settings_; }
  // Microseconds since the Unix epoch, from the monotonic clock.
  uint64_t now_us() const;

  void packet(uint64_t ts_us, std::span<const uint8_t> ip) override;

  uint64_t packets() const { return packets_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Chunk {
    std::vector<uint8_t> bytes;  // records: ts_us (8 bytes), length (4), the packet
    uint64_t packets = 0;
    // SIGHUP: the file to go on in, once the chunks before this one are written.
    pcap_dumper_t* next_file = nullptr;
  };
  // A new file at the path, with its header; null with `error`.
  pcap_dumper_t* create_file(std::string& error);
  bool open_file(std::string& error);  // the writer's file, with file_mutex_ held
  void rotate();
  void write_chunk(const Chunk& c);
  void writer();

  CaptureSettings settings_;
  uint64_t epoch_us_ = 0;  // wall clock at start ...
  uint64_t start_ns_ = 0;  // ... and the monotonic clock then
  // The loop's side.
  Chunk gathering_;
  uint64_t last_hand_off_us_ = 0;
  uint64_t packets_ = 0;
  uint64_t dropped_ = 0;
  // Between the loop and the writer.
  std::mutex queue_mutex_;
  std::condition_variable wake_;
  std::deque<Chunk> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  // The writer's side (and reopen's, which takes the lock).
  std::mutex file_mutex_;
  pcap_t* pcap_ = nullptr;  // the link type and snapshot length of the dumper
  pcap_dumper_t* dumper_ = nullptr;
  uint64_t file_bytes_ = 0;
};

// One connection: its two flows, written to the file once its filter says
// so. With --capture-path the request line decides; packets before it are
// held (at most kHoldLimit bytes, then the connection is not captured).
class CaptureConn final : public PacketOut {
 public:
  static constexpr size_t kHoldLimit = 64 * 1024;

  CaptureConn(CaptureFile& file, const IpEndpoint& client, const IpEndpoint& listen);

  // The leg's flows: the client's (opened at once) and the upstream's.
  TcpFlowSynth& client_flow() { return client_flow_; }
  TcpFlowSynth* upstream_flow() { return upstream_flow_ ? &*upstream_flow_ : nullptr; }
  void open_upstream(const IpEndpoint& local, const IpEndpoint& upstream);
  // Bytes the client sent, seen before the filter is decided.
  void client_bytes(std::span<const uint8_t> bytes);
  bool decided() const { return state_ != State::holding; }
  uint64_t now_us() const { return file_.now_us(); }
  // Both flows ended: what is buffered goes to disk.
  void maybe_flush();

  void packet(uint64_t ts_us, std::span<const uint8_t> ip) override;

 private:
  enum class State : uint8_t { holding, capturing, skipped };
  void decide(bool capture);

  CaptureFile& file_;
  State state_;
  TcpFlowSynth client_flow_;
  std::optional<TcpFlowSynth> upstream_flow_;
  std::string request_line_;  // the client's first bytes, while holding
  struct Held {
    uint64_t ts_us;
    std::vector<uint8_t> ip;
  };
  std::vector<Held> held_;
  size_t held_bytes_ = 0;
};

// A leg's transport with its bytes recorded: reads and writes, FIN, reset.
// The session talks to the tap; the tap's inner transport reports to it.
class CaptureTap final : public Transport, public TransportHandler {
 public:
  // `client_leg`: the client's leg (reads are the client's bytes), or the
  // upstream's (reads are the server's). `tcp` gives the upstream's addresses.
  CaptureTap(CaptureConn& conn, bool client_leg, TcpTransport& tcp, TransportHandler& up);
  void set_inner(Transport& inner) { inner_ = &inner; }

  // Transport
  void start_reading() override { inner_->start_reading(); }
  void stop_reading() override { inner_->stop_reading(); }
  bool reading() const override { return inner_->reading(); }
  bool write(std::span<const uint8_t> bytes, uint32_t mark = 0) override;
  uint64_t queued() const override { return inner_->queued(); }
  void shutdown(bool notify = true) override;
  bool shutdown_sent() const override { return inner_->shutdown_sent(); }
  void close(bool reset) override;
  bool is_open() const override { return inner_->is_open(); }

  // TransportHandler, for the inner transport.
  void on_connected(Transport&, int status) override;
  void on_read(Transport&, std::span<const uint8_t> bytes) override;
  void on_end(Transport&, StreamEnd how, int error) override;
  void on_written(Transport&, uint32_t mark) override { up_.on_written(*this, mark); }
  void on_write_error(Transport&, int error) override { up_.on_write_error(*this, error); }
  void on_closed(Transport&) override;
  size_t read_limit(const Transport&) const override { return up_.read_limit(*this); }

 private:
  TcpFlowSynth* flow();
  // The peer's side of this leg's flow: the client, or the server.
  bool peer_is_flow_client() const { return client_leg_; }

  CaptureConn& conn_;
  bool client_leg_;
  TcpTransport& tcp_;
  TransportHandler& up_;
  Transport* inner_ = nullptr;
};

}  // namespace wsi
