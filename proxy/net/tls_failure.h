// Why a TLS handshake failed, explained the way close codes are: from what
// was observed (alerts, OpenSSL's reason, where the peer hung up) to a stable
// id, what it means and what to do. Pure functions: the tests feed facts.
#pragma once

#include <cstdint>
#include <string>

namespace wsi {

enum class TlsRole : uint8_t {
  server,  // wsinspect's listener, facing the client
  client,  // wsinspect towards the upstream
};

struct TlsFailureFacts {
  TlsRole role = TlsRole::server;
  int alert_received = -1;  // TLS alert description from the peer; -1: none
  int alert_sent = -1;      // the alert wsinspect sent
  int reason = 0;           // ERR_GET_REASON of OpenSSL's error; 0: none
  std::string reason_text;  // OpenSSL's reason string
  long verify_result = 0;   // X509_V_OK or why the upstream's chain was refused
  std::string verify_text;
  bool peer_closed = false;       // TCP ended (FIN or reset) before the handshake completed
  bool sent_certificate = false;  // wsinspect's certificate had been sent when it failed
  bool timed_out = false;
  bool plain_http = false;  // the client's first bytes are an HTTP request, not TLS
};

struct TlsFailure {
  std::string id;           // "client-rejected-certificate"
  std::string alert;        // "unknown_ca (48) from the client"; empty: no alert
  std::string reason;       // OpenSSL's words, or what was seen
  std::string explanation;  // what it means and how to fix it
};

TlsFailure explain_tls_failure(const TlsFailureFacts& f);
// A TLS stream that broke after its handshake (a record that does not
// decrypt, a fatal alert, refused renegotiation); empty id: nothing broke.
TlsFailure explain_tls_stream_failure(const TlsFailureFacts& f);

// "unknown_ca", "certificate_unknown", ... for a TLS alert description.
std::string tls_alert_name(int description);

}  // namespace wsi
