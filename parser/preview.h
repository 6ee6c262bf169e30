// The first bytes of a message's content as the application gets it, kept
// for a preview (ConnConfig::preview, decode --preview).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wsi {

class PreviewBuffer {
 public:
  explicit PreviewBuffer(uint32_t limit = 0) : limit_(limit) {}

  // A new message begins.
  void start() { kept_.clear(); }
  // Content of the message, unmasked and inflated; beyond the limit dropped
  // (MessageInfo says how long the content was).
  void add(const uint8_t* data, size_t n) {
    const size_t room = limit_ > kept_.size() ? limit_ - kept_.size() : 0;
    kept_.append(reinterpret_cast<const char*>(data), std::min(n, room));
  }
  std::string_view kept() const { return kept_; }
  uint32_t limit() const { return limit_; }

 private:
  uint32_t limit_;
  std::string kept_;
};

}  // namespace wsi
