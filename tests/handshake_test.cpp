// The opening handshake and the HTTP/1.1 wrapper under it.
//
// Vectors live in tests/vectors/handshake/*.txt, one exchange per file, named
// after the rule it breaks or the shape it shows. Format:
//
//   # free text                              comment
//   # expect: RULE-ID @OFFSET                one per finding, in order; none: no findings
//   # upgrade: yes|no                        HandshakeRequest::is_websocket_upgrade
//   # switched: yes|no                       Negotiated::switched (a 101 answered)
//   # status: CODE                           Negotiated::status
//   # path: /chat                            HandshakeRequest::path (query stripped)
//   # subprotocol: NAME                      Negotiated::subprotocol
//   # deflate: off | on [PARAM[=BITS] ...]   Negotiated::deflate and deflate_params
//   # request-consumed: N                    where the exchange ends in that stream: the
//   # response-consumed: N                   end of the request (HandshakeRequest::end), the
//                                            end of a 101's head (the switch byte), or the
//                                            byte where the stream stops parsing as HTTP;
//                                            default: all of it (a refused upgrade goes on
//                                            as HTTP). After a 101 the rest is WebSocket.
//                                            Plain HTTP has no handshake to tell: the
//                                            *-events lines show where its messages end.
//   # request-events: EVENT@OFFSET ...       every HttpParser event on that stream,
//   # response-events: EVENT@OFFSET ...      e.g. head(GET /)@78 message@78 upgrade@129
//   >>> request                              text: each line is sent with CRLF
//   >>> request hex                          raw bytes as hex pairs
//   >>> response
//   >>> response hex
//
// Sections of one direction are concatenated in file order. CRLF in the file
// is read as LF, so each text line ends in exactly one CRLF on the wire; the
// empty line that ends a head is an empty line in the file.
//
// Each vector is an exchange fed to the connection core (ConnectionInspector),
// replayed whole, byte by byte and at every two-way split of each stream; it
// must give the same events, findings, offsets, details, negotiated values
// and consumed bytes every time. The *-events lines are checked on HttpParser
// alone, at the same splits.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parser/conn/connection_inspector.h"
#include "parser/handshake.h"
#include "parser/http_parser.h"
#include "parser/rules.h"
#include "splits.h"
#include "tests/support/conn_recorder.h"

namespace wsi::test {
namespace {

// --- vector files -------------------------------------------------------------

struct HandshakeVector {
  std::string name;
  std::string request;
  std::string response;
  std::vector<std::string> expect;
  std::map<std::string, std::string> fields;  // the other directives
};

void PrintTo(const HandshakeVector& v, std::ostream* os) {
  *os << v.name;
}

std::string from_hex(const std::string& text, const std::string& where) {
  std::string out;
  int high = -1;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) {
      if (c != ' ' && c != '\n' && c != '\t') throw std::runtime_error("bad hex in " + where);
      continue;
    }
    if (high < 0) {
      high = v;
    } else {
      out += static_cast<char>(high * 16 + v);
      high = -1;
    }
  }
  if (high >= 0) throw std::runtime_error("odd hex in " + where);
  return out;
}

HandshakeVector load_vector(const std::filesystem::path& path) {
  HandshakeVector v;
  v.name = path.stem().string();
  std::ifstream in(path, std::ios::binary);
  std::string section;  // "", "request", "request hex", "response", "response hex"
  std::string hex;
  auto flush_hex = [&] {
    if (section == "request hex") v.request += from_hex(hex, v.name);
    if (section == "response hex") v.response += from_hex(hex, v.name);
    hex.clear();
  };
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(">>> ", 0) == 0) {
      flush_hex();
      section = line.substr(4);
      if (section != "request" && section != "response" && section != "request hex" &&
          section != "response hex") {
        throw std::runtime_error("unknown section in " + v.name + ": " + line);
      }
      continue;
    }
    if (section.empty()) {
      if (line.rfind("# ", 0) != 0) continue;
      const size_t colon = line.find(": ");
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(2, colon - 2);
      const std::string value = line.substr(colon + 2);
      if (key == "expect") {
        v.expect.push_back(value);
      } else if (key.find(' ') == std::string::npos) {
        v.fields[key] = value;
      }
    } else if (section == "request") {
      v.request += line + "\r\n";
    } else if (section == "response") {
      v.response += line + "\r\n";
    } else {
      hex += line + "\n";
    }
  }
  flush_hex();
  return v;
}

