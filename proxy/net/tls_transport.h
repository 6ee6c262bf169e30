// TlsTransport: TLS (OpenSSL, memory BIOs) over a TcpTransport, offered to
// the session as one more Transport. The TCP leg carries records; the
// handler sees application bytes only:
//   - on_connected follows the TLS handshake (status < 0: it failed, and
//     failure() says why);
//   - on_end(fin) is close_notify, or a TCP end without it (truncated());
//   - shutdown() sends close_notify, then FIN, after everything queued;
//   - writes accepted before the handshake completes are sent after it.
// Reads are delivered in the loop's shared read buffer, bounded by the
// handler's read_limit; what OpenSSL has decrypted beyond it waits inside
// the SSL object, and TCP reading stops until it is taken.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "parser/conn/tls_summary.h"
#include "proxy/net/tcp_transport.h"
#include "proxy/net/tls_context.h"
#include "proxy/net/tls_failure.h"

namespace wsi {

class TlsTransport final : public Transport, private TransportHandler {
 public:
  // `tcp` is the leg's TCP transport: its handler becomes this transport.
  TlsTransport(TcpTransport& tcp, const TlsContext& ctx, TlsRole role, ReadBuffer buf,
               TransportHandler& handler);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  // Client role: the server name to send (empty: no SNI) and the name or
  // IP address the certificate must match (empty: no hostname check).
  void set_peer_name(const std::string& sni, const std::string& verify_host);
  // Server role: begins reading the ClientHello (the TCP connection is up).
  void start_server();
  // Client role over a TCP connection that is already up: sends the ClientHello.
  void start_client();
  // Records already read from TCP by someone else (the first bytes of a tunnel).
  void feed_records(std::span<const uint8_t> bytes) { on_read(tcp_, bytes); }
  // Server role: the name a leaf certificate is made for when the client
  // sends no SNI (the CONNECT target).
  void set_fallback_name(std::string name) { fallback_name_ = std::move(name); }
  const std::string& fallback_name() const { return fallback_name_; }

  bool handshake_done() const { return handshake_done_; }
  const TlsSummary& summary() const { return summary_; }
  const TlsFailure& failure() const { return failure_; }
  // The peer's TCP stream ended without close_notify.
  bool truncated() const { return truncated_; }
  bool close_notify_received() const { return close_notify_received_; }
  // After the handshake: why the TLS stream broke (a record that does not
  // decrypt, a fatal alert, refused renegotiation); empty id when nothing did.
  TlsFailure stream_failure() const {
    return handshake_done_ ? explain_tls_stream_failure(facts_) : TlsFailure{};
  }
  // The handshake timed out: fills failure() and reports on_connected(error).
  void fail_timeout();

  // Transport
  void start_reading() override;
  void stop_reading() override;
  bool reading() const override { return app_reading_; }
  bool write(std::span<const uint8_t> bytes, uint32_t mark = 0) override;
  uint64_t queued() const override { return tcp_.queued() + pending_bytes_; }
  void shutdown(bool notify = true) override;
  bool shutdown_sent() const override { return shutdown_requested_; }
  void close(bool reset) override;
  bool is_open() const override { return tcp_.is_open(); }

 private:
  // TransportHandler, for the TCP leg underneath.
  void on_connected(Transport&, int status) override;
  void on_read(Transport&, std::span<const uint8_t> bytes) override;
  void on_end(Transport&, StreamEnd how, int error) override;
  void on_written(Transport&, uint32_t mark) override;
  void on_write_error(Transport&, int error) override;
  void on_closed(Transport&) override;
  size_t read_limit(const Transport&) const override;

  void handshake_step();
  void handshake_failed(bool peer_closed);
  void fill_summary();
  // Delivers decrypted bytes while the handler reads; then reports a pending end.
  void pump();
  // Moves OpenSSL's output to TCP. False: the TCP write failed.
  bool flush(uint32_t mark);
  void update_tcp_reading();
  void send_close_notify();
  static void on_info(const SSL* ssl, int where, int ret);

  TcpTransport& tcp_;
  TransportHandler& handler_;
  ReadBuffer buf_;
  TlsRole role_;
  SSL* ssl_;
  BIO* rbio_;            // records from the peer, owned by ssl_
  BIO* wbio_;            // appends to records_, owned by ssl_
  std::string records_;  // records for the peer, given to TCP at each flush
  TlsSummary summary_;
  TlsFailure failure_;
  TlsFailureFacts facts_;
  // Application bytes accepted before the handshake completed.
  struct Pending {
    std::string bytes;
    uint32_t mark;
  };
  std::vector<Pending> pending_;
  uint64_t pending_bytes_ = 0;
  bool handshake_done_ = false;
  bool failed_ = false;
  bool app_reading_ = false;
  bool pumping_ = false;
  bool shutdown_requested_ = false;
  bool shutdown_done_ = false;
  bool close_notify_received_ = false;
  bool truncated_ = false;
  bool end_reported_ = false;
  // SSL_read's end (close_notify or an error) behind bytes not yet delivered.
  int ended_with_ = SSL_ERROR_NONE;
  bool tcp_ended_ = false;  // the TCP leg ended; reported once decrypted bytes are taken
  StreamEnd tcp_end_how_ = StreamEnd::fin;
  int tcp_end_error_ = 0;
  bool first_bytes_seen_ = false;
  std::string fallback_name_;
};

}  // namespace wsi
