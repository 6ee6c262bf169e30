#include "parser/conn/conn_script.h"

#include <cctype>

namespace wsi {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unescape(std::string_view text, std::vector<uint8_t>& out, std::string& why) {
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\') {
      out.push_back(static_cast<uint8_t>(c));
      continue;
    }
    if (++i == text.size()) {
      why = "a backslash ends the line";
      return false;
    }
    switch (text[i]) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 's':
        out.push_back(' ');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'x': {
        const int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          why = "\\x needs two hex digits";
          return false;
        }
        out.push_back(static_cast<uint8_t>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        why = std::string("unknown escape \\") + text[i];
        return false;
    }
  }
  return true;
}

bool unhex(std::string_view text, std::vector<uint8_t>& out, std::string& why) {
  int pending = -1;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const int v = hex_value(c);
    if (v < 0) {
      why = std::string("not a hex digit: '") + c + "'";
      return false;
    }
    if (pending < 0) {
      pending = v;
    } else {
      out.push_back(static_cast<uint8_t>(pending * 16 + v));
      pending = -1;
    }
  }
  if (pending >= 0) {
    why = "odd number of hex digits";
    return false;
  }
  return true;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool parse_conn_script(std::string_view text, ConnScript& out, std::string& error) {
  out = ConnScript{};
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (out.has_expect) {
      const std::string_view t = trim_right(line);
      if (!t.empty() && t.front() != '#') out.expected.emplace_back(t);
      continue;
    }
    const std::string_view t = trim_right(line);
    if (t.empty() || t.front() == '#') continue;
    auto fail = [&](const std::string& why) {
      error = "line " + std::to_string(line_no) + ": " + why;
      return false;
    };
    if (t == "expect:") {
      out.has_expect = true;
      continue;
    }
    if (t.rfind("time +", 0) == 0) {
      ConnStep st;
      st.kind = ConnStep::Kind::time;
      const std::string_view n = t.substr(6);
      if (n.empty()) return fail("time +N needs a number");
      for (const char c : n) {
        if (c < '0' || c > '9') return fail("time +N needs a number");
        st.ms = st.ms * 10 + static_cast<uint64_t>(c - '0');
      }
      out.steps.push_back(std::move(st));
      continue;
    }
    Direction dir;
    std::string_view rest;
    if (t.rfind("client", 0) == 0) {
      dir = Direction::client_to_server;
      rest = t.substr(6);
    } else if (t.rfind("server", 0) == 0) {
      dir = Direction::server_to_client;
      rest = t.substr(6);
    } else {
      return fail("expected client, server, time or expect:");
    }
    ConnStep st;
    st.kind = ConnStep::Kind::bytes;
    st.dir = dir;
    std::string why;
    if (rest == " fin") {
      st.kind = ConnStep::Kind::fin;
    } else if (rest == " reset") {
      st.kind = ConnStep::Kind::reset;
    } else if (rest.rfind(" hex:", 0) == 0) {
      if (!unhex(rest.substr(5), st.bytes, why)) return fail(why);
    } else if (rest.rfind(": ", 0) == 0) {
      // Keep the raw text after "client: ", trailing spaces included.
      std::string_view raw = line.substr(line.find(':') + 2);
      if (!unescape(raw, st.bytes, why)) return fail(why);
    } else {
      return fail("expected ': TEXT', ' hex: HEX', ' fin' or ' reset'");
    }
    out.steps.push_back(std::move(st));
  }
  return true;
}

}  // namespace wsi
