#include "proxy/net/tls_context.h"

#include "proxy/net/cert_authority.h"
#include "proxy/net/tls_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace wsi {
namespace {

constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int keylog_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void on_keylog_line(const SSL* ssl, const char* line) {
  auto* log = static_cast<KeyLogFile*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keylog_index()));
  if (log) log->write(line);
}

// The listener answers ALPN with http/1.1 when the client offers it, and
// goes on without ALPN otherwise (a WebSocket is HTTP/1.1 whatever was offered).
int on_alpn_select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpnHttp11, sizeof kAlpnHttp11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX* new_ctx(const SSL_METHOD* method, KeyLogFile* keylog) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Renegotiation is refused; a WebSocket never needs it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (keylog) {
    SSL_CTX_set_ex_data(ctx, keylog_index(), keylog);
    SSL_CTX_set_keylog_callback(ctx, on_keylog_line);
  }
  return ctx;
}

std::string hex_fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &len)) return {};
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::vector<std::string> subject_alt_names(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      const ASN1_STRING* s = n->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = n->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {};
      const int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16)
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf);
      out.emplace_back(buf);
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

// A P-256 key and a certificate valid for 30 days with `names` as SANs.
bool make_self_signed(SSL_CTX* ctx, const std::vector<std::string>& names, std::string& error) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = key ? make_certificate({.common_name = "wsinspect self-signed",
                                       .names = names,
                                       .key = key,
                                       .issuer = nullptr,
                                       .signing_key = nullptr,
                                       .days = 30,
                                       .ca = false})
                   : nullptr;
  const bool ok =
      cert && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  if (!ok) error = "cannot make a self-signed certificate: " + take_openssl_error();
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

int ca_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// After the ClientHello's SNI is read: the leaf for that name, or for the
// CONNECT target when there is none.
int on_servername(SSL* ssl, int* alert, void*) {
  auto* ca = static_cast<CertAuthority*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ca_index()));
  const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  std::string name = sni ? sni : "";
  if (name.empty()) {
    if (const auto* t = static_cast<const TlsTransport*>(SSL_get_app_data(ssl)))
      name = t->fallback_name();
  }
  X509* leaf = name.empty() ? nullptr : ca->leaf_for(name);
  if (!leaf || SSL_use_certificate(ssl, leaf) != 1 ||
      SSL_use_PrivateKey(ssl, ca->leaf_key()) != 1) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string take_openssl_error() {
  const unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e) {
    const char* reason = ERR_reason_error_string(e);
    out = reason ? reason : "error " + std::to_string(e);
  }
  ERR_clear_error();
  return out.empty() ? "unknown error" : out;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1 || inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

// ---- KeyLogFile -------------------------------------------------------------------

bool KeyLogFile::open(const std::string& path, std::string& error) {
  path_ = path;
  return reopen(error);
}

bool KeyLogFile::reopen(std::string& error) {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open the key log " + path_ + ": " + std::strerror(errno);
    return false;
  }
  FILE* f = fdopen(fd, "a");
  if (!f) {
    ::close(fd);
    error = "cannot open the key log " + path_ + ": " + std::strerror(errno);
    return false;
  }
  if (file_) fclose(file_);
  file_ = f;
  return true;
}

void KeyLogFile::write(const char* line) {
  if (!file_) return;
  // Each line is flushed: a capture is often decrypted while the proxy runs.
  std::fputs(line, file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

KeyLogFile::~KeyLogFile() {
  if (file_) fclose(file_);
}

// ---- TlsContext -------------------------------------------------------------------

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

std::unique_ptr<TlsContext> TlsContext::for_listener(const TlsListenSettings& s, KeyLogFile* keylog,
                                                     std::string& error) {
  SSL_CTX* ctx = new_ctx(TLS_server_method(), keylog);
  if (!ctx) {
    error = "cannot set up TLS: " + take_openssl_error();
    return nullptr;
  }
  std::unique_ptr<TlsContext> c(new TlsContext(ctx));
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, nullptr);
  if (s.self_signed) {
    if (!make_self_signed(ctx, s.self_signed_names, error)) return nullptr;
  } else {
    if (SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1) {
      error = "cannot use the certificate " + s.cert_file + ": " + take_openssl_error();
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      error = "cannot use the key " + s.key_file + ": " + take_openssl_error();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      error = "the key " + s.key_file + " does not match the certificate " + s.cert_file;
      ERR_clear_error();
      return nullptr;
    }
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  c->fingerprint_ = hex_fingerprint(leaf);
  c->names_ = subject_alt_names(leaf);
  return c;
}

std::unique_ptr<TlsContext> TlsContext::for_interception(CertAuthority& ca, KeyLogFile* keylog,
                                                         std::string& error) {
  SSL_CTX* ctx = new_ctx(TLS_server_method(), keylog);
  if (!ctx) {
    error = "cannot set up TLS: " + take_openssl_error();
    return nullptr;
  }
  std::unique_ptr<TlsContext> c(new TlsContext(ctx));
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn_select, nullptr);
  SSL_CTX_set_ex_data(ctx, ca_index(), &ca);
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(on_servername));
  c->fingerprint_ = hex_fingerprint(ca.ca_cert());
  return c;
}

std::unique_ptr<TlsContext> TlsContext::for_upstream(const TlsUpstreamSettings& s,
                                                     KeyLogFile* keylog, std::string& error) {
  SSL_CTX* ctx = new_ctx(TLS_client_method(), keylog);
  if (!ctx) {
    error = "cannot set up TLS: " + take_openssl_error();
    return nullptr;
  }
  std::unique_ptr<TlsContext> c(new TlsContext(ctx));
  SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof kAlpnHttp11);
  c->verify_ = !s.insecure;
  if (!s.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, s.ca_file.c_str(), nullptr) != 1) {
      error = "cannot use the CA file " + s.ca_file + ": " + take_openssl_error();
      return nullptr;
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    error = "cannot load the system's trusted certificates: " + take_openssl_error();
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, c->verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!s.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1) {
      error = "cannot use the client certificate " + s.cert_file + ": " + take_openssl_error();
      return nullptr;
    }
    const std::string& key = s.key_file.empty() ? s.cert_file : s.key_file;
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      error = "cannot use the client key " + key + ": " + take_openssl_error();
      return nullptr;
    }
  }
  return c;
}

}  // namespace wsi
