// What one TLS leg negotiated, as plain data: the proxy's TLS layer fills it,
// the handshake event carries it, the sinks print it. Nothing here does TLS.
#pragma once

#include <string>

namespace wsi {

struct TlsSummary {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_256_GCM_SHA384"
  std::string sni;      // the server name the client sent; empty: none
  std::string alpn;     // the protocol agreed; empty: none
  // The peer's certificate (the upstream's; a client's only when it sent one).
  bool peer_certificate = false;
  std::string peer_subject;  // RFC 2253: "CN=example.com,O=Example"
  std::string peer_issuer;
  std::string not_before;  // "2026-11-01T00:00:00Z"
  std::string not_after;
  // "ok", "not checked (--upstream-insecure)", or OpenSSL's reason.
  std::string verification;
};

}  // namespace wsi