std::vector<HandshakeVector> load_vectors() {
  std::vector<HandshakeVector> out;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(WSI_VECTOR_DIR) / "handshake")) {
    if (entry.path().extension() == ".txt") out.push_back(load_vector(entry.path()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// --- replaying an exchange through the connection core --------------------------

// The core's events in the canonical one-line form (frames included), and
// what its first handshake event, or else its first plain exchange, carried.
class ExchangeRecorder final : public ConnRecorder {
 public:
  ExchangeRecorder() : ConnRecorder(/*frames=*/true) {}

  void on_http_error(const EventContext& c, const HttpErrorEvent& e) override {
    ConnRecorder::on_http_error(c, e);
    std::optional<HttpError>& first =
        e.dir == Direction::client_to_server ? request_error : response_error;
    if (!first) first = e.error;
  }
  void on_handshake(const EventContext& c, const HandshakeEvent& e) override {
    ConnRecorder::on_handshake(c, e);
    if (handshake) return;
    handshake = true;
    request = e.request;
    if (e.negotiated) negotiated = *e.negotiated;
    request_findings = e.request_findings;
    response_findings = e.response_findings;
    if (e.response) response_head_end = e.response->end_offset;
  }
  void on_http(const EventContext& c, const HttpExchangeEvent& e) override {
    ConnRecorder::on_http(c, e);
    if (exchange) return;
    exchange = true;
    plain_path = e.path;
    plain_status = e.status;
  }

  bool handshake = false;
  HandshakeRequest request;
  Negotiated negotiated;
  std::vector<Finding> request_findings;
  std::vector<Finding> response_findings;
  std::optional<uint64_t> response_head_end;  // a response head came
  bool exchange = false;                      // a plain exchange
  std::string plain_path;
  uint16_t plain_status = 0;
  std::optional<HttpError> request_error;
  std::optional<HttpError> response_error;
};

struct Outcome {
  std::vector<std::string> expect;  // "rule-id @offset"
  std::vector<Finding> findings;    // the same, with details
  bool handshake = false;           // a WebSocket handshake; else plain HTTP
  // Plain HTTP: only what its http event gives (path, status; a 101 switched).
  HandshakeRequest request;
  Negotiated negotiated;
  // Where the exchange ends in each stream; unknown for plain HTTP, whose
  // exchanges the core reports without offsets.
  std::optional<size_t> request_consumed;
  std::optional<size_t> response_consumed;
  std::string log;  // everything, for comparing runs
};

std::string rule_id(Rule r) {
  return std::string(rule_info(r).id);
}

std::string render_deflate(const Negotiated& n) {
  if (!n.deflate) return "off";
  const DeflateParams& p = n.deflate_params;
  std::string out = "on";
  if (p.server_no_context_takeover) out += " server_no_context_takeover";
  if (p.client_no_context_takeover) out += " client_no_context_takeover";
  if (p.server_max_window_bits != 15) {
    out += " server_max_window_bits=" + std::to_string(p.server_max_window_bits);
  }
  if (p.client_max_window_bits != 15) {
    out += " client_max_window_bits=" + std::to_string(p.client_max_window_bits);
  }
  return out;
}

std::string render(const std::optional<size_t>& n) {
  return n ? std::to_string(*n) : "-";
}

// The client's stream, then the server's, each piece by piece, as a vantage
// point between them would see one exchange; both streams then end.
Outcome replay(const Pieces& request, const Pieces& response) {
  ExchangeRecorder rec;
  ConnConfig cfg;
  ConnectionInspector core(cfg, rec);
  size_t request_size = 0;
  size_t response_size = 0;
  for (std::span<const uint8_t> piece : request) {
    core.feed(Direction::client_to_server, piece, 0);
    request_size += piece.size();
  }
  for (std::span<const uint8_t> piece : response) {
    core.feed(Direction::server_to_client, piece, 0);
    response_size += piece.size();
  }
  core.end_stream(Direction::client_to_server, StreamEnd::fin, 0);
  core.end_stream(Direction::server_to_client, StreamEnd::fin, 0);
  core.finish(EndCause::none, 0);

  Outcome o;
  o.handshake = rec.handshake;
  if (rec.handshake) {
    o.request = rec.request;
    o.negotiated = rec.negotiated;
  } else if (rec.exchange) {
    o.request.path = rec.plain_path;
    o.negotiated.status = rec.plain_status;
    o.negotiated.switched = rec.plain_status == 101;
  }
  // In stream order, as the findings of one exchange: a request that does
  // not parse has no handshake to carry its finding, nor has a plain
  // response that does not.
  o.findings = rec.request_findings;
  if (rec.request_error)
    o.findings.push_back(malformed_http_finding(true, *rec.request_error, {}, {}));
  o.findings.insert(o.findings.end(), rec.response_findings.begin(), rec.response_findings.end());
  if (rec.response_error && !rec.handshake)
    o.findings.push_back(malformed_http_finding(false, *rec.response_error, {}, {}));
  for (const Finding& f : o.findings)
    o.expect.push_back(rule_id(f.rule) + " @" + std::to_string(f.offset));

  // Where the exchange ends: the client's at the end of the request (one
  // that never ends runs to the end of the stream), the server's at the end
  // of a 101's head; either where the stream stops parsing as HTTP. After a
  // refused upgrade the server's stream goes on as HTTP to its end.
  const char* request_state = "plain";
  if (rec.request_error) {
    request_state = "malformed";
    o.request_consumed = rec.request_error->offset;
  } else if (rec.handshake) {
    request_state = o.request.end ? "ended" : "open";
    o.request_consumed = o.request.end ? o.request.end : request_size;
  }
  const char* response_state = "plain";
  if (rec.response_error) {
    response_state = "malformed";
    o.response_consumed = rec.response_error->offset;
  } else if (rec.handshake) {
    response_state = !rec.response_head_end ? "none" : o.negotiated.switched ? "switched" : "final";
    o.response_consumed = o.negotiated.switched ? *rec.response_head_end : response_size;
  }

  std::ostringstream log;
  log << rec.log();
  for (const Finding& f : o.findings)
    log << "finding " << rule_id(f.rule) << " @" << f.offset << ": " << f.detail << "\n";
  const HandshakeRequest& rq = o.request;
  const Negotiated& n = o.negotiated;
  log << "request " << request_state << " consumed=" << render(o.request_consumed)
      << " upgrade=" << rq.is_websocket_upgrade << " attempts=" << rq.attempts_websocket
      << " method=" << rq.method << " path=" << rq.path << " host=" << rq.host
      << " key_valid=" << rq.key_valid << " extensions=" << rq.extensions_header
      << " protocols=" << rq.offered_subprotocols.size() << "\n";
  log << "response " << response_state << " consumed=" << render(o.response_consumed)
      << " status=" << n.status << " switched=" << n.switched << " websocket=" << n.websocket
      << " subprotocol=" << n.subprotocol << " deflate=" << render_deflate(n)
      << " extensions=" << n.extensions << "\n";
  o.log = log.str();
  return o;
}

// Every HttpParser event on a stream, "head(GET /)@78 message@78 ...".
std::string http_events(HttpMode mode, const Pieces& pieces, std::vector<std::string>* methods) {
  HttpParser parser(mode);
  if (mode == HttpMode::response) {
    for (const std::string& m : *methods) parser.expect_response_to(m);
  }
  std::string log;
  bool stopped = false;
  auto note = [&](const HttpFeedResult& r) {
    if (!log.empty()) log += ' ';
    switch (r.event) {
      case HttpEvent::head_complete:
        if (mode == HttpMode::request) {
          log += "head(" + parser.head().method + " " + parser.head().target + ")";
          methods->push_back(parser.head().method);
        } else {
          log += "head(" + std::to_string(parser.head().status) + ")";
        }
        break;
      case HttpEvent::message_complete:
        log += "message";
        break;
      case HttpEvent::upgrade:
        log += "upgrade";
        stopped = true;
        break;
      case HttpEvent::error:
        log += "error(" + parser.error().name + ")";
        stopped = true;
        break;
      case HttpEvent::need_more:
        break;
    }
    log += "@" + std::to_string(parser.offset());
  };
  for (std::span<const uint8_t> rest : pieces) {
    while (!stopped) {
      const HttpFeedResult r = parser.feed(rest);
      rest = rest.subspan(r.consumed);
      if (r.event == HttpEvent::need_more) break;
      note(r);
    }
  }
  while (!stopped) {
    const HttpFeedResult r = parser.finish();
    if (r.event == HttpEvent::need_more) break;
    note(r);
  }
  return log;
}

class HandshakeVectorTest : public ::testing::TestWithParam<HandshakeVector> {};

TEST_P(HandshakeVectorTest, MatchesExpectations) {
  const HandshakeVector& v = GetParam();
  const Outcome o = replay({bytes_of(v.request)}, {bytes_of(v.response)});
  SCOPED_TRACE(o.log);
  EXPECT_EQ(o.expect, v.expect);
  auto field = [&](const std::string& key) -> const std::string* {
    auto it = v.fields.find(key);
    return it == v.fields.end() ? nullptr : &it->second;
  };
  auto yes = [](const std::string* s) { return *s == "yes"; };
  if (auto s = field("upgrade")) {
    EXPECT_EQ(o.request.is_websocket_upgrade, yes(s));
  }
  if (auto s = field("switched")) {
    EXPECT_EQ(o.negotiated.switched, yes(s));
  }
  if (auto s = field("status")) {
    EXPECT_EQ(std::to_string(o.negotiated.status), *s);
  }
  if (auto s = field("path")) {
    EXPECT_EQ(o.request.path, *s);
  }
  if (auto s = field("subprotocol")) {
    EXPECT_EQ(o.negotiated.subprotocol, *s);
  }
  if (auto s = field("deflate")) {
    EXPECT_EQ(render_deflate(o.negotiated), *s);
  }
  auto consumed = [&](const char* key, const std::optional<size_t>& got, size_t all) {
    const std::string* want = field(key);
    if (got) {
      EXPECT_EQ(*got, want ? std::stoul(*want) : all) << key;
    } else {
      EXPECT_EQ(want, nullptr) << key << " needs a handshake or malformed HTTP: the core "
                               << "reports plain exchanges without offsets";
    }
  };
  consumed("request-consumed", o.request_consumed, v.request.size());
  consumed("response-consumed", o.response_consumed, v.response.size());

  std::vector<std::string> methods;
  const std::string req_events = http_events(HttpMode::request, {bytes_of(v.request)}, &methods);
  if (auto s = field("request-events")) {
    EXPECT_EQ(req_events, *s);
  }
  if (auto s = field("response-events")) {
    EXPECT_EQ(http_events(HttpMode::response, {bytes_of(v.response)}, &methods), *s);
  }
}

// Without inspection the core still follows the exchange to the same switch
// and the frame boundaries after it (every vector ends between frames), and
// reports nothing but the summary.
TEST_P(HandshakeVectorTest, WithoutInspectionOnlyTheSummary) {
  const HandshakeVector& v = GetParam();
  const Outcome inspected = replay({bytes_of(v.request)}, {bytes_of(v.response)});
  const bool upgraded = inspected.handshake && inspected.negotiated.websocket;
  ConnRecorder rec;
  ConnConfig cfg;
  cfg.inspect = false;
  ConnectionInspector core(cfg, rec);
  core.feed(Direction::client_to_server, bytes_of(v.request), 0);
  core.feed(Direction::server_to_client, bytes_of(v.response), 0);
  EXPECT_EQ(core.websocket(), upgraded);
  EXPECT_EQ(core.at_frame_boundary(Direction::client_to_server), upgraded);
  EXPECT_EQ(core.at_frame_boundary(Direction::server_to_client), upgraded);
  core.end_stream(Direction::client_to_server, StreamEnd::fin, 0);
  core.end_stream(Direction::server_to_client, StreamEnd::fin, 0);
  core.finish(EndCause::none, 0);
  EXPECT_EQ(rec.log(),
            "conn_close ended_by=client_fin upgraded=" + std::string(upgraded ? "1" : "0") +
                " c2s=" + std::to_string(v.request.size()) +
                "/- s2c=" + std::to_string(v.response.size()) + "/- ms=0\n");
}

TEST_P(HandshakeVectorTest, SameOutcomeForEverySplit) {
  const HandshakeVector& v = GetParam();
  const auto req = bytes_of(v.request);
  const auto resp = bytes_of(v.response);
  const Outcome whole = replay({req}, {resp});
  for (const Split& s : all_splits(req)) {
    ASSERT_EQ(replay(s.pieces, {resp}).log, whole.log) << "request " << s.name;
  }
  for (const Split& s : all_splits(resp)) {
    ASSERT_EQ(replay({req}, s.pieces).log, whole.log) << "response " << s.name;
  }
  const auto bytewise_req = all_splits(req)[1].pieces;
  const auto bytewise_resp = all_splits(resp)[1].pieces;
  ASSERT_EQ(replay(bytewise_req, bytewise_resp).log, whole.log) << "both bytewise";

  std::vector<std::string> methods;
  const std::string req_events = http_events(HttpMode::request, {req}, &methods);
  const std::string resp_events = http_events(HttpMode::response, {resp}, &methods);
  for (const Split& s : all_splits(req)) {
    std::vector<std::string> m;
    ASSERT_EQ(http_events(HttpMode::request, s.pieces, &m), req_events) << "request " << s.name;
  }
  for (const Split& s : all_splits(resp)) {
    std::vector<std::string> m = methods;
    ASSERT_EQ(http_events(HttpMode::response, s.pieces, &m), resp_events) << "response " << s.name;
  }
}

TEST_P(HandshakeVectorTest, DetailsArePrintableAndNeverHoldTheKey) {
  const HandshakeVector& v = GetParam();
  const Outcome o = replay({bytes_of(v.request)}, {bytes_of(v.response)});
  for (const Finding& f : o.findings) {
    for (const char c : f.detail) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << f.detail;
    }
    if (!o.request.key.empty()) {
      EXPECT_EQ(f.detail.find(o.request.key), std::string::npos);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, HandshakeVectorTest, ::testing::ValuesIn(load_vectors()),
                         [](const auto& p) {
                           std::string name = p.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(HandshakeVectors, CoverEveryHandshakeRule) {
  std::set<std::string> seen;
  for (const HandshakeVector& v : load_vectors()) {
    for (const std::string& e : v.expect) seen.insert(e.substr(0, e.find(' ')));
  }
  for (const RuleInfo& info : all_rules()) {
    const std::string id(info.id);
    if (id.rfind("request-", 0) == 0 || id.rfind("response-", 0) == 0) {
      EXPECT_TRUE(seen.count(id)) << "no vector breaks " << id;
    }
  }
  for (const std::string& id : seen) EXPECT_TRUE(rule_from_id(id).has_value()) << id;
}

// --- where the handshake sits in the streams ------------------------------------

const std::string kUpgradeRequest =
    "GET /chat?token=s3cret HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";
const std::string kSwitchingProtocols =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

TEST(CoreHandshake, WholeExchangeWithAFrameInTheSameRead) {
  const std::string request = kUpgradeRequest + "\r\n";
  const std::string response = kSwitchingProtocols + std::string("\x89\x00", 2);  // a ping
  for (const Split& s : all_splits(bytes_of(response))) {
    const Outcome o = replay({bytes_of(request)}, s.pieces);
    SCOPED_TRACE(s.name + "\n" + o.log);
    EXPECT_TRUE(o.findings.empty());
    EXPECT_TRUE(o.handshake);
    EXPECT_EQ(o.request.path, "/chat");
    EXPECT_EQ(o.request.host, "server.example.com");
    EXPECT_EQ(o.request.end, request.size());
    EXPECT_EQ(o.request_consumed, request.size());
    EXPECT_EQ(o.response_consumed, kSwitchingProtocols.size());
    EXPECT_TRUE(o.negotiated.websocket);
    EXPECT_FALSE(o.negotiated.deflate);
    // Frame offsets count from the switch byte.
    EXPECT_NE(o.log.find("frame s2c #0 off=0 op=9 len=0\n"), std::string::npos);
  }
}

// The client's WebSocket bytes begin after the request's body, not its head.
TEST(CoreHandshake, RequestEndIncludesTheBody) {
  const std::string head = kUpgradeRequest + "Content-Length: 5\r\n\r\n";
  const std::string client = head + "hello" + std::string("\x8a\x80\x37\xfa\x21\x3d", 6);  // a pong
  for (const Split& s : all_splits(bytes_of(client))) {
    const Outcome o = replay(s.pieces, {bytes_of(kSwitchingProtocols)});
    SCOPED_TRACE(s.name + "\n" + o.log);
    EXPECT_EQ(o.request.head_end, head.size());
    EXPECT_EQ(o.request.end, head.size() + 5);
    EXPECT_EQ(o.request_consumed, head.size() + 5);
    EXPECT_NE(o.log.find("frame c2s #0 off=0 op=10 len=0\n"), std::string::npos);
  }
}

TEST(CoreHandshake, PlainHttpHasNoFindingsEvenWhenRefused) {
  const Outcome o = replay({bytes_of("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")},
                           {bytes_of("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")});
  EXPECT_TRUE(o.findings.empty());
  EXPECT_FALSE(o.handshake);
  EXPECT_FALSE(o.request.is_websocket_upgrade);
  EXPECT_FALSE(o.negotiated.switched);
  EXPECT_EQ(o.negotiated.status, 404);
  EXPECT_FALSE(o.request_consumed.has_value());
}

// --- Sec-WebSocket-Key and Sec-WebSocket-Accept ---------------------------------

TEST(WebSocketAccept, Rfc6455Section1_3Example) {
  EXPECT_EQ(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
}

TEST(WebSocketAccept, KeyMustBeCanonicalBase64OfSixteenBytes) {
  EXPECT_TRUE(is_valid_websocket_key("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(is_valid_websocket_key("/////////////////////w=="));
  EXPECT_FALSE(is_valid_websocket_key(""));
  EXPECT_FALSE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ"));  // no padding
  EXPECT_FALSE(is_valid_websocket_key(std::string("dGhlIHNhbXBsZSBub25jZQ==") + " "));
  EXPECT_FALSE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZR=="));  // padding bits set
  EXPECT_FALSE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=A"));  // 17 bytes' shape
  EXPECT_FALSE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25j-Q=="));  // base64url
  EXPECT_FALSE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZXg="));  // 17 bytes
  EXPECT_FALSE(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ==dGhl"));
}

// --- Sec-WebSocket-Extensions ---------------------------------------------------

TEST(Extensions, ParsesOffersParamsAndQuotedValues) {
  HttpHead head;
  head.headers.push_back(
      {"Sec-WebSocket-Extensions",
       "permessage-deflate; client_max_window_bits; server_max_window_bits=\"1\\0\", x-foo", 7});
  head.headers.push_back({"sec-websocket-extensions", "x-bar;a=b;c", 90});
  const std::vector<Extension> e = parse_extensions(head);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name, "permessage-deflate");
  ASSERT_EQ(e[0].params.size(), 2u);
  EXPECT_EQ(e[0].params[0].name, "client_max_window_bits");
  EXPECT_FALSE(e[0].params[0].value.has_value());
  EXPECT_EQ(e[0].params[1].value, "10");
  EXPECT_EQ(e[0].offset, 7u);
  EXPECT_EQ(e[1].name, "x-foo");
  EXPECT_EQ(e[2].name, "x-bar");
  EXPECT_EQ(e[2].offset, 90u);
  EXPECT_EQ(e[2].params.size(), 2u);
  for (const Extension& x : e) EXPECT_EQ(x.syntax_error, "");
}

TEST(Extensions, SyntaxErrorsStayInTheirElement) {
  HttpHead head;
  head.headers.push_back({"Sec-WebSocket-Extensions", "a; =1, b; p=\"x,y\" junk, c; q=\"open", 0});
  const std::vector<Extension> e = parse_extensions(head);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].syntax_error, "expected a parameter name, found '='");
  EXPECT_EQ(e[1].name, "b");
  EXPECT_EQ(e[1].syntax_error, "expected ';' or ',', found 'j'");
  EXPECT_EQ(e[2].syntax_error, "unterminated quoted-string");
}

// --- the HTTP/1.1 wrapper -------------------------------------------------------

struct Event {
  HttpEvent event;
  uint64_t offset;
  bool operator==(const Event&) const = default;
};

void PrintTo(const Event& e, std::ostream* os) {
  *os << http_event_name(e.event) << "@" << e.offset;
}

// Feeds `pieces` and records every event with the stream offset after it.
std::vector<Event> events_of(HttpParser& p, const Pieces& pieces, bool finish = true) {
  std::vector<Event> out;
  for (std::span<const uint8_t> rest : pieces) {
    for (;;) {
      const HttpFeedResult r = p.feed(rest);
      rest = rest.subspan(r.consumed);
      if (r.event == HttpEvent::need_more) break;
      out.push_back({r.event, p.offset()});
      if (r.event == HttpEvent::upgrade || r.event == HttpEvent::error) return out;
    }
  }
  while (finish) {
    const HttpFeedResult r = p.finish();
    if (r.event == HttpEvent::need_more) break;
    out.push_back({r.event, p.offset()});
    if (r.event == HttpEvent::error) break;
  }
  return out;
}

using E = HttpEvent;

TEST(HttpParser, UpgradeStopsExactlyAtTheEndOfTheHead) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string wire = head + "\x81\x05hello";
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::response);
    p.expect_response_to("GET");
    size_t seen = 0;
    std::string after;
    bool upgraded = false;
    for (std::span<const uint8_t> rest : s.pieces) {
      if (upgraded) {
        after.append(reinterpret_cast<const char*>(rest.data()), rest.size());
        continue;
      }
      for (;;) {
        const HttpFeedResult r = p.feed(rest);
        seen += r.consumed;
        rest = rest.subspan(r.consumed);
        if (r.event == E::upgrade) {
          upgraded = true;
          after.append(reinterpret_cast<const char*>(rest.data()), rest.size());
          break;
        }
        if (r.event == E::need_more) break;
        ASSERT_EQ(r.event, E::head_complete) << s.name;
      }
    }
    ASSERT_TRUE(upgraded) << s.name;
    EXPECT_EQ(seen, head.size()) << s.name;
    EXPECT_EQ(after, "\x81\x05hello") << s.name;
    EXPECT_EQ(p.head().end_offset, head.size());
    EXPECT_EQ(p.feed(bytes_of(after)).consumed, 0u);  // upgraded stays upgraded
  }
}

TEST(HttpParser, FinishAfterAnUpgradeEndsCleanly) {
  const std::string wire = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
  HttpParser p(HttpMode::response);
  EXPECT_EQ(p.feed(bytes_of(wire)).event, E::head_complete);
  // The upgrade comes at the same byte, from finish() as from feed().
  EXPECT_EQ(p.finish().event, E::upgrade);
  EXPECT_EQ(p.finish().event, E::need_more);
  EXPECT_EQ(p.offset(), wire.size());
}

TEST(HttpParser, HeaderValuesAreAssembledAndTrimmed) {
  const std::string wire =
      "GET /a?b HTTP/1.1\r\nHost:  example.com \t\r\nX-Long: one two  three\r\nX-Empty:\r\n\r\n";
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::request);
    const std::vector<Event> ev = events_of(p, s.pieces);
    ASSERT_EQ(ev, (std::vector<Event>{{E::head_complete, wire.size()},
                                      {E::message_complete, wire.size()}}))
        << s.name;
    const HttpHead& h = p.head();
    EXPECT_EQ(h.method, "GET");
    EXPECT_EQ(h.target, "/a?b");
    EXPECT_EQ(h.http_major, 1);
    EXPECT_EQ(h.http_minor, 1);
    ASSERT_EQ(h.headers.size(), 3u);
    EXPECT_EQ(h.headers[0].value, "example.com");
    EXPECT_EQ(h.headers[0].offset, 19u);
    EXPECT_EQ(h.headers[1].value, "one two  three");
    EXPECT_EQ(h.headers[2].name, "X-Empty");
    EXPECT_EQ(h.headers[2].value, "");
    EXPECT_EQ(h.find("host"), &h.headers[0]);
    EXPECT_EQ(h.count("x-long"), 1u);
  }
}

TEST(HttpParser, KeepAliveChunkedBodyThenAnotherRequest) {
  const std::string first = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n";
  const std::string second = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string wire = first + body + second;
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::request);
    std::vector<Event> ev;
    uint64_t body_bytes = 0;
    std::vector<std::string> targets;
    for (std::span<const uint8_t> rest : s.pieces) {
      for (;;) {
        const HttpFeedResult r = p.feed(rest);
        rest = rest.subspan(r.consumed);
        if (r.event == E::need_more) break;
        ev.push_back({r.event, p.offset()});
        if (r.event == E::head_complete) targets.push_back(p.head().target);
        if (r.event == E::message_complete && targets.size() == 1) {
          body_bytes = p.body_bytes();
          ASSERT_EQ(p.trailers().size(), 1u);
          EXPECT_EQ(p.trailers()[0].name, "X-Sum");
        }
      }
    }
    const uint64_t end1 = first.size() + body.size();
    ASSERT_EQ(ev, (std::vector<Event>{{E::head_complete, first.size()},
                                      {E::message_complete, end1},
                                      {E::head_complete, wire.size()},
                                      {E::message_complete, wire.size()}}))
        << s.name;
    EXPECT_EQ(body_bytes, 11u);
    EXPECT_EQ(targets, (std::vector<std::string>{"/up", "/next"}));
    EXPECT_EQ(p.messages_completed(), 2u);
  }
}

