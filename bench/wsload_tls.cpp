#include "bench/wsload_tls.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

namespace wsload {
namespace {

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool is_ip_literal(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// TLS 1.3, one cipher suite, one group: what both ends of a run speak.
SSL_CTX* new_ctx(bool server, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) {
    error = openssl_error();
    return nullptr;
  }
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTlsCipherSuite) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kTlsGroup) != 1) {
    error = "cannot pin TLS 1.3, " + std::string(kTlsCipherSuite) + ", " + kTlsGroup + ": " +
            openssl_error();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // Whole records per read from the BIO instead of a header and then a body.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
}

}  // namespace

// ---- TlsConfig ---------------------------------------------------------------------

std::unique_ptr<TlsConfig> TlsConfig::client(const std::string& ca_file, std::string& error) {
  SSL_CTX* ctx = new_ctx(false, error);
  if (!ctx) return nullptr;
  const int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                 : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (ok != 1) {
    error = "cannot load the CA " + (ca_file.empty() ? "store" : "file " + ca_file) + ": " +
            openssl_error();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return std::unique_ptr<TlsConfig>(new TlsConfig(ctx, false));
}

std::unique_ptr<TlsConfig> TlsConfig::server(const std::string& cert_file,
                                             const std::string& key_file, std::string& error) {
  SSL_CTX* ctx = new_ctx(true, error);
  if (!ctx) return nullptr;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    error = "cannot load the certificate " + cert_file + ": " + openssl_error();
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1) {
    error = "cannot load the key " + key_file + ": " + openssl_error();
  }
  if (!error.empty()) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // No tickets and no cache: a client (a proxy's upstream leg) cannot resume.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  return std::unique_ptr<TlsConfig>(new TlsConfig(ctx, true));
}

TlsConfig::~TlsConfig() {
  SSL_CTX_free(ctx_);
}

// ---- the BIO -----------------------------------------------------------------------

BIO_METHOD* TlsConn::method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsload");
    if (!bm || BIO_meth_set_write(bm, bio_write) != 1 || BIO_meth_set_read(bm, bio_read) != 1 ||
        BIO_meth_set_ctrl(bm, bio_ctrl) != 1)
      std::abort();
    return bm;
  }();
  return m;
}

int TlsConn::bio_write(BIO* b, const char* p, int n) {
  BIO_clear_retry_flags(b);
  static_cast<TlsConn*>(BIO_get_data(b))->out_.append(p, static_cast<size_t>(n));
  return n;
}

int TlsConn::bio_read(BIO* b, char* p, int n) {
  BIO_clear_retry_flags(b);
  auto* t = static_cast<TlsConn*>(BIO_get_data(b));
  size_t want = static_cast<size_t>(n);
  size_t got = 0;
  if (t->carry_off_ < t->carry_.size()) {
    const size_t k = std::min(want, t->carry_.size() - t->carry_off_);
    std::memcpy(p, t->carry_.data() + t->carry_off_, k);
    t->carry_off_ += k;
    got = k;
    want -= k;
  }
  if (want && t->in_n_) {
    const size_t k = std::min(want, t->in_n_);
    std::memcpy(p + got, t->in_, k);
    t->in_ += k;
    t->in_n_ -= k;
    got += k;
  }
  if (got == 0) {
    BIO_set_retry_read(b);  // no records yet: wait, not EOF
    return -1;
  }
  return static_cast<int>(got);
}

long TlsConn::bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// ---- TlsConn -----------------------------------------------------------------------

TlsConn::TlsConn(const TlsConfig& config, ByteBuffer& out, const std::string& name) : out_(out) {
  ssl_ = SSL_new(config.ctx());
  BIO* bio = BIO_new(method());
  if (!ssl_ || !bio) std::abort();
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways: one reference, owned by ssl_
  if (config.is_server()) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  if (name.empty()) return;
  if (is_ip_literal(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
    SSL_set1_host(ssl_, name.c_str());
  }
}

TlsConn::~TlsConn() {
  SSL_free(ssl_);
}

void TlsConn::take_error() {
  const long v = SSL_get_verify_result(ssl_);
  error_ = openssl_error();
  if (v != X509_V_OK) error_ += std::string(" (") + X509_verify_cert_error_string(v) + ")";
}

TlsConn::Step TlsConn::handshake() {
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return Step::done;
  }
  if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return Step::again;
  failed_ = true;
  take_error();
  return Step::failed;
}

void TlsConn::feed(std::span<const uint8_t> records) {
  in_ = records.data();
  in_n_ = records.size();
}

size_t TlsConn::read(uint8_t* dst, size_t cap) {
  if (close_notify_ || failed_) return 0;
  size_t got = 0;
  if (SSL_read_ex(ssl_, dst, cap, &got) == 1) return got;
  const int e = SSL_get_error(ssl_, 0);
  if (e == SSL_ERROR_WANT_READ) return 0;
  if (e == SSL_ERROR_ZERO_RETURN) {
    close_notify_ = true;
  } else {
    failed_ = true;
    take_error();
  }
  return 0;
}

void TlsConn::keep_rest() {
  if (carry_off_ == carry_.size()) {
    carry_.clear();
    carry_off_ = 0;
  }
  if (in_n_ == 0) return;
  if (carry_off_ > 0) {
    carry_.erase_front(carry_off_);
    carry_off_ = 0;
  }
  carry_.append(in_, in_n_);
  in_ = nullptr;
  in_n_ = 0;
}

bool TlsConn::encrypt(const uint8_t* p, size_t n) {
  size_t written = 0;
  if (SSL_write_ex(ssl_, p, n, &written) == 1 && written == n) return true;
  failed_ = true;
  take_error();
  return false;
}

void TlsConn::close_notify() {
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsConn::summary() const {
  std::string s = SSL_get_version(ssl_);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_))
    s += std::string(" ") + SSL_CIPHER_get_name(c);
  const int group = SSL_get_negotiated_group(ssl_);
  if (const char* g = group > 0 ? OBJ_nid2sn(group) : nullptr) s += std::string(" ") + g;
  return s;
}

}  // namespace wsload
