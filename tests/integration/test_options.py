"""The proxy's options and the handshake as it logs them, on real sockets.

Subprotocol and handshake findings, redaction of secrets and of the query
string, escaping of what peers send, --preview, --log-level, a text log in a
file, the handshake timeout and a name that does not resolve,
--max-connections, close frames at shutdown and a second signal, IPv6, the
TOML configuration file, --no-inspect, an upstream given by name, and the
demo command. Every assertion is on bytes that crossed a socket, on the JSON
log, on a log file or on the exit status.
"""

import json
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import zlib
from pathlib import Path

from harness import (
    BINARY,
    C2S,
    HOST,
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    RSV2,
    S2C,
    TIMEOUT,
    JsonLineProcess,
    Proxy,
    RawClient,
    RawSession,
    RawUpstream,
    accept_for,
    binary_is_sanitized,
    build_frame,
    check_budget,
    close_payload,
    is_event,
    make_key,
    parse_frame,
    require_proxy,
)

K = bytes.fromhex("37fa213d")


def request_head(host: str, path: str = "/", key: str = None, version: str = "13", extra: "list[str]" = ()) -> "tuple[bytes, str]":
    """An upgrade request with any extra header lines (str, or bytes kept as is)."""
    key = key or make_key()
    lines = [
        f"GET {path} HTTP/1.1".encode(),
        f"Host: {host}".encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}".encode(),
        f"Sec-WebSocket-Version: {version}".encode(),
    ]
    lines += [x if isinstance(x, bytes) else x.encode() for x in extra]
    return b"\r\n".join(lines) + b"\r\n\r\n", key


def response_head(status_line: str, headers: "list[str]") -> bytes:
    return ("\r\n".join([status_line, *headers]) + "\r\n\r\n").encode()


def switching(key: str, *extra: str) -> bytes:
    """A 101 answering the key, with extra header lines."""
    lines = ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {accept_for(key)}", *extra]
    return response_head("HTTP/1.1 101 Switching Protocols", lines)


def header_bytes(frame: bytes) -> str:
    """The header of one built frame, as the log's header_hex shows it."""
    f = parse_frame(frame)
    return frame[: f.size - f.length].hex(" ")


def forbidden_controls(raw: bytes) -> list:
    """Control characters in `raw` as (offset, bytes): C0 except newline,
    DEL, and C1 (U+0080..U+009F, UTF-8 encoded)."""
    out = [(i, b) for i, b in enumerate(raw) if (b < 0x20 and b != 0x0A) or b == 0x7F]
    out += [(m.start(), m.group()) for m in re.finditer(rb"\xc2[\x80-\x9f]", raw)]
    return out


