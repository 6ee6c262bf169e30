#include "parser/conn/digest.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace wsi {

std::string Digest::hex() const {
  static const char* const kHex = "0123456789abcdef";
  std::string s(b.size() * 2, '0');
  for (size_t i = 0; i < b.size(); ++i) {
    s[2 * i] = kHex[b[i] >> 4];
    s[2 * i + 1] = kHex[b[i] & 15];
  }
  return s;
}

bool Digest::from_hex(std::string_view s, Digest& out) {
  if (s.size() != out.b.size() * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.b.size(); ++i) {
    const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.b[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

DigestKey DigestKey::random() {
  DigestKey k;
  k.key_.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(k.key_.data()), 32) != 1)
    throw std::runtime_error("no random bytes for the digest key");
  return k;
}

struct PayloadDigester::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  std::string key;
  ~Impl() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

PayloadDigester::PayloadDigester(const DigestKey& key) : impl_(std::make_unique<Impl>()) {
  impl_->key = key.bytes();
  impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl_->mac) impl_->ctx = EVP_MAC_CTX_new(impl_->mac);
  if (!impl_->ctx) throw std::runtime_error("libcrypto has no HMAC");
  start();
}

PayloadDigester::~PayloadDigester() = default;

void PayloadDigester::start() {
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  EVP_MAC_init(impl_->ctx, reinterpret_cast<const unsigned char*>(impl_->key.data()),
               impl_->key.size(), params);
}

void PayloadDigester::add(const uint8_t* data, size_t n) {
  if (n) EVP_MAC_update(impl_->ctx, data, n);
}

Digest PayloadDigester::done() {
  unsigned char full[EVP_MAX_MD_SIZE];
  size_t len = 0;
  Digest d;
  if (EVP_MAC_final(impl_->ctx, full, &len, sizeof full) == 1 && len >= d.b.size())
    std::copy(full, full + d.b.size(), d.b.begin());
  return d;
}

Digest digest_of(const DigestKey& key, std::string_view bytes) {
  PayloadDigester d(key);
  d.add(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return d.done();
}

}  // namespace wsi
