#include "parser/handshake.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace wsi {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view kDeflate = "permessage-deflate";
constexpr size_t kMaxQuoted = 96;  // longest peer value quoted in a detail

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls f(element) for each non-empty element of a comma-separated list.
template <class F>
void for_each_element(std::string_view list, F f) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = trim(list.substr(0, comma));
    if (!element.empty()) f(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool list_has_token(const HttpHead& head, std::string_view header, std::string_view token) {
  bool found = false;
  for (const HttpHeader& h : head.headers) {
    if (!iequals(h.name, header)) continue;
    for_each_element(h.value, [&](std::string_view e) { found = found || iequals(e, token); });
  }
  return found;
}

std::vector<const HttpHeader*> headers_named(const HttpHead& head, std::string_view name) {
  std::vector<const HttpHeader*> out;
  for (const HttpHeader& h : head.headers) {
    if (iequals(h.name, name)) out.push_back(&h);
  }
  return out;
}

std::string join_values(const HttpHead& head, std::string_view name) {
  std::string out;
  for (const HttpHeader* h : headers_named(head, name)) {
    if (!out.empty()) out += ", ";
    out += h->value;
  }
  return out;
}

// Printable ASCII for a detail: backslash and every other byte escaped.
void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
}

std::string hex_bytes(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (!out.empty()) out += ' ';
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

// Collects findings; quotes peer values escaped, shortened and with the
// request's Sec-WebSocket-Key replaced wherever it appears.
class Reporter {
 public:
  Reporter(std::vector<Finding>& out, std::string_view key) : out_(out), key_(key) {}

  void add(Rule rule, std::string detail, uint64_t offset) {
    out_.push_back({rule, std::move(detail), offset});
  }

  std::string quote(std::string_view value) const {
    const bool long_value = value.size() > kMaxQuoted;
    if (long_value) value = value.substr(0, kMaxQuoted);
    std::string out = "\"";
    while (!value.empty()) {
      const size_t at = key_.empty() ? std::string_view::npos : value.find(key_);
      append_escaped(out, value.substr(0, at));
      if (at == std::string_view::npos) break;
      out += "<Sec-WebSocket-Key>";
      value.remove_prefix(at + key_.size());
    }
    out += long_value ? "\"..." : "\"";
    return out;
  }

 private:
  std::vector<Finding>& out_;
  std::string_view key_;
};

// --- Sec-WebSocket-Key --------------------------------------------------------

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Why `key` is not 24 characters of canonical base64 for 16 bytes; "" when it is.
std::string key_problem(std::string_view key) {
  if (key.size() != 24) {
    return "is " + std::to_string(key.size()) + " characters long, not 24";
  }
  for (size_t i = 0; i < 22; ++i) {
    if (base64_value(key[i]) < 0) {
      return "has a character outside the base64 alphabet at position " + std::to_string(i);
    }
  }
  if (key[22] != '=' || key[23] != '=')
    return "does not end in \"==\", so it does not encode 16 bytes";
  // The 22nd character carries the last 2 bits of byte 16 and 4 padding bits.
  if ((base64_value(key[21]) & 0x0f) != 0) return "is not canonical base64 (non-zero padding bits)";
  std::array<unsigned char, 18> raw{};
  if (EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(key.data()), 24) != 18) {
    return "is not valid base64";
  }
  return {};
}

// --- Sec-WebSocket-Extensions (RFC 6455 §9.1) ------------------------------

class ExtensionScanner {
 public:
  ExtensionScanner(std::string_view s, uint64_t offset, std::vector<Extension>& out)
      : s_(s), offset_(offset), out_(out) {}

  void run() {
    for (;;) {
      while (i_ < s_.size() && (is_ows(s_[i_]) || s_[i_] == ',')) ++i_;
      if (i_ >= s_.size()) return;
      Extension e;
      e.offset = offset_;
      e.syntax_error = element(e);
      if (!e.syntax_error.empty()) skip_element();
      out_.push_back(std::move(e));
    }
  }

