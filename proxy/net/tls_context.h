// TLS settings shared by every connection of one side: the listener's
// certificate (from files, or made at start), the upstream's verification
// and client certificate, ALPN http/1.1 and the NSS key log. One SSL_CTX per
// side, made once at start; TlsTransport makes one SSL per connection from it.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace wsi {

class CertAuthority;

// NSS key log lines ("CLIENT_RANDOM ...", "CLIENT_HANDSHAKE_TRAFFIC_SECRET
// ...") for both legs, so Wireshark can decrypt a capture of either. The file
// is created readable by its owner only and appended to.
class KeyLogFile {
 public:
  // False with `error` when the file cannot be opened (its directory is never created).
  bool open(const std::string& path, std::string& error);
  // SIGHUP: close and open the same path again (log rotation).
  bool reopen(std::string& error);
  void write(const char* line);
  ~KeyLogFile();

 private:
  std::string path_;
  FILE* file_ = nullptr;
};

struct TlsListenSettings {
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;
  // No files: a certificate made at start for these names and addresses.
  bool self_signed = false;
  std::vector<std::string> self_signed_names;  // "localhost", "127.0.0.1", "::1"
};

struct TlsUpstreamSettings {
  std::string ca_file;  // empty: the system store
  bool insecure = false;
  std::string cert_file;  // optional client certificate
  std::string key_file;
};

class TlsContext {
 public:
  // The listener's context. False with `error` naming the file and OpenSSL's reason.
  static std::unique_ptr<TlsContext> for_listener(const TlsListenSettings& s, KeyLogFile* keylog,
                                                  std::string& error);
  // The forward proxy's listener side of intercepted TLS: each connection
  // gets a leaf for its SNI (or its fallback name) signed by `ca`.
  static std::unique_ptr<TlsContext> for_interception(CertAuthority& ca, KeyLogFile* keylog,
                                                      std::string& error);
  static std::unique_ptr<TlsContext> for_upstream(const TlsUpstreamSettings& s, KeyLogFile* keylog,
                                                  std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* ctx() const { return ctx_; }
  bool verifies_peer() const { return verify_; }
  // SHA-256 of the listener's leaf certificate, "AB:CD:...".
  const std::string& fingerprint() const { return fingerprint_; }
  // The leaf's subject alternative names, for the listening line.
  const std::vector<std::string>& names() const { return names_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
  bool verify_ = false;
  std::string fingerprint_;
  std::vector<std::string> names_;
};

// OpenSSL's most recent error on this thread as one line ("...: reason"),
// and the queue cleared.
std::string take_openssl_error();

// True when `host` is an IPv4 or IPv6 literal (no SNI is sent for those).
bool is_ip_literal(const std::string& host);

}  // namespace wsi
