// The one change wsinspect makes to what it relays: with a URL upstream, the
// Host header of the first request of each connection names the upstream
// (name-based servers, CDNs and SNI-routed hosts need it). Everything after
// that request head is relayed byte for byte.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace wsi {

// `head` is a complete request head (request line, fields, empty line).
// Every Host field's value becomes `authority`; a head without one gets one
// after the request line.
std::string rewrite_host(std::string_view head, std::string_view authority);

// Holds the client's first bytes until the first request head is complete,
// then hands it on rewritten. A head that does not end within kMaxHead bytes
// is passed on unchanged (the HTTP inspection reports it).
class FirstHeadRewriter {
 public:
  static constexpr size_t kMaxHead = 64 * 1024;
  explicit FirstHeadRewriter(std::string authority) : authority_(std::move(authority)) {}

  bool done() const { return done_; }
  // Takes the client's next bytes; returns what to forward now (empty while
  // the head is incomplete). Once done(), bytes should bypass it.
  std::string feed(std::span<const uint8_t> bytes);
  // The client ended its stream: what is held, unchanged.
  std::string flush();
  size_t held() const { return held_.size(); }

 private:
  std::string authority_;
  std::string held_;
  bool done_ = false;
};

}  // namespace wsi
