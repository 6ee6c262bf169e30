// The TLS pieces that need no socket: failure explanations, the CA and its
// leaf cache, the self-signed listener certificate.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "proxy/net/cert_authority.h"
#include "proxy/net/tls_context.h"
#include "proxy/net/tls_failure.h"

namespace wsi {
namespace {

TEST(TlsFailure, TheFormsOfARejectedCertificate) {
  for (int alert :
       {48, 46, 42}) {  // unknown_ca (Python), certificate_unknown (Chromium), bad_certificate
    TlsFailureFacts f;
    f.role = TlsRole::server;
    f.reason = SSL_AD_REASON_OFFSET + alert;
    const TlsFailure out = explain_tls_failure(f);
    EXPECT_EQ(out.id, "client-rejected-certificate") << alert;
    EXPECT_NE(out.alert.find(std::to_string(alert)), std::string::npos) << out.alert;
    EXPECT_NE(out.explanation.find("--tls-cert"), std::string::npos);
  }
  // Node: no alert, the connection closed right after the server's flight.
  TlsFailureFacts node;
  node.role = TlsRole::server;
  node.peer_closed = true;
  node.sent_certificate = true;
  EXPECT_EQ(explain_tls_failure(node).id, "client-rejected-certificate");
  EXPECT_EQ(explain_tls_failure(node).alert, "");
  // Closed before the server said anything: not a certificate problem.
  TlsFailureFacts scan;
  scan.role = TlsRole::server;
  scan.peer_closed = true;
  EXPECT_EQ(explain_tls_failure(scan).id, "client-closed-during-tls-handshake");
}

TEST(TlsFailure, ServerSideCases) {
  TlsFailureFacts f;
  f.role = TlsRole::server;
  f.plain_http = true;
  EXPECT_EQ(explain_tls_failure(f).id, "plain-http-to-tls-listener");
  f = {};
  f.role = TlsRole::server;
  f.reason = SSL_R_UNSUPPORTED_PROTOCOL;
  EXPECT_EQ(explain_tls_failure(f).id, "tls-version-mismatch");
  f = {};
  f.role = TlsRole::server;
  f.timed_out = true;
  EXPECT_EQ(explain_tls_failure(f).id, "client-tls-handshake-timeout");
}

TEST(TlsFailure, UpstreamSideCases) {
  TlsFailureFacts f;
  f.role = TlsRole::client;
  f.reason = SSL_R_CERTIFICATE_VERIFY_FAILED;
  f.verify_result = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
  f.verify_text = "unable to get local issuer certificate";
  TlsFailure out = explain_tls_failure(f);
  EXPECT_EQ(out.id, "upstream-verification-failed");
  EXPECT_NE(out.explanation.find("--upstream-ca"), std::string::npos);
  f.verify_result = X509_V_ERR_HOSTNAME_MISMATCH;
  EXPECT_EQ(explain_tls_failure(f).id, "upstream-hostname-mismatch");
  f.verify_result = X509_V_ERR_IP_ADDRESS_MISMATCH;
  EXPECT_EQ(explain_tls_failure(f).id, "upstream-hostname-mismatch");
  f = {};
  f.role = TlsRole::client;
  f.reason = SSL_R_WRONG_VERSION_NUMBER;
  EXPECT_EQ(explain_tls_failure(f).id, "upstream-not-tls");
  f = {};
  f.role = TlsRole::client;
  f.reason = SSL_AD_REASON_OFFSET + 116;  // certificate_required
  EXPECT_EQ(explain_tls_failure(f).id, "upstream-rejected-handshake");
  EXPECT_EQ(tls_alert_name(116), "certificate_required");
}

TEST(TlsFailure, StreamFailuresAfterTheHandshake) {
  TlsFailureFacts f;  // nothing happened
  EXPECT_EQ(explain_tls_stream_failure(f).id, "");
  f.alert_sent = SSL_AD_NO_RENEGOTIATION;
  f.alert_received = 40;  // the client gives up after the refusal
  TlsFailure out = explain_tls_stream_failure(f);
  EXPECT_EQ(out.id, "tls-renegotiation-refused");
  EXPECT_EQ(out.alert, "handshake_failure (40) from the client");
  f = {};
  f.role = TlsRole::client;
  f.reason = SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC;
  out = explain_tls_stream_failure(f);
  EXPECT_EQ(out.id, "tls-record-corrupted");
  EXPECT_NE(out.explanation.find("the upstream"), std::string::npos);
  f = {};
  f.reason = SSL_AD_REASON_OFFSET + 20;  // bad_record_mac from the peer
  EXPECT_EQ(explain_tls_stream_failure(f).id, "tls-alert-received");
  f = {};
  f.alert_sent = 10;  // unexpected_message
  out = explain_tls_stream_failure(f);
  EXPECT_EQ(out.id, "tls-stream-failed");
  EXPECT_NE(out.reason.find("unexpected_message"), std::string::npos);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/wsi-ca-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// X509_verify_cert of `leaf` against `ca` alone, for `name`.
bool verifies(X509* ca, X509* leaf, const std::string& name) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* p = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(p, X509_PURPOSE_SSL_SERVER);
  if (is_ip_literal(name))
    X509_VERIFY_PARAM_set1_ip_asc(p, name.c_str());
  else
    X509_VERIFY_PARAM_set1_host(p, name.c_str(), 0);
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

TEST(CertAuthority, InitLoadsAndSignsLeavesThatVerify) {
  TempDir tmp;
  const std::string dir = (tmp.path / "ca").string();
  std::string error;
  ASSERT_TRUE(create_ca(dir, error)) << error;
  struct stat st {};
  ASSERT_EQ(stat((dir + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_FALSE(create_ca(dir, error));  // never overwritten
  EXPECT_NE(error.find("already"), std::string::npos);

  auto ca = CertAuthority::load(dir, error);
  ASSERT_TRUE(ca) << error;
  X509* a = ca->leaf_for("www.example.com");
  ASSERT_TRUE(a);
  EXPECT_TRUE(verifies(ca->ca_cert(), a, "www.example.com"));
  EXPECT_FALSE(verifies(ca->ca_cert(), a, "other.example.com"));
  X509* ip = ca->leaf_for("127.0.0.1");
  ASSERT_TRUE(ip);
  EXPECT_TRUE(verifies(ca->ca_cert(), ip, "127.0.0.1"));
  EXPECT_EQ(ca->leaf_for("www.example.com"), a);  // cached
  EXPECT_EQ(ca->minted(), 2u);
}

TEST(CertAuthority, TheLeafCacheIsBounded) {
  TempDir tmp;
  const std::string dir = (tmp.path / "ca").string();
  std::string error;
  ASSERT_TRUE(create_ca(dir, error)) << error;
  auto ca = CertAuthority::load(dir, error);
  ASSERT_TRUE(ca) << error;
  ca->leaf_for("keep.example");
  for (size_t i = 0; i < CertAuthority::kCacheSize + 50; ++i) {
    ASSERT_TRUE(ca->leaf_for("h" + std::to_string(i) + ".example"));
    if (i % 100 == 0) ca->leaf_for("keep.example");  // recently used: stays
  }
  EXPECT_EQ(ca->cached(), CertAuthority::kCacheSize);
  const uint64_t minted = ca->minted();
  ca->leaf_for("keep.example");
  EXPECT_EQ(ca->minted(), minted);
  ca->leaf_for("h0.example");  // evicted long ago: signed again
  EXPECT_EQ(ca->minted(), minted + 1);
}

TEST(CertAuthority, LoadExplainsWhatIsMissing) {
  TempDir tmp;
  std::string error;
  EXPECT_FALSE(CertAuthority::load((tmp.path / "none").string(), error));
  EXPECT_NE(error.find("wsinspect ca init"), std::string::npos) << error;
}

TEST(SelfSigned, NamesAndFingerprint) {
  std::string error;
  auto ctx = TlsContext::for_listener({.cert_file = "",
                                       .key_file = "",
                                       .self_signed = true,
                                       .self_signed_names = {"localhost", "127.0.0.1", "::1"}},
                                      nullptr, error);
  ASSERT_TRUE(ctx) << error;
  EXPECT_EQ(ctx->names(), (std::vector<std::string>{"localhost", "127.0.0.1", "::1"}));
  EXPECT_EQ(ctx->fingerprint().size(), 32u * 3 - 1);  // "AB:CD:..."
  X509* leaf = SSL_CTX_get0_certificate(ctx->ctx());
  EXPECT_EQ(X509_check_host(leaf, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf, "::1", 0), 1);
}

TEST(ListenerTls, BadFilesAreNamed) {
  std::string error;
  EXPECT_FALSE(TlsContext::for_listener({.cert_file = "/missing/cert.pem",
                                         .key_file = "/missing/key.pem",
                                         .self_signed = false,
                                         .self_signed_names = {}},
                                        nullptr, error));
  EXPECT_NE(error.find("/missing/cert.pem"), std::string::npos) << error;
}

}  // namespace
}  // namespace wsi