TEST(HttpParser, ResponseToHeadHasNoBody) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::response);
    p.expect_response_to("HEAD");
    p.expect_response_to("GET");
    const std::vector<Event> ev = events_of(p, s.pieces);
    ASSERT_EQ(ev, (std::vector<Event>{{E::head_complete, 39},
                                      {E::message_complete, 39},
                                      {E::head_complete, 77},
                                      {E::message_complete, 79}}))
        << s.name;
  }
}

TEST(HttpParser, InterimResponseDoesNotConsumeARequest) {
  const std::string wire =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  HttpParser p(HttpMode::response);
  p.expect_response_to("GET");
  p.expect_response_to("HEAD");  // taken by the 200 if the 100 took the GET
  const std::vector<Event> ev = events_of(p, {bytes_of(wire)});
  EXPECT_EQ(ev, (std::vector<Event>{{E::head_complete, 25},
                                    {E::message_complete, 25},
                                    {E::head_complete, 63},
                                    {E::message_complete, 66}}));
}

TEST(HttpParser, BodyUntilEndOfStreamCompletesOnFinish) {
  const std::string wire = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::response);
    EXPECT_EQ(events_of(p, s.pieces),
              (std::vector<Event>{{E::head_complete, 38}, {E::message_complete, wire.size()}}))
        << s.name;
    EXPECT_EQ(p.body_bytes(), 9u);
  }
}

