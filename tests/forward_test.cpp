// The forward proxy's request parsing and target patterns, and the Host
// rewrite of a URL upstream: pure functions over bytes.
#include <gtest/gtest.h>

#include <string>

#include "proxy/forward.h"
#include "proxy/host_rewrite.h"

namespace wsi {
namespace {

ProxyRequestStatus parse(const std::string& bytes, ProxyRequest& r, int& status) {
  std::string why;
  return parse_proxy_request(bytes, r, status, why);
}

TEST(ProxyRequest, ConnectNamesHostAndPort) {
  ProxyRequest r;
  int status = 0;
  const std::string head = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
  ASSERT_EQ(parse(head + "\x16\x03\x01", r, status), ProxyRequestStatus::ok);
  EXPECT_TRUE(r.connect);
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.port, 443);
  EXPECT_EQ(r.head_size, head.size());
  ASSERT_EQ(parse("CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", r, status), ProxyRequestStatus::ok);
  EXPECT_EQ(r.host, "::1");
  EXPECT_EQ(r.port, 8443);
}

TEST(ProxyRequest, HeadInPiecesNeedsMore) {
  ProxyRequest r;
  int status = 0;
  const std::string head = "CONNECT a.example:443 HTTP/1.1\r\n\r\n";
  for (size_t n = 0; n < head.size(); ++n)
    EXPECT_EQ(parse(head.substr(0, n), r, status), ProxyRequestStatus::need_more) << n;
  EXPECT_EQ(parse(head, r, status), ProxyRequestStatus::ok);
}

TEST(ProxyRequest, AbsoluteFormBecomesOriginForm) {
  ProxyRequest r;
  int status = 0;
  const std::string head =
      "GET ws://example.com:8080/chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
      "Upgrade: websocket\r\n\r\n";
  ASSERT_EQ(parse(head + "frames", r, status), ProxyRequestStatus::ok);
  EXPECT_FALSE(r.connect);
  EXPECT_EQ(r.host, "example.com");
  EXPECT_EQ(r.port, 8080);
  EXPECT_EQ(r.origin_head,
            "GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(r.head_size, head.size());
  ASSERT_EQ(parse("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", r, status),
            ProxyRequestStatus::ok);
  EXPECT_EQ(r.port, 80);
  EXPECT_EQ(r.origin_head, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(parse("GET ws://[::1]:9/x HTTP/1.1\r\n\r\n", r, status), ProxyRequestStatus::ok);
  EXPECT_EQ(r.host, "::1");
}

TEST(ProxyRequest, WhatIsRefused) {
  ProxyRequest r;
  int status = 0;
  EXPECT_EQ(parse("GET /chat HTTP/1.1\r\nHost: a\r\n\r\n", r, status), ProxyRequestStatus::bad);
  EXPECT_EQ(status, 400);  // origin form: the client does not know it talks to a proxy
  EXPECT_EQ(parse("GET wss://a/ HTTP/1.1\r\n\r\n", r, status), ProxyRequestStatus::bad);
  EXPECT_EQ(status, 405);
  EXPECT_EQ(parse("CONNECT example.com HTTP/1.1\r\n\r\n", r, status), ProxyRequestStatus::bad);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(parse("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", r, status),
            ProxyRequestStatus::bad);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(parse("GET ws://a/ HTTP/1.1\r\nX: " + std::string(70000, 'x'), r, status),
            ProxyRequestStatus::bad);
  EXPECT_EQ(status, 431);
}

TEST(ForwardPatterns, HostsAndTargets) {
  EXPECT_TRUE(host_matches("example.com", "EXAMPLE.com"));
  EXPECT_FALSE(host_matches("example.com", "www.example.com"));
  EXPECT_TRUE(host_matches("*.example.com", "www.example.com"));
  EXPECT_TRUE(host_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(host_matches("*.example.com", "example.com"));
  EXPECT_FALSE(host_matches("*.example.com", "badexample.com"));
  EXPECT_TRUE(host_matches("[::1]", "::1"));
  const std::vector<std::string> allowed = {"*.example.com:443", "10.0.0.5", "api.test:8080"};
  EXPECT_TRUE(target_allowed(allowed, "www.example.com", 443));
  EXPECT_FALSE(target_allowed(allowed, "www.example.com", 80));
  EXPECT_TRUE(target_allowed(allowed, "10.0.0.5", 22));
  EXPECT_TRUE(target_allowed(allowed, "api.test", 8080));
  EXPECT_FALSE(target_allowed(allowed, "api.test", 8081));
  EXPECT_FALSE(target_allowed(allowed, "169.254.169.254", 80));
  EXPECT_TRUE(target_allowed({"::1"}, "::1", 9));
}

TEST(HostRewrite, ReplacesEveryHostFieldOrAddsOne) {
  EXPECT_EQ(rewrite_host("GET / HTTP/1.1\r\nhost:  a:1\r\nX: y\r\n\r\n", "b.example"),
            "GET / HTTP/1.1\r\nhost: b.example\r\nX: y\r\n\r\n");
  EXPECT_EQ(rewrite_host("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "b"),
            "GET / HTTP/1.1\r\nHost : b\r\n\r\n");
  EXPECT_EQ(rewrite_host("GET / HTTP/1.1\r\nX: y\r\n\r\n", "b"),
            "GET / HTTP/1.1\r\nX: y\r\nHost: b\r\n\r\n");
  EXPECT_EQ(rewrite_host("GET / HTTP/1.1\nHost: a\n\n", "b"), "GET / HTTP/1.1\nHost: b\n\n");
  // A field whose name only ends in "host" is left alone.
  EXPECT_EQ(rewrite_host("GET / HTTP/1.1\r\nX-Forwarded-Host: a\r\nHost: a\r\n\r\n", "b"),
            "GET / HTTP/1.1\r\nX-Forwarded-Host: a\r\nHost: b\r\n\r\n");
}

TEST(HostRewrite, FirstHeadOnlyWhateverThePieces) {
  const std::string head = "GET /x HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\n\r\n";
  const std::string after = "\x81\x85masks";
  const std::string expected = "GET /x HTTP/1.1\r\nHost: up.example\r\nUpgrade: websocket\r\n\r\n" +
                               after + "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n";
  const std::string all = head + after + "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n";
  for (size_t piece = 1; piece <= all.size(); ++piece) {
    FirstHeadRewriter rw("up.example");
    std::string out;
    for (size_t at = 0; at < all.size(); at += piece) {
      const std::string p = all.substr(at, piece);
      out += rw.feed({reinterpret_cast<const uint8_t*>(p.data()), p.size()});
    }
    EXPECT_TRUE(rw.done());
    EXPECT_EQ(out, expected) << "pieces of " << piece;
  }
}

TEST(HostRewrite, AnEndlessHeadIsPassedOnUnchanged) {
  FirstHeadRewriter rw("b");
  const std::string big = "GET / HTTP/1.1\r\nX: " + std::string(FirstHeadRewriter::kMaxHead, 'x');
  const std::string out = rw.feed({reinterpret_cast<const uint8_t*>(big.data()), big.size()});
  EXPECT_EQ(out, big);
  EXPECT_TRUE(rw.done());
}

}  // namespace
}  // namespace wsi
