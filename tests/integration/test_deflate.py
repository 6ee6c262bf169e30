"""permessage-deflate (RFC 7692) through the proxy.

Real peers (Python `websockets` and Node `ws`, tests/peers/) negotiate
permessage-deflate through the proxy with several parameter sets and exchange
compressed messages: the proxy must inflate every one of them (its debug
`message` events give the real length), flag nothing, and change nothing (the
echoes match what was sent). Then crafted compressed bytes: a corrupted
DEFLATE stream, invalid UTF-8 inside a valid one, a server that ignores the
server_no_context_takeover it agreed to, RSV1 without negotiation, a
decompression bomb, and handshake answers that accept what was never
offered. For each, the proxy must flag the rule at the right place, the real
peer must close with the code it uses for it (recorded below), and the proxy
must link that close to the violation in `caused_by`.
"""

import hashlib
import json
import os
import tempfile
import unittest
import zlib

from harness import (
    C2S,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    RSV1,
    S2C,
    PeerServer,
    Proxy,
    RawClient,
    RawSession,
    RawUpstream,
    binary_is_sanitized,
    build_frame,
    close_payload,
    finish_peer,
    is_event,
    peers_available,
    require_proxy,
    response_101,
    start_peer_client,
    upgrade_request,
)

KINDS = ("py", "node")
TRAILER = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: removed by the sender
MAX_SIZE = 4 << 20  # the peers' message limit (websockets' default is 1 MiB)

# RFC 7692 parameter sets, given to both peers: the client offers them and the
# server accepts them, so the handshake answer carries exactly these. Both
# libraries support every one of them, window bits 9 included.
PARAM_VARIANTS = {
    "default": "",
    "no_context_takeover": "server_no_context_takeover; client_no_context_takeover",
    "window_bits_9": "server_max_window_bits=9; client_max_window_bits=9",
}

# The close codes the real peers send, measured through the proxy by these
# tests: websockets turns a zlib error into a ProtocolError (1002), ws into
# 1007; invalid UTF-8 after inflation is 1007 for both; RSV1 without
# negotiation is 1002 for both.
INFLATE_ERROR_CLOSE = {"py": 1002, "node": 1007}
INVALID_UTF8_CLOSE = {"py": 1007, "node": 1007}
RSV1_CLOSE = {"py": 1002, "node": 1002}


# --- compressed payloads ---------------------------------------------------------


class Compressor:
    """One sender's permessage-deflate compressor: a raw DEFLATE stream whose
    LZ77 window carries over between messages (context takeover) unless each
    message gets a fresh one."""

    def __init__(self, window_bits: int = 15, context_takeover: bool = True):
        self.window_bits = window_bits
        self.context_takeover = context_takeover
        self._z = None

    def message(self, data: bytes) -> bytes:
        if self._z is None or not self.context_takeover:
            self._z = zlib.compressobj(9, zlib.DEFLATED, -self.window_bits)
        out = self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TRAILER)
        return out[: -len(TRAILER)]


def inflate_fresh(payload: bytes, window_bits: int = 15) -> bytes:
    return zlib.decompressobj(-window_bits).decompress(payload + TRAILER)


def payload_offset(frame: bytes) -> int:
    """Where a built frame's payload begins."""
    n = frame[1] & 0x7F
    return 2 + (2 if n == 126 else 8 if n == 127 else 0) + (4 if frame[1] & 0x80 else 0)


def ext_params(header: str) -> "tuple[str, frozenset]":
    """'permessage-deflate; a; b=9' -> ('permessage-deflate', {'a', 'b=9'})."""
    parts = [p.strip().replace(" ", "") for p in (header or "").split(";")]
    return parts[0], frozenset(p for p in parts[1:] if p)


# --- the scripted session of the real peers ----------------------------------------