TEST(HttpParser, EndOfStreamInsideAHeadIsAnError) {
  HttpParser p(HttpMode::request);
  const std::vector<Event> ev = events_of(p, {bytes_of("GET / HTTP/1.1\r\nHost")});
  EXPECT_EQ(ev, (std::vector<Event>{{E::error, 20}}));
  EXPECT_EQ(p.error().name, "HPE_INVALID_EOF_STATE");
  HttpParser clean(HttpMode::request);
  EXPECT_TRUE(events_of(clean, {}).empty());
}

TEST(HttpParser, ErrorsCarryNameReasonAndAbsoluteOffset) {
  const std::string wire = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nBad Header\r\n\r\n";
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::request);
    const std::vector<Event> ev = events_of(p, s.pieces);
    ASSERT_EQ(ev.size(), 3u) << s.name;
    // llhttp takes "Bad Header" up to the line end as a name and fails there.
    EXPECT_EQ(ev[2], (Event{E::error, 53})) << s.name;
    EXPECT_EQ(p.error().name, "HPE_INVALID_HEADER_TOKEN");
    EXPECT_EQ(p.error().offset, 53u);
    EXPECT_FALSE(p.error().reason.empty());
    EXPECT_EQ(p.feed(bytes_of(wire)).event, E::error);  // failed stays failed
  }
}