class OptionsTestCase(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def upstream(self, host: str = HOST) -> RawUpstream:
        up = RawUpstream(host)
        self.addCleanup(up.close)
        return up

    def proxy(self, upstream, *args, **kw) -> Proxy:
        p = Proxy(upstream, *args, **kw)
        self.addCleanup(p.stop)
        return p

    def start(self, *args, **kw):
        up = self.upstream()
        return up, self.proxy(up.address, *args, **kw)

    def session(self, up, proxy, **kw) -> RawSession:
        s = RawSession(up, proxy, **kw)
        self.addCleanup(s.close)
        return s

    def client(self, proxy):
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        return c

    def accept(self, up):
        s = up.accept()
        self.addCleanup(s.close)
        return s

    def close_session(self, s: RawSession, proxy: Proxy) -> dict:
        """Both close frames, both sockets closed; returns conn_close."""
        cs = build_frame(OP_CLOSE, close_payload(1000), mask=K)
        sc = build_frame(OP_CLOSE, close_payload(1000))
        s.client.send(cs)
        self.assertEqual(s.server.recv_exact(len(cs)), cs)
        s.server.send(sc)
        self.assertEqual(s.client.recv_exact(len(sc)), sc)
        s.client.close()
        s.server.close()
        return proxy.wait_conn_close(s.conn)


# --- 1. subprotocols and handshake findings -------------------------------------


class HandshakeEventTest(OptionsTestCase):
    def exchange(self, proxy, up, request: bytes, response: bytes):
        """Client sends `request`, the upstream answers `response`; both must
        cross unchanged. Returns (client conn, server conn, handshake event)."""
        c = self.client(proxy)
        c.send(request)
        s = self.accept(up)
        got = s.recv_head()
        self.assertEqual(got.raw, request, "the upstream got other request bytes")
        s.send(response)
        head = c.recv_head()
        self.assertEqual(head.raw, response, "the client got other response bytes")
        conn = proxy.conn_of(c.sock)
        hs = proxy.wait_for(is_event("handshake", conn=conn), what="handshake")
        return c, s, hs

    def rules(self, hs) -> list:
        return [f.get("rule") for f in hs.get("findings", [])]

    def test_selected_subprotocol_among_offered(self):
        up, proxy = self.start()
        req, key = request_head(f"{HOST}:{up.port}", "/chat", extra=["Sec-WebSocket-Protocol: chat, superchat"])
        resp = switching(key, "Sec-WebSocket-Protocol: chat")
        c, s, hs = self.exchange(proxy, up, req, resp)
        ctx = "\n" + proxy.describe()
        self.assertEqual(hs.get("subprotocols_offered"), ["chat", "superchat"], ctx)
        self.assertEqual(hs.get("subprotocol"), "chat", ctx)
        self.assertEqual((hs.get("status"), hs.get("upgraded"), hs.get("path")), (101, True, "/chat"), ctx)
        self.assertEqual(hs.get("findings"), [], ctx)
        # The session works: a frame each way.
        a, b = build_frame(OP_TEXT, b"hi", mask=K), build_frame(OP_TEXT, b"yo")
        c.send(a)
        self.assertEqual(s.recv_exact(len(a)), a)
        s.send(b)
        self.assertEqual(c.recv_exact(len(b)), b)

    def test_subprotocol_never_offered(self):
        up, proxy = self.start()
        req, key = request_head(f"{HOST}:{up.port}", "/chat", extra=["Sec-WebSocket-Protocol: chat, superchat"])
        resp = switching(key, "Sec-WebSocket-Protocol: mqtt")
        _, _, hs = self.exchange(proxy, up, req, resp)
        ctx = "\n" + proxy.describe()
        self.assertIn("response-subprotocol-not-offered", self.rules(hs), ctx)
        f = next(f for f in hs["findings"] if f.get("rule") == "response-subprotocol-not-offered")
        self.assertEqual((f.get("dir"), f.get("severity")), (S2C, "error"), ctx)

    def test_accept_mismatch(self):
        up, proxy = self.start()
        req, key = request_head(f"{HOST}:{up.port}")
        wrong = accept_for(make_key())
        resp = response_head("HTTP/1.1 101 Switching Protocols", ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {wrong}"])
        _, _, hs = self.exchange(proxy, up, req, resp)
        ctx = "\n" + proxy.describe()
        self.assertIn("response-accept-mismatch", self.rules(hs), ctx)
        self.assertEqual(hs.get("status"), 101, ctx)

    def test_version_8_refused_with_426_then_plain_http_on_same_connection(self):
        up, proxy = self.start()
        req, _ = request_head(f"{HOST}:{up.port}", "/ws", version="8")
        refusal = response_head("HTTP/1.1 426 Upgrade Required", ["Sec-WebSocket-Version: 13", "Content-Length: 0"])
        c, s, hs = self.exchange(proxy, up, req, refusal)
        ctx = "\n" + proxy.describe()
        self.assertIn("request-unsupported-version", self.rules(hs), ctx)
        self.assertEqual((hs.get("status"), hs.get("upgraded")), (426, False), ctx)
        # The connection goes on as HTTP: the next request is relayed on it.
        get = f"GET /after?secret=1 HTTP/1.1\r\nHost: {HOST}:{up.port}\r\n\r\n".encode()
        c.send(get)
        got = s.recv_head()
        self.assertEqual(got.raw, get, "the upstream got other bytes for the second request" + ctx)
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        s.send(ok)
        self.assertEqual(c.recv_http_response(), ok)
        ev = proxy.wait_for(is_event("http", conn=hs["conn"]), what="http after the 426")
        ctx = "\n" + proxy.describe()
        self.assertEqual((ev.get("method"), ev.get("path"), ev.get("status")), ("GET", "/after", 200), ctx)
        self.assertEqual(len(proxy.of_conn(hs["conn"], "handshake")), 1, ctx)
        # Then a version 13 upgrade on the same connection switches to frames.
        req13, key13 = request_head(f"{HOST}:{up.port}", "/ws13")
        c.send(req13)
        self.assertEqual(s.recv_head().raw, req13)
        s.send(switching(key13))
        self.assertEqual(c.recv_head().status, 101)
        bad = build_frame(OP_TEXT, b"Hello", rsv=RSV2, mask=K)
        c.send(bad)
        self.assertEqual(s.recv_exact(len(bad)), bad)
        hs2 = proxy.wait_for(lambda e: is_event("handshake", conn=hs["conn"])(e) and e.get("path") == "/ws13", what="second handshake")
        ctx = "\n" + proxy.describe()
        self.assertEqual((hs2.get("status"), hs2.get("upgraded"), hs2.get("findings")), (101, True, []), ctx)
        proxy.wait_for(is_event("violation", conn=hs["conn"]), what="violation after the upgrade")
        c.close()
        s.close()
        proxy.wait_conn_close(hs["conn"])
        self.assertEqual(proxy.violations(hs["conn"]), [("reserved-bits-set", 0, 0, C2S)], "\n" + proxy.describe())

    def repeated_protocol_lines(self):
        up, proxy = self.start()
        req, key = request_head(f"{HOST}:{up.port}", "/two", extra=["Sec-WebSocket-Protocol: alpha", "Sec-WebSocket-Protocol: beta, gamma"])
        resp = switching(key, "Sec-WebSocket-Protocol: beta")
        _, _, hs = self.exchange(proxy, up, req, resp)
        return proxy, hs

    def test_offers_on_repeated_header_lines(self):
        proxy, hs = self.repeated_protocol_lines()
        ctx = "\n" + proxy.describe()
        self.assertEqual(hs.get("subprotocols_offered"), ["alpha", "beta", "gamma"], ctx)
        self.assertEqual((hs.get("subprotocol"), hs.get("findings")), ("beta", []), ctx)

    # A header sent on several lines keeps every value in `headers`.
    def test_repeated_header_lines_all_in_headers(self):
        proxy, hs = self.repeated_protocol_lines()
        logged = json.dumps(hs.get("headers"))
        self.assertIn("alpha", logged, "\n" + proxy.describe())
        self.assertIn("gamma", logged, "\n" + proxy.describe())


# --- 2. secrets, query strings and control characters ---------------------------------


class SecretsTest(OptionsTestCase):
    AUTH = "Bearer auth-SECRET-4f9a"
    PROXY_AUTH = "Basic cHJveHktU0VDUkVU"
    COOKIE = "session=cookie-SECRET-77e1"
    QUERY = "token=query-SECRET-b3c0"

    def handshake(self, *args):
        up, proxy = self.start(*args)
        req, key = request_head(
            f"{HOST}:{up.port}",
            f"/chat?{self.QUERY}",
            extra=[f"Authorization: {self.AUTH}", f"Proxy-Authorization: {self.PROXY_AUTH}", f"Cookie: {self.COOKIE}"],
        )
        c = self.client(proxy)
        c.send(req)
        s = self.accept(up)
        self.assertEqual(s.recv_head().raw, req)
        resp = switching(key)
        s.send(resp)
        self.assertEqual(c.recv_head().raw, resp)
        conn = proxy.conn_of(c.sock)
        hs = proxy.wait_for(is_event("handshake", conn=conn), what="handshake")
        # A plain request with a query string too, on another connection.
        c2 = self.client(proxy)
        get = f"GET /page?{self.QUERY} HTTP/1.1\r\nHost: x\r\nCookie: {self.COOKIE}\r\n\r\n".encode()
        c2.send(get)
        s2 = self.accept(up)
        self.assertEqual(s2.recv_head().raw, get)
        s2.send(b"HTTP/1.1 204 No Content\r\n\r\n")
        c2.recv_head()
        proxy.wait_for(is_event("http", conn=proxy.conn_of(c2.sock)), what="http")
        for x in (c, s, c2, s2):
            x.close()
        proxy.wait_conn_close(conn)
        proxy.stop()  # every line written
        return proxy, hs, key

    def headers(self, hs) -> dict:
        return {k.lower(): v for k, v in hs.get("headers", {}).items()}

    def test_secrets_redacted_everywhere(self):
        proxy, hs, key = self.handshake()
        out = proxy.stdout_bytes()
        ctx = "\n" + proxy.describe()
        h = self.headers(hs)
        for name in ("authorization", "proxy-authorization", "cookie", "sec-websocket-key"):
            self.assertEqual(h.get(name), "[redacted]", name + ctx)
        self.assertEqual(h.get("upgrade"), "websocket", ctx)
        for secret in (self.AUTH, self.PROXY_AUTH, self.COOKIE, key, "SECRET", "cHJveHkt", key[:12]):
            self.assertNotIn(secret.encode(), out, f"{secret!r} in the log" + ctx)
        self.assertNotIn(b"query-SECRET", out, ctx)
        self.assertEqual(hs.get("path"), "/chat", ctx)

    def test_show_secrets_logs_them_and_the_query(self):
        proxy, hs, key = self.handshake("--show-secrets")
        out = proxy.stdout_bytes()
        ctx = "\n" + proxy.describe()
        h = self.headers(hs)
        self.assertEqual(
            (h.get("authorization"), h.get("proxy-authorization"), h.get("cookie"), h.get("sec-websocket-key")),
            (self.AUTH, self.PROXY_AUTH, self.COOKIE, key),
            ctx,
        )
        self.assertIn(self.AUTH.encode(), out)
        # The query string beside the path, not in it.
        self.assertEqual((hs.get("path"), hs.get("query")), ("/chat", "?" + self.QUERY), ctx)

    def test_secrets_in_malformed_requests_stay_hidden(self):
        up, proxy = self.start()
        cases = [
            # an invalid key (not 24 characters): request-invalid-key
            (None, "short-KEY-SECRET", []),
            # the key twice: request-duplicate-header
            ("dGhlIHNhbXBsZSBub25jZQ==", None, ["Sec-WebSocket-Key: ZHVwbGljYXRlLWtleS0xMg=="]),
            # credentials twice
            (None, None, ["Authorization: Bearer one-SECRET", "Authorization: Bearer two-SECRET", "Cookie: a=c1-SECRET", "Cookie: b=c2-SECRET"]),
        ]
        conns = []
        for key, bad_key, extra in cases:
            req, _ = request_head("x", "/", key=key or bad_key, extra=extra)
            c = self.client(proxy)
            c.send(req)
            s = self.accept(up)
            self.assertEqual(s.recv_head().raw, req)
            s.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.assertEqual(c.recv_head().status, 400)
            conns.append(proxy.conn_of(c.sock))
            c.close()
            s.close()
        for conn in conns:
            proxy.wait_conn_close(conn)
        proxy.stop()
        out = proxy.stdout_bytes()
        ctx = "\n" + proxy.describe()
        rules = [f.get("rule") for e in proxy.find(is_event("handshake")) for f in e.get("findings", [])]
        self.assertIn("request-invalid-key", rules, ctx)
        self.assertIn("request-duplicate-header", rules, ctx)
        for secret in (b"SECRET", b"dGhlIHNhbXBsZSBub25jZQ", b"ZHVwbGljYXRlLWtleS0xMg"):
            self.assertNotIn(secret, out, ctx)

    def test_control_characters_never_reach_the_log_raw(self):
        up, proxy = self.start()
        # ESC, BEL, DEL and other C0 controls: llhttp refuses them in a header
        # value, so the request is relayed unparsed; the log must stay clean.
        req, key = request_head(f"{HOST}:{up.port}", "/", extra=[b"X-Evil: a\x1b[31mred\x1b[0m\x07\x01\x7f\x1f"])
        c = self.client(proxy)
        c.send(req)
        s = self.accept(up)
        self.assertEqual(s.recv_head().raw, req, "the request must be relayed unchanged")
        # Tab, a C1 control (CSI, U+009B) and a byte that is not UTF-8: legal
        # in a header value, so they reach the handshake event, escaped.
        req2, key2 = request_head(f"{HOST}:{up.port}", "/", extra=[b"X-Odd: t\tcsi\xc2\x9b31m ff\xff end"])
        c2 = self.client(proxy)
        c2.send(req2)
        s2 = self.accept(up)
        self.assertEqual(s2.recv_head().raw, req2)
        s2.send(switching(key2))
        c2.recv_head()
        hs = proxy.wait_for(is_event("handshake", conn=proxy.conn_of(c2.sock)), what="handshake")
        first = proxy.conn_of(c.sock)
        for x in (c, s, c2, s2):
            x.close()
        proxy.wait_conn_close(first)
        proxy.wait_conn_close(hs["conn"])
        proxy.stop()
        out = proxy.stdout_bytes()
        ctx = "\n" + proxy.describe()
        self.assertEqual(forbidden_controls(out), [], "raw control bytes in the log" + ctx)
        out.decode("utf-8")  # the log is UTF-8
        odd = {k.lower(): v for k, v in hs.get("headers", {}).items()}.get("x-odd")
        self.assertEqual(odd, "t\\tcsi\\xc2\\x9b31m ff\\xff end", ctx)


# --- 3. --preview ----------------------------------------------------------------------


# The first 64 bytes of "compressed \u2603 hello " * 20 (21 bytes each, the
# snowman kept as the UTF-8 it is).
PREVIEW_64 = "compressed \u2603 hello " * 3 + "c"


class PreviewTest(OptionsTestCase):
    def test_preview_8_bytes_unmasked_and_escaped(self):
        up, proxy = self.start("--preview", "8", log_level="info")
        s = self.session(up, proxy)
        c1 = build_frame(OP_TEXT, b"Hello, preview world!", mask=K)
        c2 = build_frame(OP_TEXT, "abcdefg\u20ac".encode(), mask=bytes.fromhex("a1b2c3d4"))
        c3 = build_frame(OP_BINARY, b"tiny", mask=K)
        s1 = build_frame(OP_BINARY, b'\x00\x01\x1b\n"\\ABCDEF')
        s2 = build_frame(OP_TEXT, b"ok")
        stream = c1 + c2 + c3
        s.client.send(stream, "bytewise")  # the payload arrives a byte at a time
        self.assertEqual(s.server.recv_exact(len(stream)), stream)
        s.server.send(s1 + s2, "random")
        self.assertEqual(s.client.recv_exact(len(s1 + s2)), s1 + s2)
        self.close_session(s, proxy)
        ctx = "\n" + proxy.describe()
        got = [
            (e["dir"], e["first_frame_index"], e["opcode_name"], e["frames"], e["length"], e["payload"], e["truncated"])
            for e in proxy.of_conn(s.conn, "preview")
        ]
        self.assertEqual(
            sorted(got),
            sorted([
                (C2S, 0, "text", 1, 21, "Hello, p", True),
                (C2S, 1, "text", 1, 10, "abcdefg\\xe2", True),
                (C2S, 2, "binary", 1, 4, "tiny", False),
                (S2C, 0, "binary", 1, 12, '\\x00\\x01\\x1b\\n"\\\\AB', True),
                (S2C, 1, "text", 1, 2, "ok", False),
            ]),
            ctx,
        )
        self.assertNotIn(b"\x1b", proxy.stdout_bytes(), ctx)

    def test_preview_is_per_message_across_fragments_and_control_frames(self):
        up, proxy = self.start("--preview", "12", log_level="info")
        s = self.session(up, proxy)
        stream = (
            build_frame(OP_TEXT, b"frag", fin=False, mask=K)
            + build_frame(OP_PING, b"ping!", mask=K)
            + build_frame(OP_CONT, b"mented ", fin=False, mask=bytes.fromhex("01020304"))
            + build_frame(OP_CONT, b"message, longer than twelve", mask=K)
        )
        s.client.send(stream, "random")
        self.assertEqual(s.server.recv_exact(len(stream)), stream)
        self.close_session(s, proxy)
        previews = proxy.of_conn(s.conn, "preview")
        self.assertEqual(
            [(e["first_frame_index"], e["frames"], e["length"], e["payload"], e["truncated"]) for e in previews],
            [(0, 3, 38, "fragmented m", True)],
            proxy.describe(),
        )

    def test_preview_shows_the_inflated_text_of_a_compressed_message(self):
        up, proxy = self.start("--preview", "64", log_level="info")
        s = self.session(up, proxy, deflate=True)
        text = "compressed \u2603 hello " * 20
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = z.compress(text.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
        self.assertEqual(body[-4:], b"\x00\x00\xff\xff")
        body = body[:-4]
        half = len(body) // 2
        frames = build_frame(OP_TEXT, body[:half], fin=False, rsv=4) + build_frame(OP_CONT, body[half:])
        s.server.send(frames)
        self.assertEqual(s.client.recv_exact(len(frames)), frames)
        self.close_session(s, proxy)
        ctx = proxy.describe()
        (p,) = proxy.of_conn(s.conn, "preview")
        encoded = text.encode()
        self.assertEqual((p["dir"], p["compressed"], p["frames"], p["length"], p["truncated"]), (S2C, True, 2, len(encoded), True), ctx)
        self.assertEqual(p["payload"], PREVIEW_64, ctx)
        self.assertEqual(proxy.violations(s.conn), [], ctx)

    def deflate_session(self, *args):
        up, proxy = self.start(*args, log_level="info")
        return proxy, self.session(up, proxy, deflate=True)

    @staticmethod
    def compressed(text: bytes) -> bytes:
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        return (z.compress(text) + z.flush(zlib.Z_SYNC_FLUSH))[:-4]

    def test_a_message_that_does_not_inflate_shows_no_compressed_bytes(self):
        proxy, s = self.deflate_session("--preview", "32")
        # 0xff: a final block of the reserved type 3, an error at once; the
        # shared window is then broken for the next message too.
        bad = build_frame(OP_TEXT, b"\xff\xfe\xfd\xfc", rsv=4)
        nxt = build_frame(OP_TEXT, self.compressed(b"next message"), rsv=4)
        s.server.send(bad + nxt)
        self.assertEqual(s.client.recv_exact(len(bad + nxt)), bad + nxt)
        self.close_session(s, proxy)
        ctx = proxy.describe()
        got = [(e["first_frame_index"], e["compressed"], e["incomplete"], e["payload"], e["truncated"]) for e in proxy.of_conn(s.conn, "preview")]
        self.assertEqual(got, [(0, True, True, "", True), (1, True, True, "", True)], ctx)

    def test_a_message_stopped_at_the_size_limit_is_marked_cut(self):
        proxy, s = self.deflate_session("--preview", "1000", "--max-message-size", "100")
        text = bytes(range(97, 123)) * 400  # 10,400 bytes of a..z
        frame = build_frame(OP_BINARY, self.compressed(text), rsv=4)
        s.server.send(frame)
        self.assertEqual(s.client.recv_exact(len(frame)), frame)
        self.close_session(s, proxy)
        ctx = proxy.describe()
        (p,) = proxy.of_conn(s.conn, "preview")
        self.assertEqual((p["incomplete"], p["truncated"], p["payload"]), (True, True, text[:100].decode()), ctx)
        self.assertEqual([v[0] for v in proxy.violations(s.conn)], ["message-too-big"], ctx)

    def test_no_preview_by_default(self):
        up, proxy = self.start(log_level="info")
        s = self.session(up, proxy)
        c1 = build_frame(OP_TEXT, b"Hello", mask=K)
        s.client.send(c1)
        self.assertEqual(s.server.recv_exact(len(c1)), c1)
        self.close_session(s, proxy)
        self.assertEqual(proxy.of_conn(s.conn, "preview"), [], proxy.describe())


# --- 4. --log-level ---------------------------------------------------------------------


class LogLevelTest(OptionsTestCase):
    CLIENT = [
        build_frame(OP_TEXT, b"Hello", mask=K),
        build_frame(OP_BINARY, bytes(200), mask=K),
        build_frame(OP_TEXT, b"par", fin=False, mask=K),
        build_frame(OP_PING, b"", mask=K),
        build_frame(OP_CONT, b"t", mask=K),
        build_frame(OP_CLOSE, close_payload(1000), mask=K),
    ]
    SERVER = [
        build_frame(OP_BINARY, bytes(70000)),
        build_frame(OP_TEXT, b"ok", rsv=0),
        build_frame(OP_CLOSE, close_payload(1000)),
    ]

    @staticmethod
    def expected(frames) -> list:
        out, off = [], 0
        for i, fr in enumerate(frames):
            f = parse_frame(fr)
            out.append((i, off, f.fin, f.rsv, f.opcode, f.masked, f.length, header_bytes(fr)))
            off += len(fr)
        return out

    def run_traffic(self, level: str):
        up, proxy = self.start(log_level=level)
        s = self.session(up, proxy)
        c, srv = b"".join(self.CLIENT), b"".join(self.SERVER)
        s.client.send(c, "random")
        self.assertEqual(s.server.recv_exact(len(c)), c)
        s.server.send(srv, "random")
        self.assertEqual(s.client.recv_exact(len(srv)), srv)
        s.client.close()
        s.server.close()
        done = proxy.wait_conn_close(s.conn)
        return proxy, s.conn, done

    def test_debug_logs_each_frame_with_its_offset(self):
        proxy, conn, done = self.run_traffic("debug")
        ctx = "\n" + proxy.describe()
        names = {OP_TEXT: "text", OP_BINARY: "binary", OP_CONT: "continuation", OP_PING: "ping", OP_CLOSE: "close"}
        for d, frames in ((C2S, self.CLIENT), (S2C, self.SERVER)):
            evs = [e for e in proxy.of_conn(conn, "frame") if e.get("dir") == d]
            keys = ("frame_index", "offset", "fin", "rsv", "opcode", "masked", "length", "header_hex")
            got = [tuple(e.get(k) for k in keys) for e in evs]
            self.assertEqual(got, self.expected(frames), d + ctx)
            self.assertEqual([e.get("opcode_name") for e in evs], [names[parse_frame(f).opcode] for f in frames], d + ctx)
            self.assertTrue(all(e.get("level") == "debug" for e in evs), ctx)
            self.assertEqual(done.get(d, {}).get("frames"), len(frames), ctx)
        msgs = sorted((e.get("dir"), e.get("first_frame_index"), e.get("size"), e.get("frames")) for e in proxy.of_conn(conn, "message"))
        self.assertEqual(msgs, [(C2S, 0, 5, 1), (C2S, 1, 200, 1), (C2S, 2, 4, 2), (S2C, 0, 70000, 1), (S2C, 1, 2, 1)], ctx)

    def test_info_logs_no_frames(self):
        proxy, conn, done = self.run_traffic("info")
        ctx = "\n" + proxy.describe()
        self.assertEqual(done.get(C2S, {}).get("frames"), len(self.CLIENT), ctx)
        self.assertEqual(proxy.find(is_event("frame")), [], ctx)
        self.assertEqual(proxy.find(is_event("message")), [], ctx)
        self.assertEqual(len(proxy.of_conn(conn, "close")), 2, ctx)  # closes are info


# --- 5. text log in a file -------------------------------------------------------------


class _Listening:
    """Stands in for a Proxy object where RawSession needs host and port."""

    def __init__(self, host, port):
        self.host, self.port = host, port

    def conn_of(self, sock, timeout=TIMEOUT):
        return None


def wait_file(path: Path, pattern: bytes, timeout: float = TIMEOUT) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = path.read_bytes() if path.exists() else b""
        m = re.search(pattern, data)
        if m:
            return m
        time.sleep(0.02)
    shown = path.read_bytes().decode("utf-8", "replace") if path.exists() else "(no file)"
    raise AssertionError(f"{path}: no {pattern!r} within {timeout}s:\n" + shown)


class TextLogFileTest(OptionsTestCase):
    def test_text_log_file_has_human_lines(self):
        up = self.upstream()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = Path(tmp.name) / "proxy.log"
        argv = [BINARY, "proxy", "--listen", f"{HOST}:0", "--upstream", up.address]
        argv += ["--log-format", "text", "--log-file", path, "--drain-timeout", "1s"]
        p = JsonLineProcess(argv, "proxy-text")
        self.addCleanup(p.stop)
        m = wait_file(path, rb"listening on 127\.0\.0\.1:(\d+)")
        s = RawSession(up, _Listening(HOST, int(m.group(1))))
        self.addCleanup(s.close)
        bad = build_frame(OP_TEXT, b"Hello", rsv=RSV2, mask=K)
        s.client.send(bad)
        self.assertEqual(s.server.recv_exact(len(bad)), bad)
        sc = build_frame(OP_CLOSE, close_payload(1002, "bad rsv"))
        s.server.send(sc)
        self.assertEqual(s.client.recv_exact(len(sc)), sc)
        cs = build_frame(OP_CLOSE, close_payload(1002), mask=K)
        s.client.send(cs)
        self.assertEqual(s.server.recv_exact(len(cs)), cs)
        s.client.close()
        s.server.close()
        wait_file(path, rb"connection closed after")
        p.proc.send_signal(signal.SIGTERM)
        rc = p.wait_exit(TIMEOUT)
        data = path.read_bytes()
        text = data.decode("utf-8")
        ctx = f"\n--- {path}:\n{text}\n" + p.describe()
        self.assertEqual(rc, 0, ctx)
        for line in text.splitlines():
            self.assertFalse(line.lstrip().startswith("{"), f"a JSON line in the text log: {line!r}" + ctx)
        self.assertIn("reserved-bits-set", text, ctx)
        self.assertIn("what it means:", text, ctx)
        self.assertIn("1002 Protocol Error", text, ctx)
        self.assertIn("caused by: reserved-bits-set", text, ctx)
        self.assertNotIn(b"\x1b", data, "colour codes in a log file" + ctx)
        self.assertEqual(p.stdout_bytes(), b"", "the events went to the file, not to stdout" + ctx)


# --- 6. timeouts and name resolution ----------------------------------------------------


class TimeoutTest(OptionsTestCase):
    def test_handshake_timeout_closes_both_sides(self):
        up, proxy = self.start("--handshake-timeout", "300ms")
        c = self.client(proxy)
        req, _ = request_head(f"{HOST}:{up.port}", "/slow")
        t0 = time.monotonic()
        c.send(req)
        s = self.accept(up)
        self.assertEqual(s.recv_head().raw, req)
        # The upstream never answers: the client gets 504, then EOF.
        answer = c.recv_until_eof(TIMEOUT)
        self.assertTrue(answer.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n"), answer[:80])
        self.assertIn(b"no response byte within 300 ms", answer)
        elapsed = time.monotonic() - t0
        self.assertEqual(s.recv_until_eof(TIMEOUT), b"", "the upstream connection must be closed too")
        done = proxy.wait_conn_close(proxy.conn_of(c.sock))
        ctx = f"\nclosed after {elapsed:.2f}s\n" + proxy.describe()
        self.assertEqual((done.get("ended_by"), done.get("upgraded")), ("handshake_timeout", False), ctx)
        self.assertGreaterEqual(elapsed, 0.25, ctx)
        self.assertLess(elapsed, 5.0, ctx)

    def test_connect_timeout_gives_504_and_the_proxy_sleeps(self):
        # An upstream whose accept queue is full: SYNs are dropped, the
        # connect never completes.
        ls = socket.socket()
        self.addCleanup(ls.close)
        ls.bind((HOST, 0))
        ls.listen(0)
        port = ls.getsockname()[1]
        for _ in range(3):
            f = socket.socket()
            self.addCleanup(f.close)
            f.setblocking(False)
            try:
                f.connect((HOST, port))
            except BlockingIOError:
                pass
        time.sleep(0.2)
        proxy = self.proxy(f"{HOST}:{port}", "--connect-timeout", "300ms")
        c = self.client(proxy)
        c.send(request_head(f"{HOST}:{port}", "/")[0])
        head = c.recv_head()
        ctx = "\n" + proxy.describe()
        self.assertEqual(head.status, 504, ctx)
        ev = proxy.wait_for(lambda e: e.get("event") == "upstream_error", what="upstream_error")
        self.assertEqual((ev.get("stage"), ev.get("status")), ("timeout", 504), ctx)
        # While it waits for the client's EOF the proxy must sleep, not spin.
        def cpu_ticks():
            fields = open(f"/proc/{proxy.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        before = cpu_ticks()
        time.sleep(1.0)
        self.assertLess(cpu_ticks() - before, 20, "the proxy burned CPU while idle" + ctx)

    def test_silent_client_closed_by_handshake_timeout(self):
        up, proxy = self.start("--handshake-timeout", "300ms")
        c = self.client(proxy)
        conn = proxy.conn_of(c.sock)
        self.assertEqual(c.recv_until_eof(TIMEOUT), b"")
        done = proxy.wait_conn_close(conn)
        self.assertEqual(done.get("ended_by"), "handshake_timeout", "\n" + proxy.describe())

    # A request that never got an answer still gets its handshake event.
    def test_handshake_event_when_no_response_came(self):
        up, proxy = self.start("--handshake-timeout", "300ms")
        c = self.client(proxy)
        req, _ = request_head(f"{HOST}:{up.port}", "/slow?x=1")
        c.send(req)
        s = self.accept(up)
        s.recv_head()
        conn = proxy.conn_of(c.sock)
        c.recv_until_eof(TIMEOUT)
        proxy.wait_conn_close(conn)
        hs = proxy.of_conn(conn, "handshake")
        ctx = "\n" + proxy.describe()
        self.assertEqual([(e.get("path"), e.get("status"), e.get("upgraded")) for e in hs], [("/slow", 0, False)], ctx)

    # The same for plain HTTP: an `http` event with status 0.
    def test_http_event_when_no_response_came(self):
        up, proxy = self.start()
        c = self.client(proxy)
        c.send(b"GET /nothing?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        s = self.accept(up)
        s.recv_head()
        s.close()
        conn = proxy.conn_of(c.sock)
        self.assertEqual(c.recv_until_eof(TIMEOUT), b"")
        c.close()
        proxy.wait_conn_close(conn)
        evs = proxy.of_conn(conn, "http")
        ctx = "\n" + proxy.describe()
        self.assertEqual([(e.get("method"), e.get("path"), e.get("status")) for e in evs], [("GET", "/nothing", 0)], ctx)

    def test_name_that_does_not_resolve_gets_502(self):
        proxy = self.proxy("nonexistent.invalid:80", "--connect-timeout", "30s")
        c = self.client(proxy)
        req, _ = request_head("nonexistent.invalid", "/ws")
        c.send(req)
        try:
            head = c.recv_head(5.0)
        except TimeoutError:
            self.skipTest("the local resolver did not answer for nonexistent.invalid within 5 s")
        c.close()
        ctx = "\n" + proxy.describe()
        self.assertEqual(head.status, 502, head.raw.decode("latin-1") + ctx)
        ev = proxy.wait_for(is_event("upstream_error"), what="upstream_error")
        self.assertEqual((ev.get("upstream"), ev.get("stage"), ev.get("status")), ("nonexistent.invalid:80", "resolve", 502), ctx)
        self.assertTrue(ev.get("error"), ctx)
        done = proxy.wait_conn_close(ev["conn"])
        self.assertEqual(done.get("ended_by"), "upstream_unreachable", ctx)


# --- 7. --max-connections ----------------------------------------------------------------


class MaxConnectionsTest(OptionsTestCase):
    def ping_pong(self, s: RawSession, tag: bytes):
        a, b = build_frame(OP_TEXT, b"c:" + tag, mask=True), build_frame(OP_TEXT, b"s:" + tag)
        s.client.send(a)
        self.assertEqual(s.server.recv_exact(len(a)), a)
        s.server.send(b)
        self.assertEqual(s.client.recv_exact(len(b)), b)

    def test_third_client_refused_first_two_keep_working(self):
        up, proxy = self.start("--max-connections", "2", log_level="info")
        a = self.session(up, proxy)
        b = self.session(up, proxy)
        c = self.client(proxy)
        req, _ = request_head(f"{HOST}:{up.port}")
        try:
            c.send(req)
        except OSError:
            pass  # already closed by the proxy
        try:
            got = c.recv_until_eof(TIMEOUT)
        except TimeoutError:
            self.fail("the third client was not closed\n" + proxy.describe())
        ctx = "\n" + proxy.describe()
        self.assertTrue(got.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), got[:80])
        self.assertIn(b"over the connection limit (2)", got, ctx)
        ev = proxy.wait_for(is_event("conn_refused"), what="conn_refused")
        self.assertEqual((ev.get("reason"), ev.get("limit")), ("max_connections", 2), ctx)
        self.assertNotIn(ev.get("conn"), (a.conn, b.conn), ctx)
        with self.assertRaises(TimeoutError, msg="a refused client must not reach the upstream"):
            up.accept(0.5)
        for i in range(3):
            self.ping_pong(a, b"a%d" % i)
            self.ping_pong(b, b"b%d" % i)
        # Once one session ends, a new client is accepted again.
        self.close_session(a, proxy)
        d = self.session(up, proxy)
        self.ping_pong(d, b"d")
        self.ping_pong(b, b"b-last")
        self.assertEqual(len(proxy.find(is_event("conn_refused"))), 1, "\n" + proxy.describe())


# --- 8, 9. shutdown ------------------------------------------------------------------------


class ShutdownOptionsTest(OptionsTestCase):
    def test_close_frames_1001_at_end_of_drain(self):
        up, proxy = self.start("--shutdown-close-frames", "--drain-timeout", "300ms")
        s = self.session(up, proxy)
        proxy.proc.send_signal(signal.SIGTERM)
        to_client = s.client.recv_close_frame(TIMEOUT)
        to_server = s.server.recv_close_frame(TIMEOUT)
        rc = proxy.wait_exit(TIMEOUT)
        ctx = "\n" + proxy.describe()
        self.assertEqual((to_client.close_code, to_client.masked), (1001, False), ctx)
        self.assertEqual((to_server.close_code, to_server.masked), (1001, True), ctx)
        to_client.close_reason.decode("utf-8")
        to_server.close_reason.decode("utf-8")
        self.assertEqual(rc, 0, ctx)
        self.assertEqual(s.client.recv_until_eof(TIMEOUT), b"", ctx)
        self.assertEqual(s.server.recv_until_eof(TIMEOUT), b"", ctx)
        self.assertEqual(proxy.wait_conn_close(s.conn).get("ended_by"), "proxy_shutdown", ctx)

    # With --shutdown-close-frames both endpoints receive 1001, so no
    # missing-close (1006) is logged for them.
    def test_close_frames_sent_are_not_logged_as_missing(self):
        up, proxy = self.start("--shutdown-close-frames", "--drain-timeout", "300ms")
        s = self.session(up, proxy)
        proxy.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.client.recv_close_frame(TIMEOUT).close_code, 1001)
        self.assertEqual(s.server.recv_close_frame(TIMEOUT).close_code, 1001)
        proxy.wait_conn_close(s.conn)
        wrong = [e for e in proxy.of_conn(s.conn, "close") if e.get("synthesized") and e.get("code") == 1006]
        self.assertEqual(wrong, [], "\n" + proxy.describe())
        # The last line totals the run: one connection, nothing flagged.
        stopped = proxy.wait_for(lambda e: e.get("event") == "stopped", what="stopped")
        counts = tuple(stopped.get(k) for k in ("connections", "refused", "upstream_errors", "violations"))
        self.assertEqual(counts, (1, 0, 0, 0), "\n" + proxy.describe())

    def second_signal(self):
        """An open session, SIGTERM, then SIGTERM again: (exit status, seconds)."""
        up, proxy = self.start("--drain-timeout", "10s")
        s = self.session(up, proxy)
        t0 = time.monotonic()
        proxy.proc.send_signal(signal.SIGTERM)
        proxy.wait_for(is_event("shutdown"), what="shutdown")
        proxy.proc.send_signal(signal.SIGTERM)
        try:
            rc = proxy.wait_exit(3.0)
        except subprocess.TimeoutExpired:
            self.fail("still running 3 s after the second SIGTERM\n" + proxy.describe())
        elapsed = time.monotonic() - t0
        ctx = f"\nexited with {rc} after {elapsed:.2f}s\n" + proxy.describe()
        self.assertEqual(s.client.recv_until_eof(TIMEOUT), b"", ctx)
        self.assertEqual(s.server.recv_until_eof(TIMEOUT), b"", ctx)
        return rc, elapsed, ctx

    def test_second_signal_ends_drain_at_once(self):
        _, elapsed, ctx = self.second_signal()
        self.assertLess(elapsed, 3.0, ctx)

    # Also in sanitizer builds: the loop is closed cleanly before exiting 3.
    def test_second_signal_exit_status_3(self):
        rc, _, ctx = self.second_signal()
        self.assertEqual(rc, 3, ctx)


# --- 10. IPv6 ------------------------------------------------------------------------------


def ipv6_loopback_usable() -> bool:
    try:
        a = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        a.bind(("::1", 0))
        a.listen(1)
        b = socket.create_connection(("::1", a.getsockname()[1]), timeout=2)
        b.close()
        a.close()
        return True
    except OSError:
        return False


class Ipv6Test(OptionsTestCase):
    def test_ipv6_client_and_upstream(self):
        if not ipv6_loopback_usable():
            self.skipTest("::1 is not usable on this machine")
        up = self.upstream("::1")
        proxy = self.proxy(up.address, listen="[::1]:0")
        listening = proxy.find(is_event("listening"))[0]
        ctx = "\n" + proxy.describe()
        self.assertRegex(listening.get("address", ""), r"^\[::1\]:\d+$", ctx)
        self.assertEqual(listening.get("upstream"), f"[::1]:{up.port}", ctx)
        self.assertEqual(listening.get("url"), f"ws://{listening['address']}/", ctx)
        s = self.session(up, proxy)
        self.assertEqual(s.client.sock.family, socket.AF_INET6)
        self.assertEqual(s.server.sock.family, socket.AF_INET6)
        a, b = build_frame(OP_TEXT, b"over v6", mask=K), build_frame(OP_BINARY, bytes(range(256)))
        s.client.send(a)
        self.assertEqual(s.server.recv_exact(len(a)), a)
        s.server.send(b)
        self.assertEqual(s.client.recv_exact(len(b)), b)
        opened = proxy.wait_for(is_event("conn_open", conn=s.conn))
        self.assertRegex(opened.get("client", ""), r"^\[::1\]:\d+$", ctx)
        done = self.close_session(s, proxy)
        self.assertEqual(done.get("ended_by"), "close_handshake", "\n" + proxy.describe())


# --- 11. configuration file --------------------------------------------------------------


class ConfigFileTest(OptionsTestCase):
    def write(self, text: str) -> Path:
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = Path(tmp.name) / "wsinspect.toml"
        path.write_text(text)
        return path

    def run_bad(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([str(BINARY), "proxy", *map(str, args)], capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)

    def test_file_settings_and_a_flag_over_the_file(self):
        up = self.upstream()
        path = self.write(
            "# test configuration\n"
            f'upstream = "{up.address}"\n'
            'listen = "127.0.0.1:0"\n'
            "[log]\n"
            'format = "json"\n'
            'level = "warn"\n'
            "[inspect]\n"
            'max_message_size = "16B"\n'
        )
        # Only --config and --log-level: upstream, listen, format and the
        # size limit come from the file; the flag overrides its warn level.
        proxy = self.proxy(None, "--config", path, listen=None, log_format=None, log_level="info")
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.find(is_event("listening"))[0].get("upstream"), up.address, ctx)
        s = self.session(up, proxy)  # conn_open is info: the flag's level is in force
        ok = build_frame(OP_TEXT, b"x" * 16, mask=K)
        big = build_frame(OP_BINARY, b"y" * 17, mask=K)
        s.client.send(ok + big)
        self.assertEqual(s.server.recv_exact(len(ok + big)), ok + big)
        self.close_session(s, proxy)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.violations(s.conn), [("message-too-big", len(ok), 1, C2S)], ctx)
        self.assertEqual(proxy.find(is_event("frame")), [], ctx)

    def test_unknown_key_exits_2_with_position(self):
        up = self.upstream()
        path = self.write(f'upstream = "{up.address}"\n[inspect]\nmax_message_size = "16B"\nno_such_key = 1\n')
        r = self.run_bad("--config", path, "--listen", f"{HOST}:0")
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn(f"{path}:4:1", err)
        self.assertIn("no_such_key", err)
        self.assertEqual(r.stdout, b"", "no listening event for a bad setting")

    def test_missing_upstream_exits_2(self):
        r = self.run_bad("--listen", f"{HOST}:0")
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 2, err)
        self.assertIn("upstream", err)
        self.assertEqual(r.stdout, b"")


# --- 12. --no-inspect ----------------------------------------------------------------------


class NoInspectTest(OptionsTestCase):
    def test_violations_pass_byte_exact_and_are_not_logged(self):
        up, proxy = self.start("--no-inspect")
        ctx = "\n" + proxy.describe()
        self.assertIs(proxy.find(is_event("listening"))[0].get("inspect"), False, ctx)
        s = self.session(up, proxy)
        c2s = (
            build_frame(OP_TEXT, b"Hello", rsv=RSV2, mask=K)
            + build_frame(OP_TEXT, b"unmasked")
            + build_frame(0x3, b"reserved", mask=K)
            + build_frame(OP_TEXT, b"He\xc3(o", mask=K)
        )
        s2c = build_frame(OP_TEXT, b"masked", mask=K) + build_frame(OP_PING, b"p" * 126) + build_frame(OP_CLOSE, close_payload(1005))
        s.client.send(c2s, "random")
        s.server.send(s2c, "random")
        self.assertEqual(s.server.recv_exact(len(c2s)).hex(" "), c2s.hex(" "))
        self.assertEqual(s.client.recv_exact(len(s2c)).hex(" "), s2c.hex(" "))
        s.client.close()
        s.server.close()
        proxy.wait_conn_close(s.conn)
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.find(is_event("violation")), [], ctx)
        self.assertEqual(proxy.find(is_event("frame")), [], ctx)

    def test_same_traffic_is_flagged_with_inspection(self):
        """The counterpart: without --no-inspect these frames are flagged."""
        up, proxy = self.start()
        self.assertIs(proxy.find(is_event("listening"))[0].get("inspect"), True)
        s = self.session(up, proxy)
        bad = build_frame(OP_TEXT, b"Hello", rsv=RSV2, mask=K)
        s.client.send(bad)
        self.assertEqual(s.server.recv_exact(len(bad)), bad)
        s.client.close()
        s.server.close()
        proxy.wait_conn_close(s.conn)
        self.assertEqual(proxy.violations(s.conn), [("reserved-bits-set", 0, 0, C2S)], proxy.describe())


# --- 13. an upstream given by name ----------------------------------------------------------


class UpstreamNameTest(OptionsTestCase):
    def test_localhost_reaches_an_ipv4_only_upstream(self):
        up = self.upstream()  # 127.0.0.1 only
        proxy = self.proxy(f"localhost:{up.port}")
        ctx = "\n" + proxy.describe()
        self.assertEqual(proxy.find(is_event("listening"))[0].get("upstream"), f"localhost:{up.port}", ctx)
        # Whatever order the resolver gives (::1 first on many machines, where
        # nothing listens), the proxy must end on 127.0.0.1.
        s = self.session(up, proxy)
        a = build_frame(OP_TEXT, b"by name", mask=K)
        s.client.send(a)
        self.assertEqual(s.server.recv_exact(len(a)), a)
        done = self.close_session(s, proxy)
        ctx = "\n" + proxy.describe()
        self.assertEqual(done.get("ended_by"), "close_handshake", ctx)
        self.assertEqual(proxy.find(is_event("upstream_error")), [], ctx)


# --- 14. demo ---------------------------------------------------------------------------------


class DemoTest(unittest.TestCase):
    def test_demo_runs_and_explains(self):
        check_budget(self)
        try:
            r = subprocess.run([str(BINARY), "demo"], capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail("wsinspect demo did not finish within 15 s")
        out = r.stdout.decode("utf-8", "replace")
        ctx = "\n--- stdout:\n" + out + "\n--- stderr:\n" + r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, ctx)
        for needle in ("reserved-bits-set", "caused by", "1006"):
            self.assertIn(needle, out, ctx)


if __name__ == "__main__":
    unittest.main()