 private:
  std::string_view token() {
    const size_t start = i_;
    while (i_ < s_.size() && is_tchar(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  void skip_ows() {
    while (i_ < s_.size() && is_ows(s_[i_])) ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  std::string unexpected(std::string_view expected) const {
    if (i_ >= s_.size()) return "expected " + std::string(expected) + " at the end";
    std::string out = "expected " + std::string(expected) + ", found '";
    append_escaped(out, s_.substr(i_, 1));
    return out + "'";
  }

  // Parses one element; returns its syntax error or "".
  std::string element(Extension& e) {
    e.name = token();
    if (e.name.empty()) return unexpected("an extension name");
    skip_ows();
    while (peek() == ';') {
      ++i_;
      skip_ows();
      ExtensionParam p;
      p.name = token();
      if (p.name.empty()) return unexpected("a parameter name");
      skip_ows();
      if (peek() == '=') {
        ++i_;
        skip_ows();
        if (peek() == '"') {
          std::string value;
          if (!quoted(value)) return "unterminated quoted-string";
          p.value = std::move(value);
        } else {
          const std::string_view value = token();
          if (value.empty()) return unexpected("a parameter value");
          p.value = std::string(value);
        }
        skip_ows();
      }
      e.params.push_back(std::move(p));
    }
    if (i_ < s_.size() && s_[i_] != ',') return unexpected("';' or ','");
    return {};
  }

  bool quoted(std::string& value) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        value += s_[i_++];
      } else {
        value += c;
      }
    }
    return false;
  }

  void skip_element() {
    bool in_quotes = false;
    for (; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (in_quotes && c == '\\') {
        ++i_;
      } else if (c == '"') {
        in_quotes = !in_quotes;
      } else if (c == ',' && !in_quotes) {
        return;
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  uint64_t offset_;
  std::vector<Extension>& out_;
};

// --- permessage-deflate (RFC 7692 §7.1) -----------------------------------

struct DeflateSet {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::optional<uint8_t> server_max_window_bits;
  bool client_max_window_bits = false;  // present, with or without a value
  std::optional<uint8_t> client_max_window_bits_value;
};

// A window-bits value: a decimal integer 8..15 without leading zeroes.
std::optional<uint8_t> window_bits(std::string_view v) {
  if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) return static_cast<uint8_t>(v[0] - '0');
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
    return static_cast<uint8_t>(10 + (v[1] - '0'));
  }
  return std::nullopt;
}

// Reads one permessage-deflate element into `out`; returns what is wrong with
// it ("" when nothing). A response must give client_max_window_bits a value.
std::string read_deflate(const Extension& e, bool response, const Reporter& r, DeflateSet& out) {
  if (!e.syntax_error.empty()) return e.syntax_error;
  std::vector<std::string_view> seen;
  for (const ExtensionParam& p : e.params) {
    for (std::string_view s : seen) {
      if (s == p.name) return "parameter " + r.quote(p.name) + " appears twice";
    }
    seen.push_back(p.name);
    if (p.name == "server_no_context_takeover" || p.name == "client_no_context_takeover") {
      if (p.value) return p.name + " takes no value, got " + r.quote(*p.value);
      (p.name[0] == 's' ? out.server_no_context_takeover : out.client_no_context_takeover) = true;
    } else if (p.name == "server_max_window_bits") {
      if (!p.value) return "server_max_window_bits needs a value 8..15";
      out.server_max_window_bits = window_bits(*p.value);
      if (!out.server_max_window_bits) {
        return "server_max_window_bits=" + r.quote(*p.value) + " is not 8..15";
      }
    } else if (p.name == "client_max_window_bits") {
      out.client_max_window_bits = true;
      if (!p.value) {
        if (response) return "client_max_window_bits needs a value 8..15 in a response";
        continue;
      }
      out.client_max_window_bits_value = window_bits(*p.value);
      if (!out.client_max_window_bits_value) {
        return "client_max_window_bits=" + r.quote(*p.value) + " is not 8..15";
      }
    } else {
      return "unknown parameter " + r.quote(p.name);
    }
  }
  return {};
}

// Why a well-formed answer does not accept a well-formed offer; "" when it does.
std::string deflate_mismatch(const DeflateSet& offer, const DeflateSet& answer) {
  if (offer.server_no_context_takeover && !answer.server_no_context_takeover) {
    return "the offer requires server_no_context_takeover and the response omits it";
  }
  if (offer.server_max_window_bits) {
    const int offered = *offer.server_max_window_bits;
    if (!answer.server_max_window_bits) {
      return "the offer limits server_max_window_bits to " + std::to_string(offered) +
             " and the response omits it";
    }
    if (*answer.server_max_window_bits > offered) {
      return "server_max_window_bits=" + std::to_string(*answer.server_max_window_bits) +
             " exceeds the offered " + std::to_string(offered);
    }
  }
  if (answer.client_max_window_bits && !offer.client_max_window_bits) {
    return "client_max_window_bits in the response, but the offer does not have it";
  }
  if (offer.client_max_window_bits_value && answer.client_max_window_bits_value &&
      *answer.client_max_window_bits_value > *offer.client_max_window_bits_value) {
    return "client_max_window_bits=" + std::to_string(*answer.client_max_window_bits_value) +
           " exceeds the offered " + std::to_string(*offer.client_max_window_bits_value);
  }
  return {};
}

DeflateParams negotiated_params(const DeflateSet* offer, const DeflateSet& answer) {
  DeflateParams p;
  p.server_no_context_takeover = answer.server_no_context_takeover;
  p.client_no_context_takeover = answer.client_no_context_takeover;
  p.server_max_window_bits = answer.server_max_window_bits.value_or(15);
  if (answer.client_max_window_bits_value) {
    p.client_max_window_bits = *answer.client_max_window_bits_value;
  } else if (offer != nullptr && offer->client_max_window_bits_value) {
    // The client limited its own window and the server kept that limit.
    p.client_max_window_bits = *offer->client_max_window_bits_value;
  }
  return p;
}

// --- request-target -----------------------------------------------------------

// The path for logs: no query or fragment, and no userinfo in an absolute-form target.
std::string log_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  const size_t scheme = target.find("://");
  if (scheme == std::string_view::npos || target.find('/') < scheme) return std::string(target);
  const size_t authority = scheme + 3;
  const size_t end = std::min(target.find('/', authority), target.size());
  const size_t at = target.substr(authority, end - authority).rfind('@');
  if (at == std::string_view::npos) return std::string(target);
  return std::string(target.substr(0, authority)) + std::string(target.substr(authority + at + 1));
}

bool starts_with_sec_websocket(std::string_view name) {
  constexpr std::string_view kPrefix = "Sec-WebSocket-";
  return name.size() > kPrefix.size() && iequals(name.substr(0, kPrefix.size()), kPrefix);
}

// Reports a header that must appear once; returns the first copy, or nullptr.
const HttpHeader* single(const HttpHead& head, std::string_view name, Rule missing, Rule duplicate,
                         Reporter& r) {
  const std::vector<const HttpHeader*> copies = headers_named(head, name);
  if (copies.empty()) {
    r.add(missing, "no " + std::string(name) + " header", head.end_offset);
    return nullptr;
  }
  if (copies.size() > 1) {
    r.add(duplicate, std::string(name) + " appears " + std::to_string(copies.size()) + " times",
          copies[1]->offset);
  }
  return copies[0];
}

void check_duplicate(const HttpHead& head, std::string_view name, Rule rule, Reporter& r) {
  const std::vector<const HttpHeader*> copies = headers_named(head, name);
  if (copies.size() > 1) {
    r.add(rule, std::string(name) + " appears " + std::to_string(copies.size()) + " times",
          copies[1]->offset);
  }
}

// The token check for Upgrade and Connection; `rule` when `token` is absent.
void require_token(const HttpHead& head, std::string_view name, std::string_view token, Rule rule,
                   Reporter& r) {
  if (list_has_token(head, name, token)) return;
  const HttpHeader* h = head.find(name);
  if (h == nullptr) {
    r.add(rule, "no " + std::string(name) + " header", head.end_offset);
  } else {
    r.add(rule,
          std::string(name) + ": " + r.quote(join_values(head, name)) + " lacks the token \"" +
              std::string(token) + "\"",
          h->offset);
  }
}

}  // namespace