TEST(HttpParser, RefusedUpgradeResumesAsHttp) {
  const std::string upgrade =
      "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  const std::string next = "GET /after HTTP/1.1\r\nHost: a\r\n\r\n";
  HttpParser p(HttpMode::request);
  const std::string wire = upgrade + next;
  std::span<const uint8_t> rest = bytes_of(wire);
  HttpFeedResult r = p.feed(rest);
  EXPECT_EQ(r.event, E::head_complete);
  rest = rest.subspan(r.consumed);
  r = p.feed(rest);
  ASSERT_EQ(r.event, E::upgrade);
  EXPECT_EQ(p.offset(), upgrade.size());
  EXPECT_FALSE(HttpParser(HttpMode::request).resume_after_upgrade());
  ASSERT_TRUE(p.resume_after_upgrade());  // the server answered 400
  r = p.feed(rest);
  EXPECT_EQ(r.event, E::head_complete);
  EXPECT_EQ(p.head().target, "/after");
}

TEST(HttpParser, HeadLimitIsAnErrorAtTheExactByte) {
  const std::string wire = "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n";
  for (const Split& s : all_splits(bytes_of(wire))) {
    HttpParser p(HttpMode::request, HttpLimits{.max_head_bytes = 50, .max_headers = 4});
    const std::vector<Event> ev = events_of(p, s.pieces);
    ASSERT_EQ(ev.size(), 1u) << s.name;
    EXPECT_EQ(ev[0].event, E::error);
    EXPECT_EQ(p.error().offset, 51u) << s.name;  // "GET" is 3 bytes, then 47 of the target's
    EXPECT_EQ(p.error().reason, "header block exceeds the size limit");
  }
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 5; ++i) many += "X: y\r\n";
  HttpParser p(HttpMode::request, HttpLimits{.max_head_bytes = 1000, .max_headers = 4});
  const std::vector<Event> ev = events_of(p, {bytes_of(many + "\r\n")});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(p.error().offset, 16u + 4 * 6);
  EXPECT_EQ(p.error().reason, "too many header fields");
}