def _text_of_size(unit: str, size: int) -> str:
    """`unit` repeated, then ASCII padding, to exactly `size` UTF-8 bytes."""
    b = len(unit.encode())
    s = unit * (size // b)
    return s + "." * (size - len(s.encode()))


MULTI = "h\u00e9llo w\u00f6rld \u2603 \U0001d11e \u65e5\u672c "  # 1- to 4-byte UTF-8 sequences
_NOISE = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(400))  # 12.5 KiB that do not compress
SCRIPT = [
    {"text": "ten bytes!"},
    {"text": _text_of_size(MULTI, 1000)},
    {"text": _text_of_size(MULTI, 1000)},  # the same again: a back-reference with context takeover
    {"hex": bytes(range(10)).hex()},
    {"hex": (_NOISE * 8 + bytes(64 << 10)).hex()},  # 100 KiB of noise + 64 KiB of zeros
    {"text": _text_of_size("context takeover matters \u2603 ", 64 << 10)},
    {"fragments": ["frag", "mented \u2603 ", _text_of_size(MULTI, 3000)]},
    {"text": _text_of_size(MULTI + "0123456789abcdef", 1 << 20)},  # 1 MiB
    {"text": "ten bytes!"},
    {"text": "fragment-me"},  # the server answers "server fragments" in three frames
]


def _step_bytes(step: dict) -> "tuple[str, bytes]":
    if "text" in step:
        return "text", step["text"].encode()
    if "hex" in step:
        return "binary", bytes.fromhex(step["hex"])
    return "text", "".join(step["fragments"]).encode()


