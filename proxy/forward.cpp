#include "proxy/forward.h"

#include <algorithm>
#include <cctype>

#include "parser/http_parser.h"
#include "proxy/config.h"

namespace wsi {
namespace {

constexpr size_t kMaxProxyHead = 64 * 1024;

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

const char* reason_of(int status) {
  switch (status) {
    case 200:
      return "Connection established";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    default:
      return "Error";
  }
}

}  // namespace

std::string host_port_text(std::string_view host, uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

std::string proxy_answer(int status, std::string_view body) {
  const std::string text = "wsinspect: " + std::string(body) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_of(status) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(text.size()) + "\r\nConnection: close\r\n\r\n" + text;
}

ProxyRequestStatus parse_proxy_request(std::string_view bytes, ProxyRequest& out, int& http_status,
                                       std::string& why) {
  HttpParser parser(HttpMode::request);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const HttpFeedResult r = parser.feed({data, std::min(bytes.size(), kMaxProxyHead)});
  if (r.event == HttpEvent::need_more) {
    if (bytes.size() < kMaxProxyHead) return ProxyRequestStatus::need_more;
    http_status = 431;
    why = "the proxy request head is over 64 KiB";
    return ProxyRequestStatus::bad;
  }
  if (r.event == HttpEvent::error) {
    http_status = 400;
    why = "not an HTTP proxy request (" + parser.error().name + ")";
    return ProxyRequestStatus::bad;
  }
  const HttpHead& head = parser.head();
  out = ProxyRequest{};
  out.head_size = head.end_offset;
  if (head.method == "CONNECT") {
    out.connect = true;
    if (!split_host_port(head.target, out.host, out.port) || out.port == 0) {
      http_status = 400;
      why = "CONNECT needs host:port, not '" + head.target + "'";
      return ProxyRequestStatus::bad;
    }
    return ProxyRequestStatus::ok;
  }
  // An absolute-form request: ws://, http:// (a proxied page) and their
  // TLS forms, which a client sends through CONNECT instead.
  std::string_view target = head.target;
  uint16_t default_port = 0;
  for (const auto& [scheme, port] :
       {std::pair<std::string_view, uint16_t>{"ws://", 80}, {"http://", 80}}) {
    if (istarts_with(target, scheme)) {
      default_port = port;
      target.remove_prefix(scheme.size());
      break;
    }
  }
  if (!default_port) {
    http_status = target.starts_with('/') ? 400 : 405;
    why = target.starts_with('/')
              ? "this is a forward proxy: configure the client to use it as its HTTP proxy "
                "(the request target must be a ws:// or http:// URL, or CONNECT host:port)"
              : "only ws:// and http:// URLs are forwarded in plain; use CONNECT for wss:// "
                "and https://";
    return ProxyRequestStatus::bad;
  }
  const size_t slash = target.find_first_of("/?");
  const std::string_view authority = target.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : target.substr(slash);
  const bool has_port = authority.starts_with('[') ? authority.find("]:") != std::string_view::npos
                                                   : authority.find(':') != std::string_view::npos;
  bool ok = false;
  if (has_port) {
    ok = split_host_port(authority, out.host, out.port) && out.port != 0;
  } else {
    out.host = authority.starts_with('[') && authority.ends_with(']')
                   ? authority.substr(1, authority.size() - 2)
                   : authority;
    out.port = default_port;
    ok = !out.host.empty();
  }
  if (!ok) {
    http_status = 400;
    why = "the URL's host or port is not valid";
    return ProxyRequestStatus::bad;
  }
  // The request line in origin form; the rest of the head as it came.
  const size_t line_end = bytes.find('\n');
  std::string origin = head.method + " ";
  origin += path.starts_with('?') ? "/" + std::string(path) : std::string(path);
  origin += " HTTP/" + std::to_string(head.http_major) + "." + std::to_string(head.http_minor);
  origin += line_end != std::string_view::npos && line_end > 0 && bytes[line_end - 1] == '\r'
                ? "\r\n"
                : "\n";
  origin.append(bytes.substr(line_end + 1, out.head_size - (line_end + 1)));
  out.origin_head = std::move(origin);
  return ProxyRequestStatus::ok;
}

bool host_matches(std::string_view pattern, std::string_view host) {
  if (pattern.starts_with("*.")) {
    const std::string_view domain = pattern.substr(1);  // ".example.com"
    return host.size() > domain.size() && iequals(host.substr(host.size() - domain.size()), domain);
  }
  if (pattern.starts_with('[') && pattern.ends_with(']'))
    pattern = pattern.substr(1, pattern.size() - 2);
  return iequals(pattern, host);
}

bool target_allowed(const std::vector<std::string>& patterns, std::string_view host,
                    uint16_t port) {
  for (const std::string& p : patterns) {
    std::string h;
    uint16_t pport = 0;
    std::string_view hp = p;
    const size_t colon = p.rfind(':');
    const bool v6_bare = std::count(p.begin(), p.end(), ':') > 1 && !p.starts_with('[');
    if (!v6_bare && colon != std::string::npos && split_host_port(p, h, pport)) {
      if (pport == port && host_matches(h, host)) return true;
      continue;
    }
    if (!v6_bare && colon != std::string::npos && p.starts_with("*.")) {
      hp = std::string_view(p).substr(0, colon);
      if (std::to_string(port) == p.substr(colon + 1) && host_matches(hp, host)) return true;
      continue;
    }
    if (host_matches(p, host)) return true;
  }
  return false;
}

}  // namespace wsi