std::string websocket_accept(std::string_view key) {
  std::string input(key);
  input += kAcceptGuid;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr) !=
      1) {
    return {};
  }
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  const int n = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(n));
}

bool is_valid_websocket_key(std::string_view key) {
  return key_problem(key).empty();
}

std::vector<Extension> parse_extensions(const HttpHead& head) {
  std::vector<Extension> out;
  for (const HttpHeader* h : headers_named(head, "Sec-WebSocket-Extensions")) {
    ExtensionScanner(h->value, h->offset, out).run();
  }
  return out;
}

bool parse_deflate_params(std::string_view text, DeflateParams& out, std::string& error) {
  // The same grammar and checks as a handshake response's extension header.
  HttpHead head;
  std::string value(text);
  if (value.rfind(kDeflate, 0) != 0)
    value = std::string(kDeflate) + (value.empty() ? "" : "; ") + value;
  head.headers.push_back({"Sec-WebSocket-Extensions", value, 0});
  const std::vector<Extension> exts = parse_extensions(head);
  if (exts.size() != 1 || exts[0].name != kDeflate) {
    error = "expected one permessage-deflate parameter list";
    return false;
  }
  return deflate_params_of(exts[0], /*response=*/true, out, error);
}

bool deflate_params_of(const Extension& e, bool response, DeflateParams& out, std::string& error) {
  std::vector<Finding> unused;
  const Reporter r(unused, {});
  DeflateSet set;
  error = read_deflate(e, response, r, set);
  if (!error.empty()) return false;
  out = negotiated_params(response ? nullptr : &set, set);
  return true;
}

