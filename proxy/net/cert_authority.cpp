#include "proxy/net/cert_authority.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "proxy/net/tls_context.h"

namespace wsi {
namespace {

bool add_ext(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  const bool ok = ext && X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

// Writes `text` to a new file with `mode`; never replaces one.
bool write_new_file(const std::string& path, const std::string& text, mode_t mode,
                    std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    error = "cannot create " + path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) error = "cannot write " + path + ": " + std::strerror(errno);
  return ok;
}

template <class Write>
std::string pem_text(Write write) {
  BIO* b = BIO_new(BIO_s_mem());
  write(b);
  char* p = nullptr;
  const long n = BIO_ctrl(b, BIO_CTRL_INFO, 0, &p);
  std::string out(p, n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(b);
  return out;
}

}  // namespace

X509* make_certificate(const CertSpec& spec) {
  X509* cert = X509_new();
  if (!cert) return nullptr;
  bool ok = X509_set_version(cert, 2) == 1;
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  ok = ok && bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), spec.days * 24 * 3600);
  ok = ok && X509_set_pubkey(cert, spec.key) == 1;
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer = spec.issuer ? spec.issuer : cert;
  ok = ok && X509_set_issuer_name(cert, X509_get_subject_name(issuer)) == 1;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  std::string san;
  for (const std::string& n : spec.names) {
    if (!san.empty()) san += ',';
    san += (is_ip_literal(n) ? "IP:" : "DNS:") + n;
  }
  if (!san.empty()) ok = ok && add_ext(cert, v3, NID_subject_alt_name, san);
  ok = ok && add_ext(cert, v3, NID_subject_key_identifier, "hash");
  if (spec.ca) {
    ok = ok && add_ext(cert, v3, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    ok = ok && add_ext(cert, v3, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_ext(cert, v3, NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && add_ext(cert, v3, NID_key_usage, "critical,digitalSignature");
    ok = ok && add_ext(cert, v3, NID_ext_key_usage, "serverAuth");
    if (spec.issuer) ok = ok && add_ext(cert, v3, NID_authority_key_identifier, "keyid:always");
  }
  ok = ok && X509_sign(cert, spec.signing_key ? spec.signing_key : spec.key, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(cert);
    return nullptr;
  }
  return cert;
}

bool create_ca(const std::string& dir, std::string& error) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = "cannot create the directory " + dir + ": " + std::strerror(errno);
    return false;
  }
  const std::string key_path = dir + "/ca.key";
  const std::string cert_path = dir + "/ca.pem";
  if (::access(key_path.c_str(), F_OK) == 0 || ::access(cert_path.c_str(), F_OK) == 0) {
    error = dir + " already holds a CA (ca.key or ca.pem): remove it first to make a new one";
    return false;
  }
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = key ? make_certificate({.common_name = "wsinspect interception CA",
                                       .names = {},
                                       .key = key,
                                       .issuer = nullptr,
                                       .signing_key = nullptr,
                                       .days = 825,
                                       .ca = true})
                   : nullptr;
  bool ok = cert != nullptr;
  if (!ok) error = "cannot make the CA: " + take_openssl_error();
  if (ok) {
    const std::string key_pem = pem_text(
        [&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
    const std::string cert_pem = pem_text([&](BIO* b) { PEM_write_bio_X509(b, cert); });
    ok = write_new_file(key_path, key_pem, 0600, error) &&
         write_new_file(cert_path, cert_pem, 0644, error);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

std::string trust_instructions(const std::string& dir) {
  const std::string pem = dir + "/ca.pem";
  return "wsinspect made a CA in " + dir +
         " (ca.key is readable by you only: anyone with it can impersonate any site to a "
         "machine that trusts ca.pem).\n\n"
         "Trust it where the clients run, then start: wsinspect proxy --forward --ca " +
         dir +
         "\n\n"
         "  Debian (OpenSSL, curl, Python, Node with --use-openssl-ca):\n"
         "    sudo cp " +
         pem +
         " /usr/local/share/ca-certificates/wsinspect.crt && sudo update-ca-certificates\n"
         "  Chromium (its own NSS database):\n"
         "    certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n wsinspect -i " +
         pem +
         "\n"
         "    (mkdir -p $HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -N --empty-password "
         "first if it does not exist; certutil is in Debian's libnss3-tools)\n"
         "  Firefox (each profile):\n"
         "    certutil -d sql:$HOME/.mozilla/firefox/PROFILE -A -t C,, -n wsinspect -i " +
         pem +
         "\n"
         "    or Settings > Privacy & Security > Certificates > View Certificates > Authorities "
         "> Import\n"
         "  Node.js: NODE_EXTRA_CA_CERTS=" +
         pem +
         "\n"
         "  Python websockets/ssl: ssl.create_default_context(cafile=\"" +
         pem +
         "\")\n\n"
         "Remove the trust when you are done.\n";
}

// ---- CertAuthority -----------------------------------------------------------------

std::unique_ptr<CertAuthority> CertAuthority::load(const std::string& dir, std::string& error) {
  std::unique_ptr<CertAuthority> ca(new CertAuthority);
  const std::string cert_path = dir + "/ca.pem";
  const std::string key_path = dir + "/ca.key";
  FILE* f = std::fopen(cert_path.c_str(), "r");
  if (!f) {
    error = "cannot read " + cert_path + ": " + std::strerror(errno) +
            " (make a CA with: wsinspect ca init " + dir + ")";
    return nullptr;
  }
  ca->ca_cert_ = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "r");
  if (!f) {
    error = "cannot read " + key_path + ": " + std::strerror(errno);
    return nullptr;
  }
  ca->ca_key_ = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!ca->ca_cert_ || !ca->ca_key_) {
    error = "cannot use the CA in " + dir + ": " + take_openssl_error();
    return nullptr;
  }
  if (X509_check_private_key(ca->ca_cert_, ca->ca_key_) != 1) {
    ERR_clear_error();
    error = key_path + " is not the key of " + cert_path;
    return nullptr;
  }
  ca->leaf_key_ = EVP_EC_gen("P-256");
  if (!ca->leaf_key_) {
    error = "cannot make the leaf key: " + take_openssl_error();
    return nullptr;
  }
  return ca;
}

CertAuthority::~CertAuthority() {
  for (auto& [name, cert] : lru_) X509_free(cert);
  X509_free(ca_cert_);
  EVP_PKEY_free(ca_key_);
  EVP_PKEY_free(leaf_key_);
}

X509* CertAuthority::mint(const std::string& name) {
  ++minted_;
  return make_certificate({.common_name = name,
                           .names = {name},
                           .key = leaf_key_,
                           .issuer = ca_cert_,
                           .signing_key = ca_key_,
                           .days = 365,
                           .ca = false});
}

X509* CertAuthority::leaf_for(const std::string& name) {
  if (auto it = cache_.find(name); it != cache_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  X509* cert = mint(name);
  if (!cert) return nullptr;
  lru_.emplace_front(name, cert);
  cache_[name] = lru_.begin();
  if (lru_.size() > kCacheSize) {
    X509_free(lru_.back().second);
    cache_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return cert;
}

}  // namespace wsi
