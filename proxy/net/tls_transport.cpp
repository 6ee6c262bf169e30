#include "proxy/net/tls_transport.h"

#include <algorithm>
#include <ctime>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace wsi {
namespace {

// Records read from TCP per read: a few records at a time keep what waits
// in OpenSSL small when the handler reads slowly.
constexpr size_t kRecordReadMin = 16 * 1024;
constexpr size_t kRecordReadMax = 256 * 1024;
// A write buffer grown past this by one large write is given back; one
// delivery's records (kRecordReadMax of application bytes and their record
// overhead) fit in it.
constexpr size_t kKeepWriteBuffer = kRecordReadMax + kRecordReadMax / 4;

// The write BIO appends OpenSSL's records to the transport's buffer. (A mem
// BIO zeroes each region before writing it and its whole buffer at each
// reset: twice the bytes written, or more.)
int records_write(BIO* b, const char* p, int n) {
  BIO_clear_retry_flags(b);
  static_cast<std::string*>(BIO_get_data(b))->append(p, static_cast<size_t>(n));
  return n;
}

long records_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

BIO_METHOD* records_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsinspect records");
    if (!m || BIO_meth_set_write(m, records_write) != 1 || BIO_meth_set_ctrl(m, records_ctrl) != 1)
      std::abort();
    return m;
  }();
  return method;
}

// Empties this thread's OpenSSL error queue, so that SSL_get_error after the
// next call reports that call. ERR_clear_error walks the whole queue even
// when it is empty (a few % of the proxy's CPU with small messages): it runs
// only when an error is there, which is exactly what SSL_get_error looks at.
void clear_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

std::string name_text(const X509_NAME* name) {
  BIO* b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  const long n = BIO_ctrl(b, BIO_CTRL_INFO, 0, &p);
  std::string out(p, n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(b);
  return out;
}

std::string time_text(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

TlsTransport::TlsTransport(TcpTransport& tcp, const TlsContext& ctx, TlsRole role, ReadBuffer buf,
                           TransportHandler& handler)
    : tcp_(tcp), handler_(handler), buf_(buf), role_(role) {
  ssl_ = SSL_new(ctx.ctx());
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(records_method());
  if (!ssl_ || !rbio_ || !wbio_) std::abort();
  BIO_set_data(wbio_, &records_);
  BIO_set_init(wbio_, 1);
  BIO_ctrl(rbio_, BIO_C_SET_BUF_MEM_EOF_RETURN, -1,
           nullptr);  // no records yet means "wait", not EOF
  SSL_set_bio(ssl_, rbio_, wbio_);
  SSL_set_app_data(ssl_, this);
  SSL_set_info_callback(ssl_, on_info);
  if (role == TlsRole::server)
    SSL_set_accept_state(ssl_);
  else
    SSL_set_connect_state(ssl_);
  facts_.role = role;
  tcp_.set_handler(*this);
}

TlsTransport::~TlsTransport() {
  SSL_free(ssl_);
}

void TlsTransport::set_peer_name(const std::string& sni, const std::string& verify_host) {
  if (!sni.empty())
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(sni.c_str()));
  if (verify_host.empty()) return;
  if (is_ip_literal(verify_host))
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), verify_host.c_str());
  else
    SSL_set1_host(ssl_, verify_host.c_str());
}

void TlsTransport::start_server() {
  tcp_.start_reading();
}

void TlsTransport::start_client() {
  tcp_.start_reading();
  handshake_step();
}

void TlsTransport::on_info(const SSL* ssl, int where, int ret) {
  auto* t = static_cast<TlsTransport*>(SSL_get_app_data(ssl));
  if (where & SSL_CB_ALERT) {
    const int desc = ret & 0xff;
    if (desc == SSL_AD_CLOSE_NOTIFY) return;
    if (where & SSL_CB_READ)
      t->facts_.alert_received = desc;
    else
      t->facts_.alert_sent = desc;
  } else if ((where & SSL_CB_LOOP) && SSL_get_state(ssl) == TLS_ST_SW_CERT) {
    t->facts_.sent_certificate = true;
  }
}

// ---- handshake ---------------------------------------------------------------------

void TlsTransport::on_connected(Transport&, int status) {
  if (status < 0) {
    handler_.on_connected(*this, status);  // TCP itself failed
    return;
  }
  handler_.on_connected(*this, kTransportHandshaking);
  tcp_.start_reading();
  handshake_step();  // the ClientHello
}