// --- subprotocol tokens that carry credentials ---------------------------------

namespace {

char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The position of `needle` (lower case) in `hay`, ignoring case; npos if none.
size_t ifind(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && ascii_lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

bool looks_like_jwt(std::string_view t) {
  if (t.size() < 20 || t.substr(0, 3) != "eyJ") return false;
  const size_t dot = t.find('.');
  return dot != std::string_view::npos && t.find('.', dot + 1) != std::string_view::npos;
}

constexpr std::string_view kRedacted = "[redacted]";

}  // namespace

std::string redact_subprotocol(std::string_view token, bool after_marker) {
  if (after_marker || looks_like_jwt(token)) return std::string(kRedacted);
  // Kubernetes: "base64url.bearer.authorization.k8s.io.<token>".
  static constexpr std::string_view kMarkers[] = {"authorization.k8s.io.", "bearer.", "token.",
                                                  "bearer_", "token_"};
  for (std::string_view m : kMarkers) {
    const size_t at = ifind(token, m);
    if (at == std::string_view::npos) continue;
    // A marker at the very end carries nothing after it.
    if (at + m.size() == token.size()) return std::string(token);
    return std::string(token.substr(0, at + m.size())) + std::string(kRedacted);
  }
  return std::string(token);
}

std::vector<std::string> redact_subprotocols(const std::vector<std::string>& tokens) {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  bool marker = false;
  for (const std::string& t : tokens) {
    out.push_back(redact_subprotocol(t, marker));
    marker = iequals(t, "access_token") || iequals(t, "bearer") || iequals(t, "token") ||
             iequals(t, "authorization");
  }
  return out;
}

HandshakeRequest analyze_request(const HttpHead& head, std::vector<Finding>& findings) {
  HandshakeRequest req;
  req.complete = true;
  req.method = head.method;
  req.path = log_path(head.target);
  if (const size_t q = head.target.find_first_of("?#"); q != std::string::npos)
    req.query = head.target.substr(q);
  req.http_major = head.http_major;
  req.http_minor = head.http_minor;
  req.head_end = head.end_offset;
  if (const HttpHeader* host = head.find("Host")) req.host = host->value;
  if (const HttpHeader* key = head.find("Sec-WebSocket-Key")) req.key = key->value;
  req.key_valid = is_valid_websocket_key(req.key);
  for (const HttpHeader* h : headers_named(head, "Sec-WebSocket-Protocol")) {
    for_each_element(h->value,
                     [&](std::string_view e) { req.offered_subprotocols.emplace_back(e); });
  }
  req.offered_extensions = parse_extensions(head);
  req.extensions_header = join_values(head, "Sec-WebSocket-Extensions");

  req.is_websocket_upgrade = list_has_token(head, "Upgrade", "websocket");
  req.attempts_websocket = req.is_websocket_upgrade;
  for (const HttpHeader& h : head.headers) {
    req.attempts_websocket = req.attempts_websocket || starts_with_sec_websocket(h.name);
  }
  if (!req.attempts_websocket) return req;

  Reporter r(findings, req.key);
  for (const HttpHeader& h : head.headers) {
    if (h.name.find_first_of(" \t") == std::string::npos) continue;
    r.add(Rule::request_header_name_whitespace,
          "header name " + r.quote(h.name) + " has whitespace before the colon", h.offset);
  }
  if (head.method != "GET") {
    r.add(Rule::request_not_get, "method " + r.quote(head.method) + ", expected GET",
          head.start_offset);
  }
  if (head.http_major < 1 || (head.http_major == 1 && head.http_minor < 1)) {
    r.add(Rule::request_http_version,
          "HTTP/" + std::to_string(head.http_major) + "." + std::to_string(head.http_minor) +
              ", expected HTTP/1.1 or later",
          head.version_offset);
  }
  if (const HttpHeader* host =
          single(head, "Host", Rule::request_missing_host, Rule::request_duplicate_header, r)) {
    if (host->value.empty()) r.add(Rule::request_missing_host, "Host is empty", host->offset);
  }
  require_token(head, "Upgrade", "websocket", Rule::request_missing_upgrade, r);
  check_duplicate(head, "Upgrade", Rule::request_duplicate_header, r);
  require_token(head, "Connection", "upgrade", Rule::request_missing_connection_upgrade, r);

  if (const HttpHeader* key = single(head, "Sec-WebSocket-Key", Rule::request_missing_key,
                                     Rule::request_duplicate_header, r)) {
    const std::string problem = key_problem(key->value);
    if (!problem.empty()) {
      r.add(Rule::request_invalid_key, "Sec-WebSocket-Key " + problem, key->offset);
    }
  }
  if (const HttpHeader* version =
          single(head, "Sec-WebSocket-Version", Rule::request_missing_version,
                 Rule::request_duplicate_header, r)) {
    if (version->value != "13") {
      r.add(Rule::request_unsupported_version,
            "Sec-WebSocket-Version: " + r.quote(version->value) + ", expected 13", version->offset);
    }
  }

  for (const Extension& e : req.offered_extensions) {
    if (e.name != kDeflate) continue;
    DeflateSet offer;
    const std::string problem = read_deflate(e, false, r, offer);
    if (!problem.empty()) {
      r.add(Rule::request_deflate_offer_malformed, "permessage-deflate offer: " + problem,
            e.offset);
    }
  }
  return req;
}

Negotiated analyze_response(const HttpHead& head, const HandshakeRequest& request,
                            std::vector<Finding>& findings) {
  Negotiated n;
  n.complete = true;
  n.status = head.status;
  n.switched = head.status == 101;
  n.websocket = n.switched && request.attempts_websocket;
  n.head_end = head.end_offset;
  n.extensions = join_values(head, "Sec-WebSocket-Extensions");
  const std::vector<Extension> extensions = parse_extensions(head);
  for (const Extension& e : extensions) n.extensions_selected.push_back(e.name);
  std::vector<std::pair<std::string_view, uint64_t>> protocols;
  for (const HttpHeader* h : headers_named(head, "Sec-WebSocket-Protocol")) {
    for_each_element(h->value, [&](std::string_view e) { protocols.emplace_back(e, h->offset); });
  }
  if (!protocols.empty()) n.subprotocol = std::string(protocols[0].first);
  if (!request.attempts_websocket) return n;

  Reporter r(findings, request.key);
  if (!n.switched) {
    std::string detail = "status " + std::to_string(head.status);
    if (!head.reason.empty()) detail += " " + r.quote(head.reason);
    detail += "; the connection stays HTTP";
    if (const HttpHeader* v = head.find("Sec-WebSocket-Version")) {
      detail += " (the server speaks Sec-WebSocket-Version " + r.quote(v->value) + ")";
    }
    r.add(Rule::response_not_101, std::move(detail), head.start_offset);
    return n;
  }

  require_token(head, "Upgrade", "websocket", Rule::response_missing_upgrade, r);
  check_duplicate(head, "Upgrade", Rule::response_duplicate_header, r);
  require_token(head, "Connection", "upgrade", Rule::response_missing_connection_upgrade, r);

  if (const HttpHeader* accept = single(head, "Sec-WebSocket-Accept", Rule::response_missing_accept,
                                        Rule::response_duplicate_header, r)) {
    const std::string expected = websocket_accept(request.key);
    if (!request.key.empty() && accept->value != expected) {
      std::string detail = "expected \"" + expected + "\", got ";
      detail += accept->value == request.key ? "the Sec-WebSocket-Key itself, not its hash"
                                             : r.quote(accept->value);
      r.add(Rule::response_accept_mismatch, std::move(detail), accept->offset);
    }
  }

  bool deflate_seen = false;
  for (const Extension& e : extensions) {
    if (e.name != kDeflate) {
      bool offered = false;
      for (const Extension& o : request.offered_extensions) offered = offered || o.name == e.name;
      if (!offered) {
        r.add(Rule::response_extension_not_offered, r.quote(e.name) + " was not offered", e.offset);
      }
      continue;
    }
    if (deflate_seen) {
      r.add(Rule::response_extension_not_offered,
            "permessage-deflate is accepted twice; a response accepts one offer", e.offset);
      continue;
    }
    deflate_seen = true;
    n.deflate = true;
    DeflateSet answer;
    const std::string problem = read_deflate(e, true, r, answer);
    if (!problem.empty()) {
      r.add(Rule::response_deflate_params_malformed, "permessage-deflate: " + problem, e.offset);
      n.deflate_params = negotiated_params(nullptr, answer);
      continue;
    }
    // The first well-formed offer this answer accepts.
    std::optional<DeflateSet> accepted;
    std::string mismatch;
    size_t offers = 0;
    for (const Extension& o : request.offered_extensions) {
      if (o.name != kDeflate) continue;
      ++offers;
      DeflateSet offer;
      if (!read_deflate(o, false, r, offer).empty()) continue;
      const std::string why = deflate_mismatch(offer, answer);
      if (why.empty()) {
        accepted = offer;
        break;
      }
      if (mismatch.empty()) mismatch = why;
    }
    if (!accepted) {
      std::string detail =
          offers == 0 ? "permessage-deflate was not offered"
          : mismatch.empty()
              ? "the permessage-deflate offer was malformed; a server must decline it"
              : "no permessage-deflate offer allows this answer: " + mismatch;
      r.add(Rule::response_extension_not_offered, std::move(detail), e.offset);
    }
    n.deflate_params = negotiated_params(accepted ? &*accepted : nullptr, answer);
  }

  if (protocols.size() > 1) {
    // A server that echoes the client's offer echoes its bearer token too.
    std::vector<std::string> names;
    for (const auto& p : protocols) names.emplace_back(p.first);
    std::string selected;
    for (const std::string& t : redact_subprotocols(names)) {
      if (!selected.empty()) selected += ", ";
      selected += t;
    }
    r.add(Rule::response_multiple_subprotocols,
          std::to_string(protocols.size()) + " subprotocols selected, " + r.quote(selected),
          protocols[1].second);
  }
  if (const HttpHeader* h = head.find("Sec-WebSocket-Protocol");
      h != nullptr && protocols.empty()) {
    r.add(Rule::response_subprotocol_not_offered, "Sec-WebSocket-Protocol is empty", h->offset);
  }
  if (!request.offered_subprotocols.empty() && head.find("Sec-WebSocket-Protocol") == nullptr)
    r.add(Rule::response_no_subprotocol_selected,
          "the client offered " + std::to_string(request.offered_subprotocols.size()) +
              (request.offered_subprotocols.size() == 1 ? " subprotocol" : " subprotocols") +
              " and the response has no Sec-WebSocket-Protocol",
          head.end_offset);
  // Offered tokens may carry credentials (a bearer token): the detail lists them redacted.
  std::string offered;
  for (const std::string& o : redact_subprotocols(request.offered_subprotocols)) {
    if (!offered.empty()) offered += ", ";
    offered += o;
  }
  for (const auto& [name, offset] : protocols) {
    bool was_offered = false;
    for (const std::string& o : request.offered_subprotocols)
      was_offered = was_offered || o == name;
    if (was_offered) continue;
    r.add(Rule::response_subprotocol_not_offered,
          r.quote(redact_subprotocol(name)) + " selected, but the client offered " +
              (offered.empty() ? std::string("none") : r.quote(offered)),
          offset);
    break;
  }
  return n;
}

// --- a stream that is not HTTP -------------------------------------------------

Finding malformed_http_finding(bool client, const HttpError& e, std::string_view stream_start,
                               const HandshakeRequest& request) {
  Rule rule = client ? Rule::request_malformed : Rule::response_malformed;
  std::string detail = e.name + ": ";
  append_escaped(detail, e.reason);
  // llhttp accepts a space between a field name and its colon (that is the
  // request-header-name-whitespace finding) but stops at a tab or any other
  // byte that is not a token character.
  if (client && e.name == "HPE_INVALID_HEADER_TOKEN")
    detail +=
        " (a header name has a byte that is not a token character, such as whitespace "
        "before the colon; RFC 9112 section 5.1: a server answers 400)";
  // Bytes that never began an HTTP response: frames, TLS, another protocol.
  // Only bytes up to the offending one are quoted, whatever the pieces.
  const std::string_view known = stream_start.substr(
      0, static_cast<size_t>(std::min<uint64_t>(e.offset + 1, stream_start.size())));
  std::string_view start = known;
  while (!start.empty() && (start.front() == '\r' || start.front() == '\n')) start.remove_prefix(1);
  const std::string_view http = "HTTP/";
  if (!client && request.attempts_websocket &&
      start.substr(0, http.size()) != http.substr(0, std::min(http.size(), start.size()))) {
    rule = Rule::response_data_before_upgrade;
    detail = "the server's stream begins with " + hex_bytes(known) + ", not \"HTTP/\"";
    if (start.front() == 0x16) {
      detail += " (0x16 opens a TLS record: one hop speaks TLS where the next expects HTTP)";
    }
  }
  return {rule, std::move(detail), e.offset};
}

}  // namespace wsi
