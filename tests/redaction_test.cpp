// Redaction of what the logs show: header names as a client may mangle them,
// credential-carrying subprotocol tokens, URL parameters and path parameters.
#include <gtest/gtest.h>

#include "parser/handshake.h"
#include "proxy/event_format.h"

namespace wsi {
namespace {

TEST(Redaction, SecretHeaderNamesIgnoreCaseAndSurroundingWhitespace) {
  for (const char* name : {"Authorization", "authorization ", " AUTHORIZATION\t", "Cookie",
                           "Set-Cookie", "Proxy-Authorization", "Sec-WebSocket-Key", "X-Api-Key",
                           "x-auth-token", "Api-Key", "X-Access-Token"})
    EXPECT_TRUE(is_secret_header(name)) << name;
  for (const char* name : {"Host", "Authorization-Hint", "X-Api-Keys", "Upgrade"})
    EXPECT_FALSE(is_secret_header(name)) << name;
}

TEST(Redaction, AddedHeaderNames) {
  EXPECT_FALSE(is_secret_header("X-Tenant-Secret"));
  add_secret_headers({"x-tenant-secret"});
  EXPECT_TRUE(is_secret_header("X-Tenant-Secret "));
}

TEST(Redaction, SubprotocolTokensKeepTheirNonSecretPrefix) {
  EXPECT_EQ(redact_subprotocol("base64url.bearer.authorization.k8s.io.ZXlKaGJHY2k"),
            "base64url.bearer.authorization.k8s.io.[redacted]");
  EXPECT_EQ(redact_subprotocol("bearer.abc"), "bearer.[redacted]");
  EXPECT_EQ(redact_subprotocol("access_token.abc"), "access_token.[redacted]");
  EXPECT_EQ(redact_subprotocol("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"), "[redacted]");
  EXPECT_EQ(redact_subprotocol("base64.channel.k8s.io"), "base64.channel.k8s.io");
  EXPECT_EQ(redact_subprotocol("graphql-transport-ws"), "graphql-transport-ws");
  EXPECT_EQ(redact_subprotocols({"access_token", "opaque123", "chat"}),
            (std::vector<std::string>{"access_token", "[redacted]", "chat"}));
}

TEST(Redaction, UrlParameters) {
  EXPECT_EQ(redact_url("https://a.example/p?x=1&token=abc&Access_Token=d"),
            "https://a.example/p?x=1&token=[redacted]&Access_Token=[redacted]");
  EXPECT_EQ(redact_url("/p?api_key=1;key=2&password=3&auth=4&keep=5"),
            "/p?api_key=[redacted];key=[redacted]&password=[redacted]&auth=[redacted]&keep=5");
  EXPECT_EQ(redact_url("https://a.example/cb#access_token=abc&state=s"),
            "https://a.example/cb#access_token=[redacted]&state=s");
  EXPECT_EQ(redact_url("/app;jsessionid=ABC123/page;v=2"), "/app;jsessionid=[redacted]/page;v=2");
  EXPECT_EQ(redact_url("https://user:pw@a.example/"), "https://user:[redacted]@a.example/");
  EXPECT_EQ(redact_url("https://a.example"), "https://a.example");
  EXPECT_EQ(redact_url("/plain?tokens=1"), "/plain?tokens=1");
}

TEST(Redaction, LoggedHeaderValuesAreEscapedAfterRedaction) {
  EXPECT_EQ(logged_header_value("Authorization ", "Bearer x"), "[redacted]");
  EXPECT_EQ(logged_header_value("Referer", "/a?token=x\n"), "/a?token=[redacted]");
  EXPECT_EQ(logged_header_value("Referer", "/a?q=\n"), "/a?q=\\n");
  EXPECT_EQ(logged_header_value("Sec-WebSocket-Protocol", "bearer.x,  chat"),
            "bearer.[redacted], chat");
  EXPECT_EQ(logged_header_value("X-Trace", "a\x01"), "a\\x01");
}

}  // namespace
}  // namespace wsi
