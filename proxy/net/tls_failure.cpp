#include "proxy/net/tls_failure.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

namespace wsi {

std::string tls_alert_name(int d) {
  switch (d) {
    case 0:
      return "close_notify";
    case 10:
      return "unexpected_message";
    case 20:
      return "bad_record_mac";
    case 22:
      return "record_overflow";
    case 40:
      return "handshake_failure";
    case 42:
      return "bad_certificate";
    case 43:
      return "unsupported_certificate";
    case 44:
      return "certificate_revoked";
    case 45:
      return "certificate_expired";
    case 46:
      return "certificate_unknown";
    case 47:
      return "illegal_parameter";
    case 48:
      return "unknown_ca";
    case 49:
      return "access_denied";
    case 50:
      return "decode_error";
    case 51:
      return "decrypt_error";
    case 70:
      return "protocol_version";
    case 71:
      return "insufficient_security";
    case 80:
      return "internal_error";
    case 86:
      return "inappropriate_fallback";
    case 90:
      return "user_canceled";
    case 100:
      return "no_renegotiation";
    case 109:
      return "missing_extension";
    case 110:
      return "unsupported_extension";
    case 112:
      return "unrecognized_name";
    case 116:
      return "certificate_required";
    case 120:
      return "no_application_protocol";
    default:
      return "alert " + std::to_string(d);
  }
}

namespace {

bool is_certificate_rejection(int alert) {
  return alert == 42 || alert == 43 || alert == 44 || alert == 45 || alert == 46 || alert == 48;
}

const char* peer_name(const TlsFailureFacts& f) {
  return f.role == TlsRole::server ? "the client" : "the upstream";
}

// The alert the peer sent (-1: none); OpenSSL reports a received alert as
// reason 1000 + its description.
int received_alert(const TlsFailureFacts& f) {
  if (f.alert_received < 0 && f.reason > SSL_AD_REASON_OFFSET)
    return f.reason - SSL_AD_REASON_OFFSET;
  return f.alert_received;
}

// What every explanation begins with: the peer's alert and OpenSSL's words.
TlsFailure failure_facts(const TlsFailureFacts& f, int alert) {
  TlsFailure out;
  if (alert >= 0)
    out.alert = tls_alert_name(alert) + " (" + std::to_string(alert) + ") from " + peer_name(f);
  out.reason = f.reason_text;
  return out;
}

}  // namespace

TlsFailure explain_tls_failure(const TlsFailureFacts& f) {
  const bool server = f.role == TlsRole::server;
  const char* peer = peer_name(f);
  const int alert = received_alert(f);
  TlsFailure out = failure_facts(f, alert);

  auto set = [&](const char* id, std::string text) {
    out.id = id;
    out.explanation = std::move(text);
    return out;
  };

  if (f.timed_out) {
    if (out.reason.empty()) out.reason = "no handshake within the TLS handshake timeout";
    return set(server ? "client-tls-handshake-timeout" : "upstream-tls-handshake-timeout",
               std::string(peer) +
                   " did not complete the TLS handshake in time: a client that does not "
                   "speak TLS waits for the server to talk first, or a hop holds the bytes; "
                   "check that it connects with wss:// (or raise --tls-handshake-timeout)");
  }
  if (server) {
    if (f.plain_http || f.reason == SSL_R_HTTP_REQUEST || f.reason == SSL_R_HTTPS_PROXY_REQUEST) {
      if (out.reason.empty()) out.reason = "the client sent an HTTP request, not a TLS ClientHello";
      return set("plain-http-to-tls-listener",
                 "the client sent plain HTTP to a TLS listener: connect with wss:// (not ws://), "
                 "or start wsinspect without --tls-cert/--tls-self-signed for a plain hop");
    }
    if (is_certificate_rejection(alert) || (f.peer_closed && f.sent_certificate && alert < 0)) {
      if (alert < 0)
        out.reason =
            "the client closed the connection right after receiving the certificate, without an "
            "alert (Node.js does this)";
      return set("client-rejected-certificate",
                 "the client does not trust the certificate wsinspect presented; trust the CA "
                 "(wsinspect ca init, or the self-signed certificate's fingerprint) or use "
                 "--tls-cert with the server's own certificate");
    }
    if (alert == 70 || f.reason == SSL_R_UNSUPPORTED_PROTOCOL ||
        f.reason == SSL_R_NO_PROTOCOLS_AVAILABLE) {
      return set("tls-version-mismatch",
                 "the client and wsinspect share no TLS version (wsinspect accepts TLS 1.2 and "
                 "1.3): update the client or its TLS settings");
    }
    if (f.reason == SSL_R_NO_SHARED_CIPHER) {
      return set("no-shared-cipher",
                 "the client offered no cipher suite wsinspect accepts: check the client's "
                 "cipher settings and the key type of --tls-cert");
    }
    if (f.peer_closed) {
      if (out.reason.empty()) out.reason = "the connection ended during the TLS handshake";
      return set("client-closed-during-tls-handshake",
                 "the client ended the connection before the TLS handshake completed: a port "
                 "scanner, a health check that only connects, or a client that gave up");
    }
    return set("client-tls-handshake-failed",
               "the TLS handshake with the client failed (OpenSSL: " + out.reason + ")");
  }

  // wsinspect as the upstream's client.
  if (f.reason == SSL_R_CERTIFICATE_VERIFY_FAILED || f.verify_result != X509_V_OK) {
    out.reason = f.verify_text.empty() ? out.reason : f.verify_text;
    if (f.verify_result == X509_V_ERR_HOSTNAME_MISMATCH ||
        f.verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return set("upstream-hostname-mismatch",
                 "the upstream's certificate is not valid for the name wsinspect connected to: "
                 "give --upstream the name the certificate was issued for, or --upstream-sni "
                 "when the server picks its certificate by SNI");
    }
    return set("upstream-verification-failed",
               "wsinspect does not trust the upstream's certificate (" + out.reason +
                   "): give its CA with --upstream-ca FILE, or --upstream-insecure to skip "
                   "the check while testing");
  }
  if (f.reason == SSL_R_WRONG_VERSION_NUMBER || f.reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
      f.reason == SSL_R_HTTP_REQUEST) {
    return set("upstream-not-tls",
               "the upstream did not answer with TLS: it is a plain ws:// server, so give "
               "--upstream ws://HOST:PORT (or HOST:PORT)");
  }
  if (alert == 70 || f.reason == SSL_R_UNSUPPORTED_PROTOCOL) {
    return set("tls-version-mismatch",
               "wsinspect and the upstream share no TLS version (wsinspect offers TLS 1.2 and "
               "1.3)");
  }
  if (alert == 116 || (alert == 40 && f.reason != SSL_R_NO_SHARED_CIPHER)) {
    return set("upstream-rejected-handshake",
               "the upstream refused the handshake (" + out.alert +
                   "): it may require a client certificate (--upstream-cert, --upstream-key) or "
                   "a server name it knows (--upstream-sni)");
  }
  if (is_certificate_rejection(alert)) {
    return set("upstream-rejected-client-certificate",
               "the upstream does not accept the client certificate wsinspect sent "
               "(--upstream-cert)");
  }
  if (f.peer_closed) {
    if (out.reason.empty()) out.reason = "the connection ended during the TLS handshake";
    return set("upstream-closed-during-tls-handshake",
               "the upstream ended the connection during the TLS handshake: it may not speak "
               "TLS on this port, or it refused the server name wsinspect sent");
  }
  return set("upstream-tls-handshake-failed",
             "the TLS handshake with the upstream failed (OpenSSL: " + out.reason + ")");
}

TlsFailure explain_tls_stream_failure(const TlsFailureFacts& f) {
  const std::string peer = peer_name(f);
  const int alert = received_alert(f);
  TlsFailure out = failure_facts(f, alert);
  auto set = [&](const char* id, std::string text) {
    out.id = id;
    out.explanation = std::move(text);
    return out;
  };
  if (f.alert_sent == SSL_AD_NO_RENEGOTIATION) {
    if (out.reason.empty())
      out.reason = "wsinspect answered a renegotiation request with no_renegotiation (100)";
    return set("tls-renegotiation-refused",
               peer +
                   " asked to renegotiate TLS (a new handshake inside the connection); "
                   "wsinspect refuses renegotiation, which a WebSocket never needs: turn it off "
                   "in " +
                   peer + "'s TLS settings, or use TLS 1.3, which has none");
  }
  if (f.reason == SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC ||
      f.alert_sent == SSL_AD_BAD_RECORD_MAC) {
    return set("tls-record-corrupted",
               "a TLS record from " + peer +
                   " did not decrypt: bytes were changed inside the TLS stream, by a hop between " +
                   peer +
                   " and wsinspect or by a faulty TLS stack; wsinspect ended the "
                   "connection, as TLS requires");
  }
  if (alert >= 0) {
    return set("tls-alert-received", peer + " ended its TLS stream with a fatal alert (" +
                                         out.alert +
                                         "): its TLS stack found an error in what it received");
  }
  if (f.alert_sent >= 0 || f.reason != 0 || !f.reason_text.empty()) {
    if (f.alert_sent >= 0 && out.reason.empty())
      out.reason = "wsinspect sent the alert " + tls_alert_name(f.alert_sent);
    return set("tls-stream-failed", "the TLS stream from " + peer +
                                        " broke after its handshake (OpenSSL: " + out.reason + ")");
  }
  return out;
}

}  // namespace wsi
