// Keyed digests of payloads: what two vantage points compare instead of the
// payloads themselves, so a log can say "the same message" without holding
// it. HMAC-SHA-256 under a key both vantage points share, cut to 128 bits:
// without the key, a short payload ("yes", a PIN) cannot be found by trying
// candidates against its digest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace wsi {

struct Digest {
  std::array<uint8_t, 16> b{};
  bool operator==(const Digest&) const = default;
  std::string hex() const;
  // Parses 32 hex digits; false on anything else.
  static bool from_hex(std::string_view s, Digest& out);
};

class DigestKey {
 public:
  // A key of this process's own, for comparisons made inside one process.
  static DigestKey random();
  // A shared secret, as given by the user (any bytes, at least one).
  explicit DigestKey(std::string_view secret) : key_(secret) {}
  const std::string& bytes() const { return key_; }

 private:
  DigestKey() = default;
  std::string key_;
};

// One running digest, restarted for each payload.
class PayloadDigester {
 public:
  explicit PayloadDigester(const DigestKey& key);
  ~PayloadDigester();
  PayloadDigester(const PayloadDigester&) = delete;
  PayloadDigester& operator=(const PayloadDigester&) = delete;

  void start();
  void add(const uint8_t* data, size_t n);
  Digest done();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest digest_of(const DigestKey& key, std::string_view bytes);

}  // namespace wsi