// The parameters in force from one element, as an offer accepted unchanged
// or as a 101's answer.
TEST(Extensions, DeflateParamsOfAnOfferAndOfAnAnswer) {
  HttpHead head;
  head.headers.push_back(
      {"Sec-WebSocket-Extensions",
       "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
       "permessage-deflate; client_max_window_bits=9; client_no_context_takeover, "
       "permessage-deflate; server_max_window_bits=20",
       0});
  const std::vector<Extension> e = parse_extensions(head);
  ASSERT_EQ(e.size(), 3u);
  DeflateParams p;
  std::string error;
  ASSERT_TRUE(deflate_params_of(e[0], /*response=*/false, p, error)) << error;
  EXPECT_EQ(p.server_max_window_bits, 10);
  EXPECT_EQ(p.client_max_window_bits, 15);  // the bare client_max_window_bits is a hint
  EXPECT_FALSE(p.client_no_context_takeover);
  // In a response, client_max_window_bits needs a value.
  EXPECT_FALSE(deflate_params_of(e[0], /*response=*/true, p, error));
  EXPECT_EQ(error, "client_max_window_bits needs a value 8..15 in a response");
  ASSERT_TRUE(deflate_params_of(e[1], /*response=*/false, p, error)) << error;
  EXPECT_EQ(p.client_max_window_bits, 9);
  EXPECT_TRUE(p.client_no_context_takeover);
  EXPECT_EQ(p.server_max_window_bits, 15);
  EXPECT_FALSE(deflate_params_of(e[2], /*response=*/false, p, error));
  EXPECT_EQ(error, "server_max_window_bits=\"20\" is not 8..15");
}

}  // namespace
}  // namespace wsi::test
