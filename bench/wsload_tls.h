// TLS for wsload (--tls): OpenSSL over the connection's libuv stream, with
// no socket BIO. Records read from the stream go to a BIO that reads
// straight from the loop's read buffer (only a partial record at the end of
// a read is copied, to be completed by the next one); the records OpenSSL
// writes go to a BIO that appends them to the connection's OutQueue.
//
// Both ends speak TLS 1.3 only, with one cipher suite
// (TLS_AES_128_GCM_SHA256) and one key exchange group (X25519), so that a
// proxy between a wsload client and a wsload server negotiates exactly these
// on both of its legs. The server sends no session tickets and keeps no
// session cache: every handshake of a proxy towards it is a full one.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <span>
#include <string>

#include "bench/wsload_common.h"

namespace wsload {

inline constexpr const char* kTlsCipherSuite = "TLS_AES_128_GCM_SHA256";
inline constexpr const char* kTlsGroup = "X25519";

// One SSL_CTX: a client's (verification against a CA file, or the system
// store without one) or a server's (certificate chain and key).
class TlsConfig {
 public:
  static std::unique_ptr<TlsConfig> client(const std::string& ca_file, std::string& error);
  static std::unique_ptr<TlsConfig> server(const std::string& cert_file,
                                           const std::string& key_file, std::string& error);
  ~TlsConfig();
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;
  SSL_CTX* ctx() const { return ctx_; }
  bool is_server() const { return server_; }

 private:
  TlsConfig(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

// One connection's TLS. `out` receives every record (the OutQueue's wire
// buffer); application bytes are encrypted with encrypt().
class TlsConn {
 public:
  // Client: `name` is sent as SNI (unless it is an IP literal) and the
  // certificate must match it.
  TlsConn(const TlsConfig& config, ByteBuffer& out, const std::string& name);
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  enum class Step : uint8_t { again, done, failed };
  // Advances the handshake (the client's first call writes the ClientHello).
  Step handshake();
  bool established() const { return established_; }

  // Records from the stream, for the calls below to read from.
  void feed(std::span<const uint8_t> records);
  // Application bytes decrypted from what was fed, up to `cap`; 0 when no
  // whole record is left (the rest waits for the next feed). Sets closed()
  // on close_notify and failed() on a broken record.
  size_t read(uint8_t* dst, size_t cap);
  // After the reads: keeps the end of a record cut by the read.
  void keep_rest();
  bool closed() const { return close_notify_; }
  bool failed() const { return failed_; }

  // Encrypts into `out`. False when OpenSSL refuses (a broken connection).
  bool encrypt(const uint8_t* p, size_t n);
  // close_notify into `out`.
  void close_notify();

  // "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519", once established.
  std::string summary() const;
  // OpenSSL's reason for the last failure.
  const std::string& error() const { return error_; }

 private:
  static int bio_write(BIO* b, const char* p, int n);
  static int bio_read(BIO* b, char* p, int n);
  static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);
  static BIO_METHOD* method();
  void take_error();

  SSL* ssl_ = nullptr;
  ByteBuffer& out_;
  // What the read BIO reads: first the rest of the previous feed (carry_
  // from carry_off_), then the current feed (in_ for in_n_ bytes).
  ByteBuffer carry_;
  size_t carry_off_ = 0;
  const uint8_t* in_ = nullptr;
  size_t in_n_ = 0;
  std::string error_;
  bool established_ = false;
  bool close_notify_ = false;
  bool failed_ = false;
};

}  // namespace wsload
