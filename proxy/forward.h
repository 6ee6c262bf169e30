// The forward proxy's side of a connection before any byte reaches the
// target: the client's proxy request (CONNECT host:port, or an absolute-form
// GET ws://host/...), which targets it may reach, and which hosts are
// tunnelled without interception. Pure functions over bytes and names.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsi {

struct ProxyRequest {
  bool connect = false;  // CONNECT: a tunnel follows the 200
  std::string host;      // no brackets for IPv6
  uint16_t port = 0;
  // Absolute form: the head to send to the target, its request line in
  // origin form ("GET /path HTTP/1.1"); every other byte unchanged.
  std::string origin_head;
  size_t head_size = 0;  // bytes of the client's stream that the head took
};

enum class ProxyRequestStatus : uint8_t { need_more, ok, bad };

// Parses the head at the start of `bytes`. bad: `http_status` (400, 405,
// 431) and `why` say what to answer.
ProxyRequestStatus parse_proxy_request(std::string_view bytes, ProxyRequest& out, int& http_status,
                                       std::string& why);

// Patterns: "example.com", "*.example.com" (any subdomain, not the name
// itself), an IP address; with ":PORT" a target pattern names the port too.
// Names compare case-insensitively.
bool host_matches(std::string_view pattern, std::string_view host);
bool target_allowed(const std::vector<std::string>& patterns, std::string_view host, uint16_t port);

// "host:port", "[v6]:port".
std::string host_port_text(std::string_view host, uint16_t port);

// The proxy's own short answers: "HTTP/1.1 403 Forbidden" with a one-line body.
std::string proxy_answer(int status, std::string_view body);

}  // namespace wsi
