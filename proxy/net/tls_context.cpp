#include "proxy/net/tls_context.h"

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
  X509* cert = X509_new();
  bool ok = key && cert;
  if (ok) {
    X509_set_version(cert, 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;  // positive
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("wsinspect self-signed"), -1,
                               -1, 0);
    X509_set_issuer_name(cert, subject);
    std::string san;
    for (const std::string& n : names) {
      if (!san.empty()) san += ',';
      san += (is_ip_literal(n) ? "IP:" : "DNS:") + n;
    }
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
    const std::pair<int, std::string> exts[] = {{NID_subject_alt_name, san},
                                                {NID_basic_constraints, "critical,CA:FALSE"},
                                                {NID_key_usage, "critical,digitalSignature"},
                                                {NID_ext_key_usage, "serverAuth"}};
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
      ok = ok && ext && X509_add_ext(cert, ext, -1);
      X509_EXTENSION_free(ext);
    }
    ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
    ok = ok && SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  }
  if (!ok) error = "cannot make a self-signed certificate: " + take_openssl_error();
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
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