def digest(kind: str, data: bytes) -> dict:
    return {"event": "message", "type": kind, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


SENT = [_step_bytes(s) for s in SCRIPT]
ECHOED = SENT[:-1] + [("text", b"server fragments")]


class DeflateTestCase(unittest.TestCase):
    def setUp(self):
        require_proxy(self)

    def need_peers(self):
        if not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")

    def proxy(self, upstream, *args):
        p = Proxy(upstream, *args)
        self.addCleanup(p.stop)
        return p

    def check_caused_by(self, proxy, conn, close_dir, code, rule, offset, frame_index):
        """The endpoint's close in `close_dir` has `code` and names the
        violation in the other direction."""
        bad_dir = S2C if close_dir == C2S else C2S
        ev = proxy.wait_for(
            lambda e: e.get("event") == "close" and e.get("conn") == conn and e.get("dir") == close_dir and not e.get("synthesized"),
            what=f"close {close_dir}",
        )
        ctx = "\n" + proxy.describe()
        self.assertEqual(ev.get("code"), code, ctx)
        self.assertIs(ev.get("in_reply"), False, ctx)
        cb = ev.get("caused_by")
        self.assertIsInstance(cb, dict, "no caused_by on the peer's close" + ctx)
        self.assertEqual((cb.get("rule"), cb.get("dir"), cb.get("offset"), cb.get("frame_index")), (rule, bad_dir, offset, frame_index), ctx)
        self.assertGreaterEqual(cb.get("ms_before"), 0, ctx)


# --- 1. real peers, compressed both ways ---------------------------------------------


class RealPeersDeflateTest(DeflateTestCase):
    """Each client against each server, through the proxy, with each parameter
    set; every message compressed (ws: threshold 0; websockets compresses
    every message)."""

    @classmethod
    def setUpClass(cls):
        fd, cls.script_path = tempfile.mkstemp(prefix="wsi-deflate-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(SCRIPT, f, ensure_ascii=False)

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.script_path)

    def run_pair(self, client_kind, server_kind, variant):
        self.need_peers()
        params = PARAM_VARIANTS[variant]
        common = ["--deflate-params", params, "--digest"]
        server = PeerServer(server_kind, "--once", *common, *(["--max-size", str(MAX_SIZE)] if server_kind == "py" else []))
        self.addCleanup(server.stop)
        proxy = self.proxy(server.address)
        extra = ["--max-size", str(MAX_SIZE)] if client_kind == "py" else []
        client = start_peer_client(client_kind, proxy.url, "--script", self.script_path, *common, *extra, "--timeout", "30")
        self.addCleanup(client.stop)
        rc = finish_peer(client, 45)
        ctx = "\n" + client.describe() + "\n" + server.describe() + "\n" + proxy.describe()
        self.assertEqual(rc, 0, ctx)
        self.assertEqual(finish_peer(server), 0, ctx)

        # The peers got exactly what was sent: the server each message, the
        # client each echo.
        client_obs = client.snapshot()
        self.assertEqual(client_obs[0].get("event"), "open", ctx)
        self.assertEqual(ext_params(client_obs[0].get("extensions"))[0], "permessage-deflate", ctx)
        self.assertEqual([e for e in client_obs if e.get("event") == "message"], [digest(k, d) for k, d in ECHOED], ctx)
        self.assertEqual(client_obs[-1], {"event": "close", "code": 1000, "reason": "bye now"}, ctx)
        server_obs = server.observations()
        self.assertEqual([e for e in server_obs if e.get("event") == "message"], [digest(k, d) for k, d in SENT], ctx)
        self.assertEqual(server_obs[-1], {"event": "close", "code": 1000, "reason": "bye now"}, ctx)

        conn = proxy.wait_for(is_event("conn_open"), what="conn_open")["conn"]
        done = proxy.wait_conn_close(conn)
        ctx = "\n" + proxy.describe()
        hs = proxy.wait_for(is_event("handshake", conn=conn), what="handshake")
        self.assertEqual((hs.get("status"), hs.get("upgraded")), (101, True), ctx)
        self.assertEqual(ext_params(hs.get("extensions")), ("permessage-deflate", ext_params("x;" + params)[1]), ctx)
        self.assertEqual(hs.get("findings"), [], ctx)
        self.assertEqual(proxy.violations(conn), [], ctx)

        # Every message compressed, and inflated by the proxy to its real length.
        for direction, expected in ((C2S, SENT), (S2C, ECHOED)):
            got = [
                (e.get("opcode_name"), e.get("compressed"), e.get("inflated_size"))
                for e in proxy.of_conn(conn, "message")
                if e.get("dir") == direction
            ]
            self.assertEqual(got, [(k, True, len(d)) for k, d in expected], f"{direction}{ctx}")
        frags = [e for e in proxy.of_conn(conn, "message") if e.get("dir") == C2S and e.get("frames", 1) > 1]
        self.assertEqual([e.get("inflated_size") for e in frags], [len(SENT[6][1])], ctx)
        self.assertGreaterEqual(frags[0].get("frames"), 3, ctx)
        # The 1 MiB message of repeated text crossed much smaller.
        big = [e for e in proxy.of_conn(conn, "message") if e.get("inflated_size") == 1 << 20]
        self.assertEqual(len(big), 2, ctx)
        for e in big:
            self.assertLess(e.get("size"), 1 << 18, ctx)

        self.assertEqual(done.get("ended_by"), "close_handshake", ctx)
        for direction in (C2S, S2C):
            d = done.get(direction, {})
            self.assertEqual((d.get("messages"), d.get("errors"), d.get("warnings"), d.get("closes")), (len(SENT), 0, 0, 1), ctx)


def _pair_test(client_kind, server_kind, variant):
    def test(self):
        self.run_pair(client_kind, server_kind, variant)

    return test


for _c in KINDS:
    for _s in KINDS:
        for _v in PARAM_VARIANTS:
            setattr(RealPeersDeflateTest, f"test_{_c}_to_{_s}_{_v}", _pair_test(_c, _s, _v))


# --- 2. corrupted compressed payloads to a real server -----------------------------------


class CorruptedPayloadTest(DeflateTestCase):
    """A raw client negotiates permessage-deflate with a real server, sends one
    good compressed message (and inflates the compressed echo), then a bad
    one."""

    def session(self, kind):
        self.need_peers()
        server = PeerServer(kind, "--once", "--deflate-params", "")
        self.addCleanup(server.stop)
        proxy = self.proxy(server.address)
        c, head = RawClient.websocket(proxy.host, proxy.port, deflate=True)
        self.addCleanup(c.close)
        self.assertEqual(ext_params(head.get("sec-websocket-extensions")), ("permessage-deflate", frozenset()))
        conn = proxy.conn_of(c.sock)
        comp = Compressor()
        first = build_frame(OP_TEXT, comp.message("hello, compressed \u2603".encode()), rsv=RSV1, mask=True)
        c.send(first)
        echo = c.recv_frame()
        self.assertEqual((echo.opcode, echo.rsv, echo.fin), (OP_TEXT, RSV1, True), "the echo is compressed")
        self.assertEqual(inflate_fresh(echo.payload), "hello, compressed \u2603".encode())
        return server, proxy, c, conn, comp, first

    def bad_message(self, kind, payload_of, rule, code):
        server, proxy, c, conn, comp, first = self.session(kind)
        bad = build_frame(OP_TEXT, payload_of(comp), rsv=RSV1, mask=True)
        c.send(bad)
        close = c.recv_close_frame()
        c.send(build_frame(OP_CLOSE, close_payload(close.close_code), mask=True))
        c.wait_eof()
        c.close()
        finish_peer(server)
        proxy.wait_conn_close(conn)
        ctx = f"\n{kind} server closed with {close.close_code}\n" + proxy.describe()
        self.assertEqual(close.close_code, code, ctx)
        offset = len(first) + payload_offset(bad)
        self.assertEqual(proxy.violations(conn), [(rule, offset, 1, C2S)], ctx)
        msgs = [(e.get("first_frame_index"), e.get("compressed"), e.get("size")) for e in proxy.of_conn(conn, "message") if e.get("dir") == C2S]
        self.assertEqual(msgs, [(0, True, len(first) - payload_offset(first)), (1, True, len(bad) - payload_offset(bad))], ctx)
        self.check_caused_by(proxy, conn, S2C, code, rule, offset, 1)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertEqual(ext_params(hs.get("extensions")), ("permessage-deflate", frozenset()), ctx)
        return proxy.of_conn(conn, "violation")[0]

    @staticmethod
    def corrupt_block_type(comp):
        # A sync flush ends on a byte boundary, so the next message starts with
        # a block header: BTYPE (bits 1-2) 11 is reserved, "invalid block type".
        good = comp.message(b"this one will not inflate")
        return bytes([good[0] | 0x06]) + good[1:]

    @staticmethod
    def invalid_utf8(comp):
        return comp.message(b"He\xc3(o, inflated")

    def test_corrupt_deflate_check(self):
        with self.assertRaises(zlib.error):
            zlib.decompressobj(-15).decompress(self.corrupt_block_type(Compressor()) + TRAILER)

    def test_py_server_inflate_error(self):
        v = self.bad_message("py", self.corrupt_block_type, "inflate-error", INFLATE_ERROR_CLOSE["py"])
        self.assertIn("invalid block type", v.get("detail"), v)

    def test_node_server_inflate_error(self):
        v = self.bad_message("node", self.corrupt_block_type, "inflate-error", INFLATE_ERROR_CLOSE["node"])
        self.assertIn("invalid block type", v.get("detail"), v)

    def test_py_server_invalid_utf8_after_inflation(self):
        self.bad_message("py", self.invalid_utf8, "invalid-utf8-text", INVALID_UTF8_CLOSE["py"])

    def test_node_server_invalid_utf8_after_inflation(self):
        self.bad_message("node", self.invalid_utf8, "invalid-utf8-text", INVALID_UTF8_CLOSE["node"])


# --- 3., 4. a raw server misbehaving towards a real client ---------------------------


class RawServerTest(DeflateTestCase):
    """A real client (offering permessage-deflate) through the proxy to a raw
    server that answers the handshake with `extensions`."""

    def start(self, kind, extensions):
        self.need_peers()
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = self.proxy(up.address)
        client = start_peer_client(kind, proxy.url, "--steps", "none", "--deflate-params", "")
        self.addCleanup(client.stop)
        s = up.accept()
        req = s.recv_head()
        self.assertIn("permessage-deflate", req.get("sec-websocket-extensions") or "")
        s.send(response_101(req.get("sec-websocket-key"), extensions))
        client.wait_for(is_event("open"), what="open")
        conn = proxy.wait_for(is_event("conn_open"))["conn"]
        return proxy, client, s, conn

    def finish(self, client, s):
        """The client's close frame (masked), then the server's reply."""
        close = s.recv_close_frame()
        self.assertTrue(close.masked)
        # The server closes TCP first (RFC 6455 §7.1.1): websockets waits for it.
        s.send(build_frame(OP_CLOSE, close_payload(close.close_code)))
        s.close()
        self.assertEqual(finish_peer(client), 0, client.describe())
        return close

    def desync(self, kind):
        proxy, client, s, conn = self.start(kind, "permessage-deflate; server_no_context_takeover")
        # The server agreed to reset its compressor at every message, but
        # carries the window over: the second message is one back-reference
        # into the first, which the client no longer has.
        comp = Compressor(context_takeover=True)
        text = "the same message twice, the second time as a reference to the first".encode()
        f1 = build_frame(OP_TEXT, comp.message(text), rsv=RSV1)
        p2 = comp.message(text)
        with self.assertRaises(zlib.error):
            inflate_fresh(p2)
        f2 = build_frame(OP_TEXT, p2, rsv=RSV1)
        s.send(f1 + f2)
        close = self.finish(client, s)
        proxy.wait_conn_close(conn)
        ctx = f"\n{kind} client closed with {close.close_code}\n" + client.describe() + "\n" + proxy.describe()
        self.assertEqual(close.close_code, INFLATE_ERROR_CLOSE[kind], ctx)
        obs = [e for e in client.snapshot() if e.get("event") == "message"]
        self.assertEqual(obs, [{"event": "message", "type": "text", "data": text.decode()}], ctx)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertEqual(ext_params(hs.get("extensions")), ("permessage-deflate", frozenset({"server_no_context_takeover"})), ctx)
        self.assertEqual(hs.get("findings"), [], ctx)
        offset = len(f1) + payload_offset(f2)
        self.assertEqual(proxy.violations(conn), [("inflate-error", offset, 1, S2C)], ctx)
        self.assertIn("too far back", proxy.of_conn(conn, "violation")[0].get("detail"), ctx)
        msgs = [(e.get("compressed"), e.get("inflated_size")) for e in proxy.of_conn(conn, "message") if e.get("dir") == S2C]
        self.assertEqual(msgs[0], (True, len(text)), ctx)
        self.check_caused_by(proxy, conn, C2S, close.close_code, "inflate-error", offset, 1)

    def test_py_client_context_takeover_desync(self):
        self.desync("py")

    def test_node_client_context_takeover_desync(self):
        self.desync("node")

    def rsv1_without_extension(self, kind, strict):
        proxy, client, s, conn = self.start(kind, None)
        frame = build_frame(OP_TEXT, Compressor().message(b"Hello"), rsv=RSV1)
        s.send(frame)
        close = self.finish(client, s)
        proxy.wait_conn_close(conn)
        ctx = f"\n{kind} client closed with {close.close_code}\n" + client.describe() + "\n" + proxy.describe()
        self.assertEqual(close.close_code, RSV1_CLOSE[kind], ctx)
        self.assertEqual([e for e in client.snapshot() if e.get("event") == "message"], [], ctx)
        hs = proxy.wait_for(is_event("handshake", conn=conn))
        self.assertIn("permessage-deflate", hs.get("extensions_offered"), ctx)
        self.assertEqual(hs.get("extensions"), "", ctx)
        self.assertEqual(proxy.violations(conn)[:1], [("rsv1-without-extension", 0, 0, S2C)], ctx)
        if strict:
            self.check_caused_by(proxy, conn, C2S, RSV1_CLOSE[kind], "rsv1-without-extension", 0, 0)
            self.assertEqual(proxy.violations(conn), [("rsv1-without-extension", 0, 0, S2C)], ctx)
        else:
            ev = proxy.wait_for(lambda e: e.get("event") == "close" and e.get("conn") == conn and e.get("dir") == C2S)
            cb = ev.get("caused_by") or {}
            self.assertEqual((cb.get("dir"), cb.get("frame_index")), (S2C, 0), "no caused_by on the client's close" + ctx)

    # The close code, the first violation and a caused_by pointing at the
    # frame; the expected failures below assert the rest.
    def test_py_client_rsv1_without_extension(self):
        self.rsv1_without_extension("py", strict=False)

    def test_node_client_rsv1_without_extension(self):
        self.rsv1_without_extension("node", strict=False)

    # With RSV1 set and nothing negotiated, the payload is not read as text,
    # and the client's 1002 is linked to rsv1-without-extension.
    def test_py_client_rsv1_without_extension_caused_by(self):
        self.rsv1_without_extension("py", strict=True)

    def test_node_client_rsv1_without_extension_caused_by(self):
        self.rsv1_without_extension("node", strict=True)

    # The same, with raw peers only.
    def test_rsv1_without_extension_is_the_only_finding(self):
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = self.proxy(up.address)
        s = RawSession(up, proxy, deflate=False)
        self.addCleanup(s.close)
        frame = build_frame(OP_TEXT, Compressor().message(b"Hello"), rsv=RSV1)
        s.server.send(frame)
        self.assertEqual(s.client.recv_exact(len(frame)), frame)
        s.close()
        proxy.wait_conn_close(s.conn)
        self.assertEqual(proxy.violations(s.conn), [("rsv1-without-extension", 0, 0, S2C)], "\n" + proxy.describe())


# --- 5. a decompression bomb ---------------------------------------------------------


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had, so that a
    buffer allocated and freed while inflating still counts."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class DecompressionBombTest(DeflateTestCase):
    BOMB = 10 << 20  # bytes of zeros, inflated

    def test_bomb_stops_at_the_limit(self):
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = self.proxy(up.address, "--max-message-size", "1MiB")
        s = RawSession(up, proxy, deflate=True)
        self.addCleanup(s.close)
        payload = Compressor().message(bytes(self.BOMB))
        self.assertLess(len(payload), 16 << 10)
        frame = build_frame(OP_BINARY, payload, rsv=RSV1, mask=True)
        rss_before = peak_rss_kib(proxy.pid)
        s.client.send(frame)
        got = s.server.recv_exact(len(frame))
        self.assertEqual(got, frame, "the bomb was not forwarded unchanged")
        ev = proxy.wait_for(lambda e: e.get("event") == "message" and e.get("conn") == s.conn and e.get("dir") == C2S, what="message")
        rss_after = peak_rss_kib(proxy.pid)
        s.close()
        proxy.wait_conn_close(s.conn)
        ctx = f"\npeak RSS {rss_before} KiB -> {rss_after} KiB\n" + proxy.describe()
        self.assertEqual(proxy.violations(s.conn), [("message-too-big", payload_offset(frame), 0, C2S)], ctx)
        v = proxy.of_conn(s.conn, "violation")[0]
        self.assertEqual(v.get("close_code"), 1009, ctx)
        self.assertEqual((ev.get("compressed"), ev.get("size")), (True, len(payload)), ctx)
        self.assertLess(ev.get("inflated_size"), self.BOMB, "inflation went on past the limit" + ctx)
        if not binary_is_sanitized():
            # Inflated output streams through a fixed window: neither the 10
            # MiB nor the 1 MiB the limit allows is ever held.
            self.assertLess(rss_after - rss_before, 1024, ctx)


# --- 6. what the response accepts against what the request offered --------------------------


class OfferedAcceptedTest(DeflateTestCase):
    def handshake(self, offer, answer):
        up = RawUpstream()
        self.addCleanup(up.close)
        proxy = self.proxy(up.address)
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        req, key = upgrade_request(f"{proxy.host}:{proxy.port}", "/", extensions=offer)
        c.send(req)
        s = up.accept()
        self.addCleanup(s.close)
        head = s.recv_head()
        self.assertEqual(head.raw, req, "the request crossed changed")
        resp = response_101(key, answer)
        s.send(resp)
        got = c.recv_head()
        self.assertEqual(got.raw, resp, "the response crossed changed")
        conn = proxy.conn_of(c.sock)
        hs = proxy.wait_for(is_event("handshake", conn=conn), what="handshake")
        return proxy, hs

    def test_client_max_window_bits_not_offered(self):
        # parser/handshake.cpp: a well-formed answer that no offer allows is
        # response-extension-not-offered (response-deflate-params-malformed
        # is for a malformed answer).
        proxy, hs = self.handshake("permessage-deflate", "permessage-deflate; client_max_window_bits=10")
        ctx = "\n" + proxy.describe()
        self.assertEqual(hs.get("extensions_offered"), "permessage-deflate", ctx)
        self.assertEqual(ext_params(hs.get("extensions")), ("permessage-deflate", frozenset({"client_max_window_bits=10"})), ctx)
        self.assertEqual([(f.get("rule"), f.get("dir")) for f in hs.get("findings")], [("response-extension-not-offered", S2C)], ctx)
        self.assertIn("client_max_window_bits", hs["findings"][0].get("detail"), ctx)

    def test_deflate_never_offered(self):
        proxy, hs = self.handshake(None, "permessage-deflate")
        ctx = "\n" + proxy.describe()
        self.assertEqual(hs.get("extensions_offered"), "", ctx)
        self.assertEqual([(f.get("rule"), f.get("dir")) for f in hs.get("findings")], [("response-extension-not-offered", S2C)], ctx)
        self.assertIn("not offered", hs["findings"][0].get("detail"), ctx)


if __name__ == "__main__":
    unittest.main()