void TlsTransport::handshake_step() {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r != 1) {
    const int e = SSL_get_error(ssl_, r);
    const unsigned long err = ERR_peek_last_error();
    flush(0);  // our flight, or the alert that ends it
    if (e == SSL_ERROR_WANT_READ) return;
    facts_.reason = ERR_GET_REASON(err);
    facts_.reason_text = take_openssl_error();
    facts_.verify_result = SSL_get_verify_result(ssl_);
    if (facts_.verify_result != X509_V_OK)
      facts_.verify_text = X509_verify_cert_error_string(facts_.verify_result);
    handshake_failed(false);
    return;
  }
  handshake_done_ = true;
  fill_summary();
  if (!flush(0)) {
    handshake_failed(true);
    return;
  }
  for (Pending& p : pending_) {
    size_t n = 0;
    if (!p.bytes.empty()) SSL_write_ex(ssl_, p.bytes.data(), p.bytes.size(), &n);
    flush(p.mark);
  }
  pending_.clear();
  pending_bytes_ = 0;
  if (shutdown_requested_) {
    if (shutdown_done_)
      tcp_.shutdown();
    else
      send_close_notify();
  }
  handler_.on_connected(*this, 0);
  // Application bytes may have come with the handshake's last flight.
  if (app_reading_) pump();
  update_tcp_reading();
}

void TlsTransport::handshake_failed(bool peer_closed) {
  if (failed_) return;
  failed_ = true;
  facts_.peer_closed = facts_.peer_closed || peer_closed;
  failure_ = explain_tls_failure(facts_);
  tcp_.stop_reading();
  handler_.on_connected(*this, UV_EPROTO);
}

void TlsTransport::fail_timeout() {
  if (handshake_done_ || failed_) return;
  facts_.timed_out = true;
  handshake_failed(false);
}

void TlsTransport::fill_summary() {
  TlsSummary& s = summary_;
  s.version = SSL_get_version(ssl_);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_)) s.cipher = SSL_CIPHER_get_name(c);
  if (const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) s.sni = sni;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  s.alpn.assign(reinterpret_cast<const char*>(alpn), alpn ? alpn_len : 0);
  if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
    s.peer_certificate = true;
    s.peer_subject = name_text(X509_get_subject_name(peer));
    s.peer_issuer = name_text(X509_get_issuer_name(peer));
    s.not_before = time_text(X509_get0_notBefore(peer));
    s.not_after = time_text(X509_get0_notAfter(peer));
  }
  if (role_ == TlsRole::client) {
    const long v = SSL_get_verify_result(ssl_);
    const bool checked = SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER;
    const std::string result = v == X509_V_OK ? "ok" : X509_verify_cert_error_string(v);
    s.verification = checked ? result : "not checked (--upstream-insecure): " + result;
  }
}

// ---- reading -----------------------------------------------------------------------

size_t TlsTransport::read_limit(const Transport&) const {
  if (!handshake_done_) return kRecordReadMin;
  return std::clamp(handler_.read_limit(*this), kRecordReadMin, kRecordReadMax);
}

void TlsTransport::on_read(Transport&, std::span<const uint8_t> bytes) {
  if (failed_) return;
  if (!first_bytes_seen_) {
    first_bytes_seen_ = true;
    // A TLS record starts with 0x14-0x17; an HTTP request with a method's letter.
    if (role_ == TlsRole::server && bytes[0] >= 'A' && bytes[0] <= 'Z') {
      facts_.plain_http = true;
      // Content-Length is counted from the body, so the two cannot disagree.
      static const std::string kAnswer = [] {
        const std::string body = "wsinspect: this port speaks TLS; connect with wss://\r\n\r\n";
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      }();
      tcp_.write({reinterpret_cast<const uint8_t*>(kAnswer.data()), kAnswer.size()});
      handshake_failed(false);
      return;
    }
  }
  BIO_write(rbio_, bytes.data(), static_cast<int>(bytes.size()));
  if (!handshake_done_)
    handshake_step();
  else
    pump();
}

