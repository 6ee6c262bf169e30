"""The built-in echo server (`--upstream builtin:echo`) with real peers.

It selects the first subprotocol offered and accepts permessage-deflate
(RFC 7692) when offered: a Python `websockets` client (compression on by
default) and a Node `ws` client (perMessageDeflate, threshold 0) get every
message back as sent (text, binary, 200 KB, hundreds of messages, so the
client's context takeover is exercised), compressed both ways, with "chat"
selected, and the proxy in front logs no violation. A client that offers no
extension gets uncompressed echoes. Raw clients pin the exact response header
for a few offers and the 1009 for a compressed message inflating too far.
"""

import asyncio
import json
import os
import subprocess
import unittest
import zlib

from harness import (
    C2S,
    NODE,
    OP_BINARY,
    OP_CLOSE,
    OP_TEXT,
    PEERS_DIR,
    RSV1,
    S2C,
    TIMEOUT,
    Proxy,
    RawClient,
    accept_for,
    build_frame,
    check_budget,
    is_event,
    peers_available,
    require_proxy,
    upgrade_request,
)

try:
    import websockets
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
except ImportError:  # pragma: no cover
    websockets = None

BIG = 200 * 1024
MANY = 300


def messages():
    """What every client sends: (payload, expected echo)."""
    out = [
        "hello \u2603",
        bytes(range(256)),
        ("large text " * (BIG // 11 + 1))[:BIG],
        os.urandom(BIG),  # incompressible: stored blocks
        bytes(BIG),  # all zeros: a tiny compressed message
        "",
        b"",
    ]
    # Similar messages: with the client's context takeover, each refers back
    # to the ones before.
    out += [f"message {i} of the same kind, repeated: " + "abc" * (i % 17) for i in range(MANY)]
    return out


class EchoTestCase(unittest.TestCase):
    def setUp(self):
        check_budget(self)
        require_proxy(self)

    def proxy(self):
        # Every frame and message at debug: hundreds of lines a second.
        p = Proxy("builtin:echo", "--log-rate", "0")
        self.addCleanup(p.stop)
        return p

    def handshake(self, proxy, conn):
        return proxy.wait_for(is_event("handshake", conn=conn), what=f"handshake of conn {conn}")

    def message_events(self, proxy, conn, count):
        """Waits for `count` message events each way; returns them by direction."""
        proxy.wait_count(lambda e: is_event("message", conn=conn)(e) and e.get("dir") == S2C, count)
        evs = proxy.of_conn(conn, "message")
        return [e for e in evs if e.get("dir") == C2S], [e for e in evs if e.get("dir") == S2C]

    def assert_clean(self, proxy, conn, ctx=""):
        proxy.wait_conn_close(conn)
        self.assertEqual(proxy.violations(conn), [], ctx + proxy.describe())
        closes = proxy.of_conn(conn, "close")
        self.assertEqual(sorted(c.get("code") for c in closes), [1000, 1000], ctx + proxy.describe())


@unittest.skipIf(websockets is None, "python3-websockets missing")
class PythonClientTest(EchoTestCase):
    async def session(self, url, **kw):
        sent = messages()
        async with websockets.connect(url, max_size=None, **kw) as ws:
            got = []
            for m in sent:
                await ws.send(m)
                got.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
            # A burst: many messages in flight at once.
            for m in sent[-50:]:
                await ws.send(m)
            burst = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(50)]
            headers = dict(ws.response_headers.raw_items())
            return sent, got + burst, sent + sent[-50:], ws.subprotocol, headers

    def run_session(self, **kw):
        proxy = self.proxy()
        sent, got, expected, subprotocol, headers = asyncio.run(self.session(proxy.url, **kw))
        self.assertEqual(len(got), len(expected))
        for i, (a, b) in enumerate(zip(got, expected)):
            self.assertEqual(type(a), type(b), f"message {i}: text stays text, binary binary")
            self.assertEqual(a, b, f"message {i} echoed differently")
        conn = proxy.wait_for(is_event("conn_open"))["conn"]
        return proxy, conn, len(expected), subprotocol, headers

    def test_compression_and_subprotocols(self):
        proxy, conn, n, subprotocol, headers = self.run_session(subprotocols=["chat", "other"])
        self.assertEqual(subprotocol, "chat")
        self.assertEqual(headers.get("Sec-WebSocket-Protocol"), "chat")
        self.assertEqual(headers.get("Sec-WebSocket-Extensions"), "permessage-deflate; server_no_context_takeover")
        hs = self.handshake(proxy, conn)
        self.assertEqual(hs.get("subprotocol"), "chat", hs)
        self.assertEqual(hs.get("subprotocols_offered"), ["chat", "other"], hs)
        self.assertIn("permessage-deflate", hs.get("extensions", ""), hs)
        c2s, s2c = self.message_events(proxy, conn, n)
        self.assertEqual(len(c2s), n)
        self.assertEqual(len(s2c), n)
        # websockets compresses every message; so does the echo server.
        self.assertTrue(all(e.get("compressed") for e in c2s), [e for e in c2s if not e.get("compressed")][:3])
        self.assertTrue(all(e.get("compressed") for e in s2c), [e for e in s2c if not e.get("compressed")][:3])
        # The same content each way, each message of its own opcode.
        for a, b in zip(c2s, s2c):
            self.assertEqual(a.get("opcode_name"), b.get("opcode_name"))
            self.assertEqual(a.get("inflated_size"), b.get("inflated_size"))
        zeros = [e for e in s2c if e.get("inflated_size") == BIG and e.get("size", BIG) < 2048]
        self.assertTrue(zeros, "200 KB of zeros goes back compressed")
        self.assert_clean(proxy, conn)

    def test_compression_default_offer(self):
        proxy, conn, n, subprotocol, headers = self.run_session()
        self.assertIsNone(subprotocol)
        self.assertNotIn("Sec-WebSocket-Protocol", headers)
        hs = self.handshake(proxy, conn)
        self.assertEqual(hs.get("extensions_offered"), "permessage-deflate; client_max_window_bits", hs)
        self.assertEqual(hs.get("extensions"), "permessage-deflate; server_no_context_takeover", hs)
        c2s, s2c = self.message_events(proxy, conn, n)
        self.assertTrue(all(e.get("compressed") for e in c2s + s2c))
        self.assert_clean(proxy, conn)

    def test_offer_with_parameters(self):
        # The client takes no context over and limits the server to 8 bits:
        # the echo server's compressor keeps every match within 256 bytes.
        for server_bits in (8, 10, 15):
            with self.subTest(server_bits=server_bits):
                factory = ClientPerMessageDeflateFactory(
                    client_no_context_takeover=True, server_max_window_bits=server_bits, client_max_window_bits=9
                )
                proxy, conn, n, _, headers = self.run_session(extensions=[factory], compression=None)
                self.assertEqual(
                    headers.get("Sec-WebSocket-Extensions"),
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                    f"server_max_window_bits={server_bits}",
                )
                c2s, s2c = self.message_events(proxy, conn, n)
                self.assertTrue(all(e.get("compressed") for e in c2s + s2c))
                self.assert_clean(proxy, conn)

    def test_no_extension_offered(self):
        proxy, conn, n, _, headers = self.run_session(compression=None, subprotocols=["other"])
        self.assertNotIn("Sec-WebSocket-Extensions", headers)
        self.assertEqual(headers.get("Sec-WebSocket-Protocol"), "other")
        hs = self.handshake(proxy, conn)
        self.assertEqual(hs.get("extensions"), "", hs)
        c2s, s2c = self.message_events(proxy, conn, n)
        self.assertFalse(any(e.get("compressed") for e in c2s + s2c))
        self.assert_clean(proxy, conn)


NODE_CLIENT = r"""
const WebSocket = require('ws');
const crypto = require('crypto');
const url = process.argv[1];
const big = 200 * 1024;
const sent = ['hello \u2603', Buffer.from([...Array(256).keys()]),
  'large text '.repeat(big / 11 + 1).slice(0, big), crypto.randomBytes(big), Buffer.alloc(big), ''];
for (let i = 0; i < 300; i++) sent.push(`message ${i} of the same kind, repeated: ` + 'abc'.repeat(i % 17));
const ws = new WebSocket(url, ['chat', 'other'], {perMessageDeflate: {threshold: 0}, maxPayload: 0});
let i = 0, bad = [];
ws.on('open', () => ws.send(sent[0]));
ws.on('message', (data, isBinary) => {
  const want = sent[i];
  const wantBinary = typeof want !== 'string';
  const same = wantBinary ? Buffer.compare(data, want) === 0 : data.toString() === want;
  if (!same || isBinary !== wantBinary) bad.push(i);
  if (++i < sent.length) ws.send(sent[i]); else ws.close(1000);
});
ws.on('close', (code) => {
  console.log(JSON.stringify({protocol: ws.protocol, extensions: ws.extensions ? Object.keys(ws._extensions || {}) : [],
    negotiated: ws._extensions && ws._extensions['permessage-deflate'] ? ws._extensions['permessage-deflate'].params : null,
    received: i, expected: sent.length, bad, code}));
  process.exit(0);
});
ws.on('error', (e) => { console.log(JSON.stringify({error: String(e)})); process.exit(1); });
setTimeout(() => { console.log(JSON.stringify({error: 'timeout', received: i})); process.exit(3); }, 30000);
"""


class NodeClientTest(EchoTestCase):
    def setUp(self):
        super().setUp()
        if not peers_available():
            self.skipTest("tests/peers/node_modules/ws missing: run scripts/setup-deps.sh")

    def test_per_message_deflate_and_subprotocols(self):
        proxy = self.proxy()
        r = subprocess.run([NODE, "-e", NODE_CLIENT, proxy.url], cwd=PEERS_DIR, capture_output=True, text=True, timeout=60)
        ctx = f"\n{r.stdout}\n{r.stderr}\n"
        self.assertEqual(r.returncode, 0, ctx)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(out["protocol"], "chat", ctx)
        self.assertEqual(out["bad"], [], ctx)
        self.assertEqual(out["received"], out["expected"], ctx)
        self.assertEqual(out["code"], 1000, ctx)
        self.assertTrue(out["negotiated"] and out["negotiated"].get("server_no_context_takeover"), ctx)
        n = out["expected"]
        conn = proxy.wait_for(is_event("conn_open"))["conn"]
        hs = self.handshake(proxy, conn)
        self.assertEqual(hs.get("subprotocol"), "chat", hs)
        self.assertEqual(hs.get("extensions"), "permessage-deflate; server_no_context_takeover", hs)
        c2s, s2c = self.message_events(proxy, conn, n)
        self.assertTrue(all(e.get("compressed") for e in c2s + s2c), ctx)
        self.assert_clean(proxy, conn, ctx)


def raw_deflate(data: bytes, wbits: int = 15) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class RawOfferTest(EchoTestCase):
    """The exact answer to offers no library makes."""

    def answer(self, proxy, extensions, extra=""):
        c = RawClient.connect(proxy.host, proxy.port)
        self.addCleanup(c.close)
        req, key = upgrade_request(f"{proxy.host}:{proxy.port}", "/", extensions=extensions, extra=extra)
        c.sock.sendall(req)
        head = c.recv_head()
        self.assertEqual(head.status, 101, head.raw)
        self.assertEqual(head.get("sec-websocket-accept"), accept_for(key))
        return c, head

    def test_answers(self):
        proxy = self.proxy()
        cases = {
            "permessage-deflate": "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover": "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits=10": "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=12; client_no_context_takeover":
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12",
            # Malformed or unknown offers are declined; the next one is taken.
            "permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits":
                "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; foo, permessage-deflate; server_max_window_bits=9":
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
            "x-webkit-deflate-frame, permessage-deflate": "permessage-deflate; server_no_context_takeover",
            "x-webkit-deflate-frame": None,
            "permessage-deflate; server_max_window_bits": None,
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover": None,
        }
        for offer, want in cases.items():
            with self.subTest(offer=offer):
                c, head = self.answer(proxy, offer)
                self.assertEqual(head.get("sec-websocket-extensions"), want, head.raw)
                c.sock.sendall(build_frame(OP_CLOSE, b"\x03\xe8", mask=True))
                self.assertEqual(c.recv_close_frame().close_code, 1000)
                c.close()

    def test_compressed_and_uncompressed_on_one_connection(self):
        proxy = self.proxy()
        c, head = self.answer(proxy, "permessage-deflate; client_no_context_takeover")
        # A compressed text message in three fragments, RSV1 on the first only.
        body = raw_deflate(("fragmented \u2603 " * 500).encode())
        third = len(body) // 3
        parts = [body[:third], body[third : 2 * third], body[2 * third :]]
        c.sock.sendall(
            build_frame(OP_TEXT, parts[0], fin=False, rsv=RSV1, mask=True)
            + build_frame(0x9, b"ping", mask=True)
            + build_frame(0x0, parts[1], fin=False, mask=True)
            + build_frame(0x0, parts[2], mask=True)
        )
        c.sock.sendall(build_frame(OP_BINARY, b"plain bytes", mask=True))
        frames = []
        while not (frames and frames[-1].opcode == OP_BINARY):
            frames.append(c.recv_frame())
        self.assertEqual(frames[-1].rsv, 0)
        self.assertEqual(frames[-1].payload, b"plain bytes")
        pong = [f for f in frames if f.opcode == 0xA]
        self.assertEqual([f.payload for f in pong], [b"ping"])
        data = [f for f in frames[:-1] if f.opcode != 0xA]
        self.assertEqual(data[0].opcode, OP_TEXT)
        self.assertEqual(data[0].rsv, RSV1)
        self.assertTrue(all(f.rsv == 0 and f.opcode == 0 for f in data[1:]))
        self.assertTrue(data[-1].fin)
        payload = b"".join(f.payload for f in data) + b"\x00\x00\xff\xff"
        self.assertEqual(zlib.decompressobj(-15).decompress(payload).decode(), "fragmented \u2603 " * 500)
        c.sock.sendall(build_frame(OP_CLOSE, b"\x03\xe8", mask=True))
        self.assertEqual(c.recv_close_frame().close_code, 1000)
        c.close()
        conn = proxy.wait_for(is_event("conn_open"))["conn"]
        proxy.wait_conn_close(conn)
        self.assertEqual(proxy.violations(conn), [], proxy.describe())

    def test_inflating_past_the_limit_closes_1009(self):
        proxy = self.proxy()
        c, _ = self.answer(proxy, "permessage-deflate")
        body = raw_deflate(bytes(65 << 20))  # 65 MiB of zeros: about 64 KiB
        c.sock.sendall(build_frame(OP_BINARY, body, rsv=RSV1, mask=True))
        close = c.recv_close_frame(30)
        self.assertEqual(close.close_code, 1009, close)


if __name__ == "__main__":
    unittest.main()
