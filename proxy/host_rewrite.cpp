#include "proxy/host_rewrite.h"

#include <algorithm>
#include <cctype>

namespace wsi {
namespace {

bool is_host_field(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  if (name.size() != 4) return false;
  for (size_t i = 0; i < 4; ++i) {
    if (std::tolower(static_cast<unsigned char>(name[i])) != "host"[i]) return false;
  }
  return true;
}

}  // namespace

std::string rewrite_host(std::string_view head, std::string_view authority) {
  std::string out;
  out.reserve(head.size() + authority.size());
  bool first = true;
  bool found = false;
  size_t at = 0;
  while (at < head.size()) {
    size_t end = head.find('\n', at);
    end = end == std::string_view::npos ? head.size() : end + 1;
    const std::string_view line = head.substr(at, end - at);
    const bool blank = line == "\r\n" || line == "\n";
    if (!first && !blank && is_host_field(line)) {
      found = true;
      out.append(line.substr(0, line.find(':') + 1));
      out += ' ';
      out.append(authority);
      out.append(line.ends_with("\r\n") ? "\r\n" : "\n");
    } else {
      if (blank && !found) {
        out += "Host: ";
        out.append(authority);
        out += "\r\n";
        found = true;
      }
      out.append(line);
    }
    first = false;
    at = end;
  }
  return out;
}

std::string FirstHeadRewriter::feed(std::span<const uint8_t> bytes) {
  if (done_) return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t searched_from = held_.size() >= 3 ? held_.size() - 3 : 0;
  held_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  // The head ends at an empty line; a bare LF is tolerated as llhttp does.
  const size_t crlf = held_.find("\r\n\r\n", searched_from);
  const size_t lf = held_.find("\n\n", searched_from);
  const size_t end =
      std::min(crlf == std::string::npos ? crlf : crlf + 4, lf == std::string::npos ? lf : lf + 2);
  if (end == std::string::npos) {
    if (held_.size() <= kMaxHead) return {};
    return flush();
  }
  done_ = true;
  std::string out = rewrite_host(std::string_view(held_).substr(0, end), authority_);
  out.append(held_, end, std::string::npos);
  std::string().swap(held_);
  return out;
}

std::string FirstHeadRewriter::flush() {
  done_ = true;
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace wsi