void TlsTransport::pump() {
  if (pumping_ || !handshake_done_ || failed_) return;
  pumping_ = true;
  while (app_reading_ && !end_reported_ && tcp_.is_open()) {
    int e = ended_with_;
    if (e == SSL_ERROR_NONE) {
      // As many records as fit go to the handler in one piece, so a large
      // message is relayed in a few large writes rather than one per record.
      const size_t limit = std::min({buf_.size, kRecordReadMax, handler_.read_limit(*this)});
      if (limit == 0) break;
      size_t got = 0;
      clear_errors();
      while (got < limit) {
        size_t n = 0;
        if (SSL_read_ex(ssl_, buf_.data + got, limit - got, &n) == 1) {
          got += n;
          continue;
        }
        e = SSL_get_error(ssl_, 0);
        // A record that does not decrypt, or an alert: OpenSSL's reason,
        // taken before the handler runs.
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_ZERO_RETURN) {
          facts_.reason = ERR_GET_REASON(ERR_peek_error());
          facts_.reason_text = take_openssl_error();
        }
        break;
      }
      if (got) {
        // An end behind these bytes is reported next, while the handler reads.
        if (e != SSL_ERROR_WANT_READ) ended_with_ = e;
        handler_.on_read(*this, {reinterpret_cast<const uint8_t*>(buf_.data), got});
        if (e != SSL_ERROR_WANT_READ) continue;  // the buffer is full, or the end is next
        // Every whole record is read (nothing comes in during on_read).
        if (!app_reading_ || end_reported_ || !tcp_.is_open()) break;
      }
    }
    if (e == SSL_ERROR_WANT_READ) {
      if (tcp_ended_) {
        // Every record the peer sent has been read, and TCP ended.
        end_reported_ = true;
        truncated_ = tcp_end_how_ == StreamEnd::fin;
        handler_.on_end(*this, tcp_end_how_, tcp_end_error_);
      }
      break;
    }
    end_reported_ = true;
    if (e == SSL_ERROR_ZERO_RETURN) {
      close_notify_received_ = true;
      handler_.on_end(*this, StreamEnd::fin, 0);
    } else {
      // A record that does not decrypt, or an alert: the stream is broken.
      handler_.on_end(*this, StreamEnd::reset, UV_EPROTO);
    }
    break;
  }
  flush(0);  // a key update or alert OpenSSL answers with
  pumping_ = false;
  update_tcp_reading();
}

void TlsTransport::on_end(Transport&, StreamEnd how, int error) {
  if (failed_) return;
  if (!handshake_done_) {
    handshake_failed(true);
    return;
  }
  tcp_ended_ = true;
  tcp_end_how_ = how;
  tcp_end_error_ = error;
  if (end_reported_) return;  // close_notify came first
  if (how == StreamEnd::reset) {
    end_reported_ = true;
    handler_.on_end(*this, StreamEnd::reset, error);
    return;
  }
  pump();  // what is decrypted goes first; the end follows it
}

void TlsTransport::start_reading() {
  app_reading_ = true;
  if (handshake_done_ && !pumping_) pump();
  update_tcp_reading();
}

void TlsTransport::stop_reading() {
  app_reading_ = false;
  update_tcp_reading();
}

// TCP is read during the handshake whatever the handler wants; after it,
// only while the handler reads and nothing decrypted is waiting.
void TlsTransport::update_tcp_reading() {
  if (!tcp_.is_open() || failed_) return;
  const bool want =
      !handshake_done_ || (app_reading_ && !end_reported_ && !tcp_ended_ && SSL_pending(ssl_) == 0);
  if (want)
    tcp_.start_reading();
  else
    tcp_.stop_reading();
}

// ---- writing -----------------------------------------------------------------------

bool TlsTransport::write(std::span<const uint8_t> bytes, uint32_t mark) {
  if (!tcp_.is_open() || shutdown_requested_ || failed_) return true;  // the peer is gone
  if (!handshake_done_) {
    pending_.push_back(
        {std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), mark});
    pending_bytes_ += bytes.size();
    return true;
  }
  size_t n = 0;
  if (!bytes.empty() && SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) != 1) {
    ERR_clear_error();
    return false;
  }
  return flush(mark);
}

bool TlsTransport::flush(uint32_t mark) {
  if (records_.empty()) return mark == 0 || tcp_.write({}, mark);
  const bool ok =
      tcp_.write({reinterpret_cast<const uint8_t*>(records_.data()), records_.size()}, mark);
  if (records_.capacity() > kKeepWriteBuffer)
    std::string().swap(records_);
  else
    records_.clear();
  return ok;
}

void TlsTransport::on_written(Transport&, uint32_t mark) {
  if (handshake_done_ || mark) handler_.on_written(*this, mark);
}

void TlsTransport::on_write_error(Transport&, int error) {
  handler_.on_write_error(*this, error);
}

void TlsTransport::shutdown(bool notify) {
  if (shutdown_requested_ || !tcp_.is_open()) return;
  shutdown_requested_ = true;
  if (!notify) shutdown_done_ = true;  // no close_notify: TCP FIN only
  if (handshake_done_ && !notify) tcp_.shutdown();
  if (handshake_done_) send_close_notify();
  // Before the handshake: close_notify follows it (after what is pending).
}

void TlsTransport::send_close_notify() {
  if (shutdown_done_) return;
  shutdown_done_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
  flush(0);
  tcp_.shutdown();
}

void TlsTransport::close(bool reset) {
  tcp_.close(reset);
}

void TlsTransport::on_closed(Transport&) {
  handler_.on_closed(*this);
}

}  // namespace wsi
