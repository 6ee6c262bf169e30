// The forward proxy's certificate authority: `wsinspect ca init DIR` makes
// it (ca.pem, and ca.key readable by its owner only); `--ca DIR` loads it,
// and leaf certificates are signed on the fly for the names clients ask for.
//
// Every leaf shares one P-256 key made at start, so minting a leaf is one
// ECDSA signature (well under a millisecond): the loop never waits for key
// generation. Leaves are kept in a least-recently-used cache of bounded
// size, since the names come from clients.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace wsi {

// What a certificate made here says. Names become subject alternative names
// (IP: for address literals, DNS: otherwise).
struct CertSpec {
  std::string common_name;
  std::vector<std::string> names;
  EVP_PKEY* key = nullptr;          // the certificate's public key
  X509* issuer = nullptr;           // null: self-signed
  EVP_PKEY* signing_key = nullptr;  // the issuer's key (or `key` when self-signed)
  long days = 30;
  bool ca = false;
};
// A new certificate (the caller frees it), or null with OpenSSL's error queued.
X509* make_certificate(const CertSpec& spec);

// Writes DIR/ca.key (0600) and DIR/ca.pem; DIR is created (0700) if missing,
// but never its parent. Refuses to overwrite an existing CA.
bool create_ca(const std::string& dir, std::string& error);

// The commands that make Debian, Chromium and Firefox trust DIR/ca.pem.
std::string trust_instructions(const std::string& dir);

class CertAuthority {
 public:
  static constexpr size_t kCacheSize = 1024;

  // Loads DIR/ca.pem and DIR/ca.key. Null with `error` when they cannot be used.
  static std::unique_ptr<CertAuthority> load(const std::string& dir, std::string& error);
  ~CertAuthority();
  CertAuthority(const CertAuthority&) = delete;
  CertAuthority& operator=(const CertAuthority&) = delete;

  // The leaf for `name` (a DNS name or an IP address), from the cache or
  // signed now; null if signing failed. Owned by the cache; valid until the
  // next call (SSL_use_certificate takes its own reference).
  X509* leaf_for(const std::string& name);
  EVP_PKEY* leaf_key() const { return leaf_key_; }
  X509* ca_cert() const { return ca_cert_; }
  size_t cached() const { return cache_.size(); }
  uint64_t minted() const { return minted_; }

 private:
  CertAuthority() = default;
  X509* mint(const std::string& name);

  X509* ca_cert_ = nullptr;
  EVP_PKEY* ca_key_ = nullptr;
  EVP_PKEY* leaf_key_ = nullptr;
  uint64_t minted_ = 0;
  // Most recently used first.
  std::list<std::pair<std::string, X509*>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, X509*>>::iterator> cache_;
};

}  // namespace wsi
